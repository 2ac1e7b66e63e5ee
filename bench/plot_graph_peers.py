#!/usr/bin/env python3
"""Plots a run of bench/peers/graph_peers.py for docs/performance.md.

    /usr/bin/python3 bench/plot_graph_peers.py --json bench/results/graph_peers_....json \\
        --zoo build/bin/typenet-zoo --peak 243 --title "Zen 5 VM, 2 vCPUs" --out docs/performance-graph.png

Top panel: for each network and (batch, threads) point, each peer's median time divided by typenet's
(above 1: typenet faster), with the range of that ratio over the rounds (the peer's fastest round over
typenet's slowest, and the other way round). Bottom panel: the machine's limit beside it: typenet's
multiply-adds per second (the network's direct-convolution count, from `typenet-zoo summary`, times two,
over the median time) as a fraction of threads x one core's FP32 FMA peak (`bench_machine`'s
BM_peak_fma_f32_zmm). Winograd does fewer multiplies than it is credited with, so this can exceed 1.
Prints each point's ratios and fraction as it goes (tests/reference/CMakeLists.txt checks them against the
ratios graph_peers.py printed for a recorded run).
"""
import argparse
import json
import re
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PEERS = (("onednn", "oneDNN"), ("onnxruntime", "ONNX Runtime"), ("openvino", "OpenVINO"))


def multiply_adds(zoo, net):
    out = subprocess.run([zoo, "summary", net], check=True, capture_output=True, text=True).stdout
    m = re.search(r"([\d,]+) multiply-adds per image", out)
    if not m:
        raise SystemExit(f"plot_graph_peers: `{zoo} summary {net}` printed no multiply-add count")
    return int(m.group(1).replace(",", ""))


def point_key(point):
    batch, threads = (int(x) for x in point.split("x"))
    return batch, threads


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", required=True, help="graph_peers.py --json output")
    ap.add_argument("--zoo", required=True, help="the typenet-zoo binary (for the multiply-add counts)")
    ap.add_argument("--peak", type=float, required=True, help="one core's FP32 FMA peak, GFLOP/s")
    ap.add_argument("--title", default="")
    ap.add_argument("--out", default="docs/performance-graph.png")
    args = ap.parse_args()

    with open(args.json) as f:
        run = json.load(f)
    labels, ratios, spans, fractions = [], {p: [] for p, _ in PEERS}, {p: [] for p, _ in PEERS}, []
    for net, data in run["nets"].items():
        macs = multiply_adds(args.zoo, net)
        for point in sorted(data["points"], key=point_key):
            engines = data["points"][point]
            batch, threads = point_key(point)
            ours = engines["typenet"]
            labels.append(f"{net}\n{batch} / {threads}")
            for peer, _ in PEERS:
                theirs = engines.get(peer)
                if theirs is None:
                    ratios[peer].append(float("nan"))
                    spans[peer].append((0.0, 0.0))
                    continue
                r = theirs["median_ms"] / ours["median_ms"]
                low = theirs["min_ms"] / ours["max_ms"]
                high = theirs["max_ms"] / ours["min_ms"]
                ratios[peer].append(r)
                spans[peer].append((r - low, high - r))
            flops = 2.0 * macs * batch / (ours["median_ms"] * 1e-3)
            fractions.append(flops / (threads * args.peak * 1e9))
            shown = [f"{name} {ratios[peer][-1]:.3f}x" for peer, name in PEERS if peer in engines]
            print(f"{net} {batch} / {threads}: {', '.join(shown)}; typenet {fractions[-1]:.2f} of the FMA peak")

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7.5), height_ratios=(3, 2), sharex=True)
    width = 0.26
    xs = range(len(labels))
    for k, (peer, name) in enumerate(PEERS):
        pos = [x + (k - 1) * width for x in xs]
        err = list(zip(*spans[peer])) if spans[peer] else None
        top.bar(pos, ratios[peer], width, label=name + (" (best algorithm)" if peer == "onednn" else ""), yerr=err,
                capsize=2)
    top.axhline(1.0, color="black", linewidth=1)
    top.set_ylabel("peer time / typenet time\n(above 1: typenet faster)")
    top.legend(loc="upper left", ncol=3, fontsize=9)
    top.set_title(f"exec::simd fp32 against the peers, medians of rounds{': ' + args.title if args.title else ''}")
    top.grid(axis="y", alpha=0.3)

    bottom.bar(list(xs), fractions, 0.5, color="tab:gray")
    bottom.axhline(1.0, color="black", linewidth=1)
    bottom.set_ylabel(f"typenet multiply-adds/s\nover threads x {args.peak:.0f} GFLOP/s")
    bottom.set_xticks(list(xs))
    bottom.set_xticklabels(labels, fontsize=8)
    bottom.grid(axis="y", alpha=0.3)
    for x, frac in zip(xs, fractions):
        bottom.text(x, frac + 0.02, f"{frac:.2f}", ha="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"plot_graph_peers: wrote {args.out}")


if __name__ == "__main__":
    main()
