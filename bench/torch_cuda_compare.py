#!/usr/bin/env python3
"""The seed AlexNet in PyTorch on the GPU (cuDNN, cudnn.benchmark=True, channels_last), float32 and TF32,
at batch 1, 64 and 256, timed like bench/cuda_bench.cu (CUDA events, median of the timed runs after
warm-up). Reads cuda_bench's output and prints, per math and batch, both times and the speed ratio
cuDNN time / typenet time (above 1: typenet is faster).

    python3 bench/torch_cuda_compare.py --typenet bench.txt [--iters 20] [--markdown out.md]
"""
import argparse
import re
import statistics
import time

import torch
import torch.nn as nn


def seed_alexnet():
    # The layer list of typenet::zoo::seed_alexnet, in the same order.
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, 1000), nn.Softmax(dim=1))


def time_ms(fn, iters, cuda=True):
    for _ in range(5 if cuda else 1):
        fn()
    times = []
    if not cuda:
        for _ in range(iters):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times)
    torch.cuda.synchronize()
    for _ in range(iters):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def read_typenet(path):
    out = {}
    pat = re.compile(r"typenet_cuda net=seed_alexnet math=(\w+) batch=(\d+) ms_median=([\d.]+)")
    with open(path) as f:
        for line in f:
            m = pat.search(line)
            if m:
                out[(m.group(1), int(m.group(2)))] = float(m.group(3))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--typenet", required=True, help="cuda_bench output")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--markdown", help="write the comparison table here")
    ap.add_argument("--batches", default="1,64,256")
    ap.add_argument("--device", default="cuda", help="cpu only for a dry run of this script")
    args = ap.parse_args()

    typenet = read_typenet(args.typenet)
    torch.backends.cudnn.benchmark = True
    dev = torch.device(args.device)
    batches = [int(b) for b in args.batches.split(",")]
    model = seed_alexnet().to(dev).eval().to(memory_format=torch.channels_last)
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu (dry run)"
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {name}")
    cudnn = {}
    for math in ("fp32", "tf32"):
        torch.backends.cuda.matmul.allow_tf32 = math == "tf32"
        torch.backends.cudnn.allow_tf32 = math == "tf32"
        for batch in batches:
            x = torch.rand(batch, 3, 227, 227, device=dev).to(memory_format=torch.channels_last)
            with torch.inference_mode():
                cudnn[(math, batch)] = time_ms(lambda: model(x), args.iters, dev.type == "cuda")
            print(f"cudnn math={math} batch={batch} ms_median={cudnn[(math, batch)]:.4f}", flush=True)

    def cell(t):
        return f"{t:.3f}" if t else "n/a"

    def ratio(base, t):
        return f"{base / t:.2f}" if t else "n/a"

    # typenet fp32 (FFMA) and tf32x3 (fp32-accurate, tensor cores) against cuDNN fp32; tf32 against tf32.
    table = ["| batch | cuDNN fp32 ms | typenet fp32 ms | ratio | typenet tf32x3 ms | ratio "
             "| cuDNN tf32 ms | typenet tf32 ms | ratio |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for batch in batches:
        c32, ctf = cudnn[("fp32", batch)], cudnn[("tf32", batch)]
        t32, t3, ttf = (typenet.get((m, batch)) for m in ("fp32", "tf32x3", "tf32"))
        table.append(f"| {batch} | {c32:.3f} | {cell(t32)} | {ratio(c32, t32)} | {cell(t3)} | {ratio(c32, t3)} "
                     f"| {ctf:.3f} | {cell(ttf)} | {ratio(ctf, ttf)} |")
        for name, base, t in (("fp32", c32, t32), ("tf32x3_vs_cudnn_fp32", c32, t3), ("tf32", ctf, ttf)):
            print(f"compare {name} batch={batch} speed_ratio_cudnn_time_over_typenet_time={ratio(base, t)}")
    text = "Ratio: cuDNN time / typenet time (above 1: typenet is faster).\n\n" + "\n".join(table) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
