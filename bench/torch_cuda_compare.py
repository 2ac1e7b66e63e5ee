#!/usr/bin/env python3
"""The seed AlexNet in PyTorch on the GPU (cuDNN, cudnn.benchmark=True, channels_last), float32 and TF32,
timed like bench/cuda_bench.cu (CUDA events, median of the timed runs after warm-up runs): the whole
network at batch 1, 64 and 256, and each of typenet's fused stages at batch 64 and 256. Reads
cuda_bench's output and prints, per math, batch and typenet convolution algorithm (Winograd or direct),
both times and the speed ratio cuDNN time / typenet time (above 1: typenet is faster).

typenet's fp32 and tf32x3 maths (both fp32-accurate) are compared with cuDNN in fp32 (allow_tf32 off for
cuDNN and for matmul), typenet's tf32 with cuDNN in TF32 (allow_tf32 on).

    python3 bench/torch_cuda_compare.py --typenet bench.txt [--iters 20] [--warmup 5] [--markdown out.md]
        [--batches 1,64,256] [--stage-batches 64,256] [--device cuda]

--stage-batches '' skips the per-stage timing. --device cpu is a dry run of this script (no CUDA timing,
small batches advised: --batches 1,2 --stage-batches 2 --iters 2).
"""
import argparse
import re
import statistics
import time

import torch
import torch.nn as nn

MATHS = ("fp32", "tf32x3", "tf32")
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
    return "tf32" if math == "tf32" else "fp32"


def cell(t):
    return f"{t:.3f}" if t else "n/a"


def ratio(base, t):
    return f"{base / t:.2f}" if base and t else "n/a"


def parse_list(s):
    return [int(b) for b in s.split(",") if b.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--typenet", required=True, help="cuda_bench output")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--markdown", help="write the comparison tables here")
    ap.add_argument("--batches", default="1,64,256", help="whole-network batches")
    ap.add_argument("--stage-batches", default="64,256", help="per-stage batches ('' for none)")
    ap.add_argument("--device", default="cuda", help="cpu only for a dry run of this script")
    args = ap.parse_args()

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

    def make_input(batch, shape):
        x = torch.rand(batch, *shape, device=dev)
        return x.to(memory_format=torch.channels_last) if len(shape) == 3 else x

    cudnn_net, cudnn_stage = {}, {}
    for math in ("fp32", "tf32"):
        set_tf32(math == "tf32")
        for batch in batches:
            x = make_input(batch, (3, 227, 227))
            with torch.inference_mode():
                t = time_ms(lambda: model(x), args.iters, args.warmup, cuda)
            cudnn_net[(math, batch)] = t
            print(f"cudnn net=seed_alexnet math={math} batch={batch} ms_median={t:.4f}", flush=True)
        for batch in stage_batches:
            for i, ((sname, _, _, shape), mod) in enumerate(zip(STAGES, stages)):
                x = make_input(batch, shape)
                with torch.inference_mode():
                    t = time_ms(lambda: mod(x), args.iters, args.warmup, cuda)
                cudnn_stage[(i, math, batch)] = t
                print(f"cudnn stage={i} name={sname} math={math} batch={batch} ms_median={t:.4f}", flush=True)
    set_tf32(False)

    def best(math, batch):
        """typenet's faster convolution algorithm for this math and batch: (ms, conv) or (None, None)."""
        got = [(tn_net[(math, c, batch)], c) for c in CONVS if (math, c, batch) in tn_net]
        return min(got) if got else (None, None)

    # Whole network, headline: typenet's faster convolution algorithm per math.
    head = ["| batch | cuDNN fp32 ms | typenet fp32 ms | ratio | typenet tf32x3 ms | ratio vs cuDNN fp32 "
            "| cuDNN tf32 ms | typenet tf32 ms | ratio |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for batch in batches:
        row = [str(batch)]
        for math in MATHS:
            base = cudnn_net[(baseline(math), batch)]
            if math != "tf32x3":
                row.append(f"{base:.3f}")
            t, conv = best(math, batch)
            row += [f"{cell(t)} ({conv})" if t else "n/a", ratio(base, t)]
        head.append("| " + " | ".join(row) + " |")

    # Whole network, both convolution algorithms.
    both = ["| batch | typenet math | cuDNN ms | typenet winograd ms | ratio | typenet direct ms | ratio "
            "| direct / winograd |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for batch in batches:
        for math in MATHS:
            base = cudnn_net[(baseline(math), batch)]
            tw, td = tn_net.get((math, "winograd", batch)), tn_net.get((math, "direct", batch))
            both.append(f"| {batch} | {math} | {base:.3f} ({baseline(math)}) | {cell(tw)} | {ratio(base, tw)} "
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
                base = cudnn_stage[(i, baseline(math), batch)]
                tw, td = tn_stage.get((i, math, "winograd", batch)), tn_stage.get((i, math, "direct", batch))
                per_stage.append(f"| {batch} | {i} {sname} | {tn_layers.get(i, '?')} | {math} "
                                 f"| {base:.3f} ({baseline(math)}) | {cell(tw)} | {ratio(base, tw)} "
                                 f"| {cell(td)} | {ratio(base, td)} |")
                for conv, t in (("winograd", tw), ("direct", td)):
                    print(f"compare stage={i} name={sname} math={math} conv={conv} batch={batch} "
                          f"cudnn={baseline(math)} speed_ratio_cudnn_time_over_typenet_time={ratio(base, t)}")

        def total(times):
            return None if None in times else sum(times)

        for math in MATHS:  # the stages one after another, each timed alone
            base = total([cudnn_stage[(i, baseline(math), batch)] for i in range(len(STAGES))])
            tw, td = (total([tn_stage.get((i, math, c, batch)) for i in range(len(STAGES))]) for c in CONVS)
            per_stage.append(f"| {batch} | sum | | {math} | {base:.3f} ({baseline(math)}) | {cell(tw)} "
                             f"| {ratio(base, tw)} | {cell(td)} | {ratio(base, td)} |")

    text = ("Ratio: cuDNN time / typenet time (above 1: typenet is faster); typenet fp32 and tf32x3 against "
            "cuDNN fp32 (allow_tf32 off), typenet tf32 against cuDNN tf32 (allow_tf32 on). Median ms per batch, "
            "device in, device out.\n\n"
            "### Whole network (typenet: the faster convolution algorithm, named)\n\n" + "\n".join(head) + "\n\n"
            "### Whole network, both convolution algorithms\n\n" + "\n".join(both) + "\n")
    if stage_batches:
        text += ("\n### Per fused stage (cuDNN: the same layers as one nn.Sequential, input of the stage's shape)"
                 "\n\n" + "\n".join(per_stage) + "\n")
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
