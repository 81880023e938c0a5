#!/usr/bin/env bash
# Bulk upload side by side in one run, on the same data and disk: N files of SIZE bytes (default
# 10,000 x 100 KB) in one folder,
#   - `cp -r` onto the local disk, then `sync`;
#   - `cp -r` through bindfs (a plain FUSE passthrough of a local folder), then `sync`;
#   - `dlfs upload --jobs JOBS` into the embedded platform (every upload durable when it returns);
#   - `dlfs --server` upload --jobs JOBS through dlfsd on 127.0.0.1, the same store;
# each twice: with --no-wait (until every file is on the platform) and as by default, until the
# platform has also preprocessed them (mimetype, size; +pp rows). Prints files/s, MB/s and the
# ratios of each time to the local disk's and to bindfs's, and checks one file's bytes read back.
#   bench/upload_bench.sh [N] [SIZE] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
SIZE=${2:-102400}
JOBS=${3:-8}
scripts/build.sh >/dev/null
bin=$PWD/build/bin
. bench/lib.sh
bench_work ubench

echo "making $N x $SIZE bytes..."
bench_make_files "$work/src/files" "$N" "$SIZE"
src=$work/src/files

# timed NAME CMD...: wall seconds of CMD into t_NAME.
timed() {
  local name=$1 s e
  shift
  sync
  s=$(date +%s.%N)
  "$@" >/dev/null
  e=$(date +%s.%N)
  printf -v "t_$name" %s "$(echo "$e - $s" | bc)"
}

mkdir -p "$work/local"
timed local sh -c "cp -r '$src' '$work/local/x' && sync"
if command -v bindfs >/dev/null; then
  mkdir -p "$work/bind_under" "$work/bind"
  bindfs "$work/bind_under" "$work/bind"
  bench_mounts+=("$work/bind")
  timed bindfs sh -c "cp -r '$src' '$work/bind/x' && sync"
fi
# Each with preprocessing first (it leaves nothing queued), then without; dlfsd on a store of its
# own (the embedded runs leave pending items that its workers would take up).
"$bin/dlfs" dataset create emb_pp >/dev/null
timed embedded_pp "$bin/dlfs" upload --dataset emb_pp --jobs "$JOBS" "$src"
"$bin/dlfs" dataset create emb >/dev/null
timed embedded "$bin/dlfs" upload --dataset emb --jobs "$JOBS" --no-wait "$src"
"$bin/dlfs" cat emb:/files/f000000.bin | cmp -s - "$src/f000000.bin" || { echo "read-back differs (embedded)" >&2; exit 1; }

export DLFS_STORE=$work/store_dlfsd
bench_dlfsd
http=("$bin/dlfs" --server "$dlfsd_url" --token-file "$dlfsd_token_file")
"${http[@]}" dataset create viahttp_pp >/dev/null
timed dlfsd_pp "${http[@]}" upload --dataset viahttp_pp --jobs "$JOBS" "$src"
"${http[@]}" dataset create viahttp >/dev/null
timed dlfsd "${http[@]}" upload --dataset viahttp --jobs "$JOBS" --no-wait "$src"
"${http[@]}" cat viahttp:/files/f000000.bin | cmp -s - "$src/f000000.bin" || { echo "read-back differs (dlfsd)" >&2; exit 1; }

echo "$N x $SIZE B, dlfs upload --jobs $JOBS (cp -r + sync for the local disk and bindfs):"
printf "  %-12s %9s %9s %9s %8s %9s\n" target files/s MB/s "s" "/local" "/bindfs"
for t in local bindfs embedded embedded_pp dlfsd dlfsd_pp; do
  a=$(eval echo "\${t_$t:-}")
  [ -n "$a" ] || continue
  awk -v t="$t" -v f="$N" -v b="$((N * SIZE))" -v a="$a" -v l="$t_local" -v bi="${t_bindfs:-0}" 'BEGIN {
    printf "  %-12s %9.0f %9.1f %9.2f %8.2f %9s\n", t, f/a, b/a/1e6, a, a/l, (bi > 0 ? sprintf("%.2f", a/bi) : "-") }'
done
echo "(ratios of the times; _pp rows: until preprocessed too)"
