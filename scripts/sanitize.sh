#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer + UBSan (clang) in build-asan/: GUI on (its tests
# run under Xvfb as in the normal suite), no CUDA, assertions on, every report fatal
# (halt_on_error=1). Reports from system code are suppressed by name in tests/sanitizers/.
# Slow (about an hour on 2 cores): run it by hand before every stop.   bash scripts/sanitize.sh [ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
missing=()
for p in clang libclang-rt-14-dev; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
B=build-asan
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$B" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DMLASCOPE_SANITIZE=ON -DMLASCOPE_CUDA=OFF -DMLASCOPE_GUI=ON -DMLASCOPE_BENCH=OFF >/dev/null
cmake --build "$B" -j "${JOBS:-$(nproc)}"
S=$PWD/tests/sanitizers
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$S/ubsan.supp
export LSAN_OPTIONS=suppressions=$S/lsan.supp:print_suppressions=0
cd "$B"
rc=0
ctest --output-on-failure -j "${JOBS:-$(nproc)}" -LE gui "$@" || rc=1
# The GUI tests with Mesa's DRI driver preloaded, so it stays loaded until LSan reports: Mesa
# allocates from the driver under glfwCreateWindow, and once the driver is unloaded its frames read
# "<unknown module>", which no suppression can match (LSan's slow unwinder reaches libGLX_mesa
# instead, but makes the GUI tests time out).
dri=$(ls /usr/lib/*/dri/swrast_dri.so 2>/dev/null | head -1 || true)
LD_PRELOAD=${dri} ctest --output-on-failure -j "${JOBS:-$(nproc)}" -L gui "$@" || rc=1
exit $rc
