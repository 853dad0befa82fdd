#!/usr/bin/env bash
# bench/gpu_fetch_debs.sh — for a GPU machine without a package registry (the device tool's):
# downloads, without installing, the .deb files of bench/gpu_check.sh's build dependencies into
# .gpu-debs (git-ignored). Run it on a Debian/Ubuntu x86-64 machine that reaches a registry, then
# bring .gpu-debs along; gpu_check.sh unpacks them into .gpu-prefix (never into /).
# Only development files and the libraries behind them: the C library, the compiler and the CUDA
# toolkit come from the GPU machine itself.
set -euo pipefail
cd "$(dirname "$0")/.."
DEBS=${DEBS:-.gpu-debs}
dev=(nlohmann-json3-dev libspdlog-dev libfmt-dev libsqlitecpp-dev libsqlite3-dev libcli11-dev libpcre2-dev
     libgtest-dev googletest libedit-dev pkg-config pkgconf pkgconf-bin)
# Runtime libraries they need, by name pattern (never libc, libstdc++ or libgcc: those must be the machine's).
runtime=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
            --no-enhances "${dev[@]}" 2>/dev/null | grep -E '^(libspdlog|libfmt|libsqlite3-0|libpcre2|libpkgconf|libedit2|libbsd0|libmd0)' |
          sort -u)
mkdir -p "$DEBS"
cd "$DEBS"
apt-get download "${dev[@]}" $runtime
ls -1 | wc -l | xargs echo "gpu_fetch_debs: packages in $DEBS:"
