#!/bin/sh
# Stands in for a typenet-zoo configured with TYPENET_ZOO_SIMD=OFF, in the test that parity.py then skips
# the simd parity cases (visibly, exit status 77) instead of passing them: `help` lists the policies built
# in, as examples/zoo.cpp does, and every other command fails as that build does for --policy simd.
if [ "$1" = help ]; then
  echo "usage:"
  echo "  typenet-zoo run NET --weights W.safetensors --input X.npy --output Y.npy [--policy reference|simd]"
  echo "policies in this build: reference"
  exit 0
fi
echo "typenet-zoo: --policy simd: this typenet-zoo was built without the simd policy (CMake option TYPENET_ZOO_SIMD=OFF)" >&2
exit 1
