#!/usr/bin/python3
"""Make a PyTorch parity case for a typenet zoo network.

Usage:
  /usr/bin/python3 tools/make_parity_case.py NET OUTDIR [--batch B] [--seed S] [--huge]

Builds the PyTorch twin of NET (tools/torch_zoo.py), gives it He-initialised random weights from the seed
(weights normal with variance 2 / fan_in, biases uniform in +-0.1, so activations keep their scale
through the network) and random batch-norm statistics (weight in [0.5, 1.5], bias in +-0.1,
running_mean in +-0.1, running_var in [0.5, 2], so that an error in using any of the four shows), draws a
batch of standard-normal inputs, and writes to OUTDIR:
  weights.safetensors   the twin's state_dict, F32, keyed as typenet expects
  input.npy             float32 [B, C, H, W]
  expected.npy          float32: the twin's eval() output (softmax probabilities or logits)
  case.json             what was made (network, batch, seed, logit range)
--huge scales the input so that the largest logit magnitude is about 3000 (checks softmax stability;
meaningful for networks whose logits grow with the input, such as seed_alexnet).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_zoo  # noqa: E402
from export_safetensors import save_state_dict  # noqa: E402


def he_init(model, generator):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            with torch.no_grad():
                m.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                if m.bias is not None:
                    m.bias.uniform_(-0.1, 0.1, generator=generator)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=generator)
                m.bias.uniform_(-0.1, 0.1, generator=generator)
                m.running_mean.uniform_(-0.1, 0.1, generator=generator)
                m.running_var.uniform_(0.5, 2.0, generator=generator)


def make_case(net, outdir, batch=3, seed=1, huge=False, target=3000.0):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = torch_zoo.build(net).eval()
    he_init(model, g)
    x = torch.randn((batch,) + torch_zoo.INPUT_SHAPES[net], generator=g)
    logits = torch_zoo.logits_module(model)
    with torch.no_grad():
        if huge:
            for _ in range(3):  # biases make the logits only nearly proportional to the input
                peak = logits(x).abs().max().item()
                if peak == 0.0:
                    break
                x = x * (target / peak)
        y = model(x)
        z = logits(x)
    os.makedirs(outdir, exist_ok=True)
    save_state_dict(model.state_dict(), os.path.join(outdir, "weights.safetensors"))
    np.save(os.path.join(outdir, "input.npy"), x.numpy().astype("<f4"))
    np.save(os.path.join(outdir, "expected.npy"), y.numpy().astype("<f4"))
    info = {"network": net, "batch": batch, "seed": seed, "huge": huge,
            "softmax": torch_zoo.ENDS_IN_SOFTMAX[net],
            "logit_min": float(z.min()), "logit_max": float(z.max()),
            "input_abs_max": float(x.abs().max())}
    with open(os.path.join(outdir, "case.json"), "w") as f:
        json.dump(info, f, indent=1)
    return info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("net", choices=sorted(torch_zoo.NETWORKS))
    p.add_argument("outdir")
    p.add_argument("--batch", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--huge", action="store_true")
    args = p.parse_args(argv)
    if args.batch < 1:
        p.error("--batch must be at least 1")
    info = make_case(args.net, args.outdir, args.batch, args.seed, args.huge)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
