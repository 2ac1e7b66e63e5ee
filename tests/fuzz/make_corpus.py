#!/usr/bin/env python3
"""Writes the seed corpus for the fuzzers into corpus/{npy,safetensors}/ (valid and invalid files).

Pure Python (struct + json), so that the corpus does not depend on numpy. Run it from anywhere:
    python3 tests/fuzz/make_corpus.py
The committed corpus stays small (headers of a few hundred entries at most). Seeds with big headers
(100,000 entries, a shape of rank 100,000, ...: megabytes each) are generated at build or run time:
    python3 tests/fuzz/make_corpus.py --big DIR     # writes DIR/npy/ and DIR/safetensors/
(the CTest fuzz.*.big_headers tests and run_fuzzers.sh do this).
"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def npy(shape, values, descr="<f4", fortran="False", version=(1, 0), extra=b"", header_override=None):
    shape_txt = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    header = header_override or "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape_txt)
    pre = 10 if version[0] == 1 else 12
    pad = (64 - (pre + len(header) + 1) % 64) % 64
    header = (header + " " * pad + "\n").encode("latin1")
    length = struct.pack("<H", len(header)) if version[0] == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes(version) + length + header + struct.pack("<%df" % len(values), *values) + extra


def safetensors(entries, data, metadata=None, raw_header=None):
    if raw_header is None:
        header = {}
        if metadata is not None:
            header["__metadata__"] = metadata
        header.update(entries)
        raw_header = json.dumps(header, separators=(",", ":")).encode()
    raw_header += b" " * ((8 - len(raw_header) % 8) % 8)
    return struct.pack("<Q", len(raw_header)) + raw_header + data


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def write(kind, name, blob):
    os.makedirs(os.path.join(OUT, kind), exist_ok=True)
    with open(os.path.join(OUT, kind, name), "wb") as f:
        f.write(blob)


def many_entries(n, nbytes, prefix="t"):
    """Header entries for n tensors named prefix0.., each F32 of nbytes (0 or 4), contiguous from 0."""
    shape = [nbytes // 4]
    return {"%s%d" % (prefix, i): {"dtype": "F32", "shape": shape, "data_offsets": [i * nbytes, (i + 1) * nbytes]}
            for i in range(n)}


def many_seeds(n, tag):
    """Seeds whose headers have n entries: valid, rejected only after the whole header, and variants."""
    write("safetensors", "valid_many_%s.safetensors" % tag,
          safetensors(many_entries(n, 4), f32(*range(n)), metadata={"format": "pt"}))
    write("safetensors", "bad_many_trailing_%s.safetensors" % tag, safetensors(many_entries(n, 0), b"x"))
    entries = json.dumps(many_entries(n, 0), separators=(",", ":"))
    write("safetensors", "bad_many_duplicate_last_%s.safetensors" % tag,
          safetensors({}, b"", raw_header=(entries[:-1] + ',"t0":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')
                      .encode()))
    write("safetensors", "valid_many_metadata_%s.safetensors" % tag,
          safetensors({}, b"", metadata={"k%d" % i: "v%d" % i for i in range(n)}))
    write("safetensors", "valid_long_shape_%s.safetensors" % tag,
          safetensors({"s": {"dtype": "F32", "shape": [1] * n, "data_offsets": [0, 4]}}, f32(7)))
    write("npy", "valid_long_shape_%s.npy" % tag, npy((1,) * n, [7], version=(2, 0)))


if len(sys.argv) == 3 and sys.argv[1] == "--big":
    OUT = sys.argv[2]
    many_seeds(100000, "100k")
    sys.exit(0)
elif len(sys.argv) != 1:
    sys.exit("usage: make_corpus.py [--big DIR]")


write("npy", "valid_2x3.npy", npy((2, 3), [1, 2, 3, 4, 5, 6]))
write("npy", "valid_scalar.npy", npy((), [42.5]))
write("npy", "valid_empty_0x4.npy", npy((0, 4), []))
write("npy", "valid_v2_1d.npy", npy((3,), [1, -2, 3.5], version=(2, 0)))
write("npy", "valid_v3_4d.npy", npy((1, 2, 1, 2), [0.5, 1.5, 2.5, 3.5], version=(3, 0)))
write("npy", "bad_dtype_f8.npy", npy((2,), [], descr="<f8", extra=b"\0" * 16))
write("npy", "bad_fortran.npy", npy((2, 2), [1, 2, 3, 4], fortran="True"))
write("npy", "bad_truncated.npy", npy((4, 4), [1, 2, 3]))
write("npy", "bad_trailing.npy", npy((2,), [1, 2], extra=b"xyz"))
write("npy", "bad_header_length.npy", b"\x93NUMPY\x01\x00\xff\xff{'descr'")
write("npy", "bad_structured.npy",
      npy((1,), [], header_override="{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
          extra=b"\0" * 4))
write("npy", "bad_version.npy", npy((1,), [1], version=(4, 0)))

w = f32(1, 2, 3, 4, 5, 6)
b = f32(0.5, -0.5)
write("safetensors", "valid_two.safetensors",
      safetensors({"0.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                   "0.bias": {"dtype": "F32", "shape": [2], "data_offsets": [24, 32]}}, w + b,
                  metadata={"format": "pt"}))
write("safetensors", "valid_empty.safetensors", safetensors({}, b""))
write("safetensors", "valid_f16.safetensors",
      safetensors({"h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}, b"\0\x3c\0\x40"))
write("safetensors", "bad_overlap.safetensors",
      safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, f32(1, 2, 3)))
write("safetensors", "bad_gap.safetensors",
      safetensors({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                   "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, f32(1, 2, 3)))
write("safetensors", "bad_trailing.safetensors",
      safetensors({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, f32(1, 2)))
write("safetensors", "bad_json.safetensors", safetensors({}, b"", raw_header=b'{"a": {"dtype": "F32",'))
write("safetensors", "bad_header_length.safetensors", struct.pack("<Q", 9000000000) + b"{}")
write("safetensors", "bad_duplicate.safetensors",
      safetensors({}, f32(1, 2),
                  raw_header=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                             b'"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'))
write("safetensors", "bad_negative_dim.safetensors",
      safetensors({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, f32(1)))
write("safetensors", "bad_unknown_dtype.safetensors",
      safetensors({"a": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}, f32(1)))

# Headers with a few hundred entries: big enough to reach the many-entry paths, small enough to commit.
many_seeds(200, "200")
