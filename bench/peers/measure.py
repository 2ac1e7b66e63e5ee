#!/usr/bin/env python3
"""Gated measurement of the oneDNN AlexNet peer and the machine limits on a shared, noisy machine.

Runs R rounds. In each round, for every (threads, batch) group, bench_onednn_alexnet times both convolution
algorithms back to back. Before each group the script waits until the machine is idle (other processes use
under --idle vCPU over 2 s); during the group it measures the CPU time other processes used (all busy time
in /proc/stat minus the benchmark's own CPU time) and redoes the group if that exceeds --max-foreign vCPU.
bench_machine runs (gated the same way) before the first and after the last round.

Prints every raw line, then a summary: per config, the median of the per-round medians [min-max].

    python3 bench/peers/measure.py --build build-peers --rounds 5
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def busy_seconds():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / HZ  # user nice system idle iowait irq softirq steal


def wait_idle(limit, max_wait):
    start = time.time()
    while True:
        b0 = busy_seconds()
        time.sleep(2.0)
        used = (busy_seconds() - b0) / 2.0
        if used < limit:
            return used, time.time() - start
        if time.time() - start > max_wait:
            return used, time.time() - start
        time.sleep(3.0)


def run_gated(cmd, args, label):
    """Runs cmd after waiting for an idle machine; retries while others used too much CPU."""
    for attempt in range(1, args.tries + 1):
        idle_used, waited = wait_idle(args.idle, args.max_wait)
        c0 = os.times()
        b0 = busy_seconds()
        t0 = time.time()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        elapsed = time.time() - t0
        c1 = os.times()
        own = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
        foreign = max(0.0, (busy_seconds() - b0 - own) / elapsed)
        ok = foreign <= args.max_foreign
        print(f"## {label}: attempt {attempt}, waited {waited:.0f} s (pre-load {idle_used:.2f} vCPU), "
              f"ran {elapsed:.1f} s, foreign_cpus={foreign:.2f} -> {'kept' if ok else 'dropped'}", flush=True)
        if ok or attempt == args.tries:
            if not ok:
                print(f"## {label}: kept after {attempt} attempts although the machine was busy", flush=True)
            return out, foreign
    raise AssertionError("unreachable")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-peers", help="CMake build directory")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", default="1,64")
    ap.add_argument("--idle", type=float, default=0.10, help="max vCPU used by others before a group starts")
    ap.add_argument("--max-foreign", type=float, default=0.15, help="max vCPU used by others during a group")
    ap.add_argument("--max-wait", type=float, default=300, help="seconds to wait for an idle machine")
    ap.add_argument("--tries", type=int, default=4)
    ap.add_argument("--no-machine", action="store_true", help="skip bench_machine")
    args = ap.parse_args()

    def find(name):  # executables land in <build>/bin (CMAKE_RUNTIME_OUTPUT_DIRECTORY) or next to bench/
        for sub in ("bin", "bench"):
            path = os.path.join(args.build, sub, name)
            if os.path.exists(path):
                return path
        sys.exit(f"{name} not found under {args.build}/bin or {args.build}/bench: build it first")

    peer = find("bench_onednn_alexnet")
    machine = os.path.join(args.build, "bin", "bench_machine")
    if not os.path.exists(machine):
        machine = os.path.join(args.build, "bench", "bench_machine")
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')} rounds={args.rounds}", flush=True)

    def machine_pass(label):
        if args.no_machine or not os.path.exists(machine):
            return
        out, _ = run_gated([machine, "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"],
                           args, label)
        for line in out.splitlines():
            if "_median" in line:
                print(line, flush=True)

    machine_pass("bench_machine (before)")
    results = {}
    line_re = re.compile(r"^onednn_alexnet alg=(\S+) batch=(\d+) threads=(\d+) ms_per_batch_median=([\d.]+)")
    for r in range(args.rounds):
        for t in args.threads.split(","):
            for b in args.batch.split(","):
                out, foreign = run_gated([peer, "--threads", t, "--batch", b], args, f"round {r + 1} threads={t} batch={b}")
                for line in out.splitlines():
                    print(line, flush=True)
                    m = line_re.match(line)
                    if m:
                        key = (m.group(1), int(m.group(2)), int(m.group(3)))
                        results.setdefault(key, []).append(float(m.group(4)))
    machine_pass("bench_machine (after)")

    print(f"# summary over {args.rounds} rounds: median of per-round medians [min-max]")
    print("| alg | threads | batch | ms/batch | ms/img | img/s |")
    print("|---|---|---|---|---|---|")
    for (alg, b, t), v in sorted(results.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0])):
        med = statistics.median(v)
        print(f"| {alg} | {t} | {b} | {med:.2f} [{min(v):.2f}-{max(v):.2f}] | {med / b:.2f} | "
              f"{1000 * b / med:.1f} [{1000 * b / max(v):.1f}-{1000 * b / min(v):.1f}] |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
