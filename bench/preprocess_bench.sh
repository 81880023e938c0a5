#!/usr/bin/env bash
# Preprocessing benchmark: items preprocessed per second for JPEGs of 1-4 megapixels, and the
# time from upload to `done`. Builds what it needs (release, no sanitizers) and prints figures.
#
#   bench/preprocess_bench.sh [COUNT] [WORKERS]      COUNT defaults to 2000, WORKERS to the cores
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-2000}
workers=${2:-0}
singles=20
scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DDLFS_SANITIZE=OFF -DDLFS_TESTS=OFF \
  -DDLFS_BENCH=ON >/dev/null
cmake --build build-bench --target preprocess_bench

work=$(mktemp -d "${TMPDIR:-/tmp}/dlfs-ppbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bases" "$work/images"
# 16 distinct photo-like pictures (plasma fractals) of 1.1, 1.9, 3.0 and 3.9 megapixels, with
# camera EXIF; the images are copies of them (the store keeps every upload as its own binary).
echo "making $((count + singles)) JPEGs of 1-4 megapixels in $work ..."
i=0
for size in 1200x900 1600x1200 2000x1500 2300x1700; do
  for seed in 1 2 3 4; do
    convert -seed "$seed$i" -size "$size" plasma:fractal -quality 88 "$work/bases/b$i.jpg" &
    i=$((i + 1))
  done
  wait
done
exiftool -q -q -n -overwrite_original -Make=Bench -Model=Plasma -Orientation=1 -ISO=200 "$work"/bases/*.jpg
bases=("$work"/bases/*.jpg)
for ((n = 0; n < count + singles; n++)); do
  cp "${bases[$((n % ${#bases[@]}))]}" "$work/images/$(printf '%06d' "$n").jpg"
done
du -sh "$work/images" | awk '{print "images: " $1}'
build-bench/bin/preprocess_bench "$work/store" "$work/images" "$workers" "$singles"
