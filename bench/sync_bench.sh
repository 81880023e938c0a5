#!/usr/bin/env bash
# A storage driver's sync at scale: N objects of 1 KB (default 100,000) in a bucket (a local
# folder driver, so that the bucket's speed is the disk's and the figure is the sync's own), synced
# by `dlfs dataset sync` on the embedded platform: the first sync (every object new), a second
# (every object unchanged), and a third after 1% of the objects changed and 1% went — each with
# its objects/s and the sync process's memory. The sync joins the listing with the catalogue's
# index of items by object a chunk at a time, so what it holds should not grow with N.
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
driver=$("$bin/dlfs" driver create --json "$work/driver.json" | grep -o '[0-9a-f]\{24\}' | head -n 1)
"$bin/dlfs" dataset create synced --driver "$driver" >/dev/null

# run LABEL: times `dlfs dataset sync`, with its memory: the peak of its anonymous memory
# (RssAnon, sampled every 20 ms: what the sync holds) and VmHWM (the peak resident set, which also
# counts the catalogue's pages LMDB maps in: they grow with the store, not with what is held).
run() {
  python3 - "$1" "$N" "$bin/dlfs" dataset sync synced <<'PY'
import subprocess, sys, time
label, n, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def status(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return {l.split(":")[0]: int(l.split()[1]) for l in f if l.startswith(("RssAnon", "VmHWM"))}
    except (OSError, ValueError, IndexError):
        return {}
t = time.time()
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
anon = hwm = 0
while p.poll() is None:
    s = status(p.pid)
    anon, hwm = max(anon, s.get("RssAnon", 0)), max(hwm, s.get("VmHWM", 0))
    time.sleep(0.02)
dt = time.time() - t
out = p.stdout.read()
if p.returncode:
    sys.exit(f"{label}: dlfs dataset sync failed")
print(f"{label:<24} {dt:7.2f} s  {n / dt:9,.0f} objects/s  anonymous {anon / 1024:5.1f} MB, peak RSS {hwm / 1024:6.1f} MB   "
      f"{out.strip().splitlines()[-1]}")
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
