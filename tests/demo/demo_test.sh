#!/usr/bin/env bash
# The README's first command as a newcomer runs it (.ci/run calls this): scripts/demo.sh with a
# fresh store, samples folder and mount point, timed until the mount is live; then again while
# mounted (nothing to redo: a remount), then once more after the dataset was damaged as an
# earlier failed run leaves it (an item missing, another with other bytes), which the demo must
# repair by content. Each run's output is checked: the listing of the samples, the EXIF xattrs,
# the thumbnail's path and size. Unmounts on every path.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/dlfs-demo-test.XXXXXX)
mnt=$work/mnt
mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts; }
cleanup() {
  if mounted "$mnt"; then fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export DLFS_STORE=$work/store DLFS_DEMO_DIR=$work/demo
fail() { echo "demo_test: FAILED: $*" >&2; exit 1; }

# What every run must show, and leave: a live mount with the samples' bytes.
check_run() {
  local out=$1
  for name in cat-1.jpg cat-2.jpg cat-3.jpg "dog 1.png" "dog 2.png" "dog 3.png" readme.txt random.bin; do
    grep -qF "$name" "$out" || fail "the listing lacks $name"
  done
  grep -qx 'user.dl.orientation="6"' "$out" || fail "no EXIF orientation in getfattr -d"
  grep -q '^user.dl.exif=".*Pixel 8' "$out" || fail "no EXIF tags in getfattr -d"
  grep -qx 'user.dl.thumbnail_path="/.thumbnails/samples/cats/cat-1.jpg"' "$out" || fail "no user.dl.thumbnail_path"
  grep -qx 'user.meta.camera="cam-7"' "$out" || fail "no user metadata in getfattr -d"
  if grep -q '^user.dl.thumbnail=' "$out"; then fail "getfattr -d prints the thumbnail's bytes"; fi
  local bytes
  bytes=$(sed -n 's/^its thumbnail: .* (\([0-9]*\) bytes)$/\1/p' "$out")
  [ -n "$bytes" ] && [ "$bytes" -gt 0 ] || fail "no thumbnail size, or 0 bytes"
  mounted "$mnt" || fail "nothing is mounted at $mnt after the demo"
  (cd "$DLFS_DEMO_DIR/samples" && find . -type f -print0) | while IFS= read -r -d '' f; do
    cmp -s "$mnt/samples/$f" "$DLFS_DEMO_DIR/samples/$f" || fail "$f reads back other bytes through the mount"
  done
}

run_demo() {  # $1: the output file
  local t0=$SECONDS
  scripts/demo.sh "$mnt" >"$1" 2>&1 || { cat "$1"; fail "scripts/demo.sh exited non-zero"; }
  echo "demo_test: scripts/demo.sh took $((SECONDS - t0)) s until the mount was live"
}

run_demo "$work/first.txt"
cat "$work/first.txt"
check_run "$work/first.txt"
grep -q "^uploading the samples" "$work/first.txt" || fail "the first run uploaded nothing"

run_demo "$work/second.txt"
check_run "$work/second.txt"
if grep -q "^uploading the samples" "$work/second.txt"; then fail "the second run uploaded again what was there"; fi

# As a failed run leaves it: one sample never uploaded, one with other bytes.
build/bin/dlfs rm "demo:/samples/dogs/dog 2.png"
printf 'not the note\n' > "$work/readme.txt"
build/bin/dlfs upload --dataset demo --to /samples --overwrite --no-wait "$work/readme.txt" >/dev/null
run_demo "$work/third.txt"
check_run "$work/third.txt"
grep -q "^uploading the samples" "$work/third.txt" || fail "the third run did not repair the dataset"
echo "demo_test: 3 passed, 0 failed"
