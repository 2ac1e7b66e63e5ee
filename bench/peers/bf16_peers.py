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
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
import alternate  # noqa: E402

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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    alternate.add_arguments(ap, ROOT)
    args = ap.parse_args()
    import openvino
    setup = alternate.Setup(args, who="bf16_peers", peer=f"openvino {openvino.__version__}")
    zoo, cpu, points, batches, inputs = setup.zoo, setup.cpu, setup.points, setup.batches, setup.inputs
    full_path, twin_check = setup.full_path, setup.twin_check
    want = {b: softmax(setup.logits(b)) for b in batches}

    checks = {"pytorch_twin_b1": twin_check}
    for b in batches:
        c = compare(f"typenet bf16 batch {b}", setup.typenet_run(b, 2, "bf16"), want[b], TYPENET_BF16_BOUND)
        checks[f"typenet_bf16_b{b}"] = c
        if not c["pass"]:
            sys.exit("bf16_peers: typenet bf16 is outside its bound; not timing")
        for precision in ("bf16", "f32"):
            e = OvEngine(full_path, 2, b, precision)
            checks[f"{e.name}_b{b}"] = compare(f"{e.name} batch {b}", e.run(inputs[b]), want[b])

    engines = {(b, t): [OvEngine(full_path, t, b, "bf16"), OvEngine(full_path, t, b, "f32")] for b, t in points}
    names = ["typenet_bf16", "typenet_f32", "openvino_bf16", "openvino_f32"]

    def time_one(n, b, t, iters):
        if n.startswith("typenet"):
            return alternate.typenet_bench(zoo, b, t, iters, n.split("_")[1], "bf16_peers")
        return alternate.median_of(engines[(b, t)][0 if n == "openvino_bf16" else 1], inputs[b], iters)

    groups = alternate.rounds(args, points, names, time_one)
    summary = alternate.summary(
        groups, points, names, ["typenet bf16", "typenet fp32", "OpenVINO bf16", "OpenVINO fp32"],
        [("openvino_bf16_over_typenet_bf16", "openvino_bf16", "typenet_bf16", "OV bf16 / typenet bf16"),
         ("typenet_f32_over_bf16", "typenet_f32", "typenet_bf16", "typenet fp32 / bf16")], cpu, args.rounds)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu, "openvino": openvino.__version__, "checks": checks, "groups": groups,
                       "summary": summary}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
