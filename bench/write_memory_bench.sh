#!/usr/bin/env bash
# The mount's memory while many files are copied in: `cp -r` of N files of SIZE bytes (default
# 100,000 x 4 KB, in 100 folders) into a mount of the embedded platform and into a mount of dlfsd
# on 127.0.0.1, then `dlfs sync`; prints the mount's peak resident memory (VmHWM) and files/s
# until synced, beside `cp -r` + `sync` onto the local disk. Needs /dev/fuse.
#   bench/write_memory_bench.sh [N] [SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
SIZE=${2:-4096}
scripts/build.sh >/dev/null
bin=$PWD/build/bin
. bench/lib.sh
bench_work wmbench

echo "making $N x $SIZE bytes in 100 folders..."
bench_make_files "$work/src" "$N" "$SIZE" 100
"$bin/dlfs" dataset create mem >/dev/null
opts="preprocess_workers=0"

sync
s=$(date +%s.%N); cp -r "$work/src" "$work/local"; sync; e=$(date +%s.%N)
printf "  %-9s %8.0f files/s\n" local "$(echo "$N / ($e - $s)" | bc -l)"

# sample PID: every 0.2 s until killed, the peak of the process's anonymous and file-backed
# resident memory (kB) into $work/peak: file-backed is the mapped LMDB files (the cache, and the
# embedded catalogue), pages the kernel can drop at will; anonymous is the process's own.
sample() {
  local anon=0 file=0 a f
  while sleep 0.2; do
    read -r a f < <(awk '/^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {print a, f}' "/proc/$1/status") || break
    ((a > anon)) && anon=$a
    ((f > file)) && file=$f
    echo "$anon $file" >"$work/peak"
  done
}

# measure NAME MOUNTPOINT FOLDER: cp -r into it, dlfs sync, the mount's peak RSS.
measure() {
  local name=$1 m=$2 dest=$3 pid s e hwm sampler anon file
  pid=$(pgrep -f "mount.dlfs .* $m( |$)" | head -n 1)
  sync
  sample "$pid" & sampler=$!
  s=$(date +%s.%N)
  cp -r "$work/src" "$m/$dest"
  "$bin/dlfs" sync "$m" >/dev/null
  e=$(date +%s.%N)
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  read -r anon file <"$work/peak"
  printf "  %-9s %8.0f files/s   mount peak RSS %5d MB (anonymous %d MB, mapped files %d MB)\n" \
    "$name" "$(echo "$N / ($e - $s)" | bc -l)" "$((hwm / 1024))" "$((anon / 1024))" "$((file / 1024))"
  [ "$(find "$m/$dest" -type f | wc -l)" = "$N" ] || { echo "files missing in $m" >&2; exit 1; }
}
echo "cp -r of $N x $SIZE B, then sync:"
bench_mount mem "$work/emb" "cache=$work/cache_emb,$opts"
measure embedded "$work/emb" copy
bench_dlfsd
bench_mount "$dlfsd_url/datasets/mem" "$work/http" "cache=$work/cache_http,token_file=$dlfsd_token_file,$opts"
measure dlfsd "$work/http" copy2
