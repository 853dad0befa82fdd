#!/usr/bin/env bash
# bench/gpu_check.sh — the one GPU check: build the CUDA targets, run the `gpu` tests, run the GPU
# benchmark. Sized for one call of the device tool: under 8 minutes (LIMIT, 470 s, bounds every
# step's timeout; on an H200 with 16 cores the whole check took 76 s). Usage:
#   bash bench/gpu_check.sh
#   BUILD=dir JOBS=n CUDA_ARCH=90 EXTRA_TESTS="test_sampler_top test_generator_top" bash bench/gpu_check.sh
# Build dependencies: cmake >= 3.24, a C++20 compiler, nvcc (/usr/local/cuda), pkg-config, and the
# development packages of nlohmann-json, spdlog, SQLiteCpp, sqlite3, CLI11, pcre2, libedit and googletest.
# What is missing is installed quietly with apt-get when a package registry answers; a machine that
# reaches none (the device tool's) takes them as .deb files: run `bash bench/gpu_fetch_debs.sh` on
# a Debian/Ubuntu machine that has a registry, carry the folder .gpu-debs along, and they are
# unpacked into .gpu-prefix here (nothing is installed into /).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build-gpu}
JOBS=${JOBS:-$(nproc)}
CUDA_ARCH=${CUDA_ARCH:-90}
DEBS=${DEBS:-.gpu-debs}
PREFIX=$ROOT/.gpu-prefix
EXTRA_TESTS=${EXTRA_TESTS:-}
LIMIT=${LIMIT:-470}  # seconds for the whole check; every step's timeout is cut to what is left
start=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - start )) s] $*"; }
# cap N: N, or the seconds left before LIMIT when fewer (at least 1)
cap() { local left=$(( LIMIT - ($(date +%s) - start) )); [ "$left" -lt "$1" ] && echo $(( left > 1 ? left : 1 )) || echo "$1"; }
die() { echo "gpu_check: $*" >&2; exit 2; }

nvidia-smi --query-gpu=name,memory.total,memory.used,clocks.max.memory --format=csv 2>/dev/null || echo "(no nvidia-smi)"
[ -x /usr/local/cuda/bin/nvcc ] || command -v nvcc >/dev/null || die "no CUDA compiler (/usr/local/cuda/bin/nvcc or nvcc on PATH)"

# ---- dependencies -------------------------------------------------------------------------------
use_prefix() {
  export CMAKE_PREFIX_PATH="$PREFIX/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export PKG_CONFIG_PATH="$PREFIX/usr/lib/x86_64-linux-gnu/pkgconfig:$PREFIX/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export CPATH="$PREFIX/usr/include${CPATH:+:$CPATH}"
  export LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export PATH="$PATH:$PREFIX/usr/bin"
  # bookworm's package config files name policy ranges from 2.6; CMake 4 wants 3.5 at least
  export CMAKE_POLICY_VERSION_MINIMUM=3.5
}
if compgen -G "$DEBS/*.deb" >/dev/null; then
  stamp "unpacking $(ls "$DEBS"/*.deb | wc -l) carried packages from $DEBS into .gpu-prefix"
  rm -rf "$PREFIX" && mkdir -p "$PREFIX"
  for f in "$DEBS"/*.deb; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$f" "$PREFIX" || die "cannot unpack $f"
    else  # a .deb is an ar archive holding data.tar.*
      (deb=$(realpath "$f") && d=$(mktemp -d) && cd "$d" && ar x "$deb" && tar -xf data.tar.* -C "$PREFIX" && rm -rf "$d") || die "cannot unpack $f"
    fi
  done
  # The packages' pkg-config files name /usr: point them at where they were unpacked.
  find "$PREFIX" -name '*.pc' -exec sed -i "s|^prefix=/usr\$|prefix=$PREFIX/usr|" {} +
  use_prefix
fi

mkdir -p "$BUILD"
missing=()
have_header() { for d in /usr/include /usr/local/include "$PREFIX/usr/include"; do [ -e "$d/$1" ] && return 0; done; return 1; }
check_deps() {
  missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v c++ >/dev/null || command -v g++ >/dev/null || missing+=(g++)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  have_header nlohmann/json.hpp || missing+=(nlohmann-json3-dev)
  have_header spdlog/spdlog.h || missing+=(libspdlog-dev)
  have_header SQLiteCpp/SQLiteCpp.h || missing+=(libsqlitecpp-dev)
  have_header sqlite3.h || missing+=(libsqlite3-dev)
  have_header CLI/CLI.hpp || missing+=(libcli11-dev)
  have_header pcre2.h || missing+=(libpcre2-dev)
  have_header gtest/gtest.h || missing+=(libgtest-dev)
  have_header histedit.h || missing+=(libedit-dev)
}
check_deps
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  stamp "apt-get install ${missing[*]}"
  SUDO=; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO=sudo
  { timeout "$(cap 60)" $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout "$(cap 120)" $SUDO apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } > "$BUILD/apt.log" 2>&1 || echo "(apt-get failed: see $BUILD/apt.log)"
  check_deps
fi
if [ ${#missing[@]} -gt 0 ]; then
  die "missing build dependencies: ${missing[*]}. No package registry answered; on a Debian/Ubuntu machine that \
has one, run 'bash bench/gpu_fetch_debs.sh' and bring the folder $DEBS along (device tool: carry [\"$DEBS\"])."
fi

# ---- build --------------------------------------------------------------------------------------
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
stamp configure
cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DMLASCOPE_CUDA=ON -DMLASCOPE_CUDA_ARCH="$CUDA_ARCH" \
  -DMLASCOPE_GUI=OFF -DMLASCOPE_NATIVE=OFF > "$BUILD/configure.log" 2>&1 || { tail -40 "$BUILD/configure.log"; exit 1; }

# Only what the check needs: the GPU test executables (they depend on the mlascope binary) and the bench.
targets=(bench_gpu $EXTRA_TESTS)
for f in tests/engine/test_cuda_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
stamp "build ${targets[*]} (-j$JOBS)"
timeout "$(cap 270)" cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}" > "$BUILD/build.log" 2>&1 ||
  { grep -E -B2 -A6 "error" "$BUILD/build.log" | head -80; tail -20 "$BUILD/build.log"; exit 1; }

# ---- run ----------------------------------------------------------------------------------------
stamp "ctest -L gpu"
(cd "$BUILD" && timeout "$(cap 120)" ctest -L gpu -j 8 --output-on-failure --timeout 100)
tests_rc=$?
stamp "bench_gpu"
timeout "$(cap 100)" "$BUILD/bench/bench_gpu"
bench_rc=$?
extra_rc=0
for t in $EXTRA_TESTS; do
  stamp "$t"
  (cd "$BUILD/tests" && timeout "$(cap 120)" "./$t" --gtest_brief=1) || extra_rc=1
done

stamp "done (gpu tests rc=$tests_rc, extra tests rc=$extra_rc, bench rc=$bench_rc)"
exit $(( tests_rc != 0 || extra_rc != 0 || bench_rc != 0 ))
