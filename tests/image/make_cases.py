#!/usr/bin/python3
"""Writes the image test cases of tests/image: photos made here (PIL, or by hand for what PIL cannot
write) and what PIL and torchvision make of them, for typenet_image_tests to compare against.

  /usr/bin/python3 tests/image/make_cases.py OUTDIR

For each case NAME (listed in OUTDIR/cases.json with its file and what to check):
  NAME.decoded.npy   the samples as the file stores them, float32 H x W x C (PIL's np.array, or for 16-bit
                     RGB the values written, since PIL keeps only their high byte)
  NAME.rgb.npy       torchvision's ImageNet preprocessing (resize 256 antialiased, centre crop, [0,1],
                     mean/std) of the uint8 RGB tensor, float32 3 x CROP x CROP
  NAME.grey.npy      the same for LeNet-5's grey 32 x 32 input (rgb_to_grayscale, resize 32, crop 32, [0,1])
Exit status 77 (skipped) when torch, torchvision or PIL cannot be imported.
"""
import json
import os
import struct
import sys
import zlib

# PyTorch picks a kernel build per CPU (AVX2, AVX-512); the resize's order of roundings is that of the
# AVX2 build, which every x86-64 CPU typenet runs the reference on can execute.
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")

try:
    import numpy as np
    import torch
    from PIL import Image
    import torchvision.transforms.functional as F
    from torchvision.transforms import InterpolationMode
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"make_cases.py: skipped, {e}", file=sys.stderr)
    sys.exit(77)

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def photo(height, width, channels, seed, depth=8):
    """Smooth gradients, a few sharp edges and seeded noise: content on which resampling matters."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    top = (1 << depth) - 1
    planes = []
    for c in range(channels):
        base = 0.5 + 0.35 * np.sin(x / (7 + 3 * c) + y / (11 + c)) * np.cos(y / (5 + 2 * c))
        base += 0.15 * ((x // (9 + c) + y // 13) % 2)
        base += rng.normal(0, 0.08, size=(height, width))
        planes.append(np.clip(base, 0, 1) * top)
    a = np.rint(np.stack(planes, axis=-1)).astype(np.uint16 if depth == 16 else np.uint8)
    return a


def png_bytes(a, depth):
    """A PNG written by hand (for 16-bit colour, which PIL cannot write): filter 0 rows, one IDAT."""
    h, w, c = a.shape
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[c]

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + a[r].astype(">u2" if depth == 16 else "u1").tobytes() for r in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def imagenet(u8_hwc, crop):
    t = torch.from_numpy(np.ascontiguousarray(u8_hwc)).permute(2, 0, 1)
    t = F.resize(t, [256], interpolation=InterpolationMode.BILINEAR, antialias=True)
    t = F.center_crop(t, [crop])
    t = F.convert_image_dtype(t, torch.float)
    return F.normalize(t, mean=MEAN, std=STD).numpy()


def digits(u8_hwc):
    t = torch.from_numpy(np.ascontiguousarray(u8_hwc)).permute(2, 0, 1)
    if t.shape[0] == 3:
        t = F.rgb_to_grayscale(t)
    t = F.resize(t, [32], interpolation=InterpolationMode.BILINEAR, antialias=True)
    t = F.center_crop(t, [32])
    return F.convert_image_dtype(t, torch.float).numpy()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    cases = []

    def add(name, filename, decoded, rgb8, crop=224, resize=True):
        """decoded: H x W x C samples as stored; rgb8: the 8-bit RGB (or grey) image preprocessing starts from."""
        np.save(os.path.join(out, name + ".decoded.npy"), decoded.astype(np.float32))
        colour = rgb8 if rgb8.shape[2] == 3 else np.repeat(rgb8, 3, axis=2)
        np.save(os.path.join(out, name + ".rgb.npy"), imagenet(colour, crop))
        np.save(os.path.join(out, name + ".grey.npy"), digits(rgb8))
        cases.append({"name": name, "file": filename, "crop": crop})

    def pil_case(name, a, fmt, mode=None, **save):
        filename = name + "." + fmt
        Image.fromarray(a if a.shape[2] > 1 else a[:, :, 0], mode).save(os.path.join(out, filename), **save)
        im = Image.open(os.path.join(out, filename))
        im.load()
        dec = np.array(im)
        if dec.ndim == 2:
            dec = dec[:, :, None]
        add(name, filename, dec, np.array(im.convert("RGB")) if dec.shape[2] != 1 else dec)

    # Landscape and portrait, JPEG (4:2:0, baseline and progressive) and PNG; odd sizes; grey; RGBA.
    pil_case("landscape_jpeg", photo(257, 300, 3, 1), "jpg", quality=90)
    pil_case("portrait_png", photo(333, 241, 3, 2), "png")
    pil_case("progressive_jpeg", photo(199, 263, 3, 3), "jpg", quality=75, progressive=True)
    pil_case("small_png", photo(61, 97, 3, 4), "png")  # made larger: resampling up
    pil_case("grey_png", photo(150, 180, 1, 5), "png")
    pil_case("grey_jpeg", photo(173, 211, 1, 6), "jpg", quality=85)
    pil_case("rgba_png", photo(230, 260, 4, 7), "png")
    pil_case("large_jpeg", photo(1200, 1600, 3, 8), "jpg", quality=92)  # a 6x downscale: 13-tap sums
    # A palette image: PIL decodes it to indices; its RGB is what typenet decodes.
    pal = Image.fromarray(photo(90, 130, 3, 9)).quantize(colors=37)
    pal.save(os.path.join(out, "palette_png.png"))
    rgb = np.array(Image.open(os.path.join(out, "palette_png.png")).convert("RGB"))
    add("palette_png", "palette_png.png", rgb, rgb)
    # 16-bit: grey through PIL (which keeps 16-bit grey), colour by hand. Preprocessing starts from the
    # high bytes; PIL itself keeps the high byte of a 16-bit colour PNG, checked here.
    g16 = photo(140, 170, 1, 10, depth=16)
    Image.fromarray(g16[:, :, 0].astype(np.uint16)).save(os.path.join(out, "grey16_png.png"))
    assert np.array(Image.open(os.path.join(out, "grey16_png.png"))).max() > 255
    add("grey16_png", "grey16_png.png", g16, (g16 >> 8).astype(np.uint8))
    c16 = photo(120, 210, 3, 11, depth=16)
    with open(os.path.join(out, "rgb16_png.png"), "wb") as f:
        f.write(png_bytes(c16, 16))
    assert (np.array(Image.open(os.path.join(out, "rgb16_png.png"))) == (c16 >> 8)).all()
    add("rgb16_png", "rgb16_png.png", c16, (c16 >> 8).astype(np.uint8))
    # The original AlexNet's 227 x 227 crop.
    a = np.array(Image.open(os.path.join(out, "landscape_jpeg.jpg")))
    np.save(os.path.join(out, "landscape_jpeg.rgb227.npy"), imagenet(a, 227))
    # A crop larger than the image (no resize): torchvision pads with zeros.
    grey = np.array(Image.open(os.path.join(out, "grey_png.png")).convert("RGB"))
    t = F.center_crop(torch.from_numpy(grey).permute(2, 0, 1), [224])
    np.save(os.path.join(out, "grey_png.pad224.npy"), t.numpy().astype(np.float32))

    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print(f"make_cases.py: {len(cases)} cases in {out}")


if __name__ == "__main__":
    main()
