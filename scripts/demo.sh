#!/usr/bin/env bash
# The newcomer's first command: installs what is needed (Debian 12), builds the three programs,
# makes a small demo dataset in the embedded platform (no server) and mounts it at ./mnt (or
# $1), then shows its listing, an image's extended attributes (EXIF among them) and its
# thumbnail. Run it again at any time: it remounts, and finishes or remakes a demo dataset that
# an earlier run left half-made, judged by its content (every sample present with its bytes,
# images preprocessed), not by its name.
#
# The store is $DLFS_STORE (default .demo/store); the samples (kept, so that a rerun can compare)
# and the mount's cache live in $DLFS_DEMO_DIR (default .demo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --demo
scripts/build.sh
bin=$PWD/build/bin
mnt=$(realpath -m "${1:-$PWD/mnt}")
demo_dir=$(realpath -m "${DLFS_DEMO_DIR:-$PWD/.demo}")
DLFS_STORE=$(realpath -m "${DLFS_STORE:-$demo_dir/store}")
export DLFS_STORE
samples=$demo_dir/samples
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf  # fonts-dejavu-core
mkdir -p "$demo_dir"

# The samples, made once into a scratch folder and then renamed into place: a samples folder
# that exists is complete.
if [ ! -d "$samples" ]; then
  echo "making the demo's sample files"
  new=$(mktemp -d "$demo_dir/samples.new.XXXXXX")
  trap 'rm -rf "$new"' EXIT
  mkdir -p "$new/samples/cats" "$new/samples/dogs"
  for i in 1 2 3; do
    convert -size 640x480 "gradient:orange-navy" -font "$font" -fill white -pointsize 72 -gravity center \
      -annotate 0 "cat $i" "$new/samples/cats/cat-$i.jpg"
    convert -size 800x600 -seed "$i" "plasma:fractal" "$new/samples/dogs/dog $i.png"
  done
  # A photo as a phone takes it: camera tags, and rotated by EXIF orientation 6.
  exiftool -q -overwrite_original -Make=Pixel -Model="Pixel 8" -Orientation=6 -n "$new/samples/cats/cat-1.jpg"
  printf 'a note, not an image\n' > "$new/samples/readme.txt"
  head -c 1048576 /dev/urandom > "$new/samples/random.bin"
  mv -T "$new/samples" "$samples"
  rm -rf "$new"
  trap - EXIT
fi

# An earlier demo's mount (or a dead one: its daemon gone) is unmounted first.
if awk -v m="$mnt" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts; then
  fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt"
fi

# Is every sample in the dataset, with its bytes?
dataset_has_samples() {
  local f
  while IFS= read -r -d '' f; do
    "$bin/dlfs" cat "demo:/samples/$f" 2>/dev/null | cmp -s - "$samples/$f" || return 1
  done < <(cd "$samples" && find . -type f -printf '%P\0')
}
# Has preprocessing finished on every image (what getfattr and the thumbnail show)?
images_preprocessed() {
  local f
  while IFS= read -r -d '' f; do
    "$bin/dlfs" stat "demo:/samples/$f" 2>/dev/null | grep -Eq '"preprocessPhase": *"done"' || return 1
  done < <(cd "$samples" && find . -type f \( -name '*.jpg' -o -name '*.png' \) -printf '%P\0')
}

if ! "$bin/dlfs" dataset list | grep -q '^demo '; then
  "$bin/dlfs" dataset create demo
fi
if ! dataset_has_samples; then
  echo "uploading the samples to dataset 'demo'"
  "$bin/dlfs" upload --dataset demo --overwrite --meta '{"source":"demo"}' "$samples"
  # The demo mount's own cache would list what an earlier mount saw (within dir_ttl) instead.
  rm -rf "$demo_dir/cache"
fi
if ! images_preprocessed; then
  "$bin/dlfs" preprocess demo:/samples
fi
"$bin/dlfs" meta set demo:/samples/cats/cat-1.jpg '{"camera":"cam-7"}' >/dev/null
dataset_has_samples || { echo "demo.sh: the dataset 'demo' still lacks samples after the upload" >&2; exit 1; }

mkdir -p "$mnt"
"$bin/mount.dlfs" demo "$mnt" -o "store=$DLFS_STORE,cache=$demo_dir/cache"
echo
echo "mounted dataset 'demo' at $mnt:"
echo "\$ ls -lR $mnt/samples"
ls -lR "$mnt/samples"
echo
echo "\$ getfattr -d $mnt/samples/cats/cat-1.jpg"
getfattr --absolute-names -d "$mnt/samples/cats/cat-1.jpg"
thumb=$mnt$(getfattr --absolute-names --only-values -n user.dl.thumbnail_path "$mnt/samples/cats/cat-1.jpg")
echo "its thumbnail: $thumb ($(stat -c %s "$thumb") bytes)"
echo "unmount with: fusermount3 -u $mnt"
