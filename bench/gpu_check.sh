#!/usr/bin/env bash
# bench/gpu_check.sh — the one GPU check: build the CUDA targets, run the `gpu` tests, run the GPU
# benchmark. Meant for one call of the device tool (H200: well under 8 minutes). Usage:
#   bash bench/gpu_check.sh            # build dir build-gpu, all cores
#   BUILD=dir JOBS=n CUDA_ARCH=90 bash bench/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-gpu}
JOBS=${JOBS:-$(nproc)}
CUDA_ARCH=${CUDA_ARCH:-90}
start=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - start )) s] $*"; }

nvidia-smi --query-gpu=name,memory.total,memory.used,clocks.max.memory --format=csv 2>/dev/null || echo "(no nvidia-smi)"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
stamp configure
cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DMLASCOPE_CUDA=ON -DMLASCOPE_CUDA_ARCH="$CUDA_ARCH" \
  -DMLASCOPE_GUI=OFF -DMLASCOPE_NATIVE=OFF > "$BUILD.configure.log" 2>&1 || { tail -30 "$BUILD.configure.log"; exit 1; }

# Only what the check needs: the GPU test executables (they depend on the mlascope binary) and the bench.
targets=(bench_gpu)
for f in tests/engine/test_cuda_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
stamp "build ${targets[*]} (-j$JOBS)"
timeout 330 cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}" > "$BUILD.build.log" 2>&1 ||
  { grep -E "error|Error" "$BUILD.build.log" | head -40; tail -20 "$BUILD.build.log"; exit 1; }

stamp "ctest -L gpu"
(cd "$BUILD" && timeout 150 ctest -L gpu --output-on-failure --timeout 120)
tests_rc=$?

stamp "bench_gpu"
timeout 150 "$BUILD/bench/bench_gpu"
bench_rc=$?
stamp "done (tests rc=$tests_rc, bench rc=$bench_rc)"
exit $(( tests_rc != 0 || bench_rc != 0 ))
