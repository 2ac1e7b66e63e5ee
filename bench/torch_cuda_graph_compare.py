#!/usr/bin/env python3
"""typenet's exec::cuda against PyTorch + cuDNN (fp32 and TF32) on the graph networks of the zoo (resnet50,
mobilenet_v2, squeezenet1_1: torchvision's models, built by tools/torch_zoo.py), with the same weights and
images, typenet's outputs checked against PyTorch's before any ratio is given.

    python3 bench/torch_cuda_graph_compare.py --bench BIN [--nets resnet50,mobilenet_v2,squeezenet1_1]
        [--batches 1,64,256] [--iters 20] [--maths fp32,tf32x3,tf32] [--data DIR] [--markdown OUT.md]
        [--json OUT.json] [--device cuda] [--seed 7] [--no-typenet] [--time-budget SECONDS] [--warmup 5]
        [--typenet-timeout SECONDS]

BIN is bench/cuda_graph_bench.cu's program. Per network NET:
 1. The model gets He weights and random batch-norm parameters and statistics (tools/make_parity_case.py's
    he_init, seeded with --seed), saved as DIR/NET.safetensors; the images, max(--batches) of them uniform in
    [-1, 1) (numpy's default_rng(seed + 1)), as DIR/NET_input.npy.
 2. `BIN NET --weights .. --input .. --output DIR/NET_typenet --batches .. --maths .. --iters N` writes
    DIR/NET_typenet_<math>.npy (the logits of every image) and prints `typenet_cuda net= math= graphs=on|off
    batch= ms_median= images_per_s=` lines, forwarded here. An exit status other than 0 (or more than
    --typenet-timeout seconds) is printed, the other networks still run, and this script's exit status is 1.
 3. PyTorch's fp32 logits (allow_tf32 off for cuDNN and matmul) of all the images against each typenet math's:
    max |diff| <= bound x max |logit|, bound 1e-4 for fp32 and tf32x3, 1e-2 for tf32 (torch_check lines). A
    failure makes the exit status 1, and that math's ratios read "(output check failed)". The reference is
    itself compared with float64 on the CPU on 2 images (torch_reference line; a warning above a third of the
    fp32 bound, as TF32 left on would give).
 4. PyTorch timing, in torch.inference_mode(), cudnn.benchmark on, the first B images already on the device:
    CUDA events around each call, --warmup calls then --iters timed ones, the median. fp32: channels_last model
    and input (cl_bench), contiguous NCHW (nchw_bench), and a CUDA graph (torch.cuda.CUDAGraph, captured after
    a warm-up on a side stream, replays timed) of the faster of those two layouts at that batch (graph); tf32
    (allow_tf32 on for both; when --maths has tf32): cl_bench and nchw_bench. The configurations go in that
    order, each for every network, and once --time-budget seconds (counted from the start of this script,
    typenet's runs included) have passed the remaining ones are skipped and named, as is one that fails (out
    of memory, say), so that the tables always come out.
 5. Tables (stdout and --markdown): per network, the fastest cuDNN fp32 configuration (named) and the PyTorch
    CUDA graph against typenet fp32 with CUDA graphs on (and off), typenet tf32x3 (fp32-accurate) against the
    fastest cuDNN fp32, typenet tf32 against the fastest cuDNN tf32; ratio = PyTorch time / typenet time
    (above 1: typenet is faster). Then every PyTorch configuration's time. --json keeps all raw numbers.

--device cpu is a dry run of this script without a GPU (perf_counter timing; CUDA graphs, cuDNN and TF32
settings are skipped, n/a):
    /usr/bin/python3 bench/torch_cuda_graph_compare.py --device cpu --no-typenet --nets squeezenet1_1 \\
        --batches 1,2 --iters 2 --data /tmp/tgc --markdown /tmp/tgc/out.md
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import torch_zoo  # noqa: E402
from export_safetensors import save_state_dict  # noqa: E402
from make_parity_case import he_init  # noqa: E402

BOUNDS = {"fp32": 1e-4, "tf32x3": 1e-4, "tf32": 1e-2}  # max |diff| / max |logit| against PyTorch fp32
LAYOUTS = ("cl_bench", "nchw_bench")
FP32_CONFIGS = LAYOUTS + ("graph",)


def set_tf32(on, cuda):
    if cuda:  # the legacy flags, as bench/torch_cuda_compare.py sets them (PyTorch >= 2.9 warns once)
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on


def time_ms(fn, iters, warmup, cuda):
    """Median ms of `iters` calls of fn after `warmup` untimed ones: CUDA events, or perf_counter on the CPU."""
    for _ in range(warmup):
        fn()
    times = []
    if cuda:
        torch.cuda.synchronize()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(iters):
        if cuda:
            a.record()
            fn()
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b))
        else:
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def to_layout(model, x, layout):
    """Puts model (in place) and a copy of x in the memory format of `layout`."""
    fmt = torch.channels_last if layout == "cl_bench" else torch.contiguous_format
    model.to(memory_format=fmt)
    return x.contiguous(memory_format=fmt)


def graph_ms(model, x, iters, warmup):
    """A CUDA-graph-captured forward on the static input x, replays timed: (ms, max |graph - eager|)."""
    eager = model(x).clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):  # outside the capture: cudnn.benchmark's choices and the allocator's pools
            model(x)
    torch.cuda.current_stream().wait_stream(side)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        y = model(x)
    g.replay()
    torch.cuda.synchronize()
    diff = (y - eager).abs().max().item()
    ms = time_ms(g.replay, iters, warmup, True)
    del g, y
    return ms, diff


def time_config(model, images, config, layout, args, cuda):
    """One PyTorch configuration on `images`: (ms, extra numbers); "graph" is captured in `layout`."""
    if config == "graph":
        ms, diff = graph_ms(model, to_layout(model, images, layout), args.iters, args.warmup)
        torch.cuda.empty_cache()  # the graph's private memory pool
        return ms, {"layout": layout, "max_abs_diff_vs_eager": diff}
    x = to_layout(model, images, config)
    return time_ms(lambda: model(x), args.iters, args.warmup, cuda), {}


def run_typenet(args, net, data):
    """BIN on NET: (exit status or None, [typenet_cuda lines as dicts]); its output is forwarded."""
    prefix = os.path.join(data, net)
    for math in args.maths.split(","):  # no stale outputs from an earlier run
        if os.path.exists(f"{prefix}_typenet_{math}.npy"):
            os.remove(f"{prefix}_typenet_{math}.npy")
    cmd = [args.bench, net, "--weights", prefix + ".safetensors", "--input", prefix + "_input.npy", "--output",
           prefix + "_typenet", "--batches", args.batches, "--maths", args.maths, "--iters", str(args.iters)]
    print("typenet_run " + " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.typenet_timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:  # its partial output may come as bytes
        rc, out, err = None, e.stdout or "", e.stderr or ""
        out, err = (s.decode(errors="replace") if isinstance(s, bytes) else s for s in (out, err))
    except OSError as e:
        rc, out, err = -1, "", str(e)
    rows = []
    for line in out.splitlines():
        print(line, flush=True)
        if not line.startswith("typenet_cuda "):
            continue
        kv = dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)
        try:
            kv["batch"], kv["ms_median"] = int(kv["batch"]), float(kv["ms_median"])
            if kv["net"] == net and kv["graphs"] in ("on", "off"):
                rows.append(kv)
                continue
        except (KeyError, ValueError):
            pass
        print(f"typenet_unparsed {line}", flush=True)
    if err.strip():
        print(err.rstrip(), file=sys.stderr if rc == 0 else sys.stdout, flush=True)
    if rc != 0:
        why = f"timed out after {args.typenet_timeout:g} s" if rc is None else f"exit status {rc}"
        print(f"typenet_error net={net} {why}: {' '.join(cmd)}", flush=True)
    return rc, rows


def check(net, math, path, ref):
    """typenet's logits in `path` against PyTorch's `ref` (float64): the torch_check line's numbers."""
    big = float(np.max(np.abs(ref)))
    bound = BOUNDS[math] * big
    got = np.load(path) if os.path.exists(path) else None
    if got is None or got.shape != ref.shape:
        diff, why = float("inf"), (f"missing {path}" if got is None else f"shape {got.shape}, want {ref.shape}")
    else:
        diff, why = float(np.max(np.abs(got.astype(np.float64) - ref))), ""
    ok = bool(np.isfinite(diff) and diff <= bound)
    print(f"torch_check net={net} math={math} max_abs_diff={diff:.3g} max_abs_logit={big:.4g} bound={bound:.3g} "
          f"{'ok' if ok else 'FAILED'}{' (' + why + ')' if why else ''}", flush=True)
    return {"max_abs_diff": diff, "max_abs_logit": big, "bound": bound, "rel_bound": BOUNDS[math], "ok": ok,
            "problem": why}


def cell(t, what=None):
    return "n/a" if t is None else f"{t:.3f}" + (f" ({what})" if what else "")


def ratio(base, t, ok=True):
    if not ok:
        return "(output check failed)"
    return f"{base / t:.2f}" if base and t else "n/a"


def fastest(times, math, batch, configs):
    got = [(times[(math, c, batch)], c) for c in configs if (math, c, batch) in times]
    return min(got) if got else (None, None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", help="typenet's cuda_graph_bench program (needed unless --no-typenet)")
    ap.add_argument("--nets", default="resnet50,mobilenet_v2,squeezenet1_1")
    ap.add_argument("--batches", default="1,64,256")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5, help="untimed calls before the timed ones (at least 3)")
    ap.add_argument("--maths", default="fp32,tf32x3,tf32", help="typenet's maths")
    ap.add_argument("--data", help="weights, images and typenet's outputs (default: a new temporary folder)")
    ap.add_argument("--markdown", help="write the tables here")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--device", default="cuda", help="cpu only for a dry run of this script")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-typenet", action="store_true", help="PyTorch only: no BIN, no output check")
    ap.add_argument("--time-budget", type=float, default=240, help="seconds after which PyTorch timing stops")
    ap.add_argument("--typenet-timeout", type=float, default=300, help="seconds per typenet run")
    args = ap.parse_args()
    start = time.time()
    nets = [n for n in args.nets.split(",") if n]
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    maths = [m for m in args.maths.split(",") if m]
    for n in nets:
        if n not in torch_zoo.NETWORKS or torch_zoo.INPUT_SHAPES[n] != (3, 224, 224):
            ap.error(f"{n}: not one of the zoo's 224 x 224 networks")
    if [m for m in maths if m not in BOUNDS] or not batches or min(batches) < 1:
        ap.error(f"--maths are among {', '.join(BOUNDS)}; --batches positive integers")
    if not args.no_typenet and not args.bench:
        ap.error("--bench BIN is needed (or --no-typenet)")
    args.warmup = max(args.warmup, 3)
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    data = args.data or tempfile.mkdtemp(prefix="torch_cuda_graph_compare_")
    os.makedirs(data, exist_ok=True)
    device_name = torch.cuda.get_device_name(dev) if cuda else "cpu (dry run: no CUDA graph, no cuDNN settings)"
    head = f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {device_name}"
    print(head, flush=True)
    print(f"data in {data}", flush=True)
    report = {"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(), "device": device_name,
              "args": vars(args), "nets": {}, "skipped": []}
    failures = []

    # Weights, images, typenet's runs (before this process uses the GPU for anything but its name).
    models, images = {}, {}
    for net in nets:
        model = torch_zoo.build(net)
        he_init(model, torch.Generator().manual_seed(args.seed))
        model.eval()
        floats = {k: v for k, v in model.state_dict().items() if v.is_floating_point()}  # no num_batches_tracked
        save_state_dict(floats, os.path.join(data, f"{net}.safetensors"))
        x = np.random.default_rng(args.seed + 1).uniform(-1, 1, (max(batches), 3, 224, 224)).astype(np.float32)
        np.save(os.path.join(data, f"{net}_input.npy"), x)
        models[net], images[net] = model, x
        r = report["nets"][net] = {"typenet_exit": None, "typenet": [], "checks": {}, "torch": []}
        if not args.no_typenet:
            r["typenet_exit"], r["typenet"] = run_typenet(args, net, data)
            if r["typenet_exit"] != 0:
                failures.append(f"{net}: typenet run failed")

    # The output checks: PyTorch fp32 (TF32 off), contiguous NCHW, 64 images at a time; the reference itself
    # is compared with float64 on the CPU on 2 images (TF32 left on somewhere would show there).
    set_tf32(False, cuda)
    with torch.inference_mode():
        for net in nets:
            if not args.no_typenet:
                ref64 = models[net].double()(torch.from_numpy(images[net][:2]).double()).numpy()
                models[net].float()  # float32 -> float64 -> float32 is exact
            models[net].to(dev)
            images[net] = torch.from_numpy(images[net]).to(dev)
            if args.no_typenet:
                continue
            ref = torch.cat([models[net](c) for c in torch.split(images[net], 64)]).double().cpu().numpy()
            d = float(np.max(np.abs(ref[:2] - ref64))) / float(np.max(np.abs(ref64)))
            report["nets"][net]["reference_rel_diff_vs_cpu_fp64"] = d
            print(f"torch_reference net={net} max_abs_diff_vs_cpu_fp64/max_abs_logit={d:.3g} (first 2 images)"
                  + (" WARNING: above a third of the fp32 bound; is TF32 on?" if d > BOUNDS["fp32"] / 3 else ""),
                  flush=True)
            for math in maths:
                c = report["nets"][net]["checks"][math] = check(
                    net, math, os.path.join(data, f"{net}_typenet_{math}.npy"), ref)
                if not c["ok"]:
                    failures.append(f"{net}: typenet {math} output check failed")

    # PyTorch timing, the most telling configurations first, each for every network.
    times = {net: {} for net in nets}  # (math, config, batch) -> ms
    tasks = [("fp32", c) for c in FP32_CONFIGS] + ([("tf32", c) for c in LAYOUTS] if "tf32" in maths else [])
    with torch.inference_mode():
        for math, config in tasks:
            set_tf32(math == "tf32", cuda)
            for net in nets:
                for b in batches:
                    what = f"net={net} math={math} config={config} batch={b}"
                    if time.time() - start > args.time_budget:
                        report["skipped"].append(what)
                        print(f"torch_skipped {what} (--time-budget {args.time_budget:g} s used up)", flush=True)
                        continue
                    layout = None
                    if config == "graph":
                        t, layout = fastest(times[net], math, b, LAYOUTS)
                        if not cuda or t is None:
                            print(f"torch {what} n/a ({'needs CUDA' if not cuda else 'no eager time'})", flush=True)
                            continue
                    try:
                        ms, extra = time_config(models[net], images[net][:b], config, layout, args, cuda)
                    except RuntimeError as e:  # out of memory, a failed capture, ...: the tables still come out
                        why = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
                        report["skipped"].append(f"{what} (error: {why})")
                        print(f"torch_error {what}: {why}", flush=True)
                        continue
                    times[net][(math, config, b)] = ms
                    report["nets"][net]["torch"].append({"math": math, "config": config, "batch": b,
                                                         "ms_median": ms, **extra})
                    print(f"torch {what} ms_median={ms:.4f}" + "".join(
                        f" {k}={v:.3g}" if isinstance(v, float) else f" {k}={v}" for k, v in extra.items()), flush=True)
    set_tf32(False, cuda)

    # Tables.
    text = [head, "", "Ratio: PyTorch time / typenet time (above 1: typenet is faster); median ms per batch "
            "(PyTorch: input already on the device). typenet fp32 and tf32x3 against the fastest cuDNN fp32 "
            "configuration (allow_tf32 off; cl_bench, nchw_bench or graph, named), typenet tf32 against the fastest "
            "cuDNN tf32 one (cl_bench or nchw_bench). typenet's tf32x3 and tf32 with CUDA graphs unless marked."]
    for net in nets:
        r, tm = report["nets"][net], times[net]
        tn = {(row["math"], row["graphs"], row["batch"]): row["ms_median"] for row in r["typenet"]}
        ok = {m: r["checks"].get(m, {}).get("ok", True) for m in BOUNDS}

        def typenet(math, b):
            t = tn.get((math, "on", b))
            return (t, None) if t is not None else (tn.get((math, "off", b)), "graphs off")

        text += ["", f"### {net}", "", "| batch | cuDNN fp32 best ms (config) | PyTorch CUDA-graph fp32 ms "
                 "| typenet fp32 ms, graphs on | ratio best cuDNN / typenet | typenet fp32 ms, graphs off "
                 "| typenet tf32x3 ms | ratio vs cuDNN fp32 best | cuDNN tf32 best ms (config) | typenet tf32 ms "
                 "| ratio |", "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for b in batches:
            best, best_c = fastest(tm, "fp32", b, FP32_CONFIGS)
            best32, best32_c = fastest(tm, "tf32", b, LAYOUTS)
            on, off = tn.get(("fp32", "on", b)), tn.get(("fp32", "off", b))
            x3, x3_note = typenet("tf32x3", b)
            t32, t32_note = typenet("tf32", b)
            text.append(f"| {b} | {cell(best, best_c)} | {cell(tm.get(('fp32', 'graph', b)))} | {cell(on)} "
                        f"| {ratio(best, on, ok['fp32'])} | {cell(off)} | {cell(x3, x3_note)} "
                        f"| {ratio(best, x3, ok['tf32x3'])} | {cell(best32, best32_c)} | {cell(t32, t32_note)} "
                        f"| {ratio(best32, t32, ok['tf32'])} |")
    columns = [("fp32", c) for c in FP32_CONFIGS] + [("tf32", c) for c in LAYOUTS]
    text += ["", "### Every PyTorch configuration (ms)", "",
             "| net | batch | " + " | ".join(f"{m} {c}" + (" (layout)" if c == "graph" else "") for m, c in columns)
             + " |", "| --- | ---: |" + " ---: |" * len(columns)]
    for net in nets:
        layouts = {row["batch"]: row["layout"] for row in report["nets"][net]["torch"] if row["config"] == "graph"}
        for b in batches:
            text.append(f"| {net} | {b} | " + " | ".join(
                cell(times[net].get((m, c, b)), layouts.get(b) if c == "graph" else None) for m, c in columns) + " |")
    checks = [(net, m, c) for net in nets for m, c in report["nets"][net]["checks"].items()]
    if checks:
        text += ["", "### typenet's logits against PyTorch fp32 (TF32 off), all images", "",
                 "| net | math | max \\|diff\\| | max \\|logit\\| | bound | result |",
                 "| --- | --- | ---: | ---: | ---: | --- |"]
        text += [f"| {net} | {m} | {c['max_abs_diff']:.3g} | {c['max_abs_logit']:.4g} | {c['bound']:.3g} "
                 f"({c['rel_bound']:g} x) | {'pass' if c['ok'] else ' '.join(('**FAILED**', c['problem'])).strip()} |"
                 for net, m, c in checks]
    if report["skipped"]:
        text += ["", f"Skipped (--time-budget {args.time_budget:g} s used up, or an error): "
                 + "; ".join(report["skipped"])]
    if failures:
        text += ["", "**Failures:** " + "; ".join(failures)]
    text = "\n".join(text) + "\n"
    print("\n" + text, flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if args.json:
        report["failures"] = failures
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if failures:
        print("torch_cuda_graph_compare: FAILED: " + "; ".join(failures), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
