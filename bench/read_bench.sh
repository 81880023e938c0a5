#!/usr/bin/env bash
# The mount's read path against the local disk, side by side in one run: N files of SIZE bytes
# in one folder (default 10,000 x 100 KB), `ls -l` cold and warm, stat of all, and reading all
# with 8 parallel readers cold and warm. Prints a table of times and ratios (mount / local).
# Needs root (drops the kernel's page cache for the cold runs) and /dev/fuse.
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
work=$(mktemp -d /var/tmp/dlfs-bench.XXXXXX)
mnt=$work/mnt
cleanup() {
  mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u -z "$mnt"
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export DLFS_STORE=$work/store

echo "making $N files of $SIZE bytes..."
mkdir -p "$work/local/files" "$mnt"
python3 - "$work/local/files" "$N" "$SIZE" <<'PY'
import os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = os.urandom(size)
for i in range(n):
    with open(f"{d}/f{i:06d}.bin", "wb") as f:
        f.write(block[i % 251:] + block[:i % 251])
PY
$bin/dlfs dataset create bench >/dev/null
t0=$(date +%s.%N)
$bin/dlfs upload --dataset bench --jobs 8 --no-wait "$work/local/files" >/dev/null
t1=$(date +%s.%N)
echo "uploaded in $(echo "$t1 - $t0" | bc) s"

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
mount_it() {
  $bin/mount.dlfs bench "$mnt" -o "cache=$work/cache${OPTS:+,$OPTS}"
  pid=$(pgrep -n -f "mount.dlfs bench $mnt")
}
rate() { "$reader" "$1" 8 ${2:-} | awk '{printf "%.0f", $1/$3}'; }

declare -A L M
# Local disk.
drop; L[ls_cold]=$(secs ls -l "$work/local/files")
L[ls_warm]=$(secs ls -l "$work/local/files")
L[stat]=$(secs "$reader" "$work/local/files" 8 stat)
drop; L[read_cold]=$(rate "$work/local/files")
L[read_warm]=$(rate "$work/local/files")
# The mount: cold = a fresh mount with an empty cache and the page cache dropped.
rm -rf "$work/cache"; drop; mount_it
M[ls_cold]=$(secs ls -l "$mnt/files")
M[ls_warm]=$(secs ls -l "$mnt/files")
M[stat]=$(secs "$reader" "$mnt/files" 8 stat)
fusermount3 -u "$mnt"; sleep 0.5; rm -rf "$work/cache"; drop; mount_it
M[read_cold]=$(rate "$mnt/files")
M[read_warm]=$(rate "$mnt/files")
fusermount3 -u "$mnt"; sleep 0.5; drop; mount_it
M[ls_remount]=$(secs ls -l "$mnt/files")

printf "\n%d files of %d bytes in one folder; mount options: %s\n" "$N" "$SIZE" "${OPTS:-defaults}"
printf "%-34s %12s %12s %10s\n" "" "local disk" "dlfs mount" "ratio"
for k in ls_cold ls_warm stat; do
  printf "%-34s %11.3fs %11.3fs %9.2fx\n" "$k (time, lower is better)" "${L[$k]}" "${M[$k]}" "$(echo "${M[$k]} / ${L[$k]}" | bc -l)"
done
printf "%-34s %12s %11.3fs\n" "ls_warm_cache_after_remount" "" "${M[ls_remount]}"
for k in read_cold read_warm; do
  printf "%-34s %10s/s %10s/s %9.2fx\n" "$k (files/s, 8 readers)" "${L[$k]}" "${M[$k]}" "$(echo "${M[$k]} / ${L[$k]}" | bc -l)"
done
