# Shared by the shell benchmarks (sourced): a work folder under /var/tmp that goes at exit with
# whatever was mounted or started there, timing, dropping the kernel's caches, and a dlfsd on
# 127.0.0.1 for the HTTP columns. Expects $bin (the built binaries).

# bench_work NAME: $work, $DLFS_STORE=$work/store; everything cleaned up at exit.
bench_work() {
  work=$(mktemp -d "/var/tmp/dlfs-$1.XXXXXX")
  export DLFS_STORE=$work/store
  bench_mounts=() bench_pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM HUP
}
# (Every mount in bench_mounts is unmounted and every process in bench_pids killed, whichever way
# the script ends: trapped INT/TERM/HUP exit too, so that the EXIT trap runs.)
bench_cleanup() {
  local m p
  set +e  # (one gone already must not stop the cleanup)
  for m in "${bench_mounts[@]}"; do bench_mounted "$m" && fusermount3 -u -z "$m"; done
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${bench_pids[@]}"; do bench_wait_exit "$p" 5 || kill -9 "$p" 2>/dev/null; done
  rm -rf "$work"
}
# bench_mounted DIR: whether DIR is a mount point now (from /proc/mounts: never touches the
# filesystem, so a mount whose daemon hangs or died cannot block it).
bench_mounted() { awk -v d="$1" '$2 == d { found = 1 } END { exit !found }' /proc/mounts; }
# bench_wait_mounted DIR PID [SECONDS]: until DIR is mounted (true), or PID (the mounting process,
# "" if none) exited or SECONDS (default 30) went by (false).
bench_wait_mounted() {
  local i
  for i in $(seq $((${3:-30} * 10))); do
    bench_mounted "$1" && return 0
    [ -z "$2" ] || kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# bench_wait_exit PID [SECONDS]: until PID exited (true) or SECONDS (default 10) went by (false).
bench_wait_exit() {
  local i
  for i in $(seq $((${2:-10} * 10))); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}
# bench_daemon_of DIR: the pid of the mount.dlfs daemon serving DIR (none: nothing printed).
bench_daemon_of() { pgrep -n -f -- "mount.dlfs .* $1 -o" || true; }
# bench_unmount DIR [PID]: fusermount3 -u DIR if mounted (retried while busy, then lazily), and
# until PID (the FUSE daemon, when known) exited, bounded; PID then leaves bench_pids (the cleanup
# must never signal a number the system may have given another process since).
bench_unmount() {
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    bench_mounted "$1" || break
    fusermount3 -u "$1" 2>/dev/null && break
    [ "$i" = 10 ] && fusermount3 -u -z "$1"
    sleep 0.5
  done
  [ -n "${2:-}" ] || return 0
  bench_wait_exit "$2" 30 || { kill "$2" 2>/dev/null; bench_wait_exit "$2" 5; } || return 0
  local keep=() p
  for p in "${bench_pids[@]}"; do [ "$p" = "$2" ] || keep+=("$p"); done
  bench_pids=("${keep[@]}")
}

# bench_mount SOURCE MOUNTPOINT OPTIONS: mount.dlfs, remembered for the cleanup.
# Its daemon's pid in bench_mount_pid, for bench_unmount DIR "$bench_mount_pid".
bench_mount() {
  mkdir -p "$2"
  "$bin/mount.dlfs" "$1" "$2" -o "$3"
  bench_mounts+=("$2")  # (the daemon exits when unmounted)
  bench_mount_pid=$(bench_daemon_of "$2")
}

# secs CMD...: wall seconds of CMD (its output dropped); fails, printing nothing, if CMD fails.
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null || return; e=$(date +%s.%N); echo "$e - $s" | bc; }
# bench_make_files DIR COUNT SIZE [FOLDERS]: COUNT files of SIZE bytes (fNNNNNN.bin, each a
# different rotation of one random block: no two alike), in DIR or spread over FOLDERS
# subfolders of it (dNN/).
bench_make_files() {
  python3 - "$1" "$2" "$3" "${4:-0}" <<'PY'
import os, sys
d, n, size, folders = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
block = os.urandom(max(1, min(size, 1 << 20)))
for i in range(n):
    sub = f"{d}/d{i % folders:02d}" if folders else d
    if i < max(folders, 1):
        os.makedirs(sub, exist_ok=True)
    with open(f"{sub}/f{i:06d}.bin", "wb") as f:
        left, k = size, i % len(block)
        while left > 0:
            chunk = (block[k:] + block[:k])[:left]
            f.write(chunk)
            left -= len(chunk)
PY
}
# drop: the page cache, dentries and inodes, so that the next run is cold (root only).
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# bench_uploaded_files N SIZE: N files of SIZE bytes in $work/local/files, uploaded with `dlfs
# upload` into a new dataset "bench" of the embedded platform ($DLFS_STORE), under /files.
bench_uploaded_files() {
  echo "making $1 files of $2 bytes and uploading them..."
  bench_make_files "$work/local/files" "$1" "$2"
  "$bin/dlfs" dataset create bench >/dev/null
  "$bin/dlfs" upload --dataset bench --jobs 8 "$work/local/files" >/dev/null
}

# bench_dlfsd [DLFSD OPTIONS...]: dlfsd on $DLFS_STORE and a free port of 127.0.0.1; sets
# $dlfsd_url and $dlfsd_token_file.
bench_dlfsd() {
  local out=$work/dlfsd.out
  "$bin/dlfsd" --store "$DLFS_STORE" --listen 127.0.0.1:0 --log-level warn "$@" >"$out" 2>"$work/dlfsd.log" &
  bench_pids+=("$!")
  for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.1; done
  local port
  port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$out")
  [ -n "$port" ] || { echo "dlfsd did not start: $(cat "$work/dlfsd.log")" >&2; return 1; }
  dlfsd_url=http://127.0.0.1:$port/api/v1
  dlfsd_token_file=$work/token
  "$bin/dlfsd" token --store "$DLFS_STORE" --email bench@local >"$dlfsd_token_file"
}

# bench_apt COMMAND:PACKAGE...: apt-get installs (quietly, bounded) each PACKAGE whose COMMAND is
# missing, as root on Debian; never fails (a peer left missing is a column of "—").
bench_apt() {
  local p
  for p in "$@"; do
    command -v "${p%%:*}" >/dev/null && continue
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
      echo "${p%%:*} is missing (apt-get install ${p#*:}); its column: —" >&2
      continue
    fi
    echo "installing ${p#*:}..."
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends "${p#*:}" \
      >"$work/apt.log" 2>&1 && continue
    if [ -z "${bench_apt_updated:-}" ]; then  # (package lists missing or stale: once, then again)
      bench_apt_updated=1
      timeout 900 apt-get update -qq >>"$work/apt.log" 2>&1 || true
      DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends "${p#*:}" \
        >>"$work/apt.log" 2>&1 && continue
    fi
    echo "could not install ${p#*:} (its column: —): $(tail -n 3 "$work/apt.log")" >&2
  done
}

# bench_s3rver BUCKET: the S3 emulator the tests use (s3rver, tests/emulators: installed by
# scripts/install-deps.sh --test) on a free port of 127.0.0.1 with an empty BUCKET, its data under
# $work/s3rver; sets $s3_url. Its account: S3RVER, key and secret alike.
bench_s3rver() {
  local em=$PWD/tests/emulators port pid i
  if [ ! -f "$em/node_modules/s3rver/bin/s3rver.js" ] || ! command -v node >/dev/null; then
    echo "s3rver is missing (scripts/install-deps.sh --test)" >&2
    return 1
  fi
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/s3rver"
  # (as the tests start it, see tests/support/s3_emulator.cpp; --silent: no log line per request)
  node --openssl-legacy-provider -r "$em/s3rver-fixes.js" "$em/node_modules/s3rver/bin/s3rver.js" \
    --directory "$work/s3rver" --address 127.0.0.1 --port "$port" --silent --configure-bucket "$1" \
    >"$work/s3rver.log" 2>&1 &
  pid=$!
  bench_pids+=("$pid")
  for i in $(seq 300); do  # (it creates the bucket before it listens)
    (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { s3_url=http://127.0.0.1:$port; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "s3rver did not start: $(cat "$work/s3rver.log")" >&2
  return 1
}
