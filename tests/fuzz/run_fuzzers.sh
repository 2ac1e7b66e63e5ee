#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each, one after the other, for the
# given number of seconds (default 600), then prints how many inputs each executed. Before the timed run,
# each target executes the big-header seeds (make_corpus.py --big: 100k entries, megabytes each) whole.
# Every input has a time limit (-timeout): an input that takes longer is a finding (slow-unit-*/timeout-*).
#   tests/fuzz/run_fuzzers.sh [seconds]
# Environment: BUILD_DIR (default <repo>/build-fuzz), JOBS (default 2), CXX (default clang++).
# Findings (crashing inputs) are written to $BUILD_DIR/findings/<target>/; the script exits 1 if any.
set -euo pipefail

seconds="${1:-600}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${BUILD_DIR:-$repo/build-fuzz}"
jobs="${JOBS:-2}"

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="${CXX:-clang++}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DTYPENET_BUILD_FUZZERS=ON -DTYPENET_BUILD_EXAMPLES=OFF -DTYPENET_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target fuzz_npy fuzz_safetensors fuzz_image

big="$build/big_corpus"
python3 "$here/make_corpus.py" --big "$big"

status=0
summary=()
for format in npy safetensors image; do
    work="$build/fuzz_corpus/$format"
    findings="$build/findings/$format"
    mkdir -p "$work" "$findings"
    log="$build/fuzz_$format.log"
    binary="$(cat "$build/tests/fuzz/fuzz_$format.path")"
    dict=()
    if [ -f "$here/$format.dict" ]; then dict=(-dict="$here/$format.dict"); fi
    if [ -d "$big/$format" ]; then  # make_corpus.py --big writes npy and safetensors seeds
        echo "== $binary on the big-header seeds (log: $log.big)"
        set +e
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 nice -n 19 "$binary" -runs=0 -max_len=16000000 -timeout=60 \
            -rss_limit_mb=4096 -artifact_prefix="$findings/" "$big/$format" >"$log.big" 2>&1
        rc=$?
        set -e
        if [ "$rc" -ne 0 ]; then
            summary+=("fuzz_$format: big-header seeds FAILED (exit status $rc, see $log.big)")
            status=1
        fi
    fi
    echo "== $binary for ${seconds}s (log: $log)"
    set +e
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 nice -n 19 "$binary" \
        -max_total_time="$seconds" -max_len=16384 -timeout=10 -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="$findings/" "$work" "$here/corpus/$format" >"$log" 2>&1
    rc=$?
    set -e
    runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n1)"
    line="fuzz_$format: ${runs:-?} executions in ${seconds}s, exit status $rc"
    if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$findings")" ]; then
        line="$line, FINDINGS in $findings (see $log)"
        status=1
    else
        line="$line, no findings"
    fi
    echo "$line"
    summary+=("$line")
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$status"
