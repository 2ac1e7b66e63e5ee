#!/usr/bin/env python3
"""The seed AlexNet in PyTorch on the GPU (cuDNN, cudnn.benchmark=True, channels_last), float32 and TF32,
timed like bench/cuda_bench.cu (CUDA events, median of the timed runs after warm-up runs): the whole
network at batch 1, 64 and 256, and each of typenet's fused stages at batch 64 and 256. Reads
cuda_bench's output and prints, per math, batch and typenet convolution algorithm (Winograd or direct),
both times and the speed ratio cuDNN time / typenet time (above 1: typenet is faster).

typenet's fp32 and tf32x3 maths (both fp32-accurate) are compared with cuDNN in fp32 (allow_tf32 off for
cuDNN and for matmul), typenet's tf32 with cuDNN in TF32 (allow_tf32 on), typenet's fp16 and bf16 (tensor
cores with 16-bit operands, fp32 activations) with cuDNN on a copy of the model cast to float16 / bfloat16
(weights, activations and input in that type, channels_last, autocast off).

    python3 bench/torch_cuda_compare.py --typenet bench.txt [--iters 20] [--warmup 5] [--markdown out.md]
        [--batches 1,64,256] [--stage-batches 64,256] [--device cuda]

--stage-batches '' skips the per-stage timing. --device cpu is a dry run of this script (no CUDA timing,
small batches advised: --batches 1,2 --stage-batches 2 --iters 2 --probe-batches 2 --dump-batch 2).

Besides the headline comparison (cuDNN as configured above: cudnn.benchmark, channels_last), it
  * re-times cuDNN fp32 in other configurations, each in a fresh subprocess (cuDNN's choices are cached per
    process): memory format (channels_last / NCHW), cudnn.benchmark off, benchmark_limit = 0 (benchmark
    every engine cuDNN offers instead of the first 10 of its heuristic list), a larger workspace cap
    (CUDNN_CONV_WSCAP_DBG), the cuDNN v7 API (TORCH_CUDNN_V8_API_DISABLED=1, where this PyTorch still has
    it), and large batches run as 64-image chunks. Each probe times the conv2 stage (conv2 + relu + pool2,
    the stage that took 6.17 ms at batch 256 against 0.504 ms at batch 64 on the H100) and the whole network
    at --probe-batches, and lists the CUDA kernels of conv2 at the largest batch (the cuDNN engine shows in
    their names). The tables then give typenet's ratio against the headline configuration AND against the
    fastest cuDNN configuration found (named): the first is what was published, the second is the honest one;
  * times a CUDA-graph-captured PyTorch forward (torch.cuda.CUDAGraph, replayed) at --graph-batches
    (default 1), the baseline for latency at batch 1, where eager PyTorch pays launch overhead per layer;
  * with --typenet-dump DIR (written by `cuda_bench --dump DIR`: typenet's weights, an input batch and
    typenet's softmax output per math), loads typenet's weights into the PyTorch model, runs the same input
    and compares: log(typenet's probabilities) against PyTorch's log_softmax of its logits, i.e. the logits up
    to a per-row constant; bound 2e-4 x max |logit| for fp32 and tf32x3 (1e-4 on the logits, as on the CPU,
    times 2 because log_softmax adds the mean shift of the logits' error), 2e-2 x max |logit| for tf32 and
    fp16 (the gpu tests' 1e-2), 8e-2 for bf16 (their 4e-2). A failure is printed as CHECK FAILED and the exit status is 1 (the timings still run:
    a lent GPU cannot be had again at will).

    python3 bench/torch_cuda_compare.py --device cpu --typenet bench.txt --batches 1,2 --stage-batches 2 \
        --iters 2 --probe-batches 2 --graph-batches 1 --typenet-dump DIR   # a dry run without a GPU
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn

MATHS = ("fp32", "tf32x3", "tf32", "fp16", "bf16")
CUDNN_MATHS = ("fp32", "tf32", "fp16", "bf16")  # how cuDNN runs: the dtype and the TF32 switch
DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Bound on typenet's log-probabilities against PyTorch's, as a share of the largest logit (see above).
CHECK_SHARE = {"tf32": 2e-2, "fp16": 2e-2, "bf16": 8e-2}
CONVS = ("winograd", "direct")


def seed_alexnet():
    # The layer list of typenet::zoo::seed_alexnet, in the same order (the same indices).
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, 1000), nn.Softmax(dim=1))


# typenet's fused stages of the seed AlexNet (fusion::stages_t): (name, first layer, end layer, input shape
# of one image). flatten (13) is a view and dropout (14, 17) nothing at inference; both fold into stages.
STAGES = (
    ("conv1+relu+pool", 0, 3, (3, 227, 227)),
    ("conv2+relu+pool", 3, 6, (96, 27, 27)),
    ("conv3+relu", 6, 8, (256, 13, 13)),
    ("conv4+relu", 8, 10, (384, 13, 13)),
    ("conv5+relu+pool", 10, 13, (384, 13, 13)),
    ("fc6+relu", 15, 17, (9216,)),
    ("fc7+relu", 18, 20, (4096,)),
    ("fc8+softmax", 20, 22, (4096,)),
)


def stage_modules(model):
    """The stages as slices of the whole model (the same parameters), with a check that the shapes chain."""
    mods = [model[a:b] for _, a, b, _ in STAGES]
    dev = next(model.parameters()).device
    x = torch.zeros(1, *STAGES[0][3], device=dev)
    with torch.inference_mode():
        for (name, _, _, shape), mod in zip(STAGES, mods):
            n = 1
            for d in shape:
                n *= d
            # a conv stage takes the previous stage's shape; a dense one its flattened values (layer 13)
            assert (tuple(x.shape[1:]) == shape) if len(shape) == 3 else x[0].numel() == n, (name, x.shape)
            x = mod(x.reshape(1, *shape))
    assert tuple(x.shape) == (1, 1000), x.shape
    return mods


def time_ms(fn, iters, warmup, cuda=True):
    for _ in range(max(warmup, 1)):
        fn()
    times = []
    if not cuda:
        for _ in range(iters):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times)
    torch.cuda.synchronize()
    a = torch.cuda.Event(enable_timing=True)
    b = torch.cuda.Event(enable_timing=True)
    for _ in range(iters):
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def read_typenet(path):
    """cuda_bench's lines: net[(math, conv, batch)] = ms, stage[(index, math, conv, batch)] = ms, layers[index].
    Lines without conv= (cuda_bench before Winograd) count as direct."""
    net, stage, layers = {}, {}, {}
    pat_net = re.compile(r"^typenet_cuda net=seed_alexnet math=(\w+)(?: conv=(\w+))? batch=(\d+) ms_median=([\d.]+)")
    pat_stage = re.compile(
        r"^typenet_cuda stage=(\d+) layers=(\S+) math=(\w+)(?: conv=(\w+))? batch=(\d+) ms_median=([\d.]+)")
    with open(path) as f:
        for line in f:
            m = pat_net.match(line)
            if m:
                net[(m.group(1), m.group(2) or "direct", int(m.group(3)))] = float(m.group(4))
                continue
            m = pat_stage.match(line)
            if m:
                i = int(m.group(1))
                layers[i] = m.group(2)
                stage[(i, m.group(3), m.group(4) or "direct", int(m.group(5)))] = float(m.group(6))
    return net, stage, layers


def set_tf32(on):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def baseline(math):
    """The cuDNN math a typenet math is compared with."""
    return "fp32" if math == "tf32x3" else math


def cell(t):
    return f"{t:.3f}" if t else "n/a"


def ratio(base, t):
    return f"{base / t:.2f}" if base and t else "n/a"


def parse_list(s):
    return [int(b) for b in s.split(",") if b.strip()]

# cuDNN fp32 configurations tried for the conv2 anomaly, each in a fresh process: name -> (memory format,
# cudnn.benchmark, benchmark_limit or None for PyTorch's default, extra environment, chunk of images or 0).
CUDNN_CONFIGS = {
    "cl_bench": ("channels_last", True, None, {}, 0),  # the headline's configuration
    "cl_bench_all": ("channels_last", True, 0, {}, 0),
    "nchw_bench": ("nchw", True, None, {}, 0),
    "nchw_bench_all": ("nchw", True, 0, {}, 0),
    "cl_heuristic": ("channels_last", False, None, {}, 0),
    "cl_bench_chunks64": ("channels_last", True, None, {}, 64),
    "cl_bench_all_ws16g": ("channels_last", True, 0, {"CUDNN_CONV_WSCAP_DBG": "16384"}, 0),
    "nchw_heuristic": ("nchw", False, None, {}, 0),
    "cl_bench_v7": ("channels_last", True, None, {"TORCH_CUDNN_V8_API_DISABLED": "1"}, 0),
}
HEADLINE_CONFIG = "cl_bench"
CONV2_STAGE = 1  # index in STAGES


def run_probe(args, config):
    """One cuDNN configuration, in this (fresh) process: prints cudnn_probe lines; fp32 only."""
    fmt, bench, limit, _, chunk = CUDNN_CONFIGS[config]
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    set_tf32(False)
    torch.backends.cudnn.benchmark = bench
    if limit is not None and hasattr(torch.backends.cudnn, "benchmark_limit"):
        torch.backends.cudnn.benchmark_limit = limit
    torch.manual_seed(0)
    model = seed_alexnet().to(dev).eval()
    if fmt == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    stages = stage_modules(model)

    def make(batch, shape):
        x = torch.rand(batch, *shape, device=dev)
        return x.to(memory_format=torch.channels_last) if fmt == "channels_last" and len(shape) == 3 else x

    def chunked(mod, x):
        if chunk and x.shape[0] > chunk:
            return torch.cat([mod(c) for c in torch.split(x, chunk)])
        return mod(x)

    for batch in parse_list(args.probe_batches):
        for part, mod, shape in (("conv2", stages[CONV2_STAGE], STAGES[CONV2_STAGE][3]), ("net", model, (3, 227, 227))):
            x = make(batch, shape)
            with torch.inference_mode():
                t = time_ms(lambda: chunked(mod, x), args.iters, args.warmup, cuda)
            print(f"cudnn_probe config={config} part={part} math=fp32 batch={batch} ms_median={t:.4f}", flush=True)
    if cuda:  # which kernels conv2 runs at the largest batch (cuDNN's engine shows in the names)
        batch = max(parse_list(args.probe_batches))
        x = make(batch, STAGES[CONV2_STAGE][3])
        from torch.profiler import ProfilerActivity, profile
        with torch.inference_mode(), profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(3):
                chunked(stages[CONV2_STAGE], x)
            torch.cuda.synchronize()
        def device_us(e):  # PyTorch 2.x: device_time_total; older: cuda_time_total
            t = getattr(e, "device_time_total", None)
            return t if t is not None else getattr(e, "cuda_time_total", 0)
        for e in sorted(prof.key_averages(), key=lambda e: -device_us(e))[:4]:
            total = device_us(e)
            print(f"cudnn_probe config={config} kernel batch={batch} calls={e.count} us_per_call="
                  f"{total / max(e.count, 1):.1f} name={e.key[:150].replace(' ', '_')}", flush=True)


def probe_all(args):
    """Runs every configuration of --cudnn-configs in its own subprocess; returns {(config, part, batch): ms}."""
    got = {}
    pat = re.compile(r"^cudnn_probe config=(\S+) part=(\S+) math=fp32 batch=(\d+) ms_median=([\d.]+)")
    start = time.time()
    for config in [c for c in args.cudnn_configs.split(",") if c]:
        if config not in CUDNN_CONFIGS:
            sys.exit(f"unknown cuDNN configuration {config} (known: {', '.join(CUDNN_CONFIGS)})")
        if time.time() - start > args.probe_budget:
            print(f"cudnn_probe config={config} SKIPPED: --probe-budget {args.probe_budget:.0f} s used up", flush=True)
            continue
        env = dict(os.environ, **CUDNN_CONFIGS[config][3])
        cmd = [sys.executable, os.path.abspath(__file__), "--probe", config, "--device", args.device,
               "--probe-batches", args.probe_batches, "--iters", str(args.iters), "--warmup", str(args.warmup),
               "--typenet", args.typenet]
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.probe_timeout)
        except subprocess.TimeoutExpired:
            print(f"cudnn_probe config={config} TIMED OUT after {args.probe_timeout} s", flush=True)
            continue
        for line in p.stdout.splitlines():
            print(line, flush=True)
            m = pat.match(line)
            if m:
                got[(m.group(1), m.group(2), int(m.group(3)))] = float(m.group(4))
        if p.returncode != 0:
            print(f"cudnn_probe config={config} FAILED (exit {p.returncode}): {p.stderr.strip()[-400:]}", flush=True)
    return got


def best_config(probes, part, batch):
    """(ms, config) of the fastest probed configuration, or (None, None)."""
    got = [(ms, c) for (c, p, b), ms in probes.items() if p == part and b == batch]
    return min(got) if got else (None, None)


def time_graph(model, x, args, cuda):
    """A CUDA-graph-captured forward of model on x (static input), replayed; returns (ms, max |graph - eager|)."""
    if not cuda:
        return None, None
    with torch.inference_mode():
        eager = model(x).clone()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):  # warm-up outside the capture (cudnn.benchmark picks its algorithms here)
                model(x)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            y = model(x)
        g.replay()
        torch.cuda.synchronize()
        diff = (y - eager).abs().max().item()
        return time_ms(g.replay, args.iters, args.warmup, cuda), diff


def read_dump(folder):
    """cuda_bench --dump: meta.json, params.npy (flat, PyTorch order), input.npy, probs_<math>.npy."""
    import numpy as np
    with open(os.path.join(folder, "meta.json")) as f:
        meta = json.load(f)
    params = np.load(os.path.join(folder, "params.npy"))
    x = np.load(os.path.join(folder, "input.npy"))
    probs = {m: np.load(os.path.join(folder, f"probs_{m}.npy")) for m in meta["maths"]}
    return meta, params, x, probs


def load_flat_params(model, flat):
    """Copies a flat float32 array (typenet's params buffer: each layer's weight then bias, PyTorch layout,
    network order) into model's parameters, in state_dict order."""
    at = 0
    with torch.no_grad():
        for _, t in model.state_dict().items():
            n = t.numel()
            if at + n > flat.size:
                raise ValueError(f"typenet dump has {flat.size} parameters, fewer than the model needs")
            t.copy_(torch.from_numpy(flat[at:at + n].reshape(tuple(t.shape))))
            at += n
    if at != flat.size:
        raise ValueError(f"typenet dump has {flat.size} parameters, the model {at}")


def check_against_typenet(args, dev):
    """typenet's output (cuda_bench --dump) against PyTorch on the same weights and input; returns
    (markdown lines, all passed)."""
    import numpy as np
    meta, flat, x_np, probs = read_dump(args.typenet_dump)
    model = seed_alexnet().to(dev).eval()
    load_flat_params(model, flat)
    logits_model = model[:-1]  # without the softmax
    set_tf32(False)
    with torch.inference_mode():
        z = torch.cat([logits_model(c) for c in torch.split(torch.from_numpy(x_np).to(dev), 64)]).double().cpu()
    ref_logp = torch.log_softmax(z, dim=1).numpy()
    big = float(z.abs().max())
    lines = ["| math | batch | max \\|log p(typenet) - log_softmax(PyTorch)\\| | max \\|logit\\| | bound | result |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    ok_all = True
    for math, p in probs.items():
        rel = CHECK_SHARE.get(math, 2e-4)
        mask = ref_logp > -80.0  # probabilities that fp32 can hold
        got = np.log(np.maximum(p.astype(np.float64), 1e-300))
        diff = float(np.max(np.abs(got - ref_logp)[mask]))
        ok = bool(np.isfinite(diff) and diff <= rel * big)
        ok_all = ok_all and ok
        print(f"torch_check math={math} batch={p.shape[0]} max_abs_diff_logprob={diff:.3g} max_abs_logit={big:.4g} "
              f"bound={rel * big:.3g} {'ok' if ok else 'CHECK FAILED'}", flush=True)
        lines.append(f"| {math} | {p.shape[0]} | {diff:.3g} | {big:.4g} | {rel * big:.3g} ({rel:g} x) | "
                     f"{'pass' if ok else '**FAILED**'} |")
    return lines, ok_all



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--typenet", required=True, help="cuda_bench output")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--markdown", help="write the comparison tables here")
    ap.add_argument("--batches", default="1,64,256", help="whole-network batches")
    ap.add_argument("--stage-batches", default="64,256", help="per-stage batches ('' for none)")
    ap.add_argument("--device", default="cuda", help="cpu only for a dry run of this script")
    ap.add_argument("--cudnn-configs", default=",".join(CUDNN_CONFIGS),
                    help="cuDNN configurations to probe, each in a subprocess ('' for none)")
    ap.add_argument("--probe-batches", default="64,256", help="batches of the cuDNN probes")
    ap.add_argument("--probe-timeout", type=float, default=60, help="seconds per probe subprocess")
    ap.add_argument("--probe-budget", type=float, default=180,
                    help="no new probe starts after this many seconds of probing (the most informative go first)")
    ap.add_argument("--graph-batches", default="1", help="batches of the CUDA-graph PyTorch baseline ('' none)")
    ap.add_argument("--typenet-dump", help="cuda_bench --dump folder: compare typenet's outputs with PyTorch's")
    ap.add_argument("--probe", help=argparse.SUPPRESS)  # internal: run one cuDNN configuration
    args = ap.parse_args()
    if args.probe:
        run_probe(args, args.probe)
        return 0

    tn_net, tn_stage, tn_layers = read_typenet(args.typenet)
    torch.backends.cudnn.benchmark = True
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    batches = parse_list(args.batches)
    stage_batches = parse_list(args.stage_batches)
    torch.manual_seed(0)
    model = seed_alexnet().to(dev).eval().to(memory_format=torch.channels_last)
    stages = stage_modules(model)
    name = torch.cuda.get_device_name(0) if cuda else "cpu (dry run)"
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {name}", flush=True)

    def make_input(batch, shape, dtype=torch.float32):
        x = torch.rand(batch, *shape, device=dev).to(dtype)
        return x.to(memory_format=torch.channels_last) if len(shape) == 3 else x

    # The model per cuDNN math: fp32 and tf32 share it; fp16 and bf16 run a cast copy (on the CPU of a dry run,
    # where some half-precision kernels are missing, they are skipped).
    cast = {"fp32": (model, stages), "tf32": (model, stages)}
    for math in ("fp16", "bf16"):
        if cuda:
            m = seed_alexnet().to(dev).eval().to(memory_format=torch.channels_last)
            m.load_state_dict(model.state_dict())
            m = m.to(DTYPES[math])
            cast[math] = (m, stage_modules(m))

    cudnn_net, cudnn_stage = {}, {}
    for math in [m for m in CUDNN_MATHS if m in cast]:
        set_tf32(math == "tf32")
        net_m, stages_m = cast[math]
        for batch in batches:
            x = make_input(batch, (3, 227, 227), DTYPES[math])
            with torch.inference_mode():
                t = time_ms(lambda: net_m(x), args.iters, args.warmup, cuda)
            cudnn_net[(math, batch)] = t
            print(f"cudnn net=seed_alexnet math={math} batch={batch} ms_median={t:.4f}", flush=True)
        for batch in stage_batches:
            for i, ((sname, _, _, shape), mod) in enumerate(zip(STAGES, stages_m)):
                x = make_input(batch, shape, DTYPES[math])
                with torch.inference_mode():
                    t = time_ms(lambda: mod(x), args.iters, args.warmup, cuda)
                cudnn_stage[(i, math, batch)] = t
                print(f"cudnn stage={i} name={sname} math={math} batch={batch} ms_median={t:.4f}", flush=True)
    set_tf32(False)

    # CUDA-graph-captured PyTorch (fp32), the latency baseline.
    cudnn_graph = {}
    for batch in parse_list(args.graph_batches):
        t, diff = time_graph(model, make_input(batch, (3, 227, 227)), args, cuda)
        if t is None:
            print(f"cudnn_graph batch={batch}: skipped (needs CUDA)", flush=True)
            continue
        cudnn_graph[batch] = t
        print(f"cudnn_graph net=seed_alexnet math=fp32 batch={batch} ms_median={t:.4f} max_abs_diff_vs_eager={diff:.3g}",
              flush=True)

    # typenet's outputs against PyTorch's on the same weights.
    check_lines, checks_ok = [], True
    if args.typenet_dump:
        check_lines, checks_ok = check_against_typenet(args, dev)

    # cuDNN fp32 in other configurations (subprocesses).
    probes = probe_all(args) if args.cudnn_configs else {}

    def best(math, batch):
        """typenet's faster convolution algorithm for this math and batch: (ms, conv) or (None, None)."""
        got = [(tn_net[(math, c, batch)], c) for c in CONVS if (math, c, batch) in tn_net]
        return min(got) if got else (None, None)

    # Whole network, headline: typenet's faster convolution algorithm per math.
    head = ["| batch | cuDNN fp32 ms | typenet fp32 ms | ratio | typenet tf32x3 ms | ratio vs cuDNN fp32 "
            "| cuDNN tf32 ms | typenet tf32 ms | ratio | cuDNN fp16 ms | typenet fp16 ms | ratio "
            "| cuDNN bf16 ms | typenet bf16 ms | ratio |",
            "| ---: |" + " ---: |" * 14]
    for batch in batches:
        row = [str(batch)]
        for math in MATHS:
            base = cudnn_net.get((baseline(math), batch))
            if math != "tf32x3":
                row.append(cell(base))
            t, conv = best(math, batch)
            row += [f"{cell(t)} ({conv})" if t else "n/a", ratio(base, t)]
        head.append("| " + " | ".join(row) + " |")

    # Whole network, both convolution algorithms.
    both = ["| batch | typenet math | cuDNN ms | typenet winograd ms | ratio | typenet direct ms | ratio "
            "| direct / winograd |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for batch in batches:
        for math in MATHS:
            base = cudnn_net.get((baseline(math), batch))
            tw, td = tn_net.get((math, "winograd", batch)), tn_net.get((math, "direct", batch))
            both.append(f"| {batch} | {math} | {cell(base)} ({baseline(math)}) | {cell(tw)} | {ratio(base, tw)} "
                        f"| {cell(td)} | {ratio(base, td)} | {ratio(td, tw)} |")
            for conv, t in (("winograd", tw), ("direct", td)):
                print(f"compare net=seed_alexnet math={math} conv={conv} batch={batch} cudnn={baseline(math)} "
                      f"speed_ratio_cudnn_time_over_typenet_time={ratio(base, t)}")

    # Per stage.
    per_stage = ["| batch | stage | layers | typenet math | cuDNN ms | typenet winograd ms | ratio "
                 "| typenet direct ms | ratio |",
                 "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for batch in stage_batches:
        for i, (sname, _, _, _) in enumerate(STAGES):
            for math in MATHS:
                base = cudnn_stage.get((i, baseline(math), batch))
                tw, td = tn_stage.get((i, math, "winograd", batch)), tn_stage.get((i, math, "direct", batch))
                per_stage.append(f"| {batch} | {i} {sname} | {tn_layers.get(i, '?')} | {math} "
                                 f"| {cell(base)} ({baseline(math)}) | {cell(tw)} | {ratio(base, tw)} "
                                 f"| {cell(td)} | {ratio(base, td)} |")
                for conv, t in (("winograd", tw), ("direct", td)):
                    print(f"compare stage={i} name={sname} math={math} conv={conv} batch={batch} "
                          f"cudnn={baseline(math)} speed_ratio_cudnn_time_over_typenet_time={ratio(base, t)}")

        def total(times):
            return None if None in times else sum(times)

        for math in MATHS:  # the stages one after another, each timed alone
            base = total([cudnn_stage.get((i, baseline(math), batch)) for i in range(len(STAGES))])
            tw, td = (total([tn_stage.get((i, math, c, batch)) for i in range(len(STAGES))]) for c in CONVS)
            per_stage.append(f"| {batch} | sum | | {math} | {cell(base)} ({baseline(math)}) | {cell(tw)} "
                             f"| {ratio(base, tw)} | {cell(td)} | {ratio(base, td)} |")

    # Against the fastest cuDNN fp32 configuration found, and the CUDA graph baseline.
    honest = ["| batch | typenet fp32 ms | cuDNN fp32, headline config (" + HEADLINE_CONFIG + ") ms | ratio "
              "| fastest cuDNN fp32 config found | its ms | ratio | PyTorch fp32 CUDA graph ms | ratio |",
              "| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for batch in batches:
        t, conv = best("fp32", batch)
        base = cudnn_net[("fp32", batch)]
        pb, pc = best_config(probes, "net", batch)
        if pb is None or base < pb:  # the headline run itself may be the fastest
            pb, pc = base, HEADLINE_CONFIG + " (headline run)"
        g = cudnn_graph.get(batch)
        honest.append(f"| {batch} | {cell(t)} | {base:.3f} | {ratio(base, t)} | {pc} | {pb:.3f} | {ratio(pb, t)} "
                      f"| {cell(g)} | {ratio(g, t)} |")
        print(f"compare net=seed_alexnet math=fp32 batch={batch} headline_ratio={ratio(base, t)} "
              f"best_cudnn_config={pc.split()[0]} best_config_ratio={ratio(pb, t)} graph_ratio={ratio(g, t)}")
    probe_table = ["| cuDNN fp32 configuration | " + " | ".join(
        f"conv2 stage b{b} ms | net b{b} ms" for b in parse_list(args.probe_batches)) + " |",
        "| --- |" + " ---: | ---: |" * len(parse_list(args.probe_batches))]
    for config in [c for c in args.cudnn_configs.split(",") if c]:
        cells = []
        for b in parse_list(args.probe_batches):
            cells += [cell(probes.get((config, "conv2", b))), cell(probes.get((config, "net", b)))]
        fmt, bench, limit, env, chunk = CUDNN_CONFIGS[config]
        what = (f"{fmt}, benchmark {'on' if bench else 'off'}" + (f", benchmark_limit {limit}" if limit is not None
                else "") + "".join(f", {k}={v}" for k, v in env.items()) + (f", {chunk}-image chunks" if chunk else ""))
        probe_table.append(f"| {config} ({what}) | " + " | ".join(cells) + " |")

    text = ("Ratio: cuDNN time / typenet time (above 1: typenet is faster); typenet fp32 and tf32x3 against "
            "cuDNN fp32 (allow_tf32 off), typenet tf32 against cuDNN tf32 (allow_tf32 on), typenet fp16 and bf16 "
            "against cuDNN on the model cast to float16 / bfloat16 (channels_last). Median ms per batch, "
            "device in, device out.\n\n"
            "### Whole network (typenet: the faster convolution algorithm, named)\n\n" + "\n".join(head) + "\n\n"
            "### Whole network, both convolution algorithms\n\n" + "\n".join(both) + "\n\n"
            "### fp32: against the headline cuDNN configuration, the fastest cuDNN configuration found, and "
            "a CUDA-graph-captured PyTorch\n\n" + "\n".join(honest) + "\n\n"
            "### cuDNN fp32 configurations (each in a fresh process; conv2 stage = conv2 + relu + pool2)\n\n"
            + "\n".join(probe_table) + "\n")
    if check_lines:
        text += ("\n### typenet's outputs against PyTorch on the same weights and input\n\n"
                 + "\n".join(check_lines) + "\n")
    if stage_batches:
        text += ("\n### Per fused stage (cuDNN: the same layers as one nn.Sequential, input of the stage's shape)"
                 "\n\n" + "\n".join(per_stage) + "\n")
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if not checks_ok:
        print("torch_cuda_compare: CHECK FAILED: typenet's outputs differ from PyTorch's (see torch_check lines)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
