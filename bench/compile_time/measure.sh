#!/usr/bin/env bash
# bench/compile_time/measure.sh: the compile-time budget of typenet's compile-time model.
#
# Compiles seed_alexnet_queries.cpp (the seed AlexNet and every compile-time query) with g++ and clang++
# at -O2 -std=c++20 and reports, per compiler, the median wall time and the median peak memory (maximum
# resident set size, from GNU time: the Debian package `time`, `apt-get install time`) over RUNS runs,
# plus a baseline: an empty TU including the same headers, so the cost of the network itself shows.
# Budgets: under 3 s and 500 MB with g++ -O2 (seed AlexNet and every query); resnet50_simd.cpp (ResNet-50
# run with exec::simd) under 6 s and 800 MB. Exit status 1 when g++ exceeds either.
#
#   bench/compile_time/measure.sh [RUNS]        (default 5; environment: CXX_LIST="g++ clang++")
#
# What a user's translation unit costs for three networks at three levels of use: table.sh, next to this file.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-5}"
compilers="${CXX_LIST:-g++ clang++}"
gnu_time=/usr/bin/time
[[ -x $gnu_time ]] || { echo "measure.sh: needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '#include <typenet/typenet.hpp>\nint main() { return 0; }\n' > "$work/baseline.cpp"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure CXX SOURCE -> "wall_seconds cpu_seconds megabytes" (medians; cpu = user + system)
measure() {
  local cxx="$1" src="$2" i
  : > "$work/t" ; : > "$work/c" ; : > "$work/m"
  for ((i = 0; i < runs; ++i)); do
    "$gnu_time" -f '%e %U %S %M' -o "$work/one" "$cxx" -std=c++20 -O2 -I"$root/include" -c "$src" -o "$work/out.o"
    read -r secs user sys kb < "$work/one"
    echo "$secs" >> "$work/t"
    awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }' >> "$work/c"
    echo "$((kb / 1024))" >> "$work/m"
  done
  echo "$(median < "$work/t") $(median < "$work/c") $(median < "$work/m")"
}

status=0
# Wall time is what the budget names; on a loaded machine CPU time (user + sys) is the steadier figure.
printf '%-8s %-7s %7s %6s %8s | %12s %11s %13s\n' compiler version wall_s cpu_s peak_MB base_wall_s base_cpu_s base_peak_MB
for cxx in $compilers; do
  command -v "$cxx" > /dev/null || { echo "measure.sh: $cxx not found, skipped" >&2; continue; }
  version="$("$cxx" -dumpversion)"
  read -r t c m <<< "$(measure "$cxx" "$here/seed_alexnet_queries.cpp")"
  read -r bt bc bm <<< "$(measure "$cxx" "$work/baseline.cpp")"
  printf '%-8s %-7s %7s %6s %8s | %12s %11s %13s\n' "$cxx" "$version" "$t" "$c" "$m" "$bt" "$bc" "$bm"
  if [[ $cxx == g++ ]] && { awk -v t="$t" 'BEGIN { exit !(t >= 3.0) }' || (( m >= 500 )); }; then
    echo "measure.sh: g++ exceeds the budget (3 s, 500 MB)" >&2
    status=1
  fi
  # Graph networks (issue 11): ResNet-50 declared and run with exec::simd, under 6 s and 800 MB with g++.
  read -r t c m <<< "$(measure "$cxx" "$here/resnet50_simd.cpp")"
  printf '%-8s %-7s %7s %6s %8s | resnet50_simd.cpp\n' "$cxx" "$version" "$t" "$c" "$m"
  if [[ $cxx == g++ ]] && { awk -v t="$t" 'BEGIN { exit !(t >= 6.0) }' || (( m >= 800 )); }; then
    echo "measure.sh: g++ exceeds the ResNet-50 budget (6 s, 800 MB)" >&2
    status=1
  fi
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), cores: $(nproc), runs: $runs"
exit $status
