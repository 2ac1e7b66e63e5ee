#!/usr/bin/python3
"""Parity of typenet-zoo with PyTorch on one zoo network.

  parity.py --zoo PATH/typenet-zoo --net NET --policy reference|simd --workdir DIR [--batch B] [--seed S] [--huge]

Makes a case with tools/make_parity_case.py (the PyTorch twin with random He weights, a random batch, its
eval() output), runs `typenet-zoo run` on it, and compares elementwise, |typenet - torch| <= atol + rtol *
|torch|: atol 1e-5, rtol 1e-3 for softmax outputs; atol 1e-3, rtol 1e-3 for logits, plus 1e-5 x the
image's largest |logit| (a logit's rounding error scales with the largest terms summed). The work directory
is removed when the test passes. Exit status 77 (CTest's SKIP_RETURN_CODE here), with the reason
printed, when torch or numpy cannot be imported or when `typenet-zoo help` says the policy is not built in
(a zoo configured with TYPENET_ZOO_SIMD=OFF has no simd policy: its simd parity is skipped, never passed).
The run must also report the policy asked for, so that a zoo that falls back to another policy fails.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

SKIP = 77
SCALE_TOL = 1e-5  # logits: tolerance per unit of the image's largest |logit|


def zoo_policies(zoo):
    """The policies `typenet-zoo help` lists on its line "policies in this build: ...", or None."""
    r = subprocess.run([zoo, "help"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.startswith("policies in this build:"):
            return [p.strip() for p in line.split(":", 1)[1].split(",")]
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--zoo", required=True)
    p.add_argument("--net", required=True)
    p.add_argument("--policy", default="reference")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workdir", required=True)
    p.add_argument("--batch", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--huge", action="store_true")
    args = p.parse_args()

    policies = zoo_policies(args.zoo)
    if policies is not None and args.policy not in policies:
        print(f"SKIP: {args.zoo} was built without the {args.policy} policy (it has: {', '.join(policies)}; "
              f"CMake option TYPENET_ZOO_SIMD=OFF?), so its {args.policy} parity cannot be checked")
        return SKIP

    try:
        import numpy as np
        import torch  # noqa: F401
    except ImportError as e:
        print(f"SKIP: parity with PyTorch needs torch and numpy in {sys.executable}: {e}")
        return SKIP

    tools = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")
    sys.path.insert(0, os.path.abspath(tools))
    import make_parity_case

    shutil.rmtree(args.workdir, ignore_errors=True)
    t0 = time.time()
    info = make_parity_case.make_case(args.net, args.workdir, args.batch, args.seed, args.huge)
    print(f"case: {info} ({time.time() - t0:.1f} s)")

    out = os.path.join(args.workdir, "typenet.npy")
    cmd = [args.zoo, "run", args.net, "--weights", os.path.join(args.workdir, "weights.safetensors"),
           "--input", os.path.join(args.workdir, "input.npy"), "--output", out, "--policy", args.policy,
           "--threads", str(args.threads)]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    print("$ " + " ".join(cmd))
    print(r.stdout.strip())
    if r.stderr.strip():
        print("stderr: " + r.stderr.strip())
    print(f"typenet-zoo took {time.time() - t0:.1f} s")
    if r.returncode != 0:
        print(f"FAIL: typenet-zoo exited with {r.returncode}")
        return 1
    # "(policy simd [xsimd fma3+avx2], 2 threads, ...)" or "(policy reference, 1 thread, ...)"
    if f"(policy {args.policy}," not in r.stdout and f"(policy {args.policy} [" not in r.stdout:
        print(f"FAIL: typenet-zoo did not report running policy {args.policy} (a fall-back to another policy?)")
        return 1

    got = np.load(out)
    want = np.load(os.path.join(args.workdir, "expected.npy"))
    if got.shape != want.shape or got.dtype != np.float32:
        print(f"FAIL: typenet wrote {got.dtype} {got.shape}, PyTorch gave {want.dtype} {want.shape}")
        return 1
    atol, rtol = (1e-5, 1e-3) if info["softmax"] else (1e-3, 1e-3)
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    bound = atol + rtol * np.abs(want.astype(np.float64))
    if not info["softmax"]:
        # A logit is the sum of terms as large as the image's largest logit, so its float32 rounding error
        # scales with that, not with its own value (random ResNet-50 weights give logits up to 4e3, and a
        # logit near 0 then carries an error near 1e-6 x 4e3): add scale_tol x the row's largest |logit|.
        rows = np.abs(want.astype(np.float64)).reshape(want.shape[0], -1).max(axis=1)
        bound = bound + SCALE_TOL * rows.reshape((-1,) + (1,) * (want.ndim - 1))
    bad = ~(err <= bound)  # NaN anywhere counts as a mismatch
    worst = np.unravel_index(np.argmax(err / bound), err.shape)
    print(f"{args.net} / {args.policy}: batch {args.batch}, outputs {want.shape[1:]}, "
          f"{'softmax' if info['softmax'] else 'logits'} tolerance atol {atol} rtol {rtol}"
          f"{'' if info['softmax'] else f' + {SCALE_TOL} x max |logit| of the image'}; "
          f"max |diff| {err.max():.3g}, worst at {tuple(int(i) for i in worst)}: "
          f"typenet {got[worst]:.8g} torch {want[worst]:.8g}")
    same_top = (got.argmax(axis=1) == want.argmax(axis=1)).all() if got.ndim == 2 else True
    if info["softmax"]:
        print(f"row sums: {np.round(got.sum(axis=1), 6).tolist()}, largest probabilities "
              f"{np.round(got.max(axis=1), 6).tolist()}")
    if bad.any() or not same_top:
        print(f"FAIL: {int(bad.sum())} of {bad.size} outputs outside the tolerance"
              + ("" if same_top else "; the top class differs") + f" (case kept in {args.workdir})")
        return 1
    if args.huge and info["softmax"] and not (np.isfinite(got).all() and (got.max(axis=1) > 0.99).all()):
        print("FAIL: huge logits should give a finite, nearly one-hot softmax")
        return 1
    shutil.rmtree(args.workdir, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
