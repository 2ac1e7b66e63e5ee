#!/usr/bin/env python3
"""Summarises bench_typenet_dense's JSON output (--benchmark_out=F.json --benchmark_out_format=json).

For every benchmark: the median and the best (highest) rate over its repetitions, computed as the work per
iteration (counters `bytes`, `flop`) over the real time per iteration, and the median over the quiet
repetitions (real time within 15% of the benchmark thread's CPU time; on this VM the two differ by about 10% even when
nothing else runs), and each as a fraction of
the baseline of the same run (BM_read of the same layer for GB/s at batch 1, BM_peak_fma for GFLOP/s at
batch 64, matched by thread count).

    python3 bench/dense_summary.py build-dense/dense.json
"""
import json
import re
import statistics
import sys
from collections import defaultdict


def main(path):
    with open(path) as f:
        data = json.load(f)
    rates = defaultdict(list)
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = re.sub(r"/min_time:[^/]+|/repeats:\d+|/real_time", "", b["run_name"])
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        seconds = b["real_time"] * scale  # per iteration
        quiet = b["real_time"] <= 1.15 * b["cpu_time"]  # the benchmark thread was (nearly) never descheduled
        if "bytes" in b:
            rates[name].append(("GB_per_s", b["bytes"] / seconds * 1e-9, quiet))
        elif "flop" in b:
            rates[name].append(("GFLOP_per_s", b["flop"] / seconds * 1e-9, quiet))
    summary = {}
    for name, vals in rates.items():
        key = vals[0][0]
        xs = [v for _, v, _ in vals]
        qs = [v for _, v, q in vals if q]
        summary[name] = (key, statistics.median(xs), max(xs), len(xs),
                         statistics.median(qs) if qs else float("nan"), len(qs))

    def threads_of(name):
        m = re.search(r"threads:(\d)", name)
        return m.group(1) if m else "1"

    def baseline(name):
        t = threads_of(name)
        m = re.search(r"<(\w+)", name)
        if summary[name][0] == "GB_per_s" and m:
            return f"BM_read<{m.group(1)}>/threads:{t}"
        if summary[name][0] == "GFLOP_per_s":
            return f"BM_peak_fma/threads:{t}"
        return None

    print(f"{'benchmark':40s} {'unit':12s} {'median':>8s} {'best':>8s} {'quiet':>8s} {'q/n':>5s}"
          f"  {'median/base':>11s} {'best/base':>9s} {'quiet/base':>10s}")
    for name in sorted(summary):
        key, med, best, n, qmed, nq = summary[name]
        base = baseline(name)
        frac = ""
        if base and base in summary and base != name:
            b = summary[base]
            frac = f"{med / b[1]:11.2f} {best / b[2]:9.2f} {qmed / b[4]:10.2f}"
        print(f"{name:40s} {key:12s} {med:8.2f} {best:8.2f} {qmed:8.2f} {nq:2d}/{n:<2d}  {frac}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dense.json")
