#!/usr/bin/env bash
# The mount's write path side by side in one run, on the same data and disk: `cp -r` of N files
# of SIZE bytes (default 2,000 x 100 KB) and of BIG_N files of BIG_SIZE (default 10 x 100 MB)
#   - onto the local disk, then `sync`;
#   - through bindfs (a plain FUSE passthrough of a local folder), then `sync`;
#   - into a dlfs mount of the embedded platform, then `dlfs sync` (every byte on the platform,
#     the spool empty);
#   - into a dlfs mount of dlfsd on 127.0.0.1 serving the same store, then `dlfs sync`.
# Prints files/s and MB/s until synced, the seconds `cp` itself took (until it returned), and the
# ratios of each time to the local disk's and to bindfs's. Needs /dev/fuse, root (each copy starts
# from a dropped page cache) and bindfs for its column (apt-get install bindfs).
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

echo "making $N x $SIZE and $BIG_N x $BIG_SIZE bytes..."
bench_make_files "$work/src/small" "$N" "$SIZE"
bench_make_files "$work/src/big" "$BIG_N" "$BIG_SIZE"
$bin/dlfs dataset create bench >/dev/null
mount_opts="preprocess_workers=0${OPTS:+,$OPTS}"

# copy NAME SRC DEST SYNC...: cp -r SRC DEST, then SYNC...; sets cp_NAME and all_NAME (seconds).
copy() {
  local name=$1 src=$2 dest=$3 s m e
  shift 3
  # Every target starts alike: the page cache dropped (what earlier targets wrote no longer fills
  # memory: on a VM, pages never used before cost the guest far more to fill than pages freed
  # and used again — seen here as 0.13 s against 1.4 s per GB written), the source read back in.
  drop
  find "$src" -type f -exec cat {} + >/dev/null
  s=$(date +%s.%N)
  cp -r "$src" "$dest"
  m=$(date +%s.%N)
  "$@" >/dev/null
  e=$(date +%s.%N)
  printf -v "cp_$name" %s "$(echo "$m - $s" | bc)"
  printf -v "all_$name" %s "$(echo "$e - $s" | bc)"
}

# run KIND SRC: the four targets, one after another, each into a fresh folder.
run() {
  local kind=$1 src=$2
  mkdir -p "$work/local/$kind"
  copy "local_$kind" "$src" "$work/local/$kind/x" sync
  if command -v bindfs >/dev/null; then
    mkdir -p "$work/bind_under/$kind" "$work/bind/$kind"
    bindfs "$work/bind_under/$kind" "$work/bind/$kind"
    bench_mounts+=("$work/bind/$kind")
    copy "bindfs_$kind" "$src" "$work/bind/$kind/x" sync
  fi
  bench_mount bench "$work/emb/$kind" "cache=$work/cache_emb_$kind,$mount_opts"
  copy "embedded_$kind" "$src" "$work/emb/$kind/$kind" "$bin/dlfs" sync "$work/emb/$kind"
  bench_mount "$dlfsd_url/datasets/bench" "$work/http/$kind" "cache=$work/cache_http_$kind,token_file=$dlfsd_token_file,$mount_opts"
  copy "dlfsd_$kind" "$src" "$work/http/$kind/h$kind" "$bin/dlfs" sync "$work/http/$kind"
  cmp -s "$src/f000000.bin" "$work/emb/$kind/$kind/f000000.bin" || { echo "read-back differs (embedded)" >&2; exit 1; }
  cmp -s "$src/f000000.bin" "$work/http/$kind/h$kind/f000000.bin" || { echo "read-back differs (dlfsd)" >&2; exit 1; }
}

# (dlfsd preprocesses what every column uploads, the store being shared; without its workers,
# the mounts' polls of preprocessPhase, never answered "done", cost it more: see issue 14's notes)
bench_dlfsd
run small "$work/src/small"
run big "$work/src/big"

# row TARGET KIND FILES BYTES
row() {
  local t=$1 k=$2 all cp local bind
  all=$(eval echo "\${all_${t}_$k:-}")
  [ -n "$all" ] || return 0
  cp=$(eval echo "\$cp_${t}_$k")
  local=$(eval echo "\$all_local_$k")
  bind=$(eval echo "\${all_bindfs_$k:-0}")
  awk -v t="$t" -v f="$3" -v b="$4" -v a="$all" -v c="$cp" -v l="$local" -v bi="$bind" 'BEGIN {
    printf "  %-10s %9.0f %9.1f %9.2f %9.2f %8.2f %9s\n", t, f/a, b/a/1e6, c, a, a/l, (bi > 0 ? sprintf("%.2f", a/bi) : "-") }'
}
for k in small big; do
  if [ $k = small ]; then n=$N size=$SIZE; else n=$BIG_N size=$BIG_SIZE; fi
  echo "cp -r of $n x $size B, then sync:"
  printf "  %-10s %9s %9s %9s %9s %8s %9s\n" target files/s MB/s "cp s" "all s" "/local" "/bindfs"
  for t in local bindfs embedded dlfsd; do row $t $k "$n" "$((n * size))"; done
done
echo "(files/s and MB/s until synced; 'cp s': until cp returned; ratios of the times until synced;"
echo " the mounts' preprocessing workers off; dlfsd's on, preprocessing what every column uploads)"
