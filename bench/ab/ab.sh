#!/bin/bash
# bench/ab/ab.sh: A/B timing of two versions of typenet's headers on one zoo network, in one process.
#
#   bench/ab/ab.sh [--net NET] [--batch N] [--threads N] [--rounds N] [--workdir DIR] A B
#
# A and B: a git revision of this repository (e.g. HEAD, main~1) or "worktree" (the headers as they are in the
# working tree). Each version's headers are built with bench/ab/model.cpp into a shared library (hidden
# symbols, so both live in one process); bench/ab/driver.cpp alternates their forward passes (program::time_ops,
# one pass per side per round) and prints, per fused op, the median of the paired differences B - A. The
# comparison runs twice, A loaded first and then B first, since the side loaded second was measured up to
# 4 % slower on its own (an A/A run). Defaults: resnet50, batch 32, 2 threads, 20 rounds. Needs g++ with
# C++20 and the headers' dependencies (tools/setup.sh installs them); builds with -O3 -march=native.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
net=resnet50 batch=32 threads=2 rounds=20 work=${TMPDIR:-/tmp}/typenet-ab-$(id -u)
die() { echo "ab.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --net) net=${2:?--net needs a value}; shift 2 ;;
    --batch) batch=${2:?--batch needs a value}; shift 2 ;;
    --threads) threads=${2:?--threads needs a value}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
    --workdir) work=${2:?--workdir needs a value}; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || die "give two versions, A and B (git revisions or 'worktree'); --help for usage"
[[ "$net" =~ ^[a-z0-9_]+$ ]] || die "--net: '$net' is not a zoo network name"
mkdir -p "$work"
cxx=${CXX:-g++}
"$cxx" -O2 -std=c++20 "$root/bench/ab/driver.cpp" -o "$work/driver" -ldl
pids=()
for side in a b; do
  if [ "$side" = a ]; then version=$1; else version=$2; fi
  rm -rf "$work/$side" && mkdir -p "$work/$side"
  if [ "$version" = worktree ]; then
    cp -r "$root/include" "$work/$side/include"
  else
    git -C "$root" rev-parse --verify --quiet "$version^{commit}" > /dev/null || die "'$version' is not a git revision"
    git -C "$root" archive "$version" include | tar -x -C "$work/$side"
  fi
  echo "ab.sh: building $net against $version's headers" >&2
  "$cxx" -std=gnu++20 -O3 -march=native -DNDEBUG -DTYPENET_AB_NET="$net" -fPIC -shared -fvisibility=hidden \
    -fvisibility-inlines-hidden -I"$work/$side/include" "$root/bench/ab/model.cpp" -o "$work/$side/model.so" -lpthread &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || die "a build failed (see above)"; done
echo "== $1 loaded first (A = $1, B = $2)"
"$work/driver" "$batch" "$threads" "$rounds" "$work/a/model.so" "$work/b/model.so" 2> "$work/rounds_ab.log"
echo "== $2 loaded first (A = $2, B = $1)"
"$work/driver" "$batch" "$threads" "$rounds" "$work/b/model.so" "$work/a/model.so" 2> "$work/rounds_ba.log"
