#include "platform/csv_rows.h"

#include <csv.h>
#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "core/base64.h"
#include "core/paths.h"

namespace dlfs {
namespace {

constexpr std::array<std::pair<std::string_view, CsvColumn>, kCsvColumnCount> kColumns = {{
    {"id", CsvColumn::kId},
    {"url", CsvColumn::kUrl},
    {"image_bytes", CsvColumn::kImageBytes},
    {"name", CsvColumn::kName},
    {"action", CsvColumn::kAction},
    {"mimetype", CsvColumn::kMimetype},
    {"item_metadata", CsvColumn::kItemMetadata},
    {"item_description", CsvColumn::kItemDescription},
}};

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// Line ends as an editor counts them: "\r\n", "\n" and a lone "\r" are one each.
uint64_t count_line_ends(std::string_view text) {
  uint64_t n = 0;
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\r' || (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))) ++n;
  return n;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

std::optional<CsvColumn> column_named(std::string_view header) {
  std::string name = lower_ascii(header);
  for (const auto& [known, column] : kColumns)
    if (name == known) return column;
  return std::nullopt;
}

// The last part of the URL's path ("https://h/a/cat.jpg?x=1" -> "cat.jpg"); "" when it has none.
std::string url_file_name(const std::string& url) {
  CURLU* u = curl_url();
  if (!u) return {};
  std::string name;
  char* path = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) == CURLUE_OK && path) {
    std::string_view p(path);
    name = std::string(p.substr(p.rfind('/') + 1));
  }
  curl_free(path);
  curl_url_cleanup(u);
  return name;
}

}  // namespace

struct CsvRecordReader::Parser {
  csv_parser p;
  // libcsv's callbacks.
  static void on_field(void* s, size_t len, void* self) {
    static_cast<CsvRecordReader*>(self)->field(std::string_view(static_cast<const char*>(s), s ? len : 0));
  }
  static void on_end(int, void* self) { static_cast<CsvRecordReader*>(self)->end_record(); }
};

CsvRecordReader::CsvRecordReader(OnRecord on_record)
    : on_record_(std::move(on_record)), parser_(std::make_unique<Parser>()) {
  // Strict: a quoted field must end with its quote followed by a delimiter or a line end ("a"b is
  // an error, not a guess), and one still open at the end of the file is an error, not a field.
  csv_init(&parser_->p, CSV_STRICT | CSV_STRICT_FINI);
}

CsvRecordReader::~CsvRecordReader() { csv_free(&parser_->p); }

void CsvRecordReader::field(std::string_view text) {
  if (stopped_) return;
  if (field_index_ == 0) {
    // libcsv answers a field once it ends, on the line being fed: a field holding line ends
    // started that many lines before.
    record_line_ = line_ - std::min(line_ - 1, count_line_ends(text));
  }
  size_t index = field_index_++;
  if (!header_done_) {
    auto column = column_named(text);
    if (!column) warnings_.push_back("column '" + std::string(text) + "' is not one the import knows: ignored");
    columns_.push_back(column);
    return;
  }
  if (index < columns_.size() && columns_[index]) current_[*columns_[index]] = std::string(text);
}

void CsvRecordReader::end_record() {
  if (stopped_) return;
  field_index_ = 0;
  if (!header_done_) {
    if (std::none_of(columns_.begin(), columns_.end(), [](const auto& c) { return c.has_value(); })) {
      failure_ = Status(EINVAL, "line " + std::to_string(line_) + " of the CSV file names none of the columns "
                                "ID, URL, image_bytes, name, action, mimetype, item_metadata, item_description");
      stopped_ = true;
      return;
    }
    header_done_ = true;
    return;
  }
  current_.line = record_line_;
  ++records_;
  CsvRecord record = std::move(current_);
  current_ = CsvRecord{};
  if (!on_record_(std::move(record))) stopped_ = true;
}

Status CsvRecordReader::parse_lines(std::string_view bytes) {
  // One line at a time, so that the callbacks know the line they are on.
  while (!bytes.empty() && !stopped_) {
    size_t eol = bytes.find_first_of("\r\n");
    size_t len = eol == std::string_view::npos ? bytes.size() : eol + 1;
    if (csv_parse(&parser_->p, bytes.data(), len, Parser::on_field, Parser::on_end, this) != len)
      return Status(EINVAL, "line " + std::to_string(line_) + ": not CSV (" + csv_strerror(csv_error(&parser_->p)) + ")");
    if (eol != std::string_view::npos) {
      // The "\n" of a "\r\n" (perhaps in the next chunk) ends no line of its own.
      if (bytes[eol] == '\r' || eol > 0 || !after_cr_) ++line_;
      after_cr_ = bytes[eol] == '\r';
    } else {
      after_cr_ = false;
    }
    bytes.remove_prefix(len);
  }
  return stopped_ ? stop_status() : Status();
}

Status CsvRecordReader::stop_status() const {
  return failure_ ? Status(ECANCELED, "the reading of the CSV file was stopped") : failure_;
}

Status CsvRecordReader::feed(std::string_view bytes) {
  if (!bom_checked_) {
    // Held back until three bytes have come (a BOM split across two chunks is still one).
    size_t take = std::min(kBom.size() - bom_prefix_.size(), bytes.size());
    bom_prefix_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (bom_prefix_.size() < kBom.size()) return {};
    bom_checked_ = true;
    std::string head = std::move(bom_prefix_);
    if (head == kBom) head.clear();
    DLFS_TRY(parse_lines(head));
  }
  return parse_lines(bytes);
}

Status CsvRecordReader::finish() {
  if (!bom_checked_) {
    bom_checked_ = true;
    DLFS_TRY(parse_lines(bom_prefix_));
  }
  if (stopped_) return stop_status();
  if (csv_fini(&parser_->p, Parser::on_field, Parser::on_end, this) != 0)
    return Status(EINVAL, "line " + std::to_string(line_) + ": a quoted field is not closed at the end of the file");
  if (stopped_) return stop_status();
  if (!header_done_) return Status(EINVAL, "the CSV file is empty: its first line must name the columns");
  return {};
}

Result<CsvRow> check_csv_record(const CsvRecord& record) {
  CsvRow row;
  row.line = record.line;
  const std::string& url = record[CsvColumn::kUrl];
  const std::string& image_bytes = record[CsvColumn::kImageBytes];
  std::string action = lower_ascii(record[CsvColumn::kAction]);
  if (url.empty() && image_bytes.empty()) return Status(EINVAL, "the row has neither a URL nor image_bytes");
  if (action.empty()) action = url.empty() ? "upload" : "link";
  if (action == "link") {
    if (url.empty()) return Status(EINVAL, "action 'link' needs a URL");
    row.kind = CsvRowKind::kLink;
  } else if (action == "upload") {
    row.kind = image_bytes.empty() ? CsvRowKind::kFetch : CsvRowKind::kBytes;
  } else {
    return Status(EINVAL, "action '" + record[CsvColumn::kAction] + "' is neither 'link' nor 'upload'");
  }
  if (row.kind == CsvRowKind::kBytes) {
    auto decoded = base64_decode(image_bytes);
    if (!decoded) return Status(EINVAL, "image_bytes is not base64: " + decoded.status().message());
    row.bytes = std::move(*decoded);
  } else {
    row.url = url;
  }
  if (const std::string& meta = record[CsvColumn::kItemMetadata]; !meta.empty()) {
    json doc = json::parse(meta, nullptr, false);
    if (doc.is_discarded()) return Status(EINVAL, "item_metadata is not JSON");
    if (!doc.is_object()) return Status(EINVAL, "item_metadata is JSON but not an object ({\"key\": value, ...})");
    row.user_metadata = std::move(doc);
  }
  row.name = record[CsvColumn::kName];
  if (row.name.empty()) row.name = record[CsvColumn::kId];
  if (row.name.empty() && !row.url.empty()) row.name = url_file_name(row.url);
  if (row.name.empty()) return Status(EINVAL, "the row has no name (name, ID, or a URL ending in a file name)");
  if (Status s = validate_name(row.name); !s) return Status(s.err(), "name '" + row.name + "': " + s.message());
  row.mimetype = record[CsvColumn::kMimetype];
  if (!record[CsvColumn::kItemDescription].empty()) row.description = record[CsvColumn::kItemDescription];
  return row;
}

Result<std::string> csv_import_folder(std::string_view to, std::string_view csv_file_name) {
  DLFS_ASSIGN(std::string dir, normalize_path(to.empty() ? "/" : to));
  std::string name(csv_file_name.substr(csv_file_name.rfind('/') + 1));
  if (name.size() > 4 && lower_ascii(name.substr(name.size() - 4)) == ".csv") name.resize(name.size() - 4);
  if (Status s = validate_name(name); !s)
    return Status(s.err(), "a CSV file's name makes the import's folder's name: '" + name + "': " + s.message());
  return join_path(dir, name);
}

}  // namespace dlfs
