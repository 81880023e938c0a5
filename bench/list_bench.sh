#!/usr/bin/env bash
# A large folder's cold listing, side by side: `ls -l` of N files of 1 KB in one folder (default
# 100,000) on the local disk, through a dlfs mount of the embedded platform and through a dlfs
# mount of dlfsd on 127.0.0.1 serving the same store — each cold (a fresh mount, an empty
# metadata cache, the page cache dropped) and after a remount (the metadata cache kept, the page
# cache dropped) — with the mount's memory: VmHWM (peak), RssAnon and RssFile from
# /proc/PID/status after the listing (RssFile: LMDB's mapped pages, the embedded catalogue's and
# the cache's). ROUNDS rounds (default 2), the targets alternating. Needs root (drops the page
# cache) and /dev/fuse.
#   bench/list_bench.sh [N]
# Environment: ROUNDS, DLFS_BENCH_NO_BUILD=1 (use the binaries already in build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
ROUNDS=${ROUNDS:-2}
export LC_ALL=C
[ "${DLFS_BENCH_NO_BUILD:-}" = 1 ] || scripts/build.sh >/dev/null
bin=$PWD/build/bin
. bench/lib.sh
bench_work list

bench_uploaded_files "$N" 1024
bench_dlfsd

# memory PID: "peak / anonymous / file-backed" of the process, in MB.
memory() {
  awk '/^VmHWM:/ { h = $2 } /^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 }
       END { printf "%d / %d / %d MB", h / 1024, a / 1024, f / 1024 }' "/proc/$1/status"
}
# listing TARGET PASS SOURCE OPTIONS: mounts SOURCE in the foreground (its PID known), times a
# cold `ls -l`, prints the line, unmounts.
listing() {
  local mnt=$work/mnt pid t
  mkdir -p "$mnt"
  drop
  "$bin/mount.dlfs" "$3" "$mnt" -f -o "$4" >>"$work/mount.log" 2>&1 &
  pid=$!
  bench_pids+=("$pid") bench_mounts+=("$mnt")
  bench_wait_mounted "$mnt" "$pid" 60 || { echo "$1 did not mount: $(tail -n 3 "$work/mount.log")" >&2; return 1; }
  t=$(secs ls -l "$mnt/files")
  printf "%-9s %-8s %6.2f s   peak / anonymous / file-backed: %s\n" "$1" "$2" "$t" "$(memory "$pid")"
  bench_unmount "$mnt" "$pid"
}

echo "ls -l of $N entries (each line one run):"
for round in $(seq "$ROUNDS"); do
  drop
  printf "%-9s %-8s %6.2f s\n" local cold "$(secs ls -l "$work/local/files")"
  for target in embedded dlfsd; do
    rm -rf "$work/cache"
    if [ $target = embedded ]; then
      src=bench opts="store=$DLFS_STORE,cache=$work/cache"
    else
      src=$dlfsd_url/datasets/bench opts="token_file=$dlfsd_token_file,cache=$work/cache"
    fi
    listing $target cold "$src" "$opts"
    listing $target remount "$src" "$opts"
  done
done
