// libFuzzer target: a CSV bulk import's row parser and checks (platform/csv_rows.h) must never
// crash, hang or leak on any file, fed in any chunking: the first byte picks where the rest is
// cut in two (a BOM, a quote or a line end split across chunks). Every record it answers is
// checked as the import checks it; a row that passes has a valid name and what its kind needs.
//
//   scripts/test.sh runs it briefly; by hand:
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DDLFS_FUZZ=ON -DDLFS_TESTS=OFF
//   cmake --build build-fuzz --target csv_fuzz
//   build-fuzz/bin/csv_fuzz -max_total_time=60 NEW_DIR tests/fuzz/corpus/csv
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/paths.h"
#include "platform/csv_rows.h"

using namespace dlfs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t cut = text.empty() ? 0 : data[0] % (text.size() + 1);
  uint64_t last_line = 0;
  CsvRecordReader reader([&](CsvRecord&& record) {
    if (record.line < 2 || record.line < last_line) abort();  // after the header, in order
    last_line = record.line;
    auto row = check_csv_record(record);
    if (!row) return true;
    if (!validate_name(row->name)) abort();
    if (row->kind == CsvRowKind::kBytes ? !row->url.empty() : row->url.empty()) abort();
    if (!row->user_metadata.is_null() && !row->user_metadata.is_object()) abort();
    return true;
  });
  if (reader.feed(text.substr(0, cut)) && reader.feed(text.substr(cut))) (void)reader.finish();
  return 0;
}
