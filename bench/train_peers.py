#!/usr/bin/python3
"""Training throughput of typenet against PyTorch on the same machine, alternating, in one run.

  /usr/bin/python3 bench/train_peers.py --zoo build/bin/typenet-zoo [--rounds 3] [--threads 2]
                                        [--cases lenet5:128,seed_alexnet:64] [--json FILE]

A training step is forward, loss (mean cross-entropy), backward and an SGD update with momentum 0.9 and
weight decay 5e-4, in training mode (dropout active), on a random batch with random labels:
  - typenet: `typenet-zoo bench-train NET --policy simd --threads T --batch B --iters K` (median of K steps
    after one warm-up step);
  - PyTorch (this interpreter's torch, Debian's 1.13 with /usr/bin/python3): the twin of tools/torch_zoo.py
    in train(), torch.optim.SGD, torch.set_num_threads(T), in a process of its own, the same K steps and
    median.
Each round runs typenet then PyTorch for every case; the table gives the medians over rounds of each
engine's median step time, images per second, and PyTorch's time / typenet's (above 1: typenet faster).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

TORCH_STEP = r"""
import sys, time, statistics, torch
sys.path.insert(0, {tools!r})
import torch_zoo
torch.set_num_threads({threads})
torch.manual_seed(1)
net, batch, iters = {net!r}, {batch}, {iters}
model = torch_zoo.logits_module(torch_zoo.build(net)).train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
x = torch.rand((batch,) + torch_zoo.INPUT_SHAPES[net]) * 2 - 1
y = torch.randint(0, 10 if net == "lenet5" else 1000, (batch,))
def step():
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
step()
times = []
for _ in range(iters):
    t0 = time.perf_counter(); step(); times.append(1000 * (time.perf_counter() - t0))
print(statistics.median(times))
"""


def typenet_ms(zoo, net, batch, threads, iters):
    r = subprocess.run([zoo, "bench-train", net, "--policy", "simd", "--threads", str(threads), "--batch", str(batch),
                        "--iters", str(iters)], capture_output=True, text=True, check=True)
    return float(r.stdout.split("ms_per_step_median=")[1].split()[0])


def torch_ms(net, batch, threads, iters):
    tools = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
    code = TORCH_STEP.format(tools=os.path.abspath(tools), threads=threads, net=net, batch=batch, iters=iters)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(r.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--zoo", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cases", default="lenet5:128,seed_alexnet:64")
    p.add_argument("--iters", type=int, default=0, help="steps per measurement (default: 20 for lenet5, 5 else)")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import torch
    cases = [(c.split(":")[0], int(c.split(":")[1])) for c in args.cases.split(",")]
    results = {c: {"typenet": [], "torch": []} for c in cases}
    for r in range(args.rounds):
        for net, batch in cases:
            iters = args.iters or (20 if net == "lenet5" else 5)
            t = typenet_ms(args.zoo, net, batch, args.threads, iters)
            q = torch_ms(net, batch, args.threads, iters)
            results[(net, batch)]["typenet"].append(t)
            results[(net, batch)]["torch"].append(q)
            print(f"round {r + 1}: {net} batch {batch}: typenet {t:.1f} ms, PyTorch {q:.1f} ms", flush=True)
    print(f"\n{args.threads} threads, medians of {args.rounds} rounds; PyTorch {torch.__version__}\n")
    print("| network | batch | typenet ms/step | img/s | PyTorch ms/step | img/s | PyTorch / typenet |")
    print("|---|---|---|---|---|---|---|")
    out = []
    for (net, batch), v in results.items():
        t, q = statistics.median(v["typenet"]), statistics.median(v["torch"])
        print(f"| {net} | {batch} | {t:.1f} | {1000 * batch / t:.0f} | {q:.1f} | {1000 * batch / q:.0f} | "
              f"{q / t:.2f}x |")
        out.append({"network": net, "batch": batch, "threads": args.threads, "typenet_ms": v["typenet"],
                    "torch_ms": v["torch"], "ratio": q / t, "torch_version": torch.__version__})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
