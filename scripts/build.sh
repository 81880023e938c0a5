#!/usr/bin/env bash
# Installs what is needed and builds the release binaries into build/bin/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLFS_SANITIZE=OFF >/dev/null
cmake --build build
