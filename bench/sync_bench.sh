#!/usr/bin/env bash
# A storage driver's sync at scale: N objects of 1 KB (default 100,000) in a bucket (a local
# folder driver, so that the bucket's speed is the disk's and the figure is the sync's own), synced
# by `dlfs dataset sync` on the embedded platform: the first sync (every object new), a second
# (every object unchanged), and a third after 1% of the objects changed and 1% went — each with
# its objects/s and the sync process's peak memory (ru_maxrss). The sync joins the listing with the
# catalogue's index of items by object a chunk at a time, so its memory should not grow with N.
#   bench/sync_bench.sh [N]
# Environment: DLFS_BENCH_NO_BUILD=1 (use the binaries already in build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
export LC_ALL=C
[ "${DLFS_BENCH_NO_BUILD:-}" = 1 ] || scripts/build.sh >/dev/null
bin=$PWD/build/bin
. bench/lib.sh
bench_work sync

echo "making $N objects of 1 KB in the bucket..."
bench_make_files "$work/bucket/objects" "$N" 1024 100
cat >"$work/driver.json" <<JSON
{"name": "bench", "type": "local", "bucketName": "$work/bucket", "path": "objects", "allowExternalDelete": true}
JSON
driver=$("$bin/dlfs" driver create --json "$work/driver.json")
"$bin/dlfs" dataset create synced --driver "$driver" >/dev/null

# run LABEL: times `dlfs dataset sync`, with its peak memory.
run() {
  python3 - "$1" "$N" "$bin/dlfs" dataset sync synced <<'PY'
import resource, subprocess, sys, time
label, n, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
t = time.time()
out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
dt = time.time() - t
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{label:<22} {dt:7.2f} s  {n / dt:9,.0f} objects/s  peak {peak:6.1f} MB   {out.strip().splitlines()[-1]}")
PY
}
echo "dlfs dataset sync of $N objects (embedded):"
run "first (all new)"
run "second (unchanged)"
python3 - "$work/bucket/objects" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(0, n, 100):  # 1% changed, 1% gone
    os.remove(f"{d}/d{i % 100:02d}/f{i:06d}.bin")
    with open(f"{d}/d{(i + 1) % 100:02d}/f{i + 1:06d}.bin", "ab") as f:
        f.write(b"changed")
PY
run "third (1% changed/gone)"
