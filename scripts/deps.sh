#!/usr/bin/env bash
# Installs the Debian bookworm packages mlascope builds and tests with (idempotent).
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config
      libsqlitecpp-dev libsqlite3-dev sqlite3 libspdlog-dev nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev
      libpcre2-dev libicu-dev libedit-dev libcpp-httplib-dev
      libimgui-dev libstb-dev libglfw3-dev libgl-dev libgl1-mesa-dri xvfb xauth fonts-noto-cjk fonts-dejavu-core
      tmux)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "mlascope: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
