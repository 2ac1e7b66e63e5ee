#!/usr/bin/env bash
# bench/gpu_profile.sh: per-kernel GPU time of cuda_bench (seed AlexNet), with Nsight Systems when the
# machine has it (else Nsight Compute's launch summary), to see where a stage's time goes (e.g. a Winograd
# stage's input transform, GEMM and output transform).
#
#   OUT=<folder> bench/gpu_profile.sh [BUILD_DIR] [cuda_bench options...]
#       (defaults: build-cuda; --maths fp32 --batches 64 --stage-batches 64 --iters 10)
# Writes $OUT/profile.txt (kernel summary) and $OUT/profile.log.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-cuda}
shift || true
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--maths fp32 --batches 64 --stage-batches 64 --iters 10)
out=${OUT:-/tmp/typenet-gpu-profile}
mkdir -p "$out"
nsys=$(command -v nsys || ls /usr/local/cuda*/bin/nsys /opt/nvidia/nsight-systems*/bin/nsys 2>/dev/null | head -1)
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute*/ncu 2>/dev/null | head -1)
{
  echo "nsys: ${nsys:-none}; ncu: ${ncu:-none}"
  if [ -n "$nsys" ]; then
    timeout 150 "$nsys" profile --force-overwrite true -o /tmp/typenet_prof "$build/bin/cuda_bench" "${args[@]}" > /dev/null
    timeout 90 "$nsys" stats --report cuda_gpu_kern_sum --format csv /tmp/typenet_prof.nsys-rep
  elif [ -n "$ncu" ]; then
    timeout 200 "$ncu" --metrics gpu__time_duration.sum --csv "$build/bin/cuda_bench" "${args[@]}"
  else
    echo "neither nsys nor ncu found"
  fi
} > "$out/profile.txt" 2> "$out/profile.log"
