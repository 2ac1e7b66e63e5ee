#!/usr/bin/env bash
# bench/gpu_check.sh: the GPU check of exec::cuda, on a machine with an NVIDIA GPU.
#
#   OUT=<folder> bench/gpu_check.sh [BUILD_DIR]      (BUILD_DIR defaults to build-cuda)
#
# Needs, in BUILD_DIR/bin: typenet_cuda_errors, typenet_cuda_parity_shapes, typenet_cuda_parity_random,
# typenet_cuda_parity_zoo, typenet_cuda_parity_graph, typenet_cuda_nonfinite, typenet_cuda_train_parity, cuda_bench, cuda_graph_bench
# (prebuilt; they link the CUDA runtime statically), and python3 with PyTorch + cuDNN + torchvision for the
# comparisons (tools/gpu_pack.sh builds, strips and packs the binaries on a machine without a GPU). Runs, in
# this order: the AlexNet-level gpu tests (errors, parity_shapes, parity_random, parity_zoo; binaries
# directly, not ctest: the build folder's paths need not exist on that machine; every math, Winograd and
# direct convolutions), cuda_bench --quick (seed AlexNet: every
# fused stage at batch 64 and 256, the whole network at 1, 64, 256; both convolution algorithms, five
# maths; before timing it checks batch 2 against exec::reference and batches 131 and 256 against chunked
# runs and the reference, and writes typenet's weights, 256 images and its outputs to $OUT/dump) and the
# PyTorch + cuDNN comparison (whole network and per stage, fp32, tf32, fp16 and bf16; typenet's dumped outputs against PyTorch on the
# same weights; cuDNN fp32 re-timed in other configurations, each in a fresh process, to find the fastest
# one for the conv2 stage and the whole network; a CUDA-graph-captured PyTorch at batch 1), and, before that
# comparison, the graph networks' one (bench/torch_cuda_graph_compare.py: cuda_graph_bench on resnet50,
# mobilenet_v2 and squeezenet1_1 at batch 1, 64, 256, CUDA graphs on and off, against PyTorch + cuDNN fp32
# and tf32 on the same weights, outputs checked first), and then, with what is left of the budget, the
# other gpu tests (parity_graph, nonfinite, train_parity); and writes under $OUT:
#   results.md   the summary: device, tests, parity lines, cuda_bench's checks, the comparison tables, the
#                typenet per-stage and whole-network tables (Winograd and direct side by side), step times
#   device.txt   nvidia-smi: name, driver, memory, clocks; `nvidia-smi -q -d CLOCK` before and after the
#                benchmarks
#   tests.log    the test binaries' output     bench.txt    cuda_bench's output
#   compare.log  torch_cuda_compare.py's output     graph_compare.log  torch_cuda_graph_compare.py's
# Every step runs under a timeout (30 + 70 + 50 + 100 s for the first tests, 180 + 60 + 120 s for the others, 120 s cuda_bench, 200 s
# the graph networks' comparison (PyTorch timing stops after 160 s of it), 260 s the AlexNet comparison, of
# which at most 45 s per cuDNN configuration and no new one after 170 s of them) and the whole script under
# a budget (GPU_CHECK_BUDGET seconds, default 600): a step gets at most what is left of it. PYTHON picks the interpreter (default python3); COMPARE_ARGS adds arguments to
# torch_cuda_compare.py (a dry run without a GPU: COMPARE_ARGS="--device cpu --batches 1,2
# --stage-batches 2 --iters 2 --probe-batches 2"), GRAPH_COMPARE_ARGS to torch_cuda_graph_compare.py (dry
# run: GRAPH_COMPARE_ARGS="--device cpu --nets squeezenet1_1 --batches 1,2 --iters 2"). Exit status: 0 when every test passed, both benchmarks
# ran and every output check (cuda_bench's, typenet against PyTorch) passed.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-cuda}
out=${OUT:-/tmp/typenet-gpu-check}
mkdir -p "$out"
bin=$build/bin
python=${PYTHON:-python3}
budget=${GPU_CHECK_BUDGET:-600}
status=0
declare -A took

# Seconds a step may run: its own cap, but never past the script's budget (at least 5).
cap() {
  local left=$((budget - SECONDS))
  local t=$1
  ((left < t)) && t=$left
  ((t < 5)) && t=5
  echo "$t"
}

# run_step NAME CAP LOGFILE COMMAND...: runs COMMAND with stdout and stderr appended to LOGFILE, under
# timeout; records the wall time in took[NAME]; returns COMMAND's status (124/137 on timeout).
run_step() {
  local name=$1 limit
  limit=$(cap "$2")
  local log=$3
  shift 3
  local start=$SECONDS
  timeout -k 5 "$limit" "$@" >> "$log" 2>&1
  local rc=$?
  took[$name]="$((SECONDS - start)) s (limit $limit s)"
  ((rc == 124 || rc == 137)) && echo "=== $name: timed out after $limit s" >> "$log"
  return $rc
}

clocks() {
  echo "--- nvidia-smi -q -d CLOCK ($1)"
  timeout 20 nvidia-smi -q -d CLOCK 2>&1
}

{
  timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1
  date -u
  echo "build folder: $build"
  clocks "before the tests"
} > "$out/device.txt"

: > "$out/tests.log"
tests="typenet_cuda_errors typenet_cuda_parity_shapes typenet_cuda_parity_random typenet_cuda_parity_zoo typenet_cuda_parity_graph typenet_cuda_nonfinite typenet_cuda_train_parity"
# The tests that gate the benchmarks run first (the seed AlexNet's kernels in every math); the graph
# networks', the non-finite and the training tests run after the three benchmarks, with what is left of the
# budget, so that a device loan too short for everything still yields the comparisons (which check their
# own outputs first: cuda_bench against exec::reference, the graph networks against PyTorch).
tests_first="typenet_cuda_errors typenet_cuda_parity_shapes typenet_cuda_parity_random typenet_cuda_parity_zoo"
tests_after="typenet_cuda_parity_graph typenet_cuda_nonfinite typenet_cuda_train_parity"
declare -A result
declare -A limit_of=([typenet_cuda_errors]=30 [typenet_cuda_parity_shapes]=70 [typenet_cuda_parity_random]=50 [typenet_cuda_parity_zoo]=100 [typenet_cuda_parity_graph]=180 [typenet_cuda_nonfinite]=60 [typenet_cuda_train_parity]=120)
run_tests() {
  local t rc
  for t in "$@"; do
    echo "=== $t" >> "$out/tests.log"
    if [[ ! -x $bin/$t ]]; then
      result[$t]="MISSING ($bin/$t)"
      status=1
      echo "=== $t: missing" >> "$out/tests.log"
      continue
    fi
    run_step "$t" "${limit_of[$t]}" "$out/tests.log" "$bin/$t"
    rc=$?
    case $rc in
      0) result[$t]="passed" ;;
      77) result[$t]="SKIPPED"; status=1 ;;
      124 | 137) result[$t]="TIMED OUT"; status=1 ;;
      *) result[$t]="FAILED (exit $rc)"; status=1 ;;
    esac
    result[$t]="${result[$t]} in ${took[$t]}"
    echo "=== $t: ${result[$t]}" >> "$out/tests.log"
  done
}
# shellcheck disable=SC2086  # word lists
run_tests $tests_first

: > "$out/bench.txt"
bench_result="ran"
run_step cuda_bench 120 "$out/bench.txt" "$bin/cuda_bench" --quick --iters 20 --dump "$out/dump" --dump-batch 256
rc=$?
((rc != 0)) && { status=1; bench_result="FAILED (exit $rc)"; }

clocks "after cuda_bench" >> "$out/device.txt"

: > "$out/graph_compare.log"
graph_result="ran"
# shellcheck disable=SC2086  # GRAPH_COMPARE_ARGS: extra words (a dry run)
run_step graph_compare 200 "$out/graph_compare.log" env PYTHONUNBUFFERED=1 "$python" \
  "$here/bench/torch_cuda_graph_compare.py" --bench "$bin/cuda_graph_bench" --nets resnet50,mobilenet_v2,squeezenet1_1 \
  --batches 1,64,256 --iters 20 --time-budget 160 --data "$out/graph_data" --markdown "$out/graph_compare.md" \
  ${GRAPH_COMPARE_ARGS:-}
rc=$?
((rc != 0)) && { status=1; graph_result="FAILED (exit $rc)"; }
rm -rf "$out/graph_data"  # weights and 256 images per network: hundreds of MB

: > "$out/compare.log"
compare_result="ran"
# shellcheck disable=SC2086  # COMPARE_ARGS: extra words, e.g. for a dry run without a GPU
dump_args=()
[[ -f $out/dump/meta.json ]] && dump_args=(--typenet-dump "$out/dump")
run_step compare 260 "$out/compare.log" env PYTHONUNBUFFERED=1 "$python" "$here/bench/torch_cuda_compare.py" \
  --typenet "$out/bench.txt" --batches 1,64,256 --stage-batches 64,256 --markdown "$out/compare.md" \
  --probe-batches 64,256 --probe-timeout 45 --probe-budget 170 --graph-batches 1,64 "${dump_args[@]}" ${COMPARE_ARGS:-}
rc=$?
((rc != 0)) && { status=1; compare_result="FAILED (exit $rc)"; }

# shellcheck disable=SC2086  # word lists
run_tests $tests_after

# typenet's own tables from bench.txt: Winograd and direct side by side.
pivot_stages() {
  awk '
    /^typenet_cuda stage=/ {
      for (i = 2; i <= NF; ++i) { split($i, kv, "="); f[kv[1]] = kv[2] }
      k = f["math"] SUBSEP f["batch"] SUBSEP f["stage"]
      if (!(k in seen)) { seen[k] = 1; order[++n] = k; layers[k] = f["layers"] }
      ms[k, f["conv"]] = f["ms_median"]; gf[k, f["conv"]] = f["gflops"]
    }
    function c(x) { return x == "" ? "n/a" : x }
    END {
      print "| math | batch | stage | layers | winograd ms | GFLOP/s | direct ms | GFLOP/s | direct / winograd |"
      print "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
      for (j = 1; j <= n; ++j) {
        k = order[j]; split(k, p, SUBSEP)
        w = ms[k, "winograd"]; d = ms[k, "direct"]
        r = (w != "" && d != "" && w > 0) ? sprintf("%.2f", d / w) : "n/a"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p[1], p[2], p[3], layers[k], c(w),
               c(gf[k, "winograd"]), c(d), c(gf[k, "direct"]), r
      }
    }' "$out/bench.txt"
}
pivot_net() {
  awk '
    /^typenet_cuda net=/ {
      for (i = 2; i <= NF; ++i) { split($i, kv, "="); f[kv[1]] = kv[2] }
      k = f["math"] SUBSEP f["batch"]
      if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      ms[k, f["conv"]] = f["ms_median"]; ips[k, f["conv"]] = f["images_per_s"]; gf[k, f["conv"]] = f["gflops"]
    }
    function c(x) { return x == "" ? "n/a" : x }
    END {
      print "| math | batch | winograd ms | images/s | GFLOP/s | direct ms | images/s | GFLOP/s | direct / winograd |"
      print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
      for (j = 1; j <= n; ++j) {
        k = order[j]; split(k, p, SUBSEP)
        w = ms[k, "winograd"]; d = ms[k, "direct"]
        r = (w != "" && d != "" && w > 0) ? sprintf("%.2f", d / w) : "n/a"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p[1], p[2], c(w), c(ips[k, "winograd"]),
               c(gf[k, "winograd"]), c(d), c(ips[k, "direct"]), c(gf[k, "direct"]), r
      }
    }' "$out/bench.txt"
}

{
  echo "# exec::cuda GPU check"
  echo
  echo '```'
  sed -n '1,/^--- nvidia-smi -q/p' "$out/device.txt" | grep -v '^--- nvidia-smi -q'
  echo '```'
  echo "(clocks before and after the benchmarks: device.txt)"
  echo
  echo "## Tests"
  echo
  echo "| test | result |"
  echo "| --- | --- |"
  for t in $tests; do echo "| $t | ${result[$t]} |"; done
  echo
  echo "Parity lines (max |diff| against exec::reference; every math, conv=winograd and conv=direct):"
  echo '```'
  grep '^parity' "$out/tests.log"
  echo '```'
  echo
  echo "## cuda_bench: $bench_result in ${took[cuda_bench]:-}"
  echo
  echo '```'
  grep -E '^(device|tuning|options|check|check_large|dump:) ' "$out/bench.txt"
  grep -E '^cuda_bench:' "$out/bench.txt"
  echo '```'
  echo
  echo "## seed AlexNet: typenet exec::cuda against PyTorch + cuDNN (channels_last, cudnn.benchmark): $compare_result in ${took[compare]:-}"
  echo
  head -1 "$out/compare.log"
  echo
  echo '```'
  grep -E '^(torch_check|cudnn_graph|cudnn_probe .* kernel|cudnn_probe .*(FAILED|TIMED|SKIPPED))' "$out/compare.log"
  echo '```'
  echo
  cat "$out/compare.md" 2>/dev/null || { echo "(comparison failed: the end of compare.log)"; echo '```'; tail -20 "$out/compare.log"; echo '```'; }
  echo
  echo "## Graph networks: typenet exec::cuda against PyTorch + cuDNN: $graph_result in ${took[graph_compare]:-}"
  echo
  echo '```'
  grep -E '^(torch_check|torch_reference|typenet_error|torch_skipped|program) ' "$out/graph_compare.log"
  echo '```'
  echo
  cat "$out/graph_compare.md" 2>/dev/null || { echo "(comparison failed: the end of graph_compare.log)"; echo '```'; tail -20 "$out/graph_compare.log"; echo '```'; }
  echo
  echo "## typenet per fused stage (median ms, GFLOP/s from mac_count)"
  echo
  pivot_stages
  echo
  echo "## typenet whole network (median ms per batch, device in, device out)"
  echo
  pivot_net
  echo
  echo "## Step times (in run order)"
  echo
  for s in $tests_first cuda_bench graph_compare compare $tests_after; do echo "- $s: ${took[$s]:-not run}"; done
  echo "- whole script: $SECONDS s (budget $budget s)"
} > "$out/results.md"
rm -f "$out/compare.md" "$out/graph_compare.md"
exit $status
