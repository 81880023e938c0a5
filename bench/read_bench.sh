#!/usr/bin/env bash
# The mount's read path next to its peers, side by side in one run on the same data: N files of
# SIZE bytes in one folder (default 10,000 x 100 KB) and one file of BIG_SIZE (default 1 GiB),
#   - on the local disk;
#   - through bindfs (a plain FUSE passthrough of the local folder, read-only);
#   - through rclone mount of the local folder (--read-only --vfs-cache-mode off);
#   - through s3fs over s3rver (the S3 emulator the tests use) on 127.0.0.1, the same files
#     copied into its bucket through s3fs first;
#   - through a dlfs mount of the embedded platform;
#   - through a dlfs mount of dlfsd on 127.0.0.1 serving the same store.
# Measures `ls -l` cold and warm, stat of every file, reading every file with 8 parallel readers
# cold and warm, and `dd` of the big file cold (cold: a fresh mount, empty cache, page cache
# dropped). Prints one table, every figure with its ratio to the local disk's. A peer that is
# missing or fails (bindfs, rclone, s3fs: apt-get installed here when missing; s3rver: by
# scripts/install-deps.sh --test) is a column of "—". Needs root (drops the kernel's page cache,
# installs packages) and /dev/fuse.
#   bench/read_bench.sh [N] [SIZE] [MOUNT OPTIONS] [BIG_SIZE]   e.g. bench/read_bench.sh 10000 102400 ro
# Environment: BIG_SIZE (when no 4th argument), PEERS (default "bindfs rclone s3fs"; "" for none),
# BENCH_TIMEOUT (seconds any one measurement may take, default 1200), DLFS_BENCH_NO_BUILD=1 (use
# the binaries already in build/bin; build/bin/read_files alone is built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
SIZE=${2:-102400}
OPTS=${3:-}
BIG_SIZE=${4:-${BIG_SIZE:-1073741824}}
PEERS=${PEERS-bindfs rclone s3fs}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-1200}
export LC_ALL=C
if [ "${DLFS_BENCH_NO_BUILD:-}" != 1 ]; then
  scripts/build.sh >/dev/null
  cmake -S . -B build -DDLFS_BENCH=ON >/dev/null && cmake --build build --target read_files >/dev/null
elif [ ! -x build/bin/read_files ]; then
  cmake -S . -B build -DDLFS_BENCH=ON >/dev/null && cmake --build build --target read_files >/dev/null
fi
bin=$PWD/build/bin
reader=$bin/read_files
. bench/lib.sh
bench_work bench
results=$work/results  # lines "TARGET KEY VALUE"
: >"$results"
T=(timeout -k 10 "$BENCH_TIMEOUT")
peer() { [[ " $PEERS " == *" $1 "* ]]; }

for p in bindfs rclone s3fs; do peer $p && bench_apt "$p:$p"; done

echo "making $N files of $SIZE bytes and one of $BIG_SIZE bytes..."
mkdir -p "$work/local/files" "$work/local/big"
bench_make_files "$work/local/files" "$N" "$SIZE"
head -c "$BIG_SIZE" /dev/urandom >"$work/local/big/big.bin"
"$bin/dlfs" dataset create bench >/dev/null
t0=$(date +%s.%N)
# (Waiting for the platform's preprocessing: a mount measured while it runs shares the cores
# with it, the embedded one in its own process.)
"$bin/dlfs" upload --dataset bench --jobs 8 "$work/local/files" >/dev/null
"$bin/dlfs" upload --dataset bench --jobs 8 "$work/local/big" >/dev/null
t1=$(date +%s.%N)
echo "uploaded to the platform and preprocessed in $(echo "$t1 - $t0" | bc) s"

# rate DIR: files/s of reading every file in DIR with 8 readers (all of them, every byte, or fail).
rate() {
  local out rc=0 f b s
  out=$("${T[@]}" "$reader" "$1" 8) || rc=$?
  read -r f b s <<<"$out"
  if [ "${b:-}" != "$((N * SIZE))" ] || [ "$rc" != 0 ] || [ "$f" != "$N" ]; then
    echo "$1: read ${f:-no} files, ${b:-no} bytes (expected $N, $((N * SIZE))), exit status $rc" >&2
    return 1
  fi
  awk -v f="$N" -v s="$s" 'BEGIN { printf "%.0f", f / s }'
}
# median3 CMD...: the median of CMD's figure over three runs (a warm pass takes a tenth of a
# second: one run's figure varies by a third from run to run here).
median3() {
  local a b c
  a=$("$@") && b=$("$@") && c=$("$@") || return
  printf "%s\n%s\n%s\n" "$a" "$b" "$c" | sort -n | sed -n 2p
}
# seqread FILE: MB/s of reading FILE from start to end with dd (every byte, or fail).
seqread() {
  local s e out b
  s=$(date +%s.%N)
  out=$("${T[@]}" dd if="$1" of=/dev/null bs=1M 2>&1) || { echo "$out" >&2; return 1; }
  e=$(date +%s.%N)
  b=$(sed -n 's/^\([0-9]*\) bytes.*/\1/p' <<<"$out")
  [ "$b" = "$BIG_SIZE" ] || { echo "$1: read $b bytes (expected $BIG_SIZE)" >&2; return 1; }
  awk -v b="$b" -v t="$(echo "$e - $s" | bc)" 'BEGIN { printf "%.1f", b / t / 1e6 }'
}
# put TARGET KEY CMD...: CMD's output as TARGET's KEY; a failure leaves it out ("—") and says so.
put() {
  local t=$1 k=$2 v
  shift 2
  if v=$("$@") && [ -n "$v" ]; then echo "$t $k $v" >>"$results"; else echo "$t: $k failed (—)" >&2; fi
}

# The targets: mount_NAME mounts it fresh at $mnt (the local disk: none), false if it did not;
# unmount_NAME undoes it. $root: where the target shows $work/local's tree.
mnt=$work/mnt
mkdir -p "$mnt"
mount_local() { root=$work/local; }
unmount_local() { :; }
mount_bindfs() {
  root=$mnt
  "${T[@]}" bindfs -r "$work/local" "$mnt" 2>>"$work/bindfs.log" || return
  bench_mounts+=("$mnt")
}
unmount_bindfs() { bench_unmount "$mnt"; }
mount_rclone() {
  root=$mnt
  rclone mount "$work/local" "$mnt" --config /dev/null --read-only --vfs-cache-mode off \
    --log-level ERROR 2>>"$work/rclone.log" &
  rclone_pid=$!
  bench_pids+=("$rclone_pid") bench_mounts+=("$mnt")
  bench_wait_mounted "$mnt" "$rclone_pid" 30
}
unmount_rclone() { bench_unmount "$mnt" "${rclone_pid:-}"; }
s3fs_mount() {  # s3fs_mount DIR [OPTIONS]: the bucket "bench" of $s3_url at DIR; sets $s3fs_pid
  s3fs bench "$1" -f -o "url=$s3_url,use_path_request_style,passwd_file=$work/s3.passwd${2:+,$2}" \
    >>"$work/s3fs.log" 2>&1 &
  s3fs_pid=$!
  bench_pids+=("$s3fs_pid") bench_mounts+=("$1")
  bench_wait_mounted "$1" "$s3fs_pid" 30
}
mount_s3fs() { root=$mnt; s3fs_mount "$mnt" ro; }
unmount_s3fs() { bench_unmount "$mnt" "${s3fs_pid:-}"; }
mount_embedded() {
  root=$mnt
  "${T[@]}" "$bin/mount.dlfs" bench "$mnt" -o "store=$DLFS_STORE,cache=$work/cache${OPTS:+,$OPTS}" || return
  bench_mounts+=("$mnt")
  dlfs_pid=$(bench_daemon_of "$mnt")
}
mount_dlfsd() {
  root=$mnt
  "${T[@]}" "$bin/mount.dlfs" "$dlfsd_url/datasets/bench" "$mnt" \
    -o "token_file=$dlfsd_token_file,cache=$work/cache${OPTS:+,$OPTS}" || return
  bench_mounts+=("$mnt")
  dlfs_pid=$(bench_daemon_of "$mnt")
}
# (until the daemon exited: what it sends once unmounted — uploads, access times — is not done
# during the next measurement)
unmount_embedded() { bench_unmount "$mnt" "${dlfs_pid:-}"; dlfs_pid=; }
unmount_dlfsd() { unmount_embedded; }

# prime TARGET: reads the files behind TARGET once, so that every target's cold runs find its
# backend's bytes in the host's cache alike (drop only empties this machine's page cache; a
# virtual disk's host may or may not have them otherwise, which made cold figures of one file
# vary threefold from target to target).
prime() {
  case $1 in
    local | bindfs | rclone) find "$work/local" -type f -exec cat {} + >/dev/null ;;
    s3fs) find "$work/s3rver" -type f -exec cat {} + >/dev/null ;;
    *) find "$DLFS_STORE/blobs" -type f -exec cat {} + >/dev/null ;;
  esac
}

# measure TARGET: the runs through TARGET. Cold = a fresh mount with an empty cache and the page
# cache dropped. A target that does not mount is left out ("—").
measure() {
  local t=$1 log=$work/$1.log
  [ -s "$log" ] || log=
  # fresh [keep]: unmounted, the cache emptied (unless keep), the page cache dropped, mounted.
  fresh() {
    "unmount_$t"
    [ -n "${1:-}" ] || rm -rf "$work/cache"
    drop
    "mount_$t" && return
    echo "$t did not mount (—)${log:+: $(tail -n 3 "$log")}" >&2
    "unmount_$t"
    return 1
  }
  echo "measuring $t..."
  prime "$t"
  fresh || return 0
  put "$t" ls_cold secs "${T[@]}" ls -l "$root/files"
  put "$t" ls_warm secs "${T[@]}" ls -l "$root/files"
  put "$t" stat secs "${T[@]}" "$reader" "$root/files" 8 stat
  fresh || return 0
  put "$t" big_cold seqread "$root/big/big.bin"
  fresh || return 0
  put "$t" read_cold rate "$root/files"
  put "$t" read_warm median3 rate "$root/files"
  "${T[@]}" cmp -s "$work/local/files/f000000.bin" "$root/files/f000000.bin" ||
    echo "$t: f000000.bin read back differs" >&2
  if [ "$t" = embedded ] || [ "$t" = dlfsd ]; then
    # (what the read left: the listings in the metadata cache, the bytes in the data cache)
    fresh keep || return 0
    put "$t" ls_remount secs "${T[@]}" ls -l "$root/files"
    fresh keep || return 0
    put "$t" read_remount rate "$root/files"
  fi
  "unmount_$t"
}

measure local
peer bindfs && command -v bindfs >/dev/null && measure bindfs
peer rclone && command -v rclone >/dev/null && measure rclone
if peer s3fs && command -v s3fs >/dev/null && bench_s3rver bench; then
  echo S3RVER:S3RVER >"$work/s3.passwd"
  chmod 600 "$work/s3.passwd"
  mkdir -p "$work/s3up"
  t0=$(date +%s.%N)
  # (~8 requests a file, most of them lookups, which these two options make fewer; copies in
  # parallel were no faster here, s3rver being one Node process)
  if ! s3fs_mount "$work/s3up" enable_noobj_cache,notsup_compat_dir; then
    echo "s3fs did not mount (—): $(tail -n 3 "$work/s3fs.log")" >&2
    bench_unmount "$work/s3up" "$s3fs_pid"
  elif ! timeout -k 10 $((BENCH_TIMEOUT * 3)) cp -r "$work/local/files" "$work/local/big" "$work/s3up/"; then
    echo "s3fs: could not copy the files into s3rver (—): $(tail -n 3 "$work/s3fs.log")" >&2
    bench_unmount "$work/s3up" "$s3fs_pid"
  else
    bench_unmount "$work/s3up" "$s3fs_pid"
    echo "copied to s3rver through s3fs in $(echo "$(date +%s.%N) - $t0" | bc) s"
    measure s3fs
  fi
fi
measure embedded
bench_dlfsd
measure dlfsd

printf "\n%d files of %d bytes in one folder, one file of %d bytes; dlfs mount options: %s\n" \
  "$N" "$SIZE" "$BIG_SIZE" "${OPTS:-defaults}"
python3 - "$results" <<'PY'
import sys
got = {}
for line in open(sys.argv[1]):
    t, k, v = line.split()
    got[t, k] = float(v)
cols = [("local", "local disk"), ("bindfs", "bindfs"), ("rclone", "rclone"), ("s3fs", "s3fs"),
        ("embedded", "dlfs embedded"), ("dlfsd", "dlfs dlfsd")]
rows = [("ls_cold", "ls -l, cold (s)", "s"), ("ls_warm", "ls -l, warm (s)", "s"),
        ("ls_remount", "ls -l after a remount, cold (s)", "s"), ("stat", "stat of every file (s)", "s"),
        ("read_cold", "read all, 8 readers, cold (files/s)", "n"),
        ("read_warm", "read all, 8 readers, warm, median of 3 (files/s)", "n"),
        ("read_remount", "read all after a remount (files/s)", "n"),
        ("big_cold", "1 big file, dd, cold (MB/s)", "n")]
def fig(v, unit):
    return f"{v:.3f}" if unit == "s" else f"{v:,.0f}" if v >= 100 else f"{v:.1f}"
table = [[""] + [name for _, name in cols]]
for key, label, unit in rows:
    # (the local disk keeps no cache across mounts: after a remount, its listing is the cold one)
    base = got.get(("local", {"ls_remount": "ls_cold", "read_remount": "read_cold"}.get(key, key)))
    line = [label]
    for t, _ in cols:
        v = got.get((t, key))
        if key.endswith("_remount") and t not in ("local", "embedded", "dlfsd"):
            line.append("")  # (no cache across mounts: the cold figure above)
        elif t == "local" and key.endswith("_remount"):
            line.append(fig(base, unit) if base is not None else "—")
        elif v is None:
            line.append("—")
        elif t == "local" or not base:
            line.append(fig(v, unit))
        else:
            line.append(f"{fig(v, unit)} ({v / base:.2f}×)")
    table.append(line)
widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
for r in table:
    print(r[0].ljust(widths[0]) + "".join("  " + c.rjust(w) for c, w in zip(r[1:], widths[1:])))
PY
echo "(ratio: the figure / the local disk's — for times (s) lower is better, for files/s and MB/s higher;"
echo " '—': missing or failed, see above; after a remount: the same cache folder, the page cache"
echo " dropped (the local disk's and the peers' figure is the cold one: they keep no cache across"
echo " mounts); measured once the platform had preprocessed the upload)"
