#!/usr/bin/env bash
# The mount's write path against the local disk, side by side in one run: `cp -r` of N files of
# SIZE bytes (default 2,000 x 100 KB) and of BIG_N files of BIG_SIZE (default 10 x 100 MB), into
# the mount until `dlfs sync` returns (every byte on the platform, the spool empty), and onto the
# local disk followed by `sync` (the bytes durable, like the spool's). Prints files/s, MB/s and
# the ratio mount / local. Needs /dev/fuse; the store and the local copy share one disk.
#   bench/write_bench.sh [N] [SIZE] [BIG_N] [BIG_SIZE] [MOUNT OPTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
SIZE=${2:-102400}
BIG_N=${3:-10}
BIG_SIZE=${4:-104857600}
OPTS=${5:-}
scripts/build.sh >/dev/null
bin=$PWD/build/bin
. bench/lib.sh
bench_work wbench
mnt=$work/mnt

make_files() {  # DIR COUNT SIZE
  python3 - "$@" <<'PY'
import os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d, exist_ok=True)
block = os.urandom(min(size, 1 << 20))
for i in range(n):
    with open(f"{d}/f{i:05d}.bin", "wb") as f:
        left, k = size, i % 251
        while left > 0:
            chunk = (block[k:] + block[:k])[:left]
            f.write(chunk)
            left -= len(chunk)
PY
}
echo "making $N x $SIZE and $BIG_N x $BIG_SIZE bytes..."
make_files "$work/src/small" "$N" "$SIZE"
make_files "$work/src/big" "$BIG_N" "$BIG_SIZE"
mkdir -p "$mnt" "$work/local"
$bin/dlfs dataset create bench >/dev/null
bench_mount bench "$mnt" "cache=$work/cache,preprocess_workers=0${OPTS:+,$OPTS}"

local_copy() { cp -r "$1" "$work/local/$2" && sync; }
mount_copy() { cp -r "$1" "$mnt/$2" && $bin/dlfs sync "$mnt"; }

sync
L_small=$(secs local_copy "$work/src/small" small)
M_small=$(secs mount_copy "$work/src/small" small)
L_big=$(secs local_copy "$work/src/big" big)
M_big=$(secs mount_copy "$work/src/big" big)
cmp -s "$work/src/big/f00000.bin" "$mnt/big/f00000.bin" || { echo "read-back differs" >&2; exit 1; }

row() {  # NAME FILES BYTES LOCAL_S MOUNT_S
  awk -v n="$1" -v f="$2" -v b="$3" -v l="$4" -v m="$5" 'BEGIN {
    printf "%-22s %9.0f %9.1f | %9.0f %9.1f | %6.2f\n", n, f/l, b/l/1e6, f/m, b/m/1e6, m/l }'
}
printf "%-22s %9s %9s | %9s %9s | %6s\n" "cp -r, then sync" "local f/s" "MB/s" "mount f/s" "MB/s" "ratio"
row "$N x $SIZE B" "$N" "$((N * SIZE))" "$L_small" "$M_small"
row "$BIG_N x $BIG_SIZE B" "$BIG_N" "$((BIG_N * BIG_SIZE))" "$L_big" "$M_big"
echo "(ratio: mount time / local time; preprocessing off during the copy)"
