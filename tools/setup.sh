#!/usr/bin/env bash
# Installs typenet's build and test dependencies from Debian 12's archive, configures and builds build/,
# and (unless --no-demo) runs the demo: typenet-zoo on the seed AlexNet.
#   bash tools/setup.sh [--no-demo] [--build-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

demo=1
build=build
while [ $# -gt 0 ]; do
  case "$1" in
    --no-demo) demo=0 ;;
    --build-dir) build="$2"; shift ;;
    *) echo "setup.sh: unknown argument '$1'" >&2; exit 1 ;;
  esac
  shift
done

packages=(
  build-essential cmake ninja-build g++ clang-14 libclang-rt-14-dev time
  libboost-dev libxsimd-dev doctest-dev libbenchmark-dev nlohmann-json3-dev libdnnl-dev libjpeg-dev libpng-dev zlib1g-dev
  python3 python3-numpy python3-torch python3-torchvision python3-matplotlib python3-pil python3-sklearn
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

jobs=$(nproc)
# TYPENET_CMAKE_ARGS: extra configure arguments (CI uses it to compile CUDA device code to PTX only).
# shellcheck disable=SC2086
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${TYPENET_CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"

if [ "$demo" -eq 1 ]; then
  "$build/bin/typenet-zoo" demo seed_alexnet --policy simd --threads "$jobs"
fi
