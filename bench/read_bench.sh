#!/usr/bin/env bash
# The mount's read path against the local disk, side by side in one run: N files of SIZE bytes
# in one folder (default 10,000 x 100 KB), `ls -l` cold and warm, stat of all, and reading all
# with 8 parallel readers cold and warm — through a mount of the embedded platform and through a
# mount of dlfsd on 127.0.0.1 serving the same store. Prints a table of times and ratios
# (mount / local). Needs root (drops the kernel's page cache for the cold runs) and /dev/fuse.
#   bench/read_bench.sh [N] [SIZE] [MOUNT OPTIONS]      e.g. bench/read_bench.sh 10000 102400 ro
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
SIZE=${2:-102400}
OPTS=${3:-}
scripts/build.sh >/dev/null
cmake -S . -B build -DDLFS_BENCH=ON >/dev/null && cmake --build build --target read_files >/dev/null
bin=$PWD/build/bin
reader=$bin/read_files
. bench/lib.sh
bench_work bench
mnt=$work/mnt

echo "making $N files of $SIZE bytes..."
mkdir -p "$work/local/files" "$mnt"
bench_make_files "$work/local/files" "$N" "$SIZE"
$bin/dlfs dataset create bench >/dev/null
t0=$(date +%s.%N)
$bin/dlfs upload --dataset bench --jobs 8 --no-wait "$work/local/files" >/dev/null
t1=$(date +%s.%N)
echo "uploaded in $(echo "$t1 - $t0" | bc) s"

rate() { "$reader" "$1" 8 ${2:-} | awk '{printf "%.0f", $1/$3}'; }

declare -A L E H
# Local disk.
drop; L[ls_cold]=$(secs ls -l "$work/local/files")
L[ls_warm]=$(secs ls -l "$work/local/files")
L[stat]=$(secs "$reader" "$work/local/files" 8 stat)
drop; L[read_cold]=$(rate "$work/local/files")
L[read_warm]=$(rate "$work/local/files")

# measure RESULTS SOURCE PLATFORM_OPTIONS: the same runs through a mount of SOURCE. Cold = a
# fresh mount with an empty cache and the page cache dropped.
measure() {
  local -n R=$1
  local o="$3,cache=$work/cache${OPTS:+,$OPTS}"
  unmount() { fusermount3 -u "$mnt"; sleep 0.5; }
  rm -rf "$work/cache"; drop; bench_mount "$2" "$mnt" "$o"
  R[ls_cold]=$(secs ls -l "$mnt/files")
  R[ls_warm]=$(secs ls -l "$mnt/files")
  R[stat]=$(secs "$reader" "$mnt/files" 8 stat)
  unmount; rm -rf "$work/cache"; drop; bench_mount "$2" "$mnt" "$o"
  R[read_cold]=$(rate "$mnt/files")
  R[read_warm]=$(rate "$mnt/files")
  unmount; drop; bench_mount "$2" "$mnt" "$o"
  R[ls_remount]=$(secs ls -l "$mnt/files")
  unmount
}
measure E bench "store=$DLFS_STORE"
bench_dlfsd
measure H "$dlfsd_url/datasets/bench" "token_file=$dlfsd_token_file"

printf "\n%d files of %d bytes in one folder; mount options: %s\n" "$N" "$SIZE" "${OPTS:-defaults}"
printf "%-34s %11s %11s %11s %7s %7s\n" "" "local disk" "embedded" "dlfsd" "ratio" "ratio"
for k in ls_cold ls_warm stat; do
  printf "%-34s %10.3fs %10.3fs %10.3fs %6.2fx %6.2fx\n" "$k (time, lower is better)" "${L[$k]}" "${E[$k]}" \
    "${H[$k]}" "$(echo "${E[$k]} / ${L[$k]}" | bc -l)" "$(echo "${H[$k]} / ${L[$k]}" | bc -l)"
done
printf "%-34s %11s %10.3fs %10.3fs\n" "ls_warm_cache_after_remount" "" "${E[ls_remount]}" "${H[ls_remount]}"
for k in read_cold read_warm; do
  printf "%-34s %9s/s %9s/s %9s/s %6.2fx %6.2fx\n" "$k (files/s, 8 readers)" "${L[$k]}" "${E[$k]}" "${H[$k]}" \
    "$(echo "${E[$k]} / ${L[$k]}" | bc -l)" "$(echo "${H[$k]} / ${L[$k]}" | bc -l)"
done
echo "(ratio: embedded / local and dlfsd / local; times: lower is better, files/s: higher is better)"
