#!/usr/bin/env bash
# Builds release binaries, starts dlfsd on a temp store and a free port, and measures item GETs
# and 100 KB streams with N clients (default 16) for S seconds (default 5).
# Usage: bench/dlfsd_bench.sh [CLIENTS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${DLFS_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLFS_SANITIZE=OFF -DDLFS_BENCH=ON >/dev/null
cmake --build "$build" --target dlfsd dlfsd_bench -j"${DLFS_JOBS:-$(nproc)}" >/dev/null
store=$(mktemp -d)
out=$(mktemp)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$store" "$out"' EXIT
"$build"/bin/dlfsd --store "$store" --listen 127.0.0.1:0 --log-level warn >"$out" &
pid=$!
for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.1; done
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$out")
token=$("$build"/bin/dlfsd token --store "$store" --email bench@local)
"$build"/bin/dlfsd_bench "127.0.0.1:$port" "$token" "${1:-16}" "${2:-5}"
