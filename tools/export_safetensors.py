#!/usr/bin/python3
"""Export a PyTorch module's state_dict to a safetensors file (float32), without the safetensors package.

Usage:
  /usr/bin/python3 tools/export_safetensors.py SOURCE OUT.safetensors [--prefix P] [--strip-prefix P]
  /usr/bin/python3 tools/export_safetensors.py --torchvision NAME (STATE_DICT.pth | --random [--seed S]) OUT.safetensors

SOURCE is one of
  model.pt / model.pth      a file written by torch.save(): a state_dict or a whole nn.Module
  package.module:factory    an importable callable returning an nn.Module (e.g. torch_zoo:lenet5)
  zoo:NET                   the PyTorch twin of a typenet zoo network (tools/torch_zoo.py), default init

Every floating-point tensor is written as F32 (converted if needed), C-contiguous, in state_dict order.
Integer buffers (e.g. BatchNorm's num_batches_tracked) are left out, since typenet has no use for them;
they are listed on stderr. --strip-prefix removes a leading key prefix (e.g. "module." from
DataParallel checkpoints); --prefix adds one.

--torchvision NAME builds torchvision.models' NAME (alexnet, resnet18, resnet50, mobilenet_v2,
squeezenet1_1, vgg11, ...; any builder that torchvision.models.list_models() names) with weights=None and
exports its state_dict, with the weights from either
  STATE_DICT.pth     a torch.save() file holding a state_dict, a dict with the state_dict under "state_dict"
                     or "model" (as training scripts save them), or a whole nn.Module. A leading "module."
                     on every key (nn.DataParallel) is removed, with a note on stderr. The weights must fit
                     the model exactly: each missing, unexpected or mis-shaped key is named on a line of
                     its own, and nothing is written.
  --random [--seed S]  torch.manual_seed(S) (default 0), the builder's own default initialisation, and then
                     random batch-norm parameters and statistics: weight and running_var uniform in
                     [0.5, 1.5], bias and running_mean normal with standard deviation 0.1. (The default
                     init leaves batch norm an identity, weight 1, bias 0, mean 0, var 1, which would hide
                     a consumer that folds batch norm wrongly.) The same NAME and S give the same file.
The typenet-zoo network that reads the file, if there is one, is named when it is written (alexnet is
typenet's torchvision_alexnet; resnet18, resnet50, mobilenet_v2 and squeezenet1_1 keep their names).
Errors in this mode (a missing or unreadable checkpoint, an unknown NAME, a checkpoint and --random
together or neither) are one line on stderr, "export_safetensors: ...", with exit status 1 and no output
file; a checkpoint that does not fit gives a line per problem. torch.load() unpickles: read only
checkpoints you trust.

As a library:
  from export_safetensors import save_state_dict, load_safetensors
  save_state_dict(model.state_dict(), "model.safetensors")
  export_torchvision("resnet18", None, 0, "resnet18.safetensors")   # what --torchvision resnet18 --random does
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


# The typenet zoo networks (include/typenet/zoo/, tools/torch_zoo.py) whose weights are a torchvision
# model's state_dict as it is, by torchvision builder name.
TYPENET_ZOO_NAMES = {
    "alexnet": "torchvision_alexnet",
    "resnet18": "resnet18",
    "resnet50": "resnet50",
    "mobilenet_v2": "mobilenet_v2",
    "squeezenet1_1": "squeezenet1_1",
}


class ExportError(Exception):
    """A problem to report without a traceback: each line of the message becomes one stderr line."""


def _torchvision_builders():
    """{name: builder} of the model builders torchvision offers.

    torchvision 0.14 and later register their builders (list_models / get_model_builder), including those
    of the detection, segmentation, video and quantized sub-packages. Before that, the builders are the
    lower-case functions of torchvision.models that take a `weights` argument (classes such as ResNet and
    helpers such as get_weight are callable too, but are not builders).
    """
    import inspect
    import torchvision.models as models
    if hasattr(models, "list_models") and hasattr(models, "get_model_builder"):
        return {name: models.get_model_builder(name) for name in models.list_models()}
    builders = {}
    for name in dir(models):
        fn = getattr(models, name)
        if name.startswith("_") or not name.islower() or not inspect.isfunction(fn):
            continue
        try:
            if "weights" in inspect.signature(fn).parameters:
                builders[name] = fn
        except (TypeError, ValueError):
            continue
    return builders


def build_torchvision(name):
    """torchvision's model NAME with weights=None (and no pretrained backbone), in eval() mode."""
    import difflib
    import inspect
    try:
        import torchvision
    except ImportError as e:
        raise ExportError(f"--torchvision needs torchvision in {sys.executable}: {e}")
    builders = _torchvision_builders()
    if name not in builders:
        close = difflib.get_close_matches(name, builders, n=3)
        common = [n for n in ("alexnet", "resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "vgg11",
                              "efficientnet_b0", "convnext_tiny") if n in builders]
        raise ExportError(f"unknown torchvision model '{name}'"
                          + (f" (did you mean {' or '.join(close)}?)" if close else "")
                          + f"; torchvision {torchvision.__version__} has {len(builders)} builders, e.g. "
                          + ", ".join(common))
    builder = builders[name]
    kwargs = {"weights": None}
    # Detection and segmentation builders default to an ImageNet-pretrained backbone: download nothing.
    if "weights_backbone" in inspect.signature(builder).parameters:
        kwargs["weights_backbone"] = None
    return builder(**kwargs).eval()


def randomize_batch_norm(model):
    """Gives every batch norm random parameters and statistics from torch's global generator.

    weight and running_var uniform in [0.5, 1.5], bias and running_mean normal(0, 0.1): far enough from
    the identity (1, 0, 0, 1) that leaving out or misplacing any of the four changes the output.
    Returns the number of batch-norm layers changed.
    """
    import torch
    count = 0
    with torch.no_grad():
        for m in model.modules():
            if not isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                continue
            if m.weight is not None:
                m.weight.uniform_(0.5, 1.5)
            if m.bias is not None:
                m.bias.normal_(0.0, 0.1)
            if m.running_mean is not None:
                m.running_mean.normal_(0.0, 0.1)
            if m.running_var is not None:
                m.running_var.uniform_(0.5, 1.5)
            count += 1
    return count


def _is_state_dict(obj):
    import torch
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items())


def read_checkpoint(path):
    """The state_dict in the torch.save() file `path` (see the usage); raises ExportError if there is none."""
    import torch
    if not os.path.exists(path):
        raise ExportError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ExportError(f"{path}: is a directory, not a checkpoint")
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # unpickling fails in many ways: UnpicklingError, RuntimeError, EOFError, ...
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ExportError(f"{path}: not a PyTorch checkpoint, or not one that loads here (torch.load: {reason})")
    where = "the file"
    if isinstance(obj, dict) and not _is_state_dict(obj):
        for key in ("state_dict", "model"):
            if key in obj:
                obj, where = obj[key], f"its entry '{key}'"
                break
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not _is_state_dict(obj):
        what = f"a {type(obj).__name__}"
        if isinstance(obj, dict):
            what = "an empty dict" if not obj else "a dict whose entries are not all tensors named by strings"
        raise ExportError(f"{path}: not a checkpoint: {where} holds {what}, not a state_dict or a module "
                          "(nor a dict with one under 'state_dict' or 'model')")
    return obj


def strip_data_parallel(state_dict):
    """state_dict without the "module." that nn.DataParallel puts before every key (as it is if not all
    keys have it). The _metadata that load_state_dict reads (module versions) is renamed along."""
    prefix = "module."
    if not all(k.startswith(prefix) for k in state_dict):
        return state_dict, False
    from collections import OrderedDict
    out = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items())
    meta = getattr(state_dict, "_metadata", None)
    if meta is not None:
        # Metadata keys are module paths: "" is the DataParallel wrapper, "module" the wrapped model.
        out._metadata = OrderedDict(("" if k == "module" else k[len(prefix):], v) for k, v in meta.items()
                                    if k == "module" or k.startswith(prefix))
    return out, True


def _shape(t):
    return list(t.shape)


MAX_PROBLEMS_LISTED = 40  # misfits named one per line; beyond this many, only counted


def load_into(model, state_dict, what):
    """model.load_state_dict(state_dict, strict=True), with each misfit named on a line of its own."""
    expected = model.state_dict()
    problems = []
    for k, v in state_dict.items():
        if k not in expected:
            problems.append(f"unexpected key '{k}' {_shape(v)} (the model has no such entry)")
        elif _shape(v) != _shape(expected[k]):
            problems.append(f"key '{k}' has shape {_shape(v)}, the model expects {_shape(expected[k])}")
    # A missing num_batches_tracked (a checkpoint from before PyTorch 0.4.1, or one that went through a
    # float-only format) is filled in with the model's own: it only matters for training.
    filled = [k for k in expected if k not in state_dict and k.endswith("num_batches_tracked")]
    if filled:
        from collections import OrderedDict
        meta = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)
        state_dict.update((k, expected[k].clone()) for k in filled)
        if meta is not None:
            state_dict._metadata = meta
    for k, v in expected.items():
        if k not in state_dict:
            problems.append(f"missing key '{k}' (the model expects {_shape(v)})")
    if not problems:
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as e:  # what the checks above do not foresee, in torch's words
            problems = [line.strip() for line in str(e).splitlines() if line.strip()]
    if problems:
        head = [f"{what}: {len(problems)} problem(s), nothing written:"]
        if not any(k in expected for k in state_dict):
            # Nothing matches: most likely another network's weights, or keys saved under a prefix.
            head.append(f"no key matches (the checkpoint's start like '{next(iter(state_dict), '')}', the "
                        f"model's like '{next(iter(expected), '')}'): another network's weights, or keys with a prefix?")
        shown = problems[:MAX_PROBLEMS_LISTED]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more")
        raise ExportError("\n".join(head + shown))


def export_torchvision(name, checkpoint, seed, out):
    """Builds torchvision's NAME, loads `checkpoint` into it or (checkpoint None) randomises it from `seed`,
    and writes its state_dict to `out`. Returns the names written."""
    import torch
    if checkpoint is None:
        torch.manual_seed(seed)
        model = build_torchvision(name)
        randomize_batch_norm(model)
        source = f"random, seed {seed}"
    else:
        model = build_torchvision(name)  # an unknown NAME is reported before the checkpoint is read
        state_dict, stripped = strip_data_parallel(read_checkpoint(checkpoint))
        if stripped:
            print(f"export_safetensors: {checkpoint}: removed the leading 'module.' (nn.DataParallel) from "
                  f"all {len(state_dict)} keys", file=sys.stderr)
        load_into(model, state_dict, f"{checkpoint} does not fit torchvision's {name}")
        source = os.path.basename(checkpoint)
    state = model.state_dict()
    # Integer buffers (batch norm's num_batches_tracked) are left out, as save_state_dict would, but counted
    # here rather than listed one by one.
    floats = {k: v for k, v in state.items() if v.is_floating_point()}
    if len(floats) < len(state):
        kinds = sorted({k.rsplit(".", 1)[-1] for k in state if k not in floats})
        print(f"export_safetensors: left out {len(state) - len(floats)} integer buffers ({', '.join(kinds)}; "
              "typenet has no use for them)", file=sys.stderr)
    try:
        return save_state_dict(floats, out, metadata={"torchvision": name, "weights": source})
    except OSError as e:
        raise ExportError(f"{out}: cannot write: {e.strerror or e}")


class _Parser(argparse.ArgumentParser):
    """argparse, except that in --torchvision mode a usage error is one line and exit status 1."""
    one_line_errors = False

    def error(self, message):
        if self.one_line_errors:
            raise ExportError(f"{message} (see --help)")
        super().error(message)


def _names_torchvision(arg):
    """Whether a command-line word is --torchvision, possibly abbreviated or with =NAME (as argparse reads it)."""
    head = arg.split("=", 1)[0]
    return len(head) >= 3 and "--torchvision".startswith(head)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = _Parser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog=__doc__,
                usage="%(prog)s SOURCE OUT.safetensors [--prefix P] [--strip-prefix P]\n"
                      "       %(prog)s --torchvision NAME (STATE_DICT.pth | --random [--seed S]) OUT.safetensors")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="SOURCE OUT.safetensors; with --torchvision, STATE_DICT.pth OUT.safetensors or (with "
                        "--random) OUT.safetensors")
    p.add_argument("--prefix", default="", help="prepend this to every key")
    p.add_argument("--strip-prefix", default="", help="remove this leading prefix from keys that have it")
    p.add_argument("--torchvision", metavar="NAME", help="build torchvision.models' NAME and export its weights")
    p.add_argument("--random", action="store_true", help="with --torchvision: random weights instead of a .pth")
    p.add_argument("--seed", type=int, default=None, help="with --random: the seed (default 0)")
    p.one_line_errors = any(_names_torchvision(a) for a in argv)
    try:
        # Intermixed: the paths may come before, between and after the options ("NAME x.pth --random OUT").
        args = p.parse_intermixed_args(argv)
        if args.torchvision is None:
            return _main_source(p, args)
        return _main_torchvision(args)
    except ExportError as e:
        for line in str(e).splitlines():
            print(f"export_safetensors: {line}", file=sys.stderr)
        return 1


def _main_source(p, args):
    """SOURCE OUT.safetensors: the interface from before --torchvision, usage errors as argparse's (exit 2)."""
    if args.random or args.seed is not None:
        p.error("--random and --seed go with --torchvision NAME")
    if len(args.paths) != 2:
        p.error("expected SOURCE and OUT.safetensors")
    source, out = args.paths
    state = _load_source(source)
    renamed = {}
    for k, v in state.items():
        if args.strip_prefix and k.startswith(args.strip_prefix):
            k = k[len(args.strip_prefix):]
        renamed[args.prefix + k] = v
    names = save_state_dict(renamed, out)
    print(f"wrote {len(names)} tensors to {out}")
    return 0


def _main_torchvision(args):
    if args.prefix or args.strip_prefix:
        raise ExportError("--prefix and --strip-prefix do not go with --torchvision (its keys are torchvision's, "
                          "as typenet reads them; a leading 'module.' is removed by itself)")
    if args.seed is not None and not args.random:
        raise ExportError("--seed goes with --random")
    listed = ", ".join(repr(a) for a in args.paths)
    if args.random and len(args.paths) == 2:
        raise ExportError(f"give either STATE_DICT.pth or --random, not both (got --random and {listed})")
    if args.random and len(args.paths) != 1:
        raise ExportError("--torchvision NAME --random needs one path, OUT.safetensors, got "
                          + (listed if args.paths else "none"))
    if not args.random and len(args.paths) != 2:
        raise ExportError("--torchvision NAME needs STATE_DICT.pth OUT.safetensors, or --random OUT.safetensors; got "
                          + (f"only {listed}" if len(args.paths) == 1 else listed if args.paths else "no path"))
    seed = 0 if args.seed is None else args.seed
    if not 0 <= seed < 2 ** 63:
        raise ExportError(f"--seed must be in [0, 2^63), got {seed}")
    checkpoint = None if args.random else args.paths[0]
    if checkpoint is not None and not os.path.isfile(checkpoint):  # said before the seconds torch takes to load
        raise ExportError(f"{checkpoint}: " + ("is a directory, not a checkpoint" if os.path.isdir(checkpoint)
                                               else "no such file"))
    try:
        import torch  # noqa: F401
    except ImportError as e:
        raise ExportError(f"--torchvision needs torch in {sys.executable}: {e}")
    out = args.paths[-1]
    names = export_torchvision(args.torchvision, checkpoint, seed, out)
    zoo = TYPENET_ZOO_NAMES.get(args.torchvision)
    print(f"wrote {len(names)} tensors to {out} "
          + (f"(typenet-zoo network: {zoo})" if zoo else "(no typenet-zoo network of this name)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
