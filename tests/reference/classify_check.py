#!/usr/bin/python3
"""End-to-end check of `typenet-zoo classify` against torchvision: decoding, preprocessing, the network,
the softmax, the ranking and the class names, on three generated photos.

  classify_check.py TYPENET_ZOO WORKDIR [--nets resnet18,squeezenet1_1,mobilenet_v2] [--policy reference|simd]
                    [--threads N] [--init he|default] [--seed S]

WORKDIR is made afresh and holds three photos with smooth gradients and seeded noise: landscape.jpg
(300 x 257, JPEG quality 90), photos/portrait.png (240 x 320, RGB) and grey.png (500 x 500, greyscale).
For each network it writes random weights, runs

  TYPENET_ZOO classify NET --weights NET.safetensors --policy P [--threads N] --top 5
              landscape.jpg photos/portrait.png WORKDIR/grey.png

(in WORKDIR, so that two paths are relative and one absolute: each must be printed as given) and parses
its output, which for each image is

  IMAGE_PATH_AS_GIVEN
     1  0.123456   281  tabby                 (rank %4d, probability %.6f, class %4d, name; two spaces apart)
  ... one line per rank, then a blank line before the next image, and at the end
  time: X.XXX ms per image (N images, policy P)      (after P, more may follow a comma or semicolon)

It computes the same top 5 with torchvision in float64 (the reference): the image through
PIL.Image.open(path).convert("RGB"), pil_to_tensor, resize([256], bilinear, antialias) on the uint8 tensor
(which rounds back to uint8), center_crop to the network's input size, convert_image_dtype(float),
normalize with the ImageNet mean and std, then the network on the float32 input and the softmax of its
logits (the output itself for networks that end in a softmax). It checks that
  - each probability is within 2e-6 + 1e-4 p of the reference p of the class printed;
  - the classes come in the reference order, except that two whose reference probabilities are closer
    than their two tolerances together (so that both orders are within the tolerance) may trade places,
    also across the last rank (the reference's 6th for its 5th);
  - the printed probabilities do not increase, and each name is torchvision's _IMAGENET_CATEGORIES[class];
  - the time line counts 3 images and names the policy asked for.

Weights (--init): "he" (the default) gives each network He-initialised weights and random batch-norm
statistics (tools/make_parity_case.py's he_init, from --seed) and then scales its last layer so that the
logits on the three photos have a standard deviation of 2.5: the top-5 probabilities then run from tens
of percent down to about one, well apart, and depend on the image (a BGR image, a crop one pixel off, a
resize without antialiasing or a JPEG decoded one level off in some pixels each fail). "default" exports the weights with
tools/export_safetensors.py --torchvision NAME --random --seed S (torchvision's default initialisation,
random batch norm): a weak check, kept for comparison, since with those weights mobilenet_v2's output does
not depend on the image at all (a BGR image or a crop one pixel off passes), and torchvision_alexnet's
hardly: its probabilities are all about 0.001, its top 5 near-ties.

Exit status: 0 when every network agrees, 1 when one does not (the work directory is then kept), 77
(CTest's SKIP_RETURN_CODE) with the reason printed when torch, torchvision, numpy or PIL cannot be imported
or when `typenet-zoo help` says the policy is not built in. The work directory is removed on success.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

SKIP = 77
TOP = 5
PROB_ATOL, PROB_RTOL = 2e-6, 1e-4  # |typenet p - reference p| <= PROB_ATOL + PROB_RTOL * reference p
LOGIT_STD = 2.5                    # --init he: the spread of the logits the last layer is scaled to
RESIZE = 256
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.abspath(os.path.join(HERE, "..", "..", "tools"))

# typenet-zoo's name -> torchvision.models' builder, for the networks that are torchvision's.
TORCHVISION_NAMES = {"torchvision_alexnet": "alexnet", "resnet18": "resnet18", "resnet50": "resnet50",
                     "mobilenet_v2": "mobilenet_v2", "squeezenet1_1": "squeezenet1_1"}

# One line of an image's ranking: rank in 4 columns, probability %.6f, class in 4 columns, name.
ROW = re.compile(r"^( {0,3}\d{1,4})  (\d\.\d{6})  ( {0,3}\d{1,4})  (\S.*)$")
# The time line; after the policy (which may carry its instruction set, "simd [xsimd avx2]") it may say more,
# after a comma or semicolon ("..., policy simd [...], 2 threads; median forward pass; ...").
TIME = re.compile(r"^time: (\d+\.\d{3}) ms per image \((\d+) images?, policy ([^,;)]+)(?:[,;].*)?\)$")


class CheckFailed(Exception):
    pass


def tolerance(p):
    return PROB_ATOL + PROB_RTOL * p


# ---------------------------------------------------------------------------------------------- inputs

def make_photos(work):
    """Writes the three test photos; returns their paths as given to classify (relative to `work` or not)."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(2024)

    def photo(width, height, channels):
        # Gradients and waves of a different phase per channel, plus noise: no flat regions, and enough
        # detail for the antialiased resize and the crop to matter.
        y, x = np.mgrid[0:height, 0:width].astype(np.float64)
        planes = []
        for c in range(channels):
            wave = 70 * np.sin(x / (23 + 7 * c) + c) * np.cos(y / (31 - 5 * c) - 0.5 * c)
            ramp = 60 * (x / width - 0.5) + 40 * (0.5 - y / height) * (1 if c % 2 else -1)
            planes.append(128 + wave + ramp + rng.normal(0, 18, (height, width)))
        a = np.clip(np.rint(np.stack(planes, axis=-1)), 0, 255).astype(np.uint8)
        return Image.fromarray(a[..., 0] if channels == 1 else a, "L" if channels == 1 else "RGB")

    os.makedirs(os.path.join(work, "photos"), exist_ok=True)
    photo(300, 257, 3).save(os.path.join(work, "landscape.jpg"), quality=90)
    photo(240, 320, 3).save(os.path.join(work, "photos", "portrait.png"))
    photo(500, 500, 1).save(os.path.join(work, "grey.png"))
    return ["landscape.jpg", os.path.join("photos", "portrait.png"), os.path.join(work, "grey.png")]


def preprocess(path, size):
    """typenet's preprocessing, in torchvision: a float32 [3, size, size] tensor."""
    import torch
    import torchvision.transforms.functional as F
    from PIL import Image
    from torchvision.transforms import InterpolationMode
    with Image.open(path) as image:
        t = F.pil_to_tensor(image.convert("RGB"))  # uint8 [3, H, W]
    t = F.resize(t, [RESIZE], interpolation=InterpolationMode.BILINEAR, antialias=True)  # stays uint8 (rounded)
    t = F.center_crop(t, [size])
    t = F.convert_image_dtype(t, torch.float)
    return F.normalize(t, mean=MEAN, std=STD)


# --------------------------------------------------------------------------------------------- weights

def last_layer(model):
    """The layer that produces the 1000 logits (the last Linear or Conv2d registered)."""
    import torch
    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    last = layers[-1]
    if getattr(last, "out_features", getattr(last, "out_channels", None)) != 1000:
        raise CheckFailed(f"cannot find the 1000-class layer of {type(model).__name__}")
    return last


def make_weights(net, init, seed, path, inputs):
    """Writes `net`'s random weights to `path` and returns the model (float32, eval) holding them."""
    import torch
    import torch_zoo
    from export_safetensors import load_safetensors, main as export_main, save_state_dict
    if init == "default" and net in TORCHVISION_NAMES:
        # As a user would: the export tool's own random weights.
        argv = ["--torchvision", TORCHVISION_NAMES[net], "--random", "--seed", str(seed), path]
        if export_main(argv) != 0:
            raise CheckFailed(f"tools/export_safetensors.py {' '.join(argv)} failed")
    else:
        torch.manual_seed(seed)
        model = torch_zoo.build(net).eval()
        if init == "he":
            from make_parity_case import he_init
            he_init(model, torch.Generator().manual_seed(seed))
            # Scale the last layer (weight and bias) so that the logits spread over a few units: a logit
            # is linear in them (squeezenet's final ReLU and average pool commute with a positive scale).
            logits = torch_zoo.logits_module(model)
            with torch.no_grad():
                z = torch.cat([logits(x.unsqueeze(0)) for x in inputs])
                scale = LOGIT_STD / float(z.std(dim=1).mean())
                layer = last_layer(model)
                layer.weight.mul_(scale)
                if layer.bias is not None:
                    layer.bias.mul_(scale)
        save_state_dict({k: v for k, v in model.state_dict().items() if v.is_floating_point()}, path)
    model = torch_zoo.build(net).eval()
    model.load_state_dict(load_safetensors(path), strict=False)  # the file lacks only num_batches_tracked
    return model


def reference(model, net, inputs):
    """float64 probabilities [1000] per input, the network run on the float32 input in double precision."""
    import torch
    import torch_zoo
    model = model.double()
    out = []
    with torch.no_grad():
        for x in inputs:
            y = model(x.unsqueeze(0).double())[0]
            out.append(y if torch_zoo.ENDS_IN_SOFTMAX[net] else torch.softmax(y, dim=0))
    return [p.numpy() for p in out]


# ---------------------------------------------------------------------------------------------- output

def parse(stdout, images, top):
    """[(rank, p, class, name) x top] per image and (ms, count, policy) of the time line, from classify's
    stdout; raises CheckFailed naming the first line that does not fit the format."""
    lines = stdout.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    pos = 0

    def fail(what):
        shown = repr(lines[pos]) if pos < len(lines) else "the end of the output"
        raise CheckFailed(f"output line {pos + 1}: expected {what}, got {shown}")

    rankings = []
    for i, image in enumerate(images):
        if i > 0:
            if pos >= len(lines) or lines[pos] != "":
                fail("a blank line between images")
            pos += 1
        if pos >= len(lines) or lines[pos] != image:
            fail(f"the image path as given, {image!r}")
        pos += 1
        rows = []
        for r in range(1, top + 1):
            m = ROW.match(lines[pos]) if pos < len(lines) else None
            if not m or m.group(1) != "%4d" % r or m.group(3) != "%4d" % int(m.group(3)):
                fail(f"rank {r} as '%4d  %.6f  %4d  NAME'")
            rows.append((r, float(m.group(2)), int(m.group(3)), m.group(4)))
            pos += 1
        rankings.append(rows)
    if pos < len(lines) and lines[pos] == "":  # a blank line before the time line is allowed
        pos += 1
    m = TIME.match(lines[pos]) if pos < len(lines) else None
    if not m:
        fail("'time: X.XXX ms per image (N images, policy P[, ...])'")
    if pos + 1 != len(lines):
        pos += 1
        fail("nothing after the time line")
    return rankings, (float(m.group(1)), int(m.group(2)), m.group(3))


def compare(rows, ref, categories):
    """Problems of one image's ranking against the reference probabilities, and the largest error as a
    fraction of its tolerance."""
    import numpy as np
    order = np.argsort(-ref, kind="stable")
    problems = []
    worst = 0.0
    seen = set()
    for r, p, c, name in rows:
        if not 0 <= c < len(ref):
            problems.append(f"rank {r}: class {c} out of range")
            continue
        if c in seen:
            problems.append(f"rank {r}: class {c} listed twice")
        seen.add(c)
        want = ref[order[r - 1]]
        if c != order[r - 1] and abs(ref[c] - want) > tolerance(ref[c]) + tolerance(want):
            problems.append(f"rank {r}: class {c} ({categories[c]}, reference p {ref[c]:.6f}, reference rank "
                            f"{int(np.where(order == c)[0][0]) + 1}) where the reference has class {order[r - 1]} "
                            f"({categories[order[r - 1]]}, p {want:.6f})")
        err = abs(p - ref[c])
        worst = max(worst, err / tolerance(ref[c]))
        if not err <= tolerance(ref[c]):
            problems.append(f"rank {r}: class {c}: p {p:.6f}, reference {ref[c]:.8f} (|diff| {err:.2e} > "
                            f"tolerance {tolerance(ref[c]):.2e})")
        if name != categories[c]:
            problems.append(f"rank {r}: class {c} named {name!r}, torchvision names it {categories[c]!r}")
    probs = [p for _, p, _, _ in rows]
    if any(a < b for a, b in zip(probs, probs[1:])):
        problems.append(f"probabilities not in decreasing order: {probs}")
    return problems, worst


# ------------------------------------------------------------------------------------------------ main

def check_net(args, net, images, work, categories):
    """Checks one network; returns its summary line, raises CheckFailed."""
    import torch_zoo
    if net not in torch_zoo.NETWORKS or torch_zoo.INPUT_SHAPES[net][0] != 3:
        known = [n for n in torch_zoo.NETWORKS if torch_zoo.INPUT_SHAPES[n][0] == 3]
        raise CheckFailed(f"{net}: not an ImageNet network of the zoo (these are: {', '.join(known)})")
    t0 = time.time()
    size = torch_zoo.INPUT_SHAPES[net][1]
    inputs = [preprocess(os.path.join(work, image), size) for image in images]
    weights = os.path.join(work, f"{net}.safetensors")
    model = make_weights(net, args.init, args.seed, weights, inputs)
    refs = reference(model, net, inputs)
    own_s = time.time() - t0

    cmd = [args.zoo, "classify", net, "--weights", weights, "--policy", args.policy]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    cmd += ["--top", str(TOP)] + images
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, cwd=work)
    zoo_s = time.time() - t0
    shown = "$ (cd " + work + " && " + " ".join(cmd) + ")"
    stderr = r.stderr.decode("utf-8", "replace").strip()
    if r.returncode != 0:
        raise CheckFailed(f"{shown}\nexited with status {r.returncode}" + (f"; stderr: {stderr}" if stderr else ""))
    try:
        stdout = r.stdout.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckFailed(f"{shown}\nprinted something that is not UTF-8: {e}")
    try:
        rankings, (ms, count, policy) = parse(stdout, images, TOP)
    except CheckFailed as e:
        raise CheckFailed(f"{shown}\n{e}\nits output:\n{stdout}")
    problems = []
    if count != len(images):
        problems.append(f"the time line counts {count} images, not {len(images)}")
    if policy.strip().split(" ")[0] != args.policy:  # "simd [xsimd avx2]" names the simd policy
        problems.append(f"the time line names policy {policy!r}, not {args.policy} (a fall-back?)")
    worst = 0.0
    for image, rows, ref in zip(images, rankings, refs):
        image_problems, image_worst = compare(rows, ref, categories)
        problems += [f"{image}: {p}" for p in image_problems]
        worst = max(worst, image_worst)
    if problems:
        detail = "\n".join("  " + p for p in problems)
        hint = ""
        if all(p.startswith(images[0]) for p in problems):
            hint = ("\n  (only the JPEG differs: is it decoded as PIL decodes it, libjpeg's default islow IDCT "
                    "with fancy upsampling?)")
        raise CheckFailed(f"{shown}\n{net}: {len(problems)} problem(s):\n{detail}{hint}\nits output:\n{stdout}")
    tops = "; ".join(",".join(str(c) for _, _, c, _ in rows) for rows in rankings)
    return (f"{net}: top {TOP} of {len(images)} images agree (classes {tops}); largest probability error "
            f"{worst:.0%} of its tolerance; typenet {ms:.3f} ms per image ({policy}), {zoo_s:.1f} s in all; "
            f"weights and reference {own_s:.1f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("zoo", help="the typenet-zoo program (or a stand-in)")
    ap.add_argument("work", help="work directory (made afresh; removed on success)")
    ap.add_argument("--nets", default="resnet18,squeezenet1_1,mobilenet_v2")
    ap.add_argument("--policy", default="reference")
    ap.add_argument("--threads", type=int, default=0, help="passed on as --threads when given")
    ap.add_argument("--init", choices=["he", "default"], default="he")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    args.zoo = os.path.abspath(args.zoo) if os.sep in args.zoo else args.zoo
    work = os.path.abspath(args.work)

    # Policies: as in parity.py, a zoo built without the policy asked for skips this check, never passes it.
    sys.path.insert(0, HERE)
    from parity import zoo_policies
    try:
        policies = zoo_policies(args.zoo)
    except OSError as e:
        print(f"FAIL: cannot run {args.zoo}: {e}")
        return 1
    if policies is not None and args.policy not in policies:
        print(f"SKIP: {args.zoo} was built without the {args.policy} policy (it has: {', '.join(policies)})")
        return SKIP
    try:
        import numpy  # noqa: F401
        import PIL  # noqa: F401
        import torch
        import torchvision  # noqa: F401
        from torchvision.models._meta import _IMAGENET_CATEGORIES as categories
    except ImportError as e:
        print(f"SKIP: the classify check needs torch, torchvision, numpy and PIL in {sys.executable}: {e}")
        return SKIP
    sys.path.insert(0, TOOLS)
    # One thread: the float64 reference runs many small parallel regions (depthwise convolutions), whose
    # threads wait on each other for seconds when the machine is busy (say, with a build or other tests).
    torch.set_num_threads(1)

    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    images = make_photos(work)
    t0 = time.time()
    failed = False
    for net in [n for n in args.nets.split(",") if n]:
        try:
            print(check_net(args, net, images, work, categories), flush=True)
        except CheckFailed as e:
            print(f"FAIL {e}", flush=True)
            failed = True
    print(f"{time.time() - t0:.1f} s in all")
    if failed:
        print(f"FAIL (work directory kept: {work})")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
