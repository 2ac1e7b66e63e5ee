#!/usr/bin/python3
"""Failure cases of typenet-zoo: each must exit with status 1, print one line naming the problem on
stderr, and leave no output file. Also: NaN in the input is data (exit 0, warning on stderr).
Standard library only (no numpy, no torch).

  zoo_errors.py PATH/TO/typenet-zoo WORKDIR
"""
import json
import os
import shutil
import struct
import subprocess
import sys

LENET5 = [("0.weight", [6, 1, 5, 5]), ("0.bias", [6]), ("3.weight", [16, 6, 5, 5]), ("3.bias", [16]),
          ("7.weight", [120, 400]), ("7.bias", [120]), ("9.weight", [84, 120]), ("9.bias", [84]),
          ("11.weight", [10, 84]), ("11.bias", [10])]


def count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def safetensors(path, tensors, fill=0.01):
    header, data, offset = {}, b"", 0
    for name, shape in tensors:
        blob = struct.pack("<%df" % count(shape), *([fill] * count(shape)))
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        data += blob
        offset += len(blob)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def npy(path, shape, values):
    d = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join("%d, " % s for s in shape)
    d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + struct.pack("<%df" % len(values), *values))


def main():
    zoo, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    w = lambda name: os.path.join(work, name)  # noqa: E731

    safetensors(w("good.safetensors"), LENET5)
    safetensors(w("missing_tensor.safetensors"), LENET5[:-1])
    safetensors(w("transposed.safetensors"), LENET5[:8] + [("11.weight", [84, 10]), ("11.bias", [10])])
    with open(w("garbage.safetensors"), "wb") as f:
        f.write(b"\xff" * 8 + b"not a header")
    with open(w("empty.safetensors"), "wb") as f:
        pass
    npy(w("x.npy"), [2, 1, 32, 32], [0.5] * 2048)
    npy(w("x_wrong.npy"), [2, 1, 28, 28], [0.5] * (2 * 28 * 28))
    with open(w("x_truncated.npy"), "wb") as f:
        with open(w("x.npy"), "rb") as g:
            f.write(g.read()[:200])

    run = lambda *args: ["run", "lenet5", *args]  # noqa: E731
    std = lambda weights, x, out: run("--weights", w(weights), "--input", w(x), "--output", w(out))  # noqa: E731
    cases = [
        ([], "no command given"),
        (["frobnicate"], "unknown command 'frobnicate'"),
        (["summary", "vgg99"], "unknown network 'vgg99'"),
        (["summary"], "exactly one network"),
        (std("good.safetensors", "x.npy", "o1.npy") + ["--bogus", "1"], "unknown option '--bogus'"),
        (std("good.safetensors", "x.npy", "o2.npy") + ["--threads", "0"], "positive integer"),
        (std("good.safetensors", "x.npy", "o3.npy") + ["--policy", "gpu"], "--policy must be"),
        (run("--weights", w("good.safetensors"), "--input", w("x.npy")), "missing option --output"),
        (std("nonexistent.safetensors", "x.npy", "o4.npy"), "nonexistent.safetensors: cannot open"),
        (std("garbage.safetensors", "x.npy", "o5.npy"), "garbage.safetensors: "),
        (std("empty.safetensors", "x.npy", "o6.npy"), "empty.safetensors: "),
        (std("missing_tensor.safetensors", "x.npy", "o7.npy"), "missing tensor '11.bias'"),
        (std("transposed.safetensors", "x.npy", "o8.npy"), "[84, 10] but the network expects [10, 84]"),
        (std("good.safetensors", "x_wrong.npy", "o9.npy"), "[2, 1, 28, 28] but the network expects [N, 1, 32, 32]"),
        (std("good.safetensors", "x_truncated.npy", "o10.npy"), "x_truncated.npy: data is truncated"),
        (std("good.safetensors", "nonexistent.npy", "o11.npy"), "nonexistent.npy: cannot open"),
        (std("good.safetensors", "x.npy", "no_such_dir/o12.npy"), "o12.npy"),
        (["bench", "lenet5", "--iters", "x"], "positive integer"),
    ]
    failures = 0
    for args, expected in cases:
        p = subprocess.run([zoo] + args, capture_output=True, text=True)
        err = p.stderr.strip()
        problems = []
        if p.returncode != 1:
            problems.append("exit status %d, expected 1" % p.returncode)
        if expected not in err:
            problems.append("stderr lacks %r" % expected)
        if not err.startswith("typenet-zoo: "):
            problems.append("stderr does not start with 'typenet-zoo: '")
        if args and args[0] != "help" and expected != "no command given" and "\n" in err:
            problems.append("message spans several lines")
        if p.stdout:
            problems.append("printed on stdout: %r" % p.stdout[:200])
        if "--output" in args:
            out = args[args.index("--output") + 1]
            if os.path.exists(out):
                problems.append("left an output file behind: " + out)
        leftovers = [f for f in os.listdir(work) if f.startswith(".") or f.endswith(".tmp")]
        if leftovers:
            problems.append("left temporary files: %s" % leftovers)
        status = "ok  " if not problems else "FAIL"
        print("%s %s\n     -> %s" % (status, " ".join(a.replace(work + os.sep, "") for a in args), err))
        for pr in problems:
            print("     " + pr)
        failures += bool(problems)

    # NaN and infinity in the input are data: the run succeeds, warns, and the NaN reaches the output.
    values = [0.5] * 2048
    values[5] = float("nan")
    values[1100] = float("inf")
    npy(w("x_nan.npy"), [2, 1, 32, 32], values)
    p = subprocess.run([zoo] + std("good.safetensors", "x_nan.npy", "nan_out.npy"), capture_output=True, text=True)
    ok = (p.returncode == 0 and "input" in p.stderr and "1 NaN and 1 infinite" in p.stderr
          and os.path.exists(w("nan_out.npy")))
    print("%s NaN/inf input -> exit %d, stderr %r" % ("ok  " if ok else "FAIL", p.returncode, p.stderr.strip()))
    failures += not ok
    if failures:
        print("%d case(s) failed" % failures)
        return 1
    print("all %d cases passed" % (len(cases) + 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
