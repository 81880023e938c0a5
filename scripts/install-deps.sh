#!/usr/bin/env bash
# Installs what dlfs needs to build on Debian 12, and with --test what its tests need too
# (Node.js and the object-store emulators from npm). Idempotent, and quiet when everything is
# already there.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  # libraries (DESIGN.md's fixed choices)
  libfuse3-dev fuse3 libcurl4-openssl-dev nlohmann-json3-dev liblmdb-dev libexif-dev
  libspdlog-dev libgtest-dev libgmock-dev
  # dlfsd: the HTTP server (cpp-httplib) and HMAC for its tokens (OpenSSL)
  libcpp-httplib-dev libssl-dev
  # storage drivers: the XML answers of S3 and Azure Blob listings (pugixml)
  libpugixml-dev
  # preprocessing: libvips (decoding, thumbnails), libmagic (mimetype by content)
  libvips-dev libmagic-dev libtiff-dev
  # the preprocessing tests make images with ImageMagick and exiftool; the fuzz target needs
  # clang and its libFuzzer runtime (only recommended by clang-14, so named here)
  imagemagick libimage-exiftool-perl clang libclang-rt-14-dev
  # tools the tests and the demo use (openssl: the https tests make a self-signed certificate)
  attr python3 psmisc openssl
  # the consistency tests run git in a mount
  git
)

# The storage-driver tests start object-store emulators from npm (tests/emulators): S3 (s3rver),
# Azure Blob (Azurite). Node.js and npm come from Debian when the machine has none.
with_tests=false
[ "${1:-}" = "--test" ] && with_tests=true
if $with_tests && ! { command -v node >/dev/null && command -v npm >/dev/null; }; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

emulators="$(dirname "$0")/../tests/emulators"
if $with_tests && { [ ! -f "$emulators/node_modules/.package-lock.json" ] ||
   [ "$emulators/package-lock.json" -nt "$emulators/node_modules/.package-lock.json" ]; }; then
  echo "installing the object-store emulators (npm ci in tests/emulators)"
  (cd "$emulators" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
