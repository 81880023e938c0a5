#!/usr/bin/env bash
# The newcomer's first command: installs what is needed, builds, makes a small demo dataset in
# the embedded platform (no server), and mounts it at ./mnt (or $1). Run it again at any time:
# it reuses the dataset and remounts.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
bin=build/bin
mnt=${1:-$PWD/mnt}
export DLFS_STORE=${DLFS_STORE:-$PWD/.demo/store}

if ! $bin/dlfs dataset list | grep -q '^demo '; then
  $bin/dlfs dataset create demo
  src=$(mktemp -d)
  trap 'rm -rf "$src"' EXIT
  mkdir -p "$src/samples/cats" "$src/samples/dogs"
  for i in 1 2 3; do
    printf 'cat %s\n' "$i" > "$src/samples/cats/cat-$i.txt"
    printf 'dog %s\n' "$i" > "$src/samples/dogs/dog $i.txt"
  done
  head -c 1048576 /dev/urandom > "$src/samples/random.bin"
  $bin/dlfs upload --dataset demo --meta '{"source":"demo"}' "$src/samples"
  $bin/dlfs meta set demo:/samples/cats/cat-1.txt '{"camera":"cam-7"}' >/dev/null
fi

mkdir -p "$mnt"
if mountpoint -q "$mnt"; then fusermount3 -u "$mnt"; fi
$bin/mount.dlfs demo "$mnt" -o store="$DLFS_STORE"
echo
echo "mounted dataset 'demo' at $mnt:"
ls -la "$mnt/samples"
echo
echo "\$ getfattr -d $mnt/samples/cats/cat-1.txt"
getfattr -d "$mnt/samples/cats/cat-1.txt"
echo "unmount with: fusermount3 -u $mnt"
