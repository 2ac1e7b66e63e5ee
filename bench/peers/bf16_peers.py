#!/usr/bin/env python3
"""typenet in bf16 against OpenVINO in bf16 on the seed AlexNet (and both in fp32), with the same weights and
inputs, outputs checked first, timed in alternation on a shared machine.

Run it with the interpreter of the venv that bench/peers/make_venv.sh makes (see onnx_peers.py):

    bench/peers/make_venv.sh
    cmake --build build --target typenet-zoo bench_compare_onednn
    build-bench/peers-venv/bin/python bench/peers/bf16_peers.py --build build --rounds 3 \\
        --json build/bf16_peers.json

What it does:
 1. `bench_compare_onednn --dump DATA` writes typenet's weights (safetensors), the inputs of batch 1 and 64
    and typenet's fp32 logits; onnx_peers.export checks the PyTorch twin on them and exports it to ONNX.
 2. Checks, before any timing, on those weights and inputs: `typenet-zoo run --policy simd --precision bf16`
    and OpenVINO with INFERENCE_PRECISION_HINT bf16 (the same ONNX model, reshaped to the static batch), each
    against typenet's fp32 softmax output: max |diff| relative to max |fp32| and the top-1 agreement. typenet
    must stay within the bound its tests use ((8 + 1) * 2 * 2^-9 = 3.5 % for 8 weight layers); OpenVINO's
    error is printed for comparison. A failure stops the script.
 3. R rounds; in each, for each (batch, threads) point, after waiting for an idle machine (the gate of
    measure.py), four engines in an order that rotates from round to round: OpenVINO bf16 and OpenVINO fp32
    (in this process, the median of K passes after one untimed pass) and typenet bf16 and fp32
    (`typenet-zoo bench --policy simd --precision P --iters K --json`: the median of K passes after one
    warm-up; its weights are random, which does not change the time of a dense network).
 4. Prints per point the median over rounds of the per-round medians [min - max] and the ratios peer time /
    typenet time (above 1: typenet faster): OpenVINO bf16 / typenet bf16 is the issue's target.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
from measure import busy_seconds, wait_idle  # noqa: E402
from onnx_peers import cpu_description, export, loadavg, median_ms, own_seconds  # noqa: E402

TYPENET_BF16_BOUND = 9 * 2 / 512  # (layers + 1) * 2u, tests/simd/bf16_test.cpp


class OvEngine:
    def __init__(self, path, threads, batch, precision):
        import openvino as ov
        core = ov.Core()
        model = core.read_model(path)
        model.reshape({"input": [batch, 3, 227, 227]})
        self.name = f"openvino_{precision}"
        self.compiled = core.compile_model(model, "CPU", {
            "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
            "INFERENCE_PRECISION_HINT": precision})
        self.req = self.compiled.create_infer_request()

    def run(self, x):
        self.req.infer({0: x})
        return self.req.get_output_tensor(0).data.copy()


def softmax(logits):
    import numpy as np
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def compare(name, got, want, bound=None):
    import numpy as np
    rel = float(np.max(np.abs(got.astype(np.float64) - want))) / float(np.max(np.abs(want)))
    agree = float((got.argmax(axis=1) == want.argmax(axis=1)).mean())
    ok = bound is None or (np.isfinite(rel) and rel <= bound)
    print(f"check {name}: max |diff| / max |fp32| {rel:.4f}" + (f" (bound {bound:.4f})" if bound else "")
          + f", top-1 agreement {agree:.3f}: {'pass' if ok else 'FAIL'}", flush=True)
    return {"relative_error": rel, "top1_agreement": agree, "bound": bound, "pass": bool(ok)}


def typenet_run(zoo, data, batch, threads):
    import numpy as np
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "probs.npy")
        cmd = [zoo, "run", "seed_alexnet", "--weights", os.path.join(data, "weights.safetensors"), "--input",
               os.path.join(data, f"input_b{batch}.npy"), "--output", out, "--policy", "simd", "--threads",
               str(threads), "--precision", "bf16"]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        return np.load(out)


def typenet_bench(zoo, batch, threads, iters, precision):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.json")
        cmd = [zoo, "bench", "seed_alexnet", "--policy", "simd", "--precision", precision, "--batch", str(batch),
               "--threads", str(threads), "--iters", str(iters), "--json", path]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"bf16_peers: {' '.join(cmd)} failed: {p.stderr.strip()}")
        with open(path) as f:
            return json.load(f)["benchmarks"][0]["real_time"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--data", help="dump folder (default BUILD/peers-data)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--points", default="1x1,1x2,64x2", help="BATCHxTHREADS list")
    ap.add_argument("--iters1", type=int, default=10)
    ap.add_argument("--iters64", type=int, default=2)
    ap.add_argument("--idle", type=float, default=0.35)
    ap.add_argument("--max-wait", type=float, default=180)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--json")
    args = ap.parse_args()
    data = args.data or os.path.join(args.build, "peers-data")
    compare_bin = os.path.join(args.build, "bin", "bench_compare_onednn")
    zoo = os.path.join(args.build, "bin", "typenet-zoo")
    for path in (compare_bin, zoo):
        if not os.path.exists(path):
            sys.exit(f"{path} not found: cmake --build {args.build} --target bench_compare_onednn typenet-zoo")

    import numpy as np
    import openvino
    cpu = cpu_description()
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {cpu}; load average {loadavg()}; openvino "
          f"{openvino.__version__}", flush=True)

    if not os.path.exists(os.path.join(data, "logits_b64.npy")):
        subprocess.run([compare_bin, "--dump", data], check=True)
    full_path, _, twin_check = export(data, args.opset)
    points = [tuple(int(v) for v in p.split("x")) for p in args.points.split(",")]
    batches = sorted({b for b, _ in points})
    inputs = {b: np.load(os.path.join(data, f"input_b{b}.npy")) for b in batches}
    want = {b: softmax(np.load(os.path.join(data, f"logits_b{b}.npy")).astype(np.float64)) for b in batches}

    checks = {"pytorch_twin_b1": twin_check}
    for b in batches:
        c = compare(f"typenet bf16 batch {b}", typenet_run(zoo, data, b, 2), want[b], TYPENET_BF16_BOUND)
        checks[f"typenet_bf16_b{b}"] = c
        if not c["pass"]:
            sys.exit("bf16_peers: typenet bf16 is outside its bound; not timing")
        for precision in ("bf16", "f32"):
            e = OvEngine(full_path, 2, b, precision)
            checks[f"{e.name}_b{b}"] = compare(f"{e.name} batch {b}", e.run(inputs[b]), want[b])

    engines = {(b, t): [OvEngine(full_path, t, b, "bf16"), OvEngine(full_path, t, b, "f32")] for b, t in points}
    names = ["typenet_bf16", "typenet_f32", "openvino_bf16", "openvino_f32"]
    groups = []
    for r in range(args.rounds):
        for b, t in points:
            iters = args.iters1 if b == 1 else args.iters64
            pre, waited = wait_idle(args.idle, args.max_wait)
            b0, o0, t0 = busy_seconds(), own_seconds(), time.time()
            order = names[r % 4:] + names[:r % 4]
            ms = {}
            for n in order:
                if n.startswith("typenet"):
                    ms[n] = typenet_bench(zoo, b, t, iters, n.split("_")[1])
                else:
                    e = engines[(b, t)][0 if n == "openvino_bf16" else 1]
                    ms[n] = median_ms(lambda: e.run(inputs[b]), iters)
                time.sleep(0.1)
            foreign = max(0.0, (busy_seconds() - b0 - (own_seconds() - o0)) / (time.time() - t0))
            g = {"round": r + 1, "batch": b, "threads": t, "waited_s": round(waited, 1), "pre_load_vcpu": round(pre, 2),
                 "foreign_vcpu": round(foreign, 2), "order": order, "ms_per_batch": ms}
            groups.append(g)
            print(f"## round {r + 1} batch {b} threads {t}: foreign {foreign:.2f} vCPU: "
                  + ", ".join(f"{n} {ms[n]:.2f}" for n in names) + " ms/batch", flush=True)

    print(f"\n# {cpu}; {args.rounds} rounds; median over rounds of per-round medians [min - max], ms per image; "
          "ratio = peer time / typenet time (above 1: typenet faster)")
    print("| batch, threads | typenet bf16 | typenet fp32 | OpenVINO bf16 | OpenVINO fp32 | OV bf16 / typenet bf16 "
          "| typenet fp32 / bf16 |")
    print("|---|---|---|---|---|---|---|")
    summary = []
    for b, t in points:
        kept = [g for g in groups if g["batch"] == b and g["threads"] == t]
        row = {"batch": b, "threads": t}
        cells = []
        for n in names:
            v = [g["ms_per_batch"][n] / b for g in kept]
            row[n] = {"median": statistics.median(v), "min": min(v), "max": max(v)}
            cells.append(f"{row[n]['median']:.2f} [{row[n]['min']:.2f} - {row[n]['max']:.2f}]")
        row["openvino_bf16_over_typenet_bf16"] = row["openvino_bf16"]["median"] / row["typenet_bf16"]["median"]
        row["typenet_f32_over_bf16"] = row["typenet_f32"]["median"] / row["typenet_bf16"]["median"]
        summary.append(row)
        print(f"| {b}, {t} | " + " | ".join(cells) + f" | {row['openvino_bf16_over_typenet_bf16']:.3f}x | "
              f"{row['typenet_f32_over_bf16']:.3f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu, "openvino": openvino.__version__, "checks": checks, "groups": groups,
                       "summary": summary}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
