#!/usr/bin/env bash
# Configures and builds mlascope in Release into ./build (CUDA when nvcc is found, sm_90 only).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "$JOBS"
