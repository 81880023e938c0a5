// The CSV rows of a bulk import (platform/csv_rows.h): libcsv fed in chunks, a BOM, quoted
// fields with commas, quotes and line ends, the header deciding the columns (any case, any order,
// unknown ones ignored with a warning), each record's starting line; and each row's checks.
#include <gtest/gtest.h>

#include "core/base64.h"
#include "platform/csv_rows.h"

namespace dlfs::test {
namespace {

struct Parsed {
  std::vector<CsvRecord> records;
  std::vector<std::string> warnings;
  Status status;
};

// Feeds `text` in pieces of `chunk` bytes.
Parsed parse(std::string_view text, size_t chunk = 65536) {
  Parsed out;
  CsvRecordReader reader([&](CsvRecord&& r) {
    out.records.push_back(std::move(r));
    return true;
  });
  for (size_t i = 0; i < text.size() && out.status.is_ok(); i += chunk) out.status = reader.feed(text.substr(i, chunk));
  if (out.status) out.status = reader.finish();
  out.warnings = reader.warnings();
  return out;
}

CsvRecord record(std::initializer_list<std::pair<CsvColumn, std::string>> fields) {
  CsvRecord r;
  r.line = 7;
  for (const auto& [c, v] : fields) r[c] = v;
  return r;
}

}  // namespace

TEST(CsvRows, QuotedFieldsCommasQuotesAndLineEndsWithTheLineEachRecordStartsOn) {
  const std::string text =
      "\xEF\xBB\xBFname,URL,item_description\r\n"
      "a.jpg,https://h/a.jpg,\"one, two\"\r\n"
      "\n"
      "\"b \"\"quoted\"\".jpg\",https://h/b.jpg,\"line 1\nline 2\nline 3\"\n"
      "c.jpg,https://h/c.jpg,last";  // no line end at the end
  for (size_t chunk : {size_t(1), size_t(2), size_t(5), size_t(65536)}) {
    Parsed p = parse(text, chunk);
    ASSERT_TRUE(p.status) << p.status.to_string() << " chunk " << chunk;
    ASSERT_EQ(p.records.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(p.records[0][CsvColumn::kName], "a.jpg");  // the BOM is not part of the header's first name
    EXPECT_EQ(p.records[0][CsvColumn::kItemDescription], "one, two");
    EXPECT_EQ(p.records[0].line, 2u);
    EXPECT_EQ(p.records[1][CsvColumn::kName], "b \"quoted\".jpg");
    EXPECT_EQ(p.records[1][CsvColumn::kItemDescription], "line 1\nline 2\nline 3");
    EXPECT_EQ(p.records[1].line, 4u);  // the blank line 3 is skipped
    EXPECT_EQ(p.records[2][CsvColumn::kUrl], "https://h/c.jpg");
    EXPECT_EQ(p.records[2].line, 7u);  // after the three lines of record 2
    EXPECT_TRUE(p.warnings.empty());
  }
}

TEST(CsvRows, TheHeaderDecidesTheColumnsInAnyCaseAndOrderAndUnknownOnesAreIgnored) {
  Parsed p = parse("Item_Metadata,colour,ACTION,id,url\n\"{\"\"a\"\":1}\",red,link,x7,https://h/x\n");
  ASSERT_TRUE(p.status) << p.status.to_string();
  ASSERT_EQ(p.records.size(), 1u);
  const CsvRecord& r = p.records[0];
  EXPECT_EQ(r[CsvColumn::kItemMetadata], "{\"a\":1}");
  EXPECT_EQ(r[CsvColumn::kAction], "link");
  EXPECT_EQ(r[CsvColumn::kId], "x7");
  EXPECT_EQ(r[CsvColumn::kUrl], "https://h/x");
  EXPECT_EQ(r[CsvColumn::kName], "");
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_NE(p.warnings[0].find("column 'colour'"), std::string::npos) << p.warnings[0];
}

TEST(CsvRows, MalformedFilesAreErrors) {
  Parsed open_quote = parse("name,URL\na,\"https://h/a\n");
  EXPECT_EQ(open_quote.status.err(), EINVAL);
  EXPECT_NE(open_quote.status.message().find("quoted field is not closed"), std::string::npos);
  // RFC 4180, strictly: a quote inside an unquoted field, or after a closing one, is no guess.
  EXPECT_EQ(parse("name,item_metadata\na,{\"k\":1}\n").status.err(), EINVAL);
  Parsed stray = parse("name,URL\na,https://h/a\n\"b\"c,https://h/b\n");
  EXPECT_EQ(stray.status.err(), EINVAL);
  EXPECT_EQ(stray.status.message().rfind("line 3: not CSV", 0), 0u) << stray.status.message();
  EXPECT_EQ(stray.records.size(), 1u);  // the rows before it
  EXPECT_EQ(parse("").status.err(), EINVAL);
  EXPECT_NE(parse("foo,bar\n1,2\n").status.message().find("names none of the columns"), std::string::npos);
  EXPECT_TRUE(parse("name,URL\n").status);  // a header alone: no rows
}

TEST(CsvRows, ChecksMakeLinksBytesAndFetchesAndSayWhatIsWrong) {
  auto link = check_csv_record(record({{CsvColumn::kUrl, "https://h/dir/cat%20one.jpg?x=1"}}));
  ASSERT_TRUE(link) << link.status().to_string();
  EXPECT_EQ(link->kind, CsvRowKind::kLink);  // the default with a URL
  EXPECT_EQ(link->name, "cat one.jpg");      // the URL's file name, decoded
  EXPECT_EQ(link->line, 7u);

  auto fetch = check_csv_record(record({{CsvColumn::kUrl, "https://h/a"}, {CsvColumn::kAction, "UPLOAD"},
                                        {CsvColumn::kId, "id-1"}, {CsvColumn::kName, "n.jpg"}}));
  ASSERT_TRUE(fetch);
  EXPECT_EQ(fetch->kind, CsvRowKind::kFetch);
  EXPECT_EQ(fetch->name, "n.jpg");  // name before ID

  auto bytes = check_csv_record(record({{CsvColumn::kImageBytes, base64_encode(std::string("a\0b", 3))},
                                        {CsvColumn::kId, "id-2"},
                                        {CsvColumn::kItemMetadata, "{\"camera\":\"c7\"}"},
                                        {CsvColumn::kItemDescription, "d"}}));
  ASSERT_TRUE(bytes) << bytes.status().to_string();
  EXPECT_EQ(bytes->kind, CsvRowKind::kBytes);  // the default without a URL
  EXPECT_EQ(bytes->bytes, std::string("a\0b", 3));
  EXPECT_EQ(bytes->name, "id-2");
  EXPECT_EQ(bytes->user_metadata, json({{"camera", "c7"}}));
  EXPECT_EQ(bytes->description, std::optional<std::string>("d"));

  auto why = [](std::initializer_list<std::pair<CsvColumn, std::string>> fields) {
    auto r = check_csv_record(record(fields));
    EXPECT_FALSE(r);
    EXPECT_EQ(r.err(), EINVAL);
    return r.status().message();
  };
  EXPECT_EQ(why({{CsvColumn::kName, "a"}}), "the row has neither a URL nor image_bytes");
  EXPECT_EQ(why({{CsvColumn::kImageBytes, "@@@@"}, {CsvColumn::kName, "a"}}).rfind("image_bytes is not base64", 0), 0u);
  EXPECT_EQ(why({{CsvColumn::kUrl, "https://h/a"}, {CsvColumn::kItemMetadata, "{oops"}}), "item_metadata is not JSON");
  EXPECT_NE(why({{CsvColumn::kUrl, "https://h/a"}, {CsvColumn::kItemMetadata, "[1]"}}).find("not an object"),
            std::string::npos);
  EXPECT_NE(why({{CsvColumn::kUrl, "https://h/a"}, {CsvColumn::kAction, "copy"}}).find("neither 'link' nor 'upload'"),
            std::string::npos);
  EXPECT_EQ(why({{CsvColumn::kImageBytes, "YQ=="}, {CsvColumn::kAction, "link"}}), "action 'link' needs a URL");
  EXPECT_NE(why({{CsvColumn::kImageBytes, "YQ=="}}).find("has no name"), std::string::npos);
  EXPECT_NE(why({{CsvColumn::kUrl, "https://h/"}}).find("has no name"), std::string::npos);
  EXPECT_NE(why({{CsvColumn::kUrl, "https://h/a"}, {CsvColumn::kName, ".."}}).find("name '..'"), std::string::npos);
}

TEST(CsvRows, TheFolderIsNamedAfterTheFile) {
  EXPECT_EQ(*csv_import_folder("/", "/tmp/x/cars.csv"), "/cars");
  EXPECT_EQ(*csv_import_folder("/in/", "Cars.CSV"), "/in/Cars");
  EXPECT_EQ(*csv_import_folder("", "list.txt"), "/list.txt");
  EXPECT_FALSE(csv_import_folder("/", "dir/"));
}

}  // namespace dlfs::test
