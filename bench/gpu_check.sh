#!/usr/bin/env bash
# bench/gpu_check.sh: the GPU check of exec::cuda, on a machine with an NVIDIA GPU.
#
#   OUT=<folder> bench/gpu_check.sh [BUILD_DIR]      (BUILD_DIR defaults to build-cuda)
#
# Runs the prebuilt gpu tests (binaries directly, not ctest: the build folder's paths need not exist on
# that machine), cuda_bench (seed AlexNet per stage and whole network at batch 1, 64, 256) and the
# PyTorch + cuDNN comparison, and writes under $OUT: results.md (the summary table), device.txt,
# tests.log, bench.txt, compare.log. Exit status: 0 when every test passed.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-cuda}
out=${OUT:-/tmp/typenet-gpu-check}
mkdir -p "$out"
bin=$build/bin
status=0

{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1; date -u; } > "$out/device.txt"

: > "$out/tests.log"
declare -A result
for t in typenet_cuda_errors typenet_cuda_parity_shapes typenet_cuda_parity_zoo; do
  echo "=== $t" >> "$out/tests.log"
  start=$(date +%s)
  timeout 120 "$bin/$t" >> "$out/tests.log" 2>&1
  rc=$?
  case $rc in 0) result[$t]="passed";; 77) result[$t]="SKIPPED"; status=1;; *) result[$t]="FAILED (exit $rc)"; status=1;; esac
  result[$t]="${result[$t]} in $(( $(date +%s) - start )) s"
  echo "=== $t: ${result[$t]}" >> "$out/tests.log"
done

timeout 120 "$bin/cuda_bench" --iters 20 > "$out/bench.txt" 2>&1 || status=1

PYTHONUNBUFFERED=1 timeout 150 python3 "$here/bench/torch_cuda_compare.py" --typenet "$out/bench.txt" \
  --markdown "$out/compare.md" > "$out/compare.log" 2>&1 || status=1

{
  echo "# exec::cuda GPU check"
  echo
  echo '```'
  cat "$out/device.txt"
  echo '```'
  echo
  echo "## Tests"
  echo
  echo "| test | result |"
  echo "| --- | --- |"
  for t in typenet_cuda_errors typenet_cuda_parity_shapes typenet_cuda_parity_zoo; do echo "| $t | ${result[$t]} |"; done
  echo
  echo "Parity lines (max |diff| against exec::reference):"
  echo '```'
  grep '^parity' "$out/tests.log"
  echo '```'
  echo
  echo "## seed AlexNet: typenet exec::cuda against PyTorch + cuDNN (channels_last, cudnn.benchmark)"
  echo
  cat "$out/compare.md" 2>/dev/null || echo "(comparison failed: see compare.log)"
  echo
  echo "## Per stage (median ms, GFLOP/s from mac_count)"
  echo
  echo "| math | batch | stage | layers | ms | GFLOP/s |"
  echo "| --- | ---: | ---: | --- | ---: | ---: |"
  sed -n 's/^typenet_cuda stage=\([0-9]*\) layers=\([^ ]*\) math=\([a-z0-9]*\) batch=\([0-9]*\) ms_median=\([0-9.]*\) gflops=\([0-9.]*\)/| \3 | \4 | \1 | \2 | \5 | \6 |/p' "$out/bench.txt"
  echo
  echo "## Whole network"
  echo
  grep '^typenet_cuda net=' "$out/bench.txt"
} > "$out/results.md"
rm -f "$out/compare.md"
exit $status
