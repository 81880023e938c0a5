#!/usr/bin/env bash
# A training script's reads, side by side in one run on the same images: torchvision's ImageFolder
# over N JPEGs (default 2,000 of 640x480, ~100 KB each) in CLASSES folders (default 10), through a
# DataLoader of 2 workers, batches of 32 (bench/imagefolder_epochs.py: decode, resize to 224,
# tensor — the usual transforms, no model), on
#   - the local disk;
#   - a dlfs mount of the embedded platform;
#   - a dlfs mount of dlfsd on 127.0.0.1 serving the same store.
# Epoch 1 is cold (a fresh mount with an empty cache, the page cache dropped), epoch 2 follows in
# the same process; then a remount keeping the cache folder (the data cache), the page cache
# dropped, and one more epoch. Each target is measured ROUNDS times (default 3), the targets
# alternating, and the median printed with its ratio to the local disk's (epochs on this machine
# vary by tens of percent from run to run, for every target alike).
#   bench/imagefolder_bench.sh [N] [CLASSES]
# Environment: SHUFFLE=0 (default 1: a shuffled epoch, as training does), WORKERS (2), ROUNDS (3),
# OPTS (mount options), DLFS_BENCH_NO_BUILD=1 (use build/bin as it is). Needs root (drops the page
# cache; installs python3-torchvision when missing) and /dev/fuse.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
CLASSES=${2:-10}
SHUFFLE=${SHUFFLE:-1}
WORKERS=${WORKERS:-2}
ROUNDS=${ROUNDS:-3}
OPTS=${OPTS:-}
export LC_ALL=C
[ "${DLFS_BENCH_NO_BUILD:-}" = 1 ] || scripts/build.sh >/dev/null
bin=$PWD/build/bin
. bench/lib.sh
bench_work imagefolder
# (Debian's Python and its packages: a python3 earlier on PATH, e.g. pyenv's, does not see them)
py=/usr/bin/python3
if ! $py -c "import torchvision, PIL, numpy" 2>/dev/null; then
  DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get install -y -q python3-torchvision python3-pil python3-numpy >/dev/null
fi
epochs=($py bench/imagefolder_epochs.py --workers "$WORKERS" --epochs)
[ "$SHUFFLE" = 1 ] && epochs=($py bench/imagefolder_epochs.py --shuffle --workers "$WORKERS" --epochs)

echo "making $N JPEGs in $CLASSES folders..."
$py - "$work/local/train" "$N" "$CLASSES" <<'PY'
import os, sys
import numpy as np
from PIL import Image
root, n, classes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(1)
y, x = np.mgrid[0:480, 0:640]
for i in range(n):
    d = f"{root}/class{i % classes:02d}"
    os.makedirs(d, exist_ok=True)
    # a smooth pattern and some noise: photo-like sizes (~100 KB at quality 90)
    fx, fy, ph = rng.uniform(0.005, 0.05, 3)
    base = (np.sin(x * fx + ph) + np.cos(y * fy)) * 60 + 128
    img = np.stack([base + rng.normal(0, 12, base.shape) for _ in range(3)], axis=-1)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(f"{d}/img{i:06d}.jpg", quality=90)
PY
echo "$(du -sh "$work/local/train" | cut -f1) of images"
"$bin/dlfs" dataset create bench >/dev/null
"$bin/dlfs" upload --dataset bench --jobs 8 "$work/local/train" >/dev/null  # (waits for preprocessing)
bench_dlfsd
results=$work/results
: >"$results"
mnt=$work/mnt
mount_embedded() { bench_mount bench "$mnt" "store=$DLFS_STORE,cache=$work/cache${OPTS:+,$OPTS}"; }
mount_dlfsd() { bench_mount "$dlfsd_url/datasets/bench" "$mnt" "token_file=$dlfsd_token_file,cache=$work/cache${OPTS:+,$OPTS}"; }
# run TARGET ROOT EPOCHS KEY...: the epochs' seconds as "TARGET KEY SECONDS" lines.
run() {
  local t=$1 root=$2 n=$3 out
  shift 3
  out=$(timeout -k 10 1200 "${epochs[@]}" "$n" "$root") || { echo "$t: the epochs failed" >&2; return 1; }
  local keys=("$@") i=0
  while read -r _ _ s _; do echo "$t ${keys[$i]} $s" >>"$results"; i=$((i + 1)); done <<<"$out"
}
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS..."
  drop
  run local "$work/local/train" 2 e1 e2
  for t in embedded dlfsd; do
    rm -rf "$work/cache"
    drop
    "mount_$t" || { echo "$t did not mount" >&2; continue; }
    run "$t" "$mnt/train" 2 e1 e2 || true
    bench_unmount "$mnt" "$bench_mount_pid"  # (until the daemon exited: what it sends then is not timed below)
    drop
    "mount_$t" || { echo "$t did not remount" >&2; continue; }
    run "$t" "$mnt/train" 1 remount || true
    bench_unmount "$mnt" "$bench_mount_pid"
  done
done

printf "\nImageFolder over %d JPEGs (%s) in %d folders, %d DataLoader workers, %s; median of %d rounds\n" \
  "$N" "$(du -sh "$work/local/train" | cut -f1)" "$CLASSES" "$WORKERS" \
  "$([ "$SHUFFLE" = 1 ] && echo shuffled || echo in order)" "$ROUNDS"
python3 - "$results" <<'PY'
import statistics, sys
got = {}
for line in open(sys.argv[1]):
    t, k, v = line.split()
    got.setdefault((t, k), []).append(float(v))
med = {k: statistics.median(v) for k, v in got.items()}
rows = [("e1", "epoch 1, cold (s)"), ("e2", "epoch 2 (s)"), ("remount", "an epoch after a remount, cold (s)")]
cols = [("local", "local disk"), ("embedded", "dlfs embedded"), ("dlfsd", "dlfs dlfsd")]
table = [[""] + [c for _, c in cols]]
for key, label in rows:
    base = med.get(("local", "e1" if key == "remount" else key))
    line = [label]
    for t, _ in cols:
        v = med.get((t, key))
        if t == "local" and key == "remount":
            v = base  # (the local disk keeps no cache across mounts: its cold epoch)
        if v is None:
            line.append("—")
        elif t == "local" or not base:
            line.append(f"{v:.2f}")
        else:
            line.append(f"{v:.2f} ({v / base:.2f}×)")
    table.append(line)
w = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
for r in table:
    print(r[0].ljust(w[0]) + "".join("  " + c.rjust(x) for c, x in zip(r[1:], w[1:])))
print("(seconds, lower is better; the ratio is to the local disk's same epoch — after a remount, to")
print(" its cold epoch 1)")
PY
