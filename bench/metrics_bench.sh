#!/usr/bin/env bash
# The two daemons' Prometheus metrics while a workload runs (issue 18: "curl /metrics shows the
# counters moving"): dlfsd on 127.0.0.1 and a mount of one of its datasets with -o metrics, then
#   1. `cp -r` of N files of SIZE bytes into the mount, and `dlfs sync` (every file on dlfsd);
#   2. a fresh mount reading them all back (cat, 4 at a time).
# A scraper curls both /metrics every second all along and prints, per second, a few counters
# summed over their labels: dlfsd's requests and bytes in/out, the mount's FUSE requests, bytes
# written/read, remote calls and uploads landed. The figures are the exposition's own numbers.
#   bench/metrics_bench.sh [N] [SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
SIZE=${2:-102400}
scripts/build.sh >/dev/null
bin=$PWD/build/bin
. bench/lib.sh
bench_work metrics

echo "making $N x $SIZE bytes..."
bench_make_files "$work/src/files" "$N" "$SIZE"
bench_dlfsd
"$bin/dlfs" --server "$dlfsd_url" --token-file "$dlfsd_token_file" dataset create bench >/dev/null
server_metrics=${dlfsd_url%/api/v1}/metrics
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
echo "http://127.0.0.1:$(free_port)/metrics" >"$work/mount_metrics"

mount_it() {  # mount_it DIR CACHE: a mount whose metrics the scraper reads from now on
  local port
  port=$(free_port)
  bench_mount "$dlfsd_url/datasets/bench" "$1" "token_file=$dlfsd_token_file,cache=$2,metrics=127.0.0.1:$port"
  echo "http://127.0.0.1:$port/metrics" >"$work/mount_metrics"
}

# sum TEXT NAME: the sum of NAME's samples over every label set (0 when none).
sum() { awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%.0f", s }' <<<"$1"; }
scrape() {
  local t=0 srv mnt
  printf '%4s %-6s | %9s %10s %10s | %9s %10s %10s %8s %8s\n' s phase "requests" "MB in" "MB out" \
    "FUSE ops" "MB written" "MB read" "remote" "landed"
  while [ -e "$work/scraping" ]; do
    srv=$(curl -s --max-time 2 "$server_metrics" || true)
    mnt=$(curl -s --max-time 2 "$(cat "$work/mount_metrics")" || true)
    printf '%4d %-6s | %9s %10.1f %10.1f | %9s %10.1f %10.1f %8s %8s\n' "$t" "$(cat "$work/phase")" \
      "$(sum "$srv" dlfsd_http_requests_total)" \
      "$(echo "$(sum "$srv" dlfsd_http_request_bytes_total) / 1000000" | bc -l)" \
      "$(echo "$(sum "$srv" dlfsd_http_response_bytes_total) / 1000000" | bc -l)" \
      "$(sum "$mnt" dlfs_fuse_requests_total)" \
      "$(echo "$(sum "$mnt" dlfs_fuse_write_bytes_total) / 1000000" | bc -l)" \
      "$(echo "$(sum "$mnt" dlfs_fuse_read_bytes_total) / 1000000" | bc -l)" \
      "$(sum "$mnt" dlfs_remote_calls_total)" "$(sum "$mnt" dlfs_uploads_landed_total)"
    sleep 1
    t=$((t + 1))
  done
}

echo idle >"$work/phase"
mount_it "$work/mnt" "$work/cache1"
touch "$work/scraping"
scrape &
scraper=$!
bench_pids+=("$scraper")
sleep 2
echo write >"$work/phase"
cp -r "$work/src/files" "$work/mnt/files"
"$bin/dlfs" sync "$work/mnt" >/dev/null
sleep 1
echo remount >"$work/phase"
bench_unmount "$work/mnt"
mount_it "$work/mnt2" "$work/cache2"  # (a fresh cache: every byte comes from dlfsd)
echo read >"$work/phase"
find "$work/mnt2/files" -type f -print0 | xargs -0 -P 4 -n 50 cat >/dev/null
sleep 2
rm -f "$work/scraping"
wait "$scraper" || true
cmp "$work/src/files/f000000.bin" "$work/mnt2/files/f000000.bin" && echo "read back: f000000.bin matches"
