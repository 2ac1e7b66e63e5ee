#!/usr/bin/env bash
# tools/gpu_pack.sh: prepares, on a machine without a GPU, what bench/gpu_check.sh runs on one.
#
#   tools/gpu_pack.sh [BUILD_DIR] [PACK_DIR]      (defaults: build-cuda, build-gpu-pack; both git-ignored)
#
# Configures BUILD_DIR for sm_90 (H100/H200) if it is not configured yet, builds the programs gpu_check.sh
# needs (about 16 minutes from scratch on 2 cores), strips them and packs them into PACK_DIR/typenet-gpu.tar.xz
# (about 27 MB; the stripped binaries are about 60 MB, close to what a device call may carry). Then prints the
# command that unpacks and runs the check on the GPU machine, where the repository's working tree and
# PACK_DIR are present (the binaries link the CUDA runtime statically; only the comparison needs PyTorch).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-cuda}
pack=${2:-$here/build-gpu-pack}
programs=(typenet_cuda_errors typenet_cuda_parity_shapes typenet_cuda_parity_random typenet_cuda_parity_zoo
  typenet_cuda_parity_graph typenet_cuda_nonfinite typenet_cuda_train_parity cuda_bench cuda_graph_bench)

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTYPENET_ENABLE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90
fi
for flag in TYPENET_ENABLE_CUDA:BOOL=ON TYPENET_CUDA_GPU_PROGRAMS:BOOL=ON; do
  if ! grep -q "^$flag\$" "$build/CMakeCache.txt"; then
    echo "gpu_pack.sh: $build is not configured with -D${flag%%:*}=ON" >&2
    exit 1
  fi
done
if grep -q '^CMAKE_CUDA_ARCHITECTURES:.*virtual' "$build/CMakeCache.txt"; then
  echo "gpu_pack.sh: $build compiles PTX only (CMAKE_CUDA_ARCHITECTURES=...-virtual); use 90" >&2
  exit 1
fi
cmake --build "$build" -j "$(nproc)" --target "${programs[@]}"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$pack"
for p in "${programs[@]}"; do
  cp "$build/bin/$p" "$stage/bin/"
  strip "$stage/bin/$p"
done
tar -C "$stage" -cJf "$pack/typenet-gpu.tar.xz" bin
echo "gpu_pack.sh: $(du -sh "$stage/bin" | cut -f1) of stripped programs, packed into $pack/typenet-gpu.tar.xz ($(du -h "$pack/typenet-gpu.tar.xz" | cut -f1))"
echo "on the GPU machine, from the repository root (carry $(realpath --relative-to="$here" "$pack")):"
echo "  mkdir -p /tmp/typenet-gpu && tar -xJf $(realpath --relative-to="$here" "$pack")/typenet-gpu.tar.xz -C /tmp/typenet-gpu && OUT=\$OUT bench/gpu_check.sh /tmp/typenet-gpu"
