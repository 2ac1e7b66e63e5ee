#!/usr/bin/python3
"""Checks of `tools/export_safetensors.py --torchvision NAME (STATE_DICT.pth | --random [--seed S]) OUT`.

  export_torchvision.py WORKDIR

Runs the tool as a user would (a subprocess per case) and checks:
  - resnet18 --random twice with the same seed gives byte-identical files, with every float tensor of
    torchvision's resnet18 under its own name and shape, and batch norms that are not the identity (a
    running_var that is not 1, a running_mean that is not 0); another seed gives another file;
  - a squeezenet1_1 checkpoint saved as {"state_dict": {"module." + key: tensor}} (a DataParallel training
    checkpoint) is exported tensor for tensor, with a note on stderr that "module." was removed; so is a
    whole nn.Module saved under "model";
  - each error (a .pth that does not exist, a file that is not a checkpoint, an unknown NAME, a checkpoint
    and --random together, neither of them, a checkpoint that does not fit the model) exits with status 1,
    prints lines starting "export_safetensors: " on stderr (one line, except for the list of misfits) and
    no traceback, and leaves no output file (nor a temporary one).
The work directory is removed when every case passes. Exit status 77 (CTest's SKIP_RETURN_CODE), with the
reason printed, when torch or torchvision cannot be imported.
"""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import time

SKIP = 77
TOOLS = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
EXPORT = os.path.join(TOOLS, "export_safetensors.py")


def export(*args):
    """Runs the tool with `args`; returns (exit status, stdout, stderr)."""
    r = subprocess.run([sys.executable, EXPORT, *args], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def export_all(runs):
    """export(*args) for each args of `runs`, a few at a time (each spends seconds importing torch)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda args: export(*args), runs))


class Checks:
    """Collects failures; each check prints one line, "ok" or "FAIL", with what it checked."""

    def __init__(self):
        self.failures = 0
        self.count = 0

    def __call__(self, ok, what, detail=""):
        self.count += 1
        self.failures += not ok
        print(("ok   " if ok else "FAIL ") + what + ("" if ok or not detail else "\n     " + detail))
        return ok


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    try:
        import torch
        import torchvision
    except ImportError as e:
        print(f"SKIP: exporting torchvision models needs torch and torchvision in {sys.executable}: {e}")
        return SKIP
    sys.path.insert(0, TOOLS)
    from export_safetensors import load_safetensors

    work = os.path.abspath(sys.argv[1])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    w = lambda name: os.path.join(work, name)  # noqa: E731
    check = Checks()
    t0 = time.time()

    # The checkpoints the cases read: a DataParallel one under "state_dict", a whole module under "model",
    # a text file, a pickled list, and one that does not fit (a key missing, one mis-shaped, one unknown).
    torch.manual_seed(5)
    squeeze = torchvision.models.squeezenet1_1(weights=None)
    original = squeeze.state_dict()
    torch.save({"state_dict": {"module." + k: v for k, v in original.items()}, "epoch": 7}, w("dp.pth"))
    torch.save({"model": squeeze, "optimizer": None}, w("module.pth"))
    with open(w("notes.pth"), "w") as f:
        f.write("these are not weights\n")
    torch.save([1, 2, 3], w("list.pth"))
    misfit = dict(original)
    del misfit["classifier.1.bias"]
    misfit["features.0.weight"] = torch.zeros(64, 3, 5, 5)
    misfit["head.weight"] = torch.zeros(2)
    torch.save(misfit, w("misfit.pth"))

    # Failing cases: (arguments after --torchvision, the text of stderr's line or lines).
    errors = [
        (["squeezenet1_1", w("missing.pth")], "missing.pth: no such file"),
        (["squeezenet1_1", w("notes.pth")], "notes.pth: not a PyTorch checkpoint"),
        (["squeezenet1_1", w("list.pth")], "list.pth: not a checkpoint: the file holds a list"),
        (["resnet19", "--random"], "unknown torchvision model 'resnet19' (did you mean resnet18"),
        (["ResNet", "--random"], "unknown torchvision model 'ResNet'"),
        (["squeezenet1_1", w("dp.pth"), "--random"], "either STATE_DICT.pth or --random, not both"),
        (["squeezenet1_1"], "needs STATE_DICT.pth OUT.safetensors, or --random OUT.safetensors"),
        (["squeezenet1_1", "--seed", "4"], "--seed goes with --random"),
        (["squeezenet1_1", "--random", "--seed", "x"], "argument --seed: invalid int value: 'x'"),
        (["squeezenet1_1", "--random", "--prefix", "net."], "--prefix and --strip-prefix do not go with --torchvision"),
        (["squeezenet1_1", w("misfit.pth")],
         ["misfit.pth does not fit torchvision's squeezenet1_1: 3 problem(s), nothing written:",
          "key 'features.0.weight' has shape [64, 3, 5, 5], the model expects [64, 3, 3, 3]",
          "unexpected key 'head.weight' [2] (the model has no such entry)",
          "missing key 'classifier.1.bias' (the model expects [1000])"]),
    ]
    runs = [["--torchvision", "resnet18", "--random", "--seed", "3", w("a.safetensors")],
            ["--torchvision", "resnet18", w("b.safetensors"), "--random", "--seed", "3"],  # options last
            ["--torchvision", "resnet18", "--random", w("seed0.safetensors")],
            ["--torchvision", "squeezenet1_1", w("dp.pth"), w("dp.safetensors")],
            ["--torchvision", "squeezenet1_1", w("module.pth"), w("module.safetensors")]]
    runs += [["--torchvision", *args, w(f"error{i}.safetensors")] for i, (args, _) in enumerate(errors)]
    results = export_all(runs)

    # Random weights: reproducible, complete, and with batch norms worth folding.
    for (rc, out, err), name in zip(results[:3], ["a", "b", "seed0"]):
        check(rc == 0 and out == f"wrote 102 tensors to {w(name + '.safetensors')} (typenet-zoo network: resnet18)\n",
              f"resnet18 --random -> {name}.safetensors: exit 0, names the zoo network",
              f"exit {rc}, stdout {out!r}, stderr {err!r}")
    if all(rc == 0 for rc, _, _ in results[:3]):
        with open(w("a.safetensors"), "rb") as f, open(w("b.safetensors"), "rb") as g:
            check(f.read() == g.read(), "the same seed gives byte-identical files")
        with open(w("a.safetensors"), "rb") as f, open(w("seed0.safetensors"), "rb") as g:
            check(f.read() != g.read(), "another seed (the default, 0) gives another file")
        got = load_safetensors(w("a.safetensors"))
        want = {k: v for k, v in torchvision.models.resnet18(weights=None).state_dict().items()
                if v.is_floating_point()}
        check(list(got) == list(want) and all(got[k].shape == want[k].shape for k in want),
              "every float tensor of torchvision's resnet18, in state_dict order, with its shape",
              f"names differ: {sorted(set(got) ^ set(want))[:5]}")
        var, mean = got["layer1.0.bn1.running_var"], got["layer1.0.bn1.running_mean"]
        weight, bias = got["layer1.0.bn1.weight"], got["layer1.0.bn1.bias"]
        check(not torch.all(var == 1) and bool(torch.all((var >= 0.5) & (var <= 1.5)))
              and not torch.all(mean == 0) and not torch.all(weight == 1) and not torch.all(bias == 0),
              "batch norm is randomised (running_var in [0.5, 1.5], not 1; mean, weight and bias not 0, 1, 0)",
              f"running_var {var[:4].tolist()}, running_mean {mean[:4].tolist()}")

    # The DataParallel checkpoint: "module." stripped, every tensor exported as it was.
    rc, out, err = results[3]
    if check(rc == 0 and "(typenet-zoo network: squeezenet1_1)" in out and "removed the leading 'module.'" in err,
             "squeezenet1_1 from {'state_dict': {'module.' + key: ...}}: exit 0, says it removed 'module.'",
             f"exit {rc}, stdout {out!r}, stderr {err[:2000]!r}"):
        got = load_safetensors(w("dp.safetensors"))
        check(list(got) == list(original) and all(torch.equal(got[k], original[k]) for k in original),
              f"all {len(original)} tensors equal the checkpoint's")
    rc, out, err = results[4]
    check(rc == 0 and os.path.exists(w("module.safetensors"))
          and all(torch.equal(t, original[k]) for k, t in load_safetensors(w("module.safetensors")).items()),
          "squeezenet1_1 from {'model': nn.Module}: exported as it was", f"exit {rc}, stderr {err!r}")

    # Errors: exit 1, "export_safetensors: " lines, no traceback, no output file, no temporary file.
    leftovers = [f for f in os.listdir(work) if f.startswith(".") or f.endswith(".tmp")]
    check(not leftovers, "no temporary files left", f"left {leftovers}")
    for i, ((args, expected), (rc, out, err)) in enumerate(zip(errors, results[5:])):
        lines = err.splitlines()
        expected_lines = expected if isinstance(expected, list) else [expected]
        problems = []
        if rc != 1:
            problems.append(f"exit status {rc}, expected 1")
        if len(lines) != len(expected_lines):
            problems.append(f"{len(lines)} stderr lines, expected {len(expected_lines)}")
        if not all(line.startswith("export_safetensors: ") for line in lines) or "Traceback" in err:
            problems.append("a stderr line does not start with 'export_safetensors: '")
        for text, line in zip(expected_lines, lines):
            if text not in line:
                problems.append(f"stderr lacks {text!r}")
        if out:
            problems.append(f"printed on stdout: {out!r}")
        if os.path.exists(w(f"error{i}.safetensors")):
            problems.append("left the output file behind")
        shown = " ".join(a.replace(work + os.sep, "") for a in args)
        check(not problems, f"--torchvision {shown} OUT: exit 1, {expected_lines[0]!r}",
              "; ".join(problems) + f"\n     stderr: {err[:2000]!r}")

    print(f"{check.count - check.failures} of {check.count} checks passed ({time.time() - t0:.1f} s)")
    if check.failures:
        print(f"FAIL (files kept in {work})")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
