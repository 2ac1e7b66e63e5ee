#!/usr/bin/python3
"""Draw the loss and accuracy curves of a `typenet-zoo train --log F.csv` run.

  /usr/bin/python3 tools/plot_training.py F.csv OUT.png [--title TEXT]

Left: training and test loss per epoch; right: training and test accuracy per epoch (the test accuracy's
final value written on the plot). Needs matplotlib (Debian: python3-matplotlib).
"""
import argparse
import csv
import sys


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("log")
    p.add_argument("out")
    p.add_argument("--title", default=None)
    args = p.parse_args(argv)
    with open(args.log, newline="") as f:
        rows = list(csv.DictReader(f))
    need = ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy"]
    if not rows or any(k not in rows[0] for k in need):
        print(f"plot_training: {args.log} is not a typenet-zoo train log (needs the columns {', '.join(need)})",
              file=sys.stderr)
        return 1
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    col = {k: [float(r[k]) for r in rows] for k in need}
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(col["epoch"], col["train_loss"], marker="o", label="training")
    left.plot(col["epoch"], col["test_loss"], marker="o", label="test")
    left.set_xlabel("epoch")
    left.set_ylabel("cross-entropy")
    left.set_yscale("log")
    left.legend()
    right.plot(col["epoch"], [100 * a for a in col["train_accuracy"]], marker="o", label="training")
    right.plot(col["epoch"], [100 * a for a in col["test_accuracy"]], marker="o", label="test")
    right.set_xlabel("epoch")
    right.set_ylabel("accuracy (%)")
    right.annotate(f"{100 * col['test_accuracy'][-1]:.1f} %", (col["epoch"][-1], 100 * col["test_accuracy"][-1]),
                   textcoords="offset points", xytext=(-30, -15))
    right.legend()
    if args.title:
        fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"plot_training: {len(rows)} epochs -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
