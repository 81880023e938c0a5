#!/usr/bin/env bash
# Installs what is needed, builds with AddressSanitizer and UndefinedBehaviorSanitizer, and runs
# every test (unit tests, then the real-FUSE integration tests, which need root or /dev/fuse).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
# clang and lld for the test build: on 2 cores they build it in under a third of g++ and ld's time
# (5 min against 17: clang compiles the nlohmann_json, fmt and GoogleTest templates of every file
# faster, lld links a test in a quarter of ld's time); clang's AddressSanitizer also finds
# use-after-scope that g++'s missed. The release build (scripts/build.sh, the package) stays g++,
# so every change is compiled by both. (Named as cache variables: a build-test made with g++
# before is reconfigured, not silently kept.)
cmake -S . -B build-test -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DDLFS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-test
# The fuzz targets (clang + libFuzzer: preprocessing, a CSV import's rows, an item's decoders) for a short while
# each from the committed corpus; what they find new goes to a scratch folder. DLFS_FUZZ_SECONDS=0 skips it. A fixed seed keeps
# this a regression gate (the same mutations on every run); explore with DLFS_FUZZ_SEED=0 (random)
# and a long DLFS_FUZZ_SECONDS, and commit what it finds to the corpus with the fix.
fuzz_seconds=${DLFS_FUZZ_SECONDS:-25}
fuzz_seed=${DLFS_FUZZ_SEED:-1}
# run_fuzz TARGET SECONDS [libFuzzer options]: from tests/fuzz/corpus/<TARGET less _fuzz>.
run_fuzz() {
  local target=$1 seconds=$2
  shift 2
  local scratch
  scratch=$(mktemp -d)
  build-fuzz/bin/"$target" -max_total_time="$seconds" -seed="$fuzz_seed" -rss_limit_mb=2048 "$@" \
    -print_final_stats=1 -artifact_prefix="$scratch/" "$scratch" tests/fuzz/corpus/"${target%_fuzz}" >"$scratch.log" 2>&1 ||
    { tail -n 60 "$scratch.log"; echo "$target failed: the input that did it is in $scratch"; exit 1; }
  grep -E "^(Done|stat::number_of_executed_units)" "$scratch.log" | sed "s/^/$target: /"
  rm -rf "$scratch" "$scratch.log"
}
if [ "$fuzz_seconds" -gt 0 ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DDLFS_FUZZ=ON -DDLFS_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-fuzz --target preprocess_fuzz csv_fuzz item_decode_fuzz
  run_fuzz preprocess_fuzz "$fuzz_seconds" -timeout=20
  # The CSV rows' parser is small: 10 s covers it.
  run_fuzz csv_fuzz "$(( fuzz_seconds < 10 ? fuzz_seconds : 10 ))" -timeout=10 -max_len=65536
  run_fuzz item_decode_fuzz "$(( fuzz_seconds < 10 ? fuzz_seconds : 10 ))" -timeout=10 -max_len=16384
fi
# pjdfstest (POSIX conformance; the exact commit with its licence in tests/pjdfstest/), built once
# into build-test/pjdfstest; tests/integration/pjdfstest_test.cpp runs it on mounts.
pjdfstest_tar=tests/pjdfstest/pjdfstest-85a8aea9e685.tar.gz
if [ ! -x build-test/pjdfstest/pjdfstest ] || [ "$pjdfstest_tar" -nt build-test/pjdfstest/pjdfstest ]; then
  rm -rf build-test/pjdfstest
  tar -xzf "$pjdfstest_tar" -C build-test
  (cd build-test/pjdfstest && autoreconf -ifs >/dev/null 2>&1 && ./configure >/dev/null && make -s pjdfstest >/dev/null) ||
    { echo "test.sh: building pjdfstest failed"; exit 1; }
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-test
ctest --output-on-failure -j "$(nproc)" --timeout 900 "$@"
