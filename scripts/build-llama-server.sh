#!/usr/bin/env bash
# Builds llama.cpp's own server from the source node-llama-cpp ships in its package (the git
# bundle of the llama.cpp release its prebuilt binaries come from), so bench/llama-server.ts
# compares the embedded engine with the same llama.cpp version. No network.
#
#   scripts/build-llama-server.sh [dir=bench/out/llama.cpp]
#   LLAMA_CMAKE_ARGS   extra cmake arguments (e.g. -DGGML_OPENMP=OFF)
#   JOBS               parallel compile jobs (default: the number of cores)
# Prints the server's path as the last line of stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-$root/bench/out/llama.cpp}"
bundle="$root/node_modules/node-llama-cpp/llama/gitRelease.bundle"
[ -f "$bundle" ] || { echo "build-llama-server: no $bundle (run scripts/setup.sh)" >&2; exit 1; }
command -v cmake >/dev/null || { echo "build-llama-server: needs cmake and a C++ compiler (apt-get install cmake g++)" >&2; exit 1; }

if [ ! -d "$dir/.git" ]; then
  git clone --quiet "$bundle" "$dir" 2>/dev/null
fi
# -march=native can fail at run time: a VM that lists AMX in /proc/cpuinfo but doesn't enable it
# for the process ends in "Illegal instruction" at the first inference. Where AVX-512 is there, the
# same instruction sets as the prebuilt backend's AVX-512 variants are named instead, AMX left out.
cpu_flags="-DGGML_NATIVE=ON"
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  cpu_flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
  cpu_flags+=" -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON"
fi
# shellcheck disable=SC2086
cmake -S "$dir" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release $cpu_flags -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF ${LLAMA_CMAKE_ARGS:-} >&2
cmake --build "$dir/build" --target llama-server -j "${JOBS:-$(nproc 2>/dev/null || sysctl -n hw.ncpu)}" >&2
echo "$dir/build/bin/llama-server"
