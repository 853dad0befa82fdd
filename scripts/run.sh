#!/usr/bin/env bash
# Sets up (packages, Release build) and opens the workbench on the bundled demo model:
# the desktop GUI when a display exists, the terminal chat otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
exec ./build/app/mlascope "$@"
