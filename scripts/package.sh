#!/usr/bin/env bash
# Builds the Debian package of dlfs from the release build (scripts/build.sh) with CPack's DEB
# generator: build/dlfs_<version>_<arch>.deb, the version from CMakeLists.txt's project().
# It holds dlfs and dlfsd (/usr/bin), mount.dlfs (/sbin), the man pages, dlfsd.service and its
# conffile /etc/dlfs/dlfsd.conf; its dependencies are the libraries' packages (dpkg-shlibdeps)
# and fuse3. Prints the package's path last. Install it with `apt-get install ./FILE.deb` (or
# `dpkg -i`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh --package
(cd build && cpack -G DEB >cpack.log 2>&1) || { cat build/cpack.log; exit 1; }
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' build/CPackConfig.cmake)
deb="build/dlfs_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || { cat build/cpack.log; echo "package.sh: no $deb" >&2; exit 1; }
echo "$PWD/$deb"
