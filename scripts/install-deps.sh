#!/usr/bin/env bash
# Installs what dlfs needs on Debian 12 (apt, --no-install-recommends), and what one of its
# scripts needs besides, when asked:
#   (none)     building the programs (scripts/build.sh)
#   --demo     and what scripts/demo.sh uses to make its samples and show them
#   --test     and what the tests use (scripts/test.sh): GoogleTest, the fuzz target's clang,
#              Node.js with the object-store emulators from npm
#   --package  and what building the Debian package uses (scripts/package.sh)
# Idempotent, and quiet when everything is already there.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  # libraries (DESIGN.md's fixed choices)
  libfuse3-dev fuse3 libcurl4-openssl-dev nlohmann-json3-dev liblmdb-dev libexif-dev libspdlog-dev
  # dlfsd: the HTTP server (cpp-httplib) and HMAC for its tokens (OpenSSL)
  libcpp-httplib-dev libssl-dev
  # storage drivers: the XML answers of S3 and Azure Blob listings (pugixml)
  libpugixml-dev
  # preprocessing: libvips (decoding, thumbnails), libmagic (mimetype by content)
  libvips-dev libmagic-dev libtiff-dev
  # CSV bulk import: Debian's standard CSV parser
  libcsv-dev
  # Prometheus metrics (dlfsd's /metrics, mount -o metrics): the standard C++ client, its
  # embedded server (civetweb) included
  prometheus-cpp-dev
)
# The demo's samples: images from ImageMagick, with text in a font named by its file (without
# recommends, ImageMagick has no font of its own and `-annotate` fails on 'helvetica'), EXIF
# tags from exiftool; getfattr (attr) and mountpoint/findmnt (util-linux, essential) show them.
demo=(imagemagick libimage-exiftool-perl fonts-dejavu-core attr)
# The tests also make images and read xattrs; they are built with clang and lld, and the fuzz
# targets need clang's libFuzzer runtime (only recommended by clang-14, so named here); python3, psmisc and openssl (a
# self-signed certificate for the https tests) are used by the tests too; the consistency tests
# run git in a mount. pjdfstest (POSIX conformance, tests/pjdfstest) is built with autoconf,
# automake and make and run by perl's prove; cp -a, tar -xp, make and rsync -a run in a mount.
tests=(libgtest-dev libgmock-dev clang lld libclang-rt-14-dev python3 psmisc openssl git autoconf automake make
       perl rsync "${demo[@]}")
# The web browser's test (tests/integration/web_ui_test.cpp) drives dlfsd's /ui pages in a real
# browser: headless Chromium, its WebDriver, and Selenium for Debian's python3.
tests+=(chromium chromium-driver python3-selenium fonts-noto-color-emoji)  # (the emoji: the pages' icons in screenshots)
# CPack's DEB generator: dpkg-shlibdeps (dpkg-dev) finds the library dependencies of the ELF
# files that `file` recognises.
package=(dpkg-dev file)

with_tests=false
for arg in "$@"; do
  case "$arg" in
    --demo) packages+=("${demo[@]}") ;;
    --test) packages+=("${tests[@]}"); with_tests=true ;;
    --package) packages+=("${package[@]}") ;;
    *) echo "install-deps.sh: unknown option '$arg' (--demo, --test, --package)" >&2; exit 2 ;;
  esac
done
# The storage-driver tests start object-store emulators from npm (tests/emulators): S3 (s3rver),
# Azure Blob (Azurite). Node.js and npm come from Debian when the machine has none.
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
