"""What the reduced-precision peer comparisons (bf16_peers.py, int8_peers.py) share: their command line,
typenet's timing through `typenet-zoo bench --json`, the rounds in which the engines alternate on an idle
machine, and the table of medians and ratios."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from measure import busy_seconds, wait_idle
from onnx_peers import median_ms, own_seconds


def add_arguments(ap, root):
    """The options both scripts take."""
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--data", help="dump folder (default BUILD/peers-data)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--points", default="1x1,1x2,64x2", help="BATCHxTHREADS list")
    ap.add_argument("--iters1", type=int, default=10)
    ap.add_argument("--iters64", type=int, default=2)
    ap.add_argument("--idle", type=float, default=0.35)
    ap.add_argument("--max-wait", type=float, default=180)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--json")


class Setup:
    """What both scripts start from: the options, typenet-zoo, the seed AlexNet's weights and inputs dumped by
    bench_compare_onednn and its ONNX exports (onnx_peers.export: the PyTorch twin checked first), the points,
    and the inputs of their batches."""

    def __init__(self, args, who, peer):
        import numpy as np
        from onnx_peers import cpu_description, export, loadavg
        self.args = args
        self.data = args.data or os.path.join(args.build, "peers-data")
        compare_bin = os.path.join(args.build, "bin", "bench_compare_onednn")
        self.zoo = os.path.join(args.build, "bin", "typenet-zoo")
        for path in (compare_bin, self.zoo):
            if not os.path.exists(path):
                sys.exit(f"{who}: {path} not found: cmake --build {args.build} --target bench_compare_onednn "
                         "typenet-zoo")
        self.cpu = cpu_description()
        print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {self.cpu}; load average {loadavg()}; {peer}", flush=True)
        if not os.path.exists(os.path.join(self.data, "logits_b64.npy")):
            subprocess.run([compare_bin, "--dump", self.data], check=True)
        self.full_path, self.logits_path, self.twin_check = export(self.data, args.opset)
        self.points = [tuple(int(v) for v in p.split("x")) for p in args.points.split(",")]
        self.batches = sorted({b for b, _ in self.points})
        self.inputs = {b: np.load(os.path.join(self.data, f"input_b{b}.npy")) for b in self.batches}

    def logits(self, batch):
        """typenet's fp32 logits of the batch's input."""
        import numpy as np
        return np.load(os.path.join(self.data, f"logits_b{batch}.npy")).astype(np.float64)

    def typenet_run(self, batch, threads, precision, extra=()):
        """typenet's output (`typenet-zoo run`, simd policy) on the batch's input with the dumped weights."""
        import numpy as np
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.npy")
            cmd = [self.zoo, "run", "seed_alexnet", "--weights", os.path.join(self.data, "weights.safetensors"),
                   "--input", os.path.join(self.data, f"input_b{batch}.npy"), "--output", out, "--policy", "simd",
                   "--threads", str(threads), "--precision", precision] + list(extra)
            subprocess.run(cmd, check=True, capture_output=True, text=True)
            return np.load(out)


def typenet_bench(zoo, batch, threads, iters, precision, who):
    """typenet's median ms per batch of the seed AlexNet (`typenet-zoo bench --json`)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.json")
        cmd = [zoo, "bench", "seed_alexnet", "--policy", "simd", "--precision", precision, "--batch", str(batch),
               "--threads", str(threads), "--iters", str(iters), "--json", path]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"{who}: {' '.join(cmd)} failed: {p.stderr.strip()}")
        with open(path) as f:
            return json.load(f)["benchmarks"][0]["real_time"]


def rounds(args, points, names, time_one):
    """args.rounds rounds; in each, per (batch, threads) point, after waiting for an idle machine, every engine
    of `names` in an order rotating from round to round, time_one(name, batch, threads, iters) giving its ms
    per batch. Returns the groups (one per round and point) with the foreign load measured during each."""
    groups = []
    for r in range(args.rounds):
        for b, t in points:
            iters = args.iters1 if b == 1 else args.iters64
            pre, waited = wait_idle(args.idle, args.max_wait)
            b0, o0, t0 = busy_seconds(), own_seconds(), time.time()
            k = r % len(names)
            order = names[k:] + names[:k]
            ms = {}
            for n in order:
                ms[n] = time_one(n, b, t, iters)
                time.sleep(0.1)
            foreign = max(0.0, (busy_seconds() - b0 - (own_seconds() - o0)) / (time.time() - t0))
            g = {"round": r + 1, "batch": b, "threads": t, "waited_s": round(waited, 1), "pre_load_vcpu": round(pre, 2),
                 "foreign_vcpu": round(foreign, 2), "order": order, "ms_per_batch": ms}
            groups.append(g)
            print(f"## round {r + 1} batch {b} threads {t}: foreign {foreign:.2f} vCPU: "
                  + ", ".join(f"{n} {ms[n]:.2f}" for n in names) + " ms/batch", flush=True)
    return groups


def summary(groups, points, names, titles, ratios, cpu, rounds_done):
    """Prints per point the median over rounds of the per-round medians [min - max] in ms per image, then each
    ratio (key, numerator engine, denominator engine, title) of medians. Returns the rows."""
    print(f"\n# {cpu}; {rounds_done} rounds; median over rounds of per-round medians [min - max], ms per image; "
          "ratio = peer time / typenet time (above 1: typenet faster)")
    print("| batch, threads | " + " | ".join(titles) + " | " + " | ".join(r[3] for r in ratios) + " |")
    print("|---" * (1 + len(titles) + len(ratios)) + "|")
    rows = []
    for b, t in points:
        kept = [g for g in groups if g["batch"] == b and g["threads"] == t]
        row = {"batch": b, "threads": t}
        cells = []
        for n in names:
            v = [g["ms_per_batch"][n] / b for g in kept]
            row[n] = {"median": statistics.median(v), "min": min(v), "max": max(v)}
            cells.append(f"{row[n]['median']:.2f} [{row[n]['min']:.2f} - {row[n]['max']:.2f}]")
        for key, num, den, _ in ratios:
            row[key] = row[num]["median"] / row[den]["median"]
        rows.append(row)
        print(f"| {b}, {t} | " + " | ".join(cells) + " | " + " | ".join(f"{row[r[0]]:.3f}x" for r in ratios) + " |")
    return rows


def median_of(engine, x, iters):
    """An in-process engine's median ms per batch on x (one untimed pass first)."""
    return median_ms(lambda: engine.run(x), iters)
