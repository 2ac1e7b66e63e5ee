#!/usr/bin/env python3
"""Plots typenet's performance figures for docs/performance.md.

Inputs (both written by the benchmarks in bench/):
  --compare FILE  JSON from `bench_compare_onednn --json FILE` (per-round ms/img of typenet and oneDNN)
  --stages FILE   Google Benchmark JSON from `bench_typenet_stages --benchmark_out=FILE
                  --benchmark_out_format=json` (per-stage GFLOP/s and weight bytes/s)
  --peak G        one core's FP32 FMA peak in GFLOP/s (bench_machine), for the fraction-of-peak panel
  --bandwidth G   one core's read bandwidth in GB/s, for the dense layers at batch 1
  --title TEXT    the machine, printed above the figure
  --out FILE      the PNG to write (default docs/performance.png)

Left panel: images per second, typenet vs oneDNN, median of rounds with the min-max range.
Right panel: each fused stage of the seed AlexNet as a fraction of the machine limit: convolutions (and
dense at batch 64) against threads x peak FLOP/s, dense at batch 1 against the read bandwidth.
"""
import argparse
import json
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load_compare(path):
    with open(path) as f:
        data = json.load(f)
    rows = []
    for r in data["results"]:
        label = f"b{r['batch']} t{r['threads']}"
        tn = [1000.0 / x for x in r["typenet_ms_per_img"]]
        dn = [1000.0 / x for x in r["onednn_ms_per_img"]]
        rows.append((label, tn, dn))
    return rows


def load_stages(path):
    """Per stage and (batch, threads): (GFLOP/s, weight GB/s), the median over repetitions. Uses Google
    Benchmark's "median" aggregate when the file has one (--benchmark_report_aggregates_only), else the
    median of the individual runs."""
    with open(path) as f:
        data = json.load(f)
    runs, medians, order = {}, {}, []
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        base = b.get("run_name", b["name"])
        name = base.split("/")[0]
        parts = dict(p.split(":") for p in base.split("/")[1:] if ":" in p)
        key = (name, int(parts["batch"]), int(parts["threads"]))
        value = (b["flops"] / 1e9, b["weight_B"] / 1e9)
        if key not in order:
            order.append(key)
        if b.get("run_type") == "aggregate":
            medians[key] = value
        else:
            runs.setdefault(key, []).append(value)
    stages = {}
    for key in order:  # network order, as the benchmark file lists the stages
        name, batch, threads = key
        if key in medians:
            value = medians[key]
        else:
            value = tuple(statistics.median(v[i] for v in runs[key]) for i in range(2))
        stages.setdefault(name, {})[(batch, threads)] = value
    return stages


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare", required=True)
    ap.add_argument("--stages", required=True)
    ap.add_argument("--peak", type=float, required=True)
    ap.add_argument("--bandwidth", type=float, required=True)
    ap.add_argument("--title", default="")
    ap.add_argument("--out", default="docs/performance.png")
    a = ap.parse_args()

    compare = load_compare(a.compare)
    stages = load_stages(a.stages)

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    xs = range(len(compare))
    w = 0.38
    for off, idx, name, color in ((-w / 2, 1, "typenet exec::simd", "tab:blue"), (w / 2, 2, "oneDNN 2.6", "tab:gray")):
        med = [statistics.median(r[idx]) for r in compare]
        lo = [m - min(r[idx]) for m, r in zip(med, compare)]
        hi = [max(r[idx]) - m for m, r in zip(med, compare)]
        left.bar([x + off for x in xs], med, w, yerr=[lo, hi], capsize=3, label=name, color=color)
        for x, m in zip(xs, med):
            left.text(x + off, m, f"{m:.0f}", ha="center", va="bottom", fontsize=8)
    for x, r in zip(xs, compare):
        ratio = statistics.median(r[1]) / statistics.median(r[2])
        left.text(x, 0.5 * statistics.median(r[1]), f"{ratio:.2f}x", ha="center", fontsize=9, color="white",
                  fontweight="bold")
    left.set_xticks(list(xs))
    left.set_xticklabels([r[0] for r in compare])
    left.set_ylabel("images / s (median of rounds; bars: min-max)")
    left.set_title("seed AlexNet, whole network (b = batch, t = threads)")
    left.legend()

    names = list(stages.keys())
    configs = [(1, 1), (1, 2), (64, 1), (64, 2)]
    colors = ["tab:blue", "tab:cyan", "tab:red", "tab:orange"]
    bw = 0.2
    for k, (cfg, color) in enumerate(zip(configs, colors)):
        vals = []
        for n in names:
            gflops, gbytes = stages[n].get(cfg, (0.0, 0.0))
            if n.startswith("fc") and cfg[0] == 1:
                vals.append(gbytes / (a.bandwidth * (1.4 if cfg[1] == 2 else 1.0)))
            else:
                vals.append(gflops / (a.peak * cfg[1]))
        right.bar([i + (k - 1.5) * bw for i in range(len(names))], vals, bw, color=color,
                  label=f"batch {cfg[0]}, {cfg[1]} thread{'s' if cfg[1] > 1 else ''}")
    right.axhline(1.0, color="black", lw=0.8, ls="--")
    right.set_xticks(range(len(names)))
    right.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    right.set_ylabel("fraction of the limit")
    right.set_title(f"per stage: conv vs {a.peak:.0f} GFLOP/s/core; fc at batch 1 vs {a.bandwidth:.0f} GB/s")
    right.legend(fontsize=8)
    if a.title:
        fig.suptitle(a.title)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
