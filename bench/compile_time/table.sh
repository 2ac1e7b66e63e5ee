#!/usr/bin/env bash
# bench/compile_time/table.sh: what a user's translation unit costs (docs/compile-time.md, "What a translation
# unit costs"). Compiles the nine tu_<net>_<level>.cpp files of this folder one after the other, RUNS times
# each (default 1):
#   nets:   seed_alexnet (zoo::seed_alexnet), vgg11 (declared in vgg11.hpp), resnet50 (zoo::resnet50)
#   levels: queries (declaration, param_count, output_shape, describe), reference (+ a forward pass with
#           exec::reference_t), simd (queries + a forward pass with exec::simd<>, without exec::reference)
# with  $CXX -std=c++20 -O2 -march=native -I include -c  and prints, per compile, CPU seconds (user + system)
# and peak memory (maximum resident set size, MB) from GNU time (/usr/bin/time, Debian package `time`); then
# the same for four files that only include headers (an empty main), the floor under each row; then the
# table in Markdown (with RUNS > 1: the least CPU time and the largest peak memory of the runs).
# CPU time, not wall time: on a shared machine wall time mostly measures the other jobs.
#
#   bench/compile_time/table.sh [RUNS]   (environment: CXX, default g++; NETS, LEVELS to run a subset;
#                                         BASELINES=0 to skip the header-only files)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cxx="${CXX:-g++}"
nets="${NETS:-seed_alexnet vgg11 resnet50}"
levels="${LEVELS:-queries reference simd}"
runs="${1:-1}"
gnu_time=/usr/bin/time
[[ -x $gnu_time ]] || { echo "table.sh: needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores," \
     "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "compiler: $cxx $("$cxx" -dumpfullversion 2>/dev/null || "$cxx" -dumpversion)," \
     "-march=native is $("$cxx" -march=native -Q --help=target 2>/dev/null | awk '$1 == "-march=" { print $2; exit }')"
echo "command:  $cxx -std=c++20 -O2 -march=native -I include -c bench/compile_time/tu_<net>_<level>.cpp"
echo "runs:     $runs per file"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# measure SOURCE NAME: compiles RUNS times, prints a row per run, leaves "least_CPU_s largest_peak_MB" in $work/last
measure() {
  local i user sys kb
  : > "$work/runs"
  for ((i = 0; i < runs; ++i)); do
    "$gnu_time" -f '%U %S %M' -o "$work/one" \
      "$cxx" -std=c++20 -O2 -march=native -I"$root/include" -c "$1" -o "$work/out.o"
    read -r user sys kb < "$work/one"
    awk -v u="$user" -v s="$sys" -v k="$kb" 'BEGIN { printf "%.1f %d\n", u + s, k / 1024 }' | tee -a "$work/runs" |
      { read -r c m; printf '%-40s %7s %8s %s\n' "$2" "$c" "$m" "$(cut -d' ' -f1 /proc/loadavg)"; }
  done
  awk 'NR == 1 || $1 < c { c = $1 } $2 > m { m = $2 } END { print c, m }' "$work/runs" > "$work/last"
}

declare -A cell
printf '%-40s %7s %8s %s\n' file cpu_s peak_MB load
for net in $nets; do
  for level in $levels; do
    measure "$here/tu_${net}_${level}.cpp" "tu_${net}_${level}.cpp"
    read -r cpu mb < "$work/last"
    cell[$net,$level]="$cpu s / $mb MB"
  done
done
if [[ ${BASELINES:-1} != 0 ]]; then
  for h in typenet/typenet.hpp typenet/exec/simd.hpp typenet/zoo/alexnet.hpp typenet/zoo/resnet.hpp typenet/zoo/networks.hpp; do
    printf '#include <%s>\nint main() { return 0; }\n' "$h" > "$work/include_only.cpp"
    measure "$work/include_only.cpp" "#include <$h> only"
  done
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
printf '| network |'; for level in $levels; do printf ' %s |' "$level"; done; echo
printf '|---|'; for level in $levels; do printf -- '---|'; done; echo
for net in $nets; do
  printf '| %s |' "$net"; for level in $levels; do printf ' %s |' "${cell[$net,$level]}"; done; echo
done
