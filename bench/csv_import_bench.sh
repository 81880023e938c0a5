#!/usr/bin/env bash
# CSV bulk import of ROWS link rows (default 100,000): `dlfs import csv` on the embedded
# platform, then the same file through a dlfsd on 127.0.0.1 (sent as the request body, imported
# by its command while the client polls). Prints the wall time, rows/s and the peak memory of the
# process that parsed the file (dlfs, then dlfsd), which stays bounded: the file is streamed.
# The rows' URLs are on 127.0.0.1 and dlfsd runs without --link-allow-private, so its
# preprocessing of the new link items refuses them at once and sends no request anywhere.
#   bench/csv_import_bench.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-100000}
scripts/build.sh >/dev/null
bin=$PWD/build/bin
. bench/lib.sh
bench_work csvbench

csv=$work/cams.csv
python3 - "$csv" "$ROWS" <<'PY'
import sys
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("ID,URL,mimetype,item_metadata\n")
    for i in range(rows):
        f.write(f'{i},http://127.0.0.1:9/cams/cam-{i % 16}/{i:07d}.jpg,image/jpeg,"{{""cam"": {i % 16}}}"\n')
PY
echo "$ROWS link rows, $(du -h "$csv" | cut -f1) of CSV"

# run NAME CMD...: wall seconds of CMD, with its output kept in $work/NAME.out; fails loudly.
run() {
  local name=$1 s e
  shift
  s=$(date +%s.%N)
  "$@" >"$work/$name.out" 2>"$work/$name.err" || { cat "$work/$name.out" "$work/$name.err" >&2; return 1; }
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}
check() {  # NAME: the import made every row
  grep -q "$ROWS rows, $ROWS created, 0 updated, 0 unchanged, 0 failed" "$work/$1.out" ||
    { echo "$1: not every row was imported:" >&2; cat "$work/$1.out" "$work/$1.err" >&2; return 1; }
}
rate() { echo "scale=0; $ROWS / $1" | bc; }

"$bin/dlfs" dataset create embedded >/dev/null
t=$(run embedded /usr/bin/time -f "%M" "$bin/dlfs" import csv "$csv" --dataset embedded)
check embedded
rss=$(tail -n 1 "$work/embedded.err")
printf "embedded: %6.1f s  %6s rows/s  dlfs peak RSS %s MB\n" "$t" "$(rate "$t")" "$((rss / 1024))"
t=$(run embedded-again "$bin/dlfs" import csv "$csv" --dataset embedded)
grep -q "$ROWS rows, 0 created, 0 updated, $ROWS unchanged, 0 failed" "$work/embedded-again.out" ||
  { cat "$work/embedded-again.out" >&2; exit 1; }
printf "embedded, again (all unchanged): %6.1f s\n" "$t"

bench_dlfsd
server=(--server "$dlfsd_url" --token-file "$dlfsd_token_file")
"$bin/dlfs" "${server[@]}" dataset create served >/dev/null
t=$(run served "$bin/dlfs" "${server[@]}" import csv "$csv" --dataset served)
check served
rss=$(awk '/^VmHWM/ {print $2}' "/proc/${bench_pids[0]}/status")
printf "dlfsd:    %6.1f s  %6s rows/s  dlfsd peak RSS %s MB\n" "$t" "$(rate "$t")" "$((rss / 1024))"
