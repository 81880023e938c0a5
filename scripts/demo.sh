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
    convert -size 640x480 "gradient:orange-navy" -fill white -pointsize 72 -gravity center \
      -annotate 0 "cat $i" "$src/samples/cats/cat-$i.jpg"
    convert -size 800x600 "plasma:fractal" "$src/samples/dogs/dog $i.png"
  done
  # A photo as a phone takes it: camera tags, and rotated by EXIF orientation 6.
  exiftool -q -overwrite_original -Make=Pixel -Model="Pixel 8" -Orientation=6 -n "$src/samples/cats/cat-1.jpg"
  printf 'a note, not an image\n' > "$src/samples/readme.txt"
  head -c 1048576 /dev/urandom > "$src/samples/random.bin"
  $bin/dlfs upload --dataset demo --meta '{"source":"demo"}' "$src/samples"
  $bin/dlfs meta set demo:/samples/cats/cat-1.jpg '{"camera":"cam-7"}' >/dev/null
fi

mkdir -p "$mnt"
if mountpoint -q "$mnt"; then fusermount3 -u "$mnt"; fi
$bin/mount.dlfs demo "$mnt" -o store="$DLFS_STORE"
echo
echo "mounted dataset 'demo' at $mnt:"
ls -la "$mnt/samples"
echo
echo "\$ getfattr -d $mnt/samples/cats/cat-1.jpg"
getfattr -d "$mnt/samples/cats/cat-1.jpg"
echo "its thumbnail: $mnt/.thumbnails/samples/cats/cat-1.jpg ($(stat -c %s "$mnt/.thumbnails/samples/cats/cat-1.jpg") bytes)"
echo "unmount with: fusermount3 -u $mnt"
