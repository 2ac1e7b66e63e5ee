#!/usr/bin/python3
"""Layer-level parity: the reference loop nests against torch.nn.functional on thousands of random small
geometries (pools with floor/ceil rounding and padding, adaptive pooling, conv2d with stride, padding,
groups and floor rounding, LRN of every small size; LRN again with sizes 1 to 7, alpha 1 to 4, k 1 and 2
and beta 3/4, 1/2 and 1 over up to 12 channels, where the window changes the output by tens of percent,
so a window off by one channel, or mirrored for even sizes, fails). Output shapes and values must agree.

  layer_parity.py PATH/typenet_reference_layer_harness [--cases N] [--seed S] [--backward]

With --backward the same geometries check the backward loop nests (kernels/reference/backward.hpp) against
torch.autograd in float64: the input gradient of every kind, the weight and bias gradients of conv2d, for
the output gradient dy[i] = cos(0.53 i + 0.1); and batch norm in training mode (batch statistics over 1 to
4 images, output, input/weight/bias gradients, running statistics after one step) on random sizes; and
max pooling of inputs rounded to halves, full of ties, where the gradient goes to a window's first maximum.

Exit status 77 (skip) with the reason printed when torch cannot be imported.
"""
import argparse
import random
import subprocess
import sys


def expected_backward(torch, F, cs):
    """What the harness prints with --backward for case cs, from torch.autograd in float64."""
    kind, c, h, w, k, s, p, r, f, g = cs[:10]
    images = k if kind == 6 else 1
    n = images * c * h * w
    x = torch.sin(0.7 * torch.arange(n, dtype=torch.float64) + 0.3).float().double().view(images, c, h, w)
    if kind == 7:
        x = torch.round(2 * x) / 2
    x.requires_grad_(True)
    params = []
    if kind in (0, 7):
        y = F.max_pool2d(x, k, s, p, ceil_mode=bool(r))
    elif kind == 1:
        y = F.avg_pool2d(x, k, s, p, ceil_mode=bool(r))
    elif kind == 2:
        y = F.adaptive_avg_pool2d(x, (k, s))
    elif kind == 3:
        wt = torch.cos(0.37 * torch.arange(f * (c // g) * k * k, dtype=torch.float64)).float().double()
        wt = wt.view(f, c // g, k, k).requires_grad_(True)
        b = (0.1 * torch.arange(f, dtype=torch.float32)).double().requires_grad_(True)
        params = [wt, b]
        y = F.conv2d(x, wt, b, s, p, groups=g)
    elif kind in (4, 5):
        alpha, beta, k_lrn = cs[10:] if kind == 5 else (0.5, 0.75, 2.0)
        y = F.local_response_norm(x, k, alpha=alpha, beta=beta, k=k_lrn)
    else:
        wt = (1 + 0.1 * torch.arange(c, dtype=torch.float32)).double().requires_grad_(True)
        b = (0.05 * torch.arange(c, dtype=torch.float32)).double().requires_grad_(True)
        params = [wt, b]
        mean, var = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
        y = F.batch_norm(x, mean, var, wt, b, training=True, momentum=0.1, eps=1e-5)
    dy = torch.cos(0.53 * torch.arange(y.numel(), dtype=torch.float64) + 0.1).float().double().view_as(y)
    grads = torch.autograd.grad(y, [x] + params, dy)
    parts = [t.flatten() for t in grads]
    if kind == 6:
        parts = [y.detach().flatten()] + parts + [mean, var]
    return torch.cat(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("harness")
    ap.add_argument("--cases", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--backward", action="store_true")
    args = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print(f"SKIP: layer parity needs torch in {sys.executable}: {e}")
        return 77

    rng = random.Random(args.seed)
    cases = []
    while len(cases) < args.cases:
        kind = rng.randrange(8 if args.backward else 6)
        if kind == 6:  # batch norm in training mode: k images of C x H x W, more than one value per channel
            c, h, w, k = rng.randint(1, 6), rng.randint(1, 5), rng.randint(1, 5), rng.randint(1, 4)
            if k * h * w > 1:
                cases.append((6, c, h, w, k, 1, 0, 0, 1, 1))
            continue
        c, h, w = rng.randint(1, 6), rng.randint(1, 12), rng.randint(1, 12)
        extra = ()
        k, s, r = rng.randint(1, 5), rng.randint(1, 3), rng.randint(0, 1)
        p = rng.randint(0, k // 2) if kind in (0, 1) else rng.randint(0, 2)
        f, g = 1, 1
        if kind == 2:
            k, s, p, r = rng.randint(1, 7), rng.randint(1, 7), 0, 0
        elif kind == 3:
            g = rng.choice([d for d in (1, 2, 3) if c % d == 0])
            f = g * rng.randint(1, 3)
            r = 0  # conv2d rounds down (floor_mode); ceil is for pools
        elif kind == 4:
            s, p, r = 1, 0, 0
        elif kind == 5:  # LRN with a window that matters
            c, h, w, k, s, p, r = rng.randint(1, 12), rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 7), 1, 0, 0
            extra = (rng.choice([1.0, 2.0, 3.0, 4.0]), rng.choice([0.75, 0.5, 1.0]), rng.choice([1.0, 2.0]))
        if kind == 7:
            p = rng.randint(0, k // 2)
        if kind in (0, 1, 3, 7) and (h + 2 * p < k or w + 2 * p < k):
            continue
        cases.append((kind, c, h, w, k, s, p, r, f, g) + extra)

    text = "".join(" ".join(map(str, cs)) + "\n" for cs in cases)
    res = subprocess.run([args.harness] + (["--backward"] if args.backward else []), input=text, capture_output=True, text=True)
    if res.returncode != 0:
        print(f"FAIL: harness exited with {res.returncode}: {res.stderr}")
        return 1
    lines = res.stdout.splitlines()
    if len(lines) != len(cases):
        print(f"FAIL: {len(lines)} result lines for {len(cases)} cases")
        return 1

    names = ["max_pool", "avg_pool", "adaptive_avg_pool", "conv2d", "lrn", "lrn(alpha, beta, k)", "batch_norm",
             "max_pool(ties)"]
    counts = [0] * 8
    bad = 0
    for cs, line in zip(cases, lines):
        kind, c, h, w, k, s, p, r, f, g = cs[:10]
        counts[kind] += 1
        if args.backward:
            want = expected_backward(torch, F, cs)
            v = line.split()
            got = torch.tensor([float(t) for t in v[2:]], dtype=torch.float64)
            # float32 loop nests with double sums: a relative error of a few float roundings of the terms
            if v[0] == "invalid" or got.numel() != want.numel() or \
                    not torch.allclose(got, want, atol=2e-5, rtol=1e-4):
                bad += 1
                if bad <= 10:
                    where = "" if got.numel() != want.numel() else \
                        f", largest difference {(got - want).abs().max().item():.3g}"
                    print(f"MISMATCH backward {names[kind]} (kind C H W k s p round F G) = {cs}: "
                          f"{got.numel()} values, torch {want.numel()}{where}")
            continue
        x = torch.sin(0.7 * torch.arange(c * h * w, dtype=torch.float64) + 0.3).float().view(1, c, h, w)
        if kind == 0:
            y = F.max_pool2d(x, k, s, p, ceil_mode=bool(r))
        elif kind == 1:
            y = F.avg_pool2d(x, k, s, p, ceil_mode=bool(r))
        elif kind == 2:
            y = F.adaptive_avg_pool2d(x, (k, s))
        elif kind == 3:
            wt = torch.cos(0.37 * torch.arange(f * (c // g) * k * k, dtype=torch.float64)).float()
            b = 0.1 * torch.arange(f, dtype=torch.float32)
            y = F.conv2d(x.double(), wt.view(f, c // g, k, k).double(), b.double(), s, p, groups=g)
        elif kind == 4:
            y = F.local_response_norm(x.double(), k, alpha=0.5, beta=0.75, k=2.0)
        else:
            alpha, beta, k_lrn = cs[10:]
            y = F.local_response_norm(x.double(), k, alpha=alpha, beta=beta, k=k_lrn)
        v = line.split()
        if v[0] == "invalid":
            print(f"FAIL: {names[kind]} {cs}: the harness found no output size, PyTorch gives {tuple(y.shape[2:])}")
            bad += 1
            continue
        shape = (int(v[0]), int(v[1]))
        got = torch.tensor([float(t) for t in v[2:]], dtype=torch.float64)
        want = y.double().flatten()
        if shape != tuple(y.shape[2:]) or got.numel() != want.numel() or \
                not torch.allclose(got, want, atol=1e-5, rtol=1e-5):
            bad += 1
            if bad <= 10:
                print(f"MISMATCH {names[kind]} (kind C H W k s p round F G) = {cs}: typenet {shape}, "
                      f"torch {tuple(y.shape[2:])}")
    print(", ".join(f"{n}: {m}" for n, m in zip(names, counts)) + f"; {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
