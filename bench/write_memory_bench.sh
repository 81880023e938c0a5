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
python3 - "$work/src" "$N" "$SIZE" <<'PY'
import os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = os.urandom(size + 251)
for i in range(n):
    sub = f"{d}/d{i % 100:02d}"
    if i < 100:
        os.makedirs(sub, exist_ok=True)
    with open(f"{sub}/f{i:06d}.bin", "wb") as f:
        f.write(block[i % 251:i % 251 + size])
PY
"$bin/dlfs" dataset create mem >/dev/null
opts="preprocess_workers=0"

sync
s=$(date +%s.%N); cp -r "$work/src" "$work/local"; sync; e=$(date +%s.%N)
printf "  %-9s %8.0f files/s\n" local "$(echo "$N / ($e - $s)" | bc -l)"

# measure NAME MOUNTPOINT FOLDER: cp -r into it, dlfs sync, the mount's peak RSS.
measure() {
  local name=$1 m=$2 dest=$3 pid s e hwm
  pid=$(pgrep -f "mount.dlfs .* $m( |$)" | head -n 1)
  sync
  s=$(date +%s.%N)
  cp -r "$work/src" "$m/$dest"
  "$bin/dlfs" sync "$m" >/dev/null
  e=$(date +%s.%N)
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  printf "  %-9s %8.0f files/s   mount peak RSS %5d MB\n" "$name" "$(echo "$N / ($e - $s)" | bc -l)" "$((hwm / 1024))"
  [ "$(find "$m/$dest" -type f | wc -l)" = "$N" ] || { echo "files missing in $m" >&2; exit 1; }
}
echo "cp -r of $N x $SIZE B, then sync:"
bench_mount mem "$work/emb" "cache=$work/cache_emb,$opts"
measure embedded "$work/emb" copy
bench_dlfsd
bench_mount "$dlfsd_url/datasets/mem" "$work/http" "cache=$work/cache_http,token_file=$dlfsd_token_file,$opts"
measure dlfsd "$work/http" copy2
