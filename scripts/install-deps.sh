#!/usr/bin/env bash
# Installs what dlfs needs to build and test on Debian 12. Idempotent, and quiet when
# everything is already there.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  # libraries (DESIGN.md's fixed choices)
  libfuse3-dev fuse3 libcurl4-openssl-dev nlohmann-json3-dev liblmdb-dev libexif-dev
  libspdlog-dev libgtest-dev libgmock-dev
  # dlfsd: the HTTP server (cpp-httplib) and HMAC for its tokens (OpenSSL)
  libcpp-httplib-dev libssl-dev
  # preprocessing: libvips (decoding, thumbnails), libmagic (mimetype by content)
  libvips-dev libmagic-dev libtiff-dev
  # the preprocessing tests make images with ImageMagick and exiftool; the fuzz target needs
  # clang and its libFuzzer runtime (only recommended by clang-14, so named here)
  imagemagick libimage-exiftool-perl clang libclang-rt-14-dev
  # tools the tests and the demo use (openssl: the https tests make a self-signed certificate)
  attr python3 psmisc openssl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
