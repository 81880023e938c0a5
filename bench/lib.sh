# Shared by the shell benchmarks (sourced): a work folder under /var/tmp that goes at exit with
# whatever was mounted or started there, timing, dropping the kernel's caches, and a dlfsd on
# 127.0.0.1 for the HTTP columns. Expects $bin (the built binaries).

# bench_work NAME: $work, $DLFS_STORE=$work/store; everything cleaned up at exit.
bench_work() {
  work=$(mktemp -d "/var/tmp/dlfs-$1.XXXXXX")
  export DLFS_STORE=$work/store
  bench_mounts=() bench_pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  local m p
  for m in "${bench_mounts[@]}"; do mountpoint -q "$m" 2>/dev/null && fusermount3 -u -z "$m"; done
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done  # (set -e: one gone already must not stop the cleanup)
  rm -rf "$work"
}

# bench_mount SOURCE MOUNTPOINT OPTIONS: mount.dlfs, remembered for the cleanup.
bench_mount() {
  mkdir -p "$2"
  "$bin/mount.dlfs" "$1" "$2" -o "$3"
  bench_mounts+=("$2")  # (the daemon exits when unmounted)
}

# secs CMD...: wall seconds of CMD (its output dropped).
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
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
