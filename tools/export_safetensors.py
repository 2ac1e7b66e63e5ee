#!/usr/bin/python3
"""Export a PyTorch module's state_dict to a safetensors file (float32), without the safetensors package.

Usage:
  /usr/bin/python3 tools/export_safetensors.py SOURCE OUT.safetensors [--prefix P] [--strip-prefix P]

SOURCE is one of
  model.pt / model.pth      a file written by torch.save(): a state_dict or a whole nn.Module
  package.module:factory    an importable callable returning an nn.Module (e.g. torch_zoo:lenet5)
  zoo:NET                   the PyTorch twin of a typenet zoo network (tools/torch_zoo.py), default init

Every floating-point tensor is written as F32 (converted if needed), C-contiguous, in state_dict order.
Integer buffers (e.g. BatchNorm's num_batches_tracked) are left out, since typenet has no use for them;
they are listed on stderr. --strip-prefix removes a leading key prefix (e.g. "module." from
DataParallel checkpoints); --prefix adds one.

As a library:
  from export_safetensors import save_state_dict, load_safetensors
  save_state_dict(model.state_dict(), "model.safetensors")
"""
import argparse
import importlib
import json
import os
import struct
import sys
import tempfile


def _tensor_bytes(t):
    import numpy as np
    import torch
    a = t.detach().to(device="cpu", dtype=torch.float32).contiguous().numpy()
    return np.ascontiguousarray(a, dtype="<f4").tobytes(), list(a.shape)


def save_state_dict(state_dict, path, metadata=None):
    """Writes every floating-point tensor of `state_dict` to `path` as F32 safetensors.

    Returns the names written. The file appears atomically (written to a temporary file, then renamed).
    """
    import torch
    header = {}
    blobs = []
    offset = 0
    skipped = []
    for name, t in state_dict.items():
        if not torch.is_tensor(t) or not torch.is_floating_point(t):
            skipped.append(name)
            continue
        data, shape = _tensor_bytes(t)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    meta = {"format": "pt"}
    meta.update(metadata or {})
    header["__metadata__"] = {str(k): str(v) for k, v in meta.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # the data buffer starts 8-byte aligned
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".export_", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for b in blobs:
                f.write(b)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if skipped:
        print("export_safetensors: left out non-float entries: " + ", ".join(skipped), file=sys.stderr)
    return [n for n in header if n != "__metadata__"]


def load_safetensors(path):
    """Reads an F32 safetensors file into {name: torch.Tensor} (for checks and round trips)."""
    import numpy as np
    import torch
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: {name} has dtype {entry['dtype']}, only F32 is read here")
        begin, end = entry["data_offsets"]
        a = np.frombuffer(data[begin:end], dtype="<f4").reshape(entry["shape"]).copy()
        out[name] = torch.from_numpy(a)
    return out


def _load_source(source):
    import torch
    if source.startswith("zoo:"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import torch_zoo
        return torch_zoo.build(source[4:]).state_dict()
    if os.path.exists(source):
        obj = torch.load(source, map_location="cpu")
        if isinstance(obj, torch.nn.Module):
            return obj.state_dict()
        if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
            return obj["state_dict"]
        if isinstance(obj, dict):
            return obj
        raise SystemExit(f"export_safetensors: {source}: holds a {type(obj).__name__}, not a module or state_dict")
    if ":" in source:
        module_name, factory = source.split(":", 1)
        sys.path.insert(0, os.getcwd())
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        module = importlib.import_module(module_name)
        return getattr(module, factory)().state_dict()
    raise SystemExit(f"export_safetensors: {source}: no such file, and not of the form module:factory or zoo:NET")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("source", help="model.pt, package.module:factory, or zoo:NET")
    p.add_argument("out", help="the safetensors file to write")
    p.add_argument("--prefix", default="", help="prepend this to every key")
    p.add_argument("--strip-prefix", default="", help="remove this leading prefix from keys that have it")
    args = p.parse_args(argv)
    state = _load_source(args.source)
    renamed = {}
    for k, v in state.items():
        if args.strip_prefix and k.startswith(args.strip_prefix):
            k = k[len(args.strip_prefix):]
        renamed[args.prefix + k] = v
    names = save_state_dict(renamed, args.out)
    print(f"wrote {len(names)} tensors to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
