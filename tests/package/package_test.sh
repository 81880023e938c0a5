#!/usr/bin/env bash
# The Debian package as an administrator uses it (.ci/run calls this; root, as on CI's fresh
# Debian 12): builds it (scripts/package.sh), checks what it holds, installs it with dpkg -i,
# starts dlfsd as dlfsd.service would (the shipped conffile), mounts a dataset with
# `mount -t dlfs` and through an fstab line (a scratch fstab: mount --fstab), reads a file and
# its xattrs back through /sbin/mount.dlfs, then purges the package. Cleans up on every path.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "package_test: needs root (dpkg -i, mount)" >&2; exit 1; }
fail() { echo "package_test: FAILED: $*" >&2; exit 1; }
mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts; }

deb=$(scripts/package.sh | tail -n 1)
echo "package_test: $deb"
work=$(mktemp -d /tmp/dlfs-package-test.XXXXXX)
mnt=$work/mnt
installed=false
server_pid=
cleanup() {
  if mounted "$mnt"; then umount "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" || true; fi
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if $installed; then dpkg --purge dlfs >/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
passed=0
ok() { passed=$((passed + 1)); echo "package_test: ok: $*"; }

# What it holds: the programs where mount(8) and PATH find them, man pages gzipped, the unit and
# its conffile; its dependencies from dpkg-shlibdeps, and fuse3.
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/dlfs ./usr/bin/dlfsd ./sbin/mount.dlfs ./usr/share/man/man1/dlfs.1.gz \
  ./usr/share/man/man8/dlfsd.8.gz ./usr/share/man/man8/mount.dlfs.8.gz ./lib/systemd/system/dlfsd.service \
  ./etc/dlfs/dlfsd.conf; do
  grep -q " $f\$" <<<"$contents" || fail "the package lacks $f"
done
depends=$(dpkg-deb -f "$deb" Depends)
depends_names=$(tr ',' '\n' <<<"$depends" | awk '{ print $1 }')
for d in fuse3 libfuse3-3 libcurl4 liblmdb0 libvips42 libstdc++6; do
  grep -qxF "$d" <<<"$depends_names" || fail "Depends lacks $d: $depends"
done
[ "$(dpkg-deb -I "$deb" conffiles)" = /etc/dlfs/dlfsd.conf ] || fail "the conffile is not /etc/dlfs/dlfsd.conf"
ok "contents, Depends ($depends) and conffiles"

dpkg -i "$deb" >/dev/null
installed=true
[ "$(command -v dlfs)" = /usr/bin/dlfs ] || fail "dlfs is not /usr/bin/dlfs"
dpkg -S /sbin/mount.dlfs >/dev/null || fail "/sbin/mount.dlfs is not the package's"
# (grep -c reads to the end: a grep -q that stops at the first line leaves zcat a SIGPIPE, and
# under pipefail the check failed once the page passed gzip's 32 KiB output buffer)
[ "$(zcat /usr/share/man/man8/mount.dlfs.8.gz | grep -c '^\.TH MOUNT\.DLFS 8')" = 1 ] || fail "mount.dlfs.8.gz is no man page"
ok "installed"

# dlfsd as dlfsd.service starts it (its ExecStart, the shipped conffile), on a scratch store and
# a free port instead of /var/lib/dlfs and 8080: flags win over the file.
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/dlfsd.service)
[ -n "$exec_start" ] || fail "dlfsd.service has no ExecStart"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify /lib/systemd/system/dlfsd.service 2>"$work/verify.txt" ||
    { cat "$work/verify.txt"; fail "systemd-analyze verify dlfsd.service"; }
fi
mkfifo "$work/server.out"
$exec_start --store "$work/srv" --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
read -r -t 30 line <"$work/server.out" || true
[[ "$line" == "listening on 127.0.0.1:"* ]] || { cat "$work/server.err"; fail "dlfsd did not start with the conffile: '$line'"; }
token=$(dlfsd --config /etc/dlfs/dlfsd.conf token --store "$work/srv" --email ci@example.com)
[ "$(tr -cd . <<<"$token")" = .. ] || fail "dlfsd token printed no JWT: $token"
kill "$server_pid"
wait "$server_pid" || fail "dlfsd did not stop gracefully on SIGTERM"
server_pid=
ok "dlfsd.service's command line serves (${line#listening on }) and stops"

# A dataset with a photo, preprocessed (thumbnail), made with the installed dlfs.
mkdir -p "$work/src/photos" "$mnt"
convert -size 320x240 gradient:red-blue "$work/src/photos/a.jpg"
dlfs --store "$work/store" dataset create demo >/dev/null
dlfs upload --dataset demo "$work/src/photos" --store "$work/store" >/dev/null

mount -t dlfs demo "$mnt" -o "store=$work/store,cache=$work/cache"
cmp "$mnt/photos/a.jpg" "$work/src/photos/a.jpg" || fail "mount -t dlfs: other bytes"
getfattr --absolute-names -d "$mnt/photos/a.jpg" >"$work/xattrs.txt"
grep -qx 'user.dl.width="320"' "$work/xattrs.txt" || { cat "$work/xattrs.txt"; fail "no user.dl.width"; }
grep -qx 'user.dl.thumbnail_path="/.thumbnails/photos/a.jpg"' "$work/xattrs.txt" || fail "no user.dl.thumbnail_path"
if grep -q '^user.dl.thumbnail=' "$work/xattrs.txt"; then fail "getfattr -d prints the thumbnail"; fi
[ "$(stat -c %s "$mnt/.thumbnails/photos/a.jpg")" -gt 0 ] || fail "an empty thumbnail"
umount "$mnt"
for _ in $(seq 50); do mounted "$mnt" || break; sleep 0.1; done
! mounted "$mnt" || fail "umount left the mount"
ok "mount -t dlfs, getfattr -d, umount"

# An fstab line with what fstab lines carry (a scratch fstab; mount(8) reads only that one).
printf '# a scratch fstab\ndemo:/photos %s dlfs store=%s,cache=%s,ro,noauto,nofail,_netdev,user,x-systemd.automount,defaults 0 0\n' \
  "$mnt" "$work/store" "$work/cache" >"$work/fstab"
mount --fstab "$work/fstab" "$mnt"
cmp "$mnt/a.jpg" "$work/src/photos/a.jpg" || fail "fstab mount: other bytes"
if touch "$mnt/new.txt" 2>/dev/null; then fail "the fstab line's ro did not reach the mount"; fi
umount "$mnt"
ok "an fstab line (DATASET:/folder, ro, noauto, user, _netdev, x-*, defaults) with mount --fstab"

dpkg --purge dlfs >/dev/null
installed=false
for f in /usr/bin/dlfs /usr/bin/dlfsd /sbin/mount.dlfs /lib/systemd/system/dlfsd.service /etc/dlfs/dlfsd.conf; do
  [ ! -e "$f" ] || fail "$f is left after dpkg --purge"
done
ok "purged"
echo "package_test: $passed passed, 0 failed"
