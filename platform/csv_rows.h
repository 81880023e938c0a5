// The rows of a CSV bulk import (the seed's "CSV File Format"): parsed with Debian's libcsv,
// streamed (fed in chunks; only the current record is held), and each row checked into what the
// import makes of it. No platform here, so the parser and the checks are fuzzed alone
// (tests/fuzz/csv_fuzz.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_util.h"
#include "core/result.h"

namespace dlfs {

// The columns the import knows, matched to the header's names without regard to case.
enum class CsvColumn { kId, kUrl, kImageBytes, kName, kAction, kMimetype, kItemMetadata, kItemDescription };
inline constexpr size_t kCsvColumnCount = 8;

// One record of the file after the header, its fields by column (absent: an empty string).
struct CsvRecord {
  uint64_t line = 0;  // the line of the file the record starts on (1-based, the header is line 1)
  std::string fields[kCsvColumnCount];
  const std::string& operator[](CsvColumn c) const { return fields[size_t(c)]; }
  std::string& operator[](CsvColumn c) { return fields[size_t(c)]; }
};

// Feeds a CSV file's bytes to libcsv in chunks as they come, and answers every record after the
// header, in order. A UTF-8 byte order mark is skipped; quoted fields may hold commas, quotes
// ("") and line ends. Columns the header names that the import does not know are ignored (each
// named once in warnings()).
class CsvRecordReader {
 public:
  // `on_record` answers false to stop the reading (feed() then answers ECANCELED).
  using OnRecord = std::function<bool(CsvRecord&&)>;
  explicit CsvRecordReader(OnRecord on_record);
  ~CsvRecordReader();
  CsvRecordReader(const CsvRecordReader&) = delete;
  CsvRecordReader& operator=(const CsvRecordReader&) = delete;

  Status feed(std::string_view bytes);
  // The end of the file: the last record if it had no line end; EINVAL for a quote left open or
  // a file without a header.
  Status finish();
  const std::vector<std::string>& warnings() const { return warnings_; }
  uint64_t records() const { return records_; }
  uint64_t line() const { return line_; }  // the line being read
  // Whether the header was read and names a column the import knows (feed() and finish() answer
  // EINVAL otherwise): an error before is about the whole file, one after about its rest.
  bool header_done() const { return header_done_; }

 private:
  struct Parser;
  void field(std::string_view text);
  void end_record();
  Status parse_lines(std::string_view bytes);
  Status stop_status() const;  // why the reading stopped

  OnRecord on_record_;
  std::unique_ptr<Parser> parser_;
  bool bom_checked_ = false;
  std::string bom_prefix_;  // the first bytes, until it is known whether they are a BOM
  uint64_t line_ = 1;       // the line being fed
  bool after_cr_ = false;   // the last byte fed was a "\r"
  bool header_done_ = false;
  std::vector<std::optional<CsvColumn>> columns_;  // by position, from the header
  CsvRecord current_;
  size_t field_index_ = 0;
  uint64_t record_line_ = 0;
  bool stopped_ = false;
  Status failure_;  // a header naming no known column
  uint64_t records_ = 0;
  std::vector<std::string> warnings_;
};

// What one row makes.
enum class CsvRowKind {
  kLink,   // a link item to `url`
  kFetch,  // an item holding the bytes fetched from `url` (action "upload")
  kBytes,  // an item holding `bytes` (image_bytes)
};

struct CsvRow {
  uint64_t line = 0;
  CsvRowKind kind = CsvRowKind::kLink;
  std::string name;  // the item's name in the import's folder (one path part)
  std::string url;
  std::string bytes;
  std::string mimetype;  // "" for none
  json user_metadata;    // merged into metadata.user; null for none
  std::optional<std::string> description;
};

// Checks a record: a URL or image_bytes; action link/upload (or none: link with a URL, else the
// bytes); item_metadata a JSON object; image_bytes base64; a name from `name`, else `ID`, else
// the URL's last path part, that is a valid item name. EINVAL with the reason otherwise.
Result<CsvRow> check_csv_record(const CsvRecord& record);

// The folder a CSV file's rows go to: `to` (a dataset path) / the file's name less ".csv".
Result<std::string> csv_import_folder(std::string_view to, std::string_view csv_file_name);

}  // namespace dlfs
