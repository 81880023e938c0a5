#!/usr/bin/env bash
# Installs what is needed and builds the three programs (dlfs, dlfsd, mount.dlfs) and the
# gzipped man pages into build/, in Release, without the tests (scripts/test.sh builds those in
# build-test/). A unity build: the code is dominated by the instantiation of the same templates
# (nlohmann::json, fmt, std) in every file; compiling a folder's files together does that once
# per batch and halves the build's CPU time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh "$@"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDLFS_TESTS=OFF -DDLFS_BENCH=OFF -DDLFS_FUZZ=OFF \
  -DCMAKE_UNITY_BUILD=ON >/dev/null
cmake --build build --parallel "$(nproc)"
