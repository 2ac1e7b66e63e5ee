#!/usr/bin/python3
"""Writes the seed corpus of fuzz_image into corpus/image/: small JPEG and PNG files of every kind the
decoder accepts (PNG by hand with zlib; JPEG through PIL), and a few it must refuse.
    /usr/bin/python3 tests/fuzz/make_image_corpus.py
"""
import io
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "image")


def png(width, height, depth, colour, rows, interlace=0, extra=b""):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace))
            + extra + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def rows(width, height, bytes_per_pixel):
    return b"".join(b"\0" + bytes((x * 29 + y * 53) & 0xff for x in range(width * bytes_per_pixel)) for y in range(height))


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "grey8.png": png(6, 5, 8, 0, rows(6, 5, 1)),
        "grey1.png": png(9, 3, 1, 0, b"\0\xa5\x80" * 3),
        "grey16_alpha.png": png(4, 3, 16, 4, rows(4, 3, 4)),
        "rgb8.png": png(5, 4, 8, 2, rows(5, 4, 3)),
        "rgba8.png": png(4, 4, 8, 6, rows(4, 4, 4)),
        "rgb16.png": png(3, 3, 16, 2, rows(3, 3, 6)),
        "palette.png": png(4, 2, 8, 3, b"\0\0\1\0\1\0\1\0\1\0",
                           extra=struct.pack(">I", 6) + b"PLTE" + b"\x10\x20\x30\xc0\xb0\xa0" +
                           struct.pack(">I", zlib.crc32(b"PLTE\x10\x20\x30\xc0\xb0\xa0"))),
        "bad_zero.png": png(0, 0, 8, 2, b""),
        "bad_huge.png": png(100000, 100000, 8, 2, b"\0"),
        "bad_text.bin": b"not an image at all\n",
    }
    try:
        from PIL import Image
        im = Image.new("RGB", (12, 10))
        im.putdata([((x * 21) & 255, (y * 25) & 255, ((x + y) * 9) & 255) for y in range(10) for x in range(12)])
        for name, kw in {"rgb.jpg": {"quality": 80}, "progressive.jpg": {"quality": 70, "progressive": True},
                         "rgb444.jpg": {"quality": 90, "subsampling": 0}}.items():
            b = io.BytesIO()
            im.save(b, "JPEG", **kw)
            seeds[name] = b.getvalue()
        b = io.BytesIO()
        im.convert("L").save(b, "JPEG", quality=85)
        seeds["grey.jpg"] = b.getvalue()
        seeds["bad_truncated.jpg"] = seeds["rgb.jpg"][: len(seeds["rgb.jpg"]) // 2]
    except ImportError:
        print("make_image_corpus.py: no PIL, JPEG seeds not written")
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"make_image_corpus.py: {len(seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
