#!/usr/bin/env bash
# Reads of a dataset kept in an S3 bucket, through a dlfs mount of dlfsd, side by side in one run:
# with presigned URLs (the default: dlfsd answers each read with a redirect and the mount reads the
# bucket itself) and with -o through_server (dlfsd streams every byte, as before). The bucket is
# s3rver (the S3 emulator the tests use, one Node process on 127.0.0.1), so the rates are the
# emulator's more than S3's; what the run shows is where the bytes go: dlfsd's CPU time per run
# (utime + stime from /proc) and files/s and MB/s with 8 parallel readers of N files of SIZE bytes
# (default 1,000 x 1 MiB), cold (a fresh mount, no data cache, the page cache dropped). ROUNDS
# rounds (default 2), the modes alternating. Needs root and /dev/fuse.
#   bench/bucket_read_bench.sh [N] [SIZE]
# Environment: ROUNDS, DLFS_BENCH_NO_BUILD=1 (use the binaries already in build/bin; read_files
# alone is built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
SIZE=${2:-1048576}
ROUNDS=${ROUNDS:-2}
export LC_ALL=C
if [ "${DLFS_BENCH_NO_BUILD:-}" != 1 ]; then
  scripts/build.sh >/dev/null
fi
if [ ! -x build/bin/read_files ]; then
  cmake -S . -B build -DDLFS_BENCH=ON >/dev/null && cmake --build build --target read_files >/dev/null
fi
bin=$PWD/build/bin
. bench/lib.sh
bench_work bucket
bench_s3rver bench
bench_dlfsd

cat >"$work/driver.json" <<JSON
{"name": "s3", "type": "s3", "bucketName": "bench", "path": "ds", "endpoint": "$s3_url",
 "credentials": {"key": "S3RVER", "secret": "S3RVER"}}
JSON
driver=$("$bin/dlfs" --server "$dlfsd_url" --token-file "$dlfsd_token_file" driver create --json "$work/driver.json" |
         grep -o '[0-9a-f]\{24\}' | head -n 1)
"$bin/dlfs" --server "$dlfsd_url" --token-file "$dlfsd_token_file" dataset create onbucket --driver "$driver" >/dev/null
echo "making $N files of $SIZE bytes and uploading them to the bucket through dlfsd..."
bench_make_files "$work/local/files" "$N" "$SIZE"
"$bin/dlfs" --server "$dlfsd_url" --token-file "$dlfsd_token_file" upload --dataset onbucket --jobs 8 \
  "$work/local/files" >/dev/null
dlfsd_pid=$(pgrep -f "dlfsd --store $DLFS_STORE" | head -n 1)

cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }  # utime + stime, s (USER_HZ 100)
read_all() {  # MODE OPTIONS
  local mnt=$work/mnt pid c0 c1 out f b s
  mkdir -p "$mnt"
  drop
  "$bin/mount.dlfs" "$dlfsd_url/datasets/onbucket" "$mnt" -f \
    -o "token_file=$dlfsd_token_file,cache=$work/cache-$RANDOM,data_cache=off${2:+,$2}" >>"$work/mount.log" 2>&1 &
  pid=$!
  bench_pids+=("$pid") bench_mounts+=("$mnt")
  bench_wait_mounted "$mnt" "$pid" 60 || { echo "$1 did not mount: $(tail -n 3 "$work/mount.log")" >&2; return 1; }
  ls "$mnt/files" >/dev/null
  c0=$(cpu "$dlfsd_pid")
  out=$("$bin/read_files" "$mnt/files" 8)
  c1=$(cpu "$dlfsd_pid")
  read -r f b s <<<"$out"
  [ "$f" = "$N" ] && [ "$b" = "$((N * SIZE))" ] || { echo "$1: read $f files, $b bytes" >&2; return 1; }
  awk -v m="$1" -v f="$f" -v b="$b" -v s="$s" -v c="$(echo "$c1 - $c0" | bc)" \
    'BEGIN { printf "%-16s %7.0f files/s %8.1f MB/s   dlfsd CPU %6.2f s\n", m, f / s, b / s / 1e6, c }'
  bench_unmount "$mnt" "$pid"
}
echo "cold reads of $N files of $SIZE bytes from an S3 bucket (s3rver), 8 readers, through dlfsd:"
for round in $(seq "$ROUNDS"); do
  read_all presigned ""
  read_all through_server through_server
done
