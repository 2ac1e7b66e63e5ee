#!/usr/bin/env bash
# bench/peers/make_venv.sh: the Python environment of bench/peers/onnx_peers.py (ONNX Runtime and OpenVINO
# from PyPI), next to Debian's PyTorch.
#
#   bench/peers/make_venv.sh [VENV]        (VENV defaults to build-bench/peers-venv; never commit it)
#
# The venv is made from /usr/bin/python3 with --system-site-packages, so Debian's python3-torch (used to
# export the PyTorch twin of tools/torch_zoo.py to ONNX) and its numpy stay importable; pip adds only
# onnxruntime, openvino and onnx (onnxruntime.quantization needs it: int8_peers.py). numpy is pinned below 2 because Debian's torch 1.13 is built against numpy 1.x.
# Prints the installed versions. Re-running it is cheap (pip skips what is there).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
venv=${1:-$here/build-bench/peers-venv}
if [[ ! -x $venv/bin/python ]]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "numpy<2" onnxruntime openvino onnx
"$venv/bin/python" - <<'EOF'
import numpy, onnx, onnxruntime, openvino, torch
print(f"venv ready: numpy {numpy.__version__}, onnxruntime {onnxruntime.__version__}, "
      f"openvino {openvino.__version__}, torch {torch.__version__}")
EOF
