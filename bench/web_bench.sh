#!/usr/bin/env bash
# The web browser's folder pages on a large folder: N files of 1 KB (default 100,000) in one
# folder of a dataset served by a Release dlfsd on 127.0.0.1; every page of the folder (200 items
# each, as the browser shows them, the grid) fetched in order by following its "next page" link
# (the API's keyset cursor), with the session cookie. Prints the first page's time, the slowest
# page's, the median, and the whole walk: a page costs the same at the end of the folder as at
# its start.
#   bench/web_bench.sh [N]
# Environment: DLFS_BENCH_NO_BUILD=1 (use the binaries already in build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
[ "${DLFS_BENCH_NO_BUILD:-}" = 1 ] || scripts/build.sh >/dev/null
bin=$PWD/build/bin
. bench/lib.sh
bench_work web

bench_uploaded_files "$N" 1024
bench_dlfsd
python3 - "${dlfsd_url%/api/v1}" "$(cat "$dlfsd_token_file")" "$N" <<'PY'
import html, json, re, statistics, sys, time, urllib.request
base, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
api = urllib.request.Request(base + "/api/v1/datasets", headers={"Authorization": "Bearer " + token})
ds = [d for d in json.load(urllib.request.urlopen(api)) if d["name"] == "bench"][0]["id"]
url, times, tiles = base + "/ui/datasets/" + ds + "?dir=/files", [], 0
start = time.perf_counter()
while url:
    t = time.perf_counter()
    page = urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": "dlfs_session=" + token})).read().decode()
    times.append(time.perf_counter() - t)
    tiles += page.count("<div class=tile>")
    nxt = re.search(r'id=next-page href="([^"]+)"', page)
    url = base + html.unescape(nxt.group(1)) if nxt else None
total = time.perf_counter() - start
assert tiles == n, f"{tiles} tiles seen, {n} files uploaded"
print(f"{len(times)} pages of the folder's {n} files: first {times[0] * 1000:.1f} ms, median "
      f"{statistics.median(times) * 1000:.1f} ms, slowest {max(times) * 1000:.1f} ms, last {times[-1] * 1000:.1f} ms; "
      f"all in {total:.1f} s")
PY
