#!/usr/bin/env python3
"""typenet in int8 against ONNX Runtime in int8 (statically quantised QDQ model, per-channel) on the seed
AlexNet, with the same weights, inputs and calibration inputs, outputs checked first, timed in alternation
on a shared machine (typenet bf16 and ONNX Runtime fp32 alongside, for scale).

Run it with the interpreter of the venv that bench/peers/make_venv.sh makes (see onnx_peers.py):

    bench/peers/make_venv.sh
    cmake --build build --target typenet-zoo bench_compare_onednn
    build-bench/peers-venv/bin/python bench/peers/int8_peers.py --build build --rounds 3 \\
        --json build/int8_peers.json

What it does:
 1. `bench_compare_onednn --dump DATA` writes typenet's weights (safetensors), the inputs of batch 1 and 64
    and typenet's fp32 logits; onnx_peers.export checks the PyTorch twin on them and exports it to ONNX
    (the logits model).
 2. Calibration inputs: the first 8 images of the batch-64 input (DATA/calibration.npy). ONNX Runtime's
    quantize_static (QDQ, per-channel s8 weights, u8 activations, MinMax) and typenet's exec::calibrate
    (`typenet-zoo run --precision int8 --calibrate`, minimum and maximum of every tensor) both see exactly
    these.
 3. Checks, before any timing, each engine's logits against typenet's fp32 logits: max |diff| relative to
    max |fp32| and the top-1 agreement. typenet int8 must stay within the bound its tests use
    ((8 + 1) * 2 * (1/510 + 1/254) = 10.6 % for 8 weight layers); ONNX Runtime's error is printed for
    comparison. A failure stops the script. (typenet's seed_alexnet ends in softmax: its logits are
    recovered as log p centred per image, and so are the others' for the comparison.)
 4. R rounds; in each, for each (batch, threads) point, after waiting for an idle machine (the gate of
    measure.py), four engines in an order that rotates from round to round: ONNX Runtime int8 and fp32 (in
    this process, the median of K passes after one untimed pass) and typenet int8 and bf16
    (`typenet-zoo bench --policy simd --precision P --iters K --json`: the median of K passes after one
    warm-up; random weights, which do not change the time of a dense network, and for int8 the ranges
    calibrated on the bench input, which do not either).
 5. Prints per point the median over rounds of the per-round medians [min - max] and the ratios peer time /
    typenet time (above 1: typenet faster): ONNX Runtime int8 / typenet int8 is the issue's target.
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
from onnx_peers import OrtEngine  # noqa: E402

TYPENET_INT8_BOUND = 9 * 2 * (1 / 510 + 1 / 254)  # (layers + 1) * 2 * (1/510 + 1/254), tests/simd/int8_test.cpp


def centred(x, probabilities):
    """Logits up to a per-image constant: log p centred per image for probabilities, centred logits else."""
    import numpy as np
    z = np.log(np.maximum(x.astype(np.float64), 1e-300)) if probabilities else x.astype(np.float64)
    return z - z.mean(axis=1, keepdims=True)


def compare(name, got, want, bound=None):
    import numpy as np
    rel = float(np.max(np.abs(got - want))) / float(np.max(np.abs(want)))
    agree = float((got.argmax(axis=1) == want.argmax(axis=1)).mean())
    ok = bound is None or (np.isfinite(rel) and rel <= bound)
    print(f"check {name}: max |diff| / max |fp32| {rel:.4f}" + (f" (bound {bound:.4f})" if bound else "")
          + f", top-1 agreement {agree:.3f}: {'pass' if ok else 'FAIL'}", flush=True)
    return {"relative_error": rel, "top1_agreement": agree, "bound": bound, "pass": bool(ok)}


def quantize(logits_path, calibration, out_path):
    """ONNX Runtime's static int8 model of logits_path: QDQ, per-channel s8 weights, u8 activations, MinMax
    ranges from the calibration images (one at a time, as its calibrator feeds them)."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"input": calibration[i:i + 1]} for i in range(len(calibration))])

        def get_next(self):
            return next(self.items, None)

    quantize_static(logits_path, out_path, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    alternate.add_arguments(ap, ROOT)
    args = ap.parse_args()
    import numpy as np
    import onnxruntime
    setup = alternate.Setup(args, who="int8_peers", peer=f"onnxruntime {onnxruntime.__version__}")
    zoo, cpu, points, batches, inputs = setup.zoo, setup.cpu, setup.points, setup.batches, setup.inputs
    data, logits_path, twin_check = setup.data, setup.logits_path, setup.twin_check
    want = {b: centred(setup.logits(b), False) for b in batches}

    calibration = os.path.join(data, "calibration.npy")
    np.save(calibration, np.load(os.path.join(data, "input_b64.npy"))[:8])
    int8_path = os.path.join(data, "seed_alexnet_logits_int8.onnx")
    quantize(logits_path, np.load(calibration), int8_path)

    checks = {"pytorch_twin_b1": twin_check}
    for b in batches:
        c = compare(f"typenet int8 batch {b}", centred(setup.typenet_run(b, 2, "int8", ("--calibrate", calibration)), True), want[b],
                    TYPENET_INT8_BOUND)
        checks[f"typenet_int8_b{b}"] = c
        if not c["pass"]:
            sys.exit("int8_peers: typenet int8 is outside its bound; not timing")
        for name, path in (("onnxruntime_int8", int8_path), ("onnxruntime_f32", logits_path)):
            checks[f"{name}_b{b}"] = compare(f"{name} batch {b}", centred(OrtEngine(path, 2).run(inputs[b]), False),
                                             want[b])

    engines = {t: {"onnxruntime_int8": OrtEngine(int8_path, t), "onnxruntime_f32": OrtEngine(logits_path, t)}
               for t in sorted({t for _, t in points})}
    names = ["typenet_int8", "typenet_bf16", "onnxruntime_int8", "onnxruntime_f32"]

    def time_one(n, b, t, iters):
        if n.startswith("typenet"):
            return alternate.typenet_bench(zoo, b, t, iters, n.split("_")[1], "int8_peers")
        return alternate.median_of(engines[t][n], inputs[b], iters)

    groups = alternate.rounds(args, points, names, time_one)
    summary = alternate.summary(
        groups, points, names, ["typenet int8", "typenet bf16", "ORT int8", "ORT fp32"],
        [("onnxruntime_int8_over_typenet_int8", "onnxruntime_int8", "typenet_int8", "ORT int8 / typenet int8"),
         ("typenet_bf16_over_int8", "typenet_bf16", "typenet_int8", "typenet bf16 / int8")], cpu, args.rounds)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu, "onnxruntime": onnxruntime.__version__, "checks": checks, "groups": groups,
                       "summary": summary}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
