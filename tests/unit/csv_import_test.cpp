// CSV bulk import on the embedded platform (Platform::import_csv): link rows become link items,
// image_bytes and upload rows items holding their bytes (an upload row's fetched through the
// platform's LinkFetcher, a fake here), item_metadata lands in metadata.user; each bad row is
// reported with its line and reason while the good ones are imported; a re-run changes nothing;
// an import stopped half-way is completed by a re-run; the quota refuses the rows past it.
#include <gtest/gtest.h>

#include <fstream>

#include "core/base64.h"
#include "platform/csv_rows.h"
#include "platform/platform.h"
#include "support/fs_fixture.h"
#include "support/read_item.h"
#include "support/temp_dir.h"

namespace dlfs::test {
namespace {

class CsvImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fetcher_ = std::make_shared<FakeLinkFetcher>();
    PlatformOptions options{dir_.sub("store"), &clock_};
    options.link_fetcher = fetcher_;
    auto p = Platform::open(options);
    ASSERT_TRUE(p) << p.status().to_string();
    platform_ = std::move(*p);
    auto ds = platform_->create_dataset("cars", "dev@local");
    ASSERT_TRUE(ds) << ds.status().to_string();
    ds_ = *ds;
  }
  // Writes `csv` as dir/<name> and imports it under `to`.
  Result<CsvImportReport> import(const std::string& csv, const std::string& name = "rows.csv",
                                 const std::string& to = "/",
                                 const std::function<bool(const CsvImportReport&, int)>& progress = {}) {
    std::string file = dir_.sub(name);
    std::ofstream(file, std::ios::binary) << csv;
    DLFS_ASSIGN(std::string folder, csv_import_folder(to, file));
    return platform_->import_csv(ds_.id, file, folder, "dev@local", progress);
  }
  CsvImportReport imported(const std::string& csv, const std::string& name = "rows.csv", const std::string& to = "/") {
    auto r = import(csv, name, to);
    EXPECT_TRUE(r) << r.status().to_string();
    return r ? *r : CsvImportReport{};
  }
  Item at(const std::string& path) {
    auto item = platform_->get_item_by_path(ds_.id, path);
    EXPECT_TRUE(item) << path << ": " << item.status().to_string();
    return item ? *item : Item{};
  }
  static std::string errors_of(const CsvImportReport& r) { return r.to_json()["errors"].dump(); }

  TempDir dir_{"dlfs-csv"};
  FakeClock clock_;
  std::shared_ptr<FakeLinkFetcher> fetcher_;
  std::unique_ptr<Platform> platform_;
  Dataset ds_;
};

}  // namespace

TEST_F(CsvImportTest, LinkRowsBecomeLinkItemsWithTheirMetadataAndDescription) {
  auto r = imported(
      "ID,URL,name,action,mimetype,item_metadata,item_description\n"
      "1,https://img.example.com/a/cat.jpg,cat.jpg,link,image/jpeg,\"{\"\"camera\"\": \"\"cam-7\"\", \"\"lot\"\": 3}\","
      "\"a cat, sitting\"\n"
      "2,https://img.example.com/b/dog.png,,,,,\n",
      "pets.csv", "/imports");
  EXPECT_EQ(r.folder, "/imports/pets");
  EXPECT_EQ(r.rows, 2u);
  EXPECT_EQ(r.created, 2u) << errors_of(r);
  EXPECT_EQ(r.failed, 0u);

  Item cat = at("/imports/pets/cat.jpg");
  EXPECT_TRUE(cat.is_link());
  EXPECT_EQ(cat.link_url(), "https://img.example.com/a/cat.jpg");
  EXPECT_EQ(cat.link_mimetype(), "image/jpeg");
  EXPECT_EQ(cat.user(), json({{"camera", "cam-7"}, {"lot", 3}}));
  EXPECT_EQ(cat.description, std::optional<std::string>("a cat, sitting"));
  // Its bytes are the link JSON a client would have uploaded.
  json body = json::parse(read_item(*platform_, cat));
  EXPECT_EQ(body, make_link_json("https://img.example.com/a/cat.jpg", "image/jpeg"));
  // The name from the ID when there is no name column value.
  Item dog = at("/imports/pets/2");
  EXPECT_EQ(dog.link_url(), "https://img.example.com/b/dog.png");
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 2u);
}

TEST_F(CsvImportTest, ImageBytesRowsStoreTheirBytes) {
  const std::string jpeg("\xFF\xD8\xFF\xE0\0\x10JFIF\0binary,\nbytes", 22);
  auto r = imported("ID,image_bytes,mimetype,item_metadata\n"
                    "frame-1," + base64_encode(jpeg) + ",image/jpeg,{}\n"
                    "frame-2,\"" + base64_encode("second") + "\",,\n");
  EXPECT_EQ(r.created, 2u) << errors_of(r);
  Item one = at("/rows/frame-1");
  EXPECT_FALSE(one.is_link());
  EXPECT_EQ(read_item(*platform_, one), jpeg);
  EXPECT_EQ(one.mimetype(), "image/jpeg");
  EXPECT_EQ(read_item(*platform_, at("/rows/frame-2")), "second");
}

TEST_F(CsvImportTest, UploadRowsStoreTheBytesFetchedThroughTheLinkFetcher) {
  fetcher_->targets["https://img.example.com/a.txt"] = std::string(3 * 1024 * 1024 + 5, 'x');  // over one chunk
  fetcher_->failures["https://img.example.com/private"] =
      Status(EACCES, "refused: 10.0.0.1 is a private address; allow it with --link-allow-private");
  auto r = imported("URL,action,item_metadata\n"
                    "https://img.example.com/a.txt,upload,\"{\"\"k\"\":\"\"v\"\"}\"\n"
                    "https://img.example.com/private,upload,\n");
  EXPECT_EQ(r.created, 1u) << errors_of(r);
  Item a = at("/rows/a.txt");
  EXPECT_FALSE(a.is_link());
  EXPECT_EQ(a.size(), 3u * 1024 * 1024 + 5);
  EXPECT_EQ(read_item(*platform_, a), fetcher_->targets["https://img.example.com/a.txt"]);
  EXPECT_EQ(a.user(), json({{"k", "v"}}));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].first, 3u);
  EXPECT_NE(r.errors[0].second.find("10.0.0.1 is a private address"), std::string::npos) << r.errors[0].second;
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/rows/private").err(), ENOENT);  // nothing half-made

  // The platform never fetches file:// for an upload row.
  auto f = imported("URL,action,name\nfile:///etc/passwd,upload,p\n", "f.csv");
  ASSERT_EQ(f.failed, 1u);
  EXPECT_NE(f.errors[0].second.find("file://"), std::string::npos) << f.errors[0].second;
  // a.txt and private in one whole fetch each (no HEAD, no ranged reads: a server that ignores
  // Range would send the whole body to each); passwd never asked.
  EXPECT_EQ(fetcher_->fetches, 2);
  EXPECT_EQ(fetcher_->reads + fetcher_->heads, 0);
}

TEST_F(CsvImportTest, EachBadRowIsReportedWithItsLineAndTheGoodOnesAreImported) {
  auto taken = platform_->upload_bytes(ds_.id, make_link_json("https://h/other.jpg", "").dump(), "/rows/taken.jpg", {});
  ASSERT_TRUE(taken) << taken.status().to_string();
  auto r = imported("name,URL,image_bytes,item_metadata,action\n"
                    "good1.jpg,https://h/1.jpg,,,\n"            // 2
                    "nothing,,,,\n"                              // 3
                    "badjson,https://h/2.jpg,,{nope,\n"          // 4
                    "badb64,,!!notbase64!!,,\n"                  // 5
                    "file,file:///etc/passwd,,,link\n"           // 6
                    "taken.jpg,https://h/3.jpg,,,\n"             // 7
                    "m.jpg,https://h/4.jpg,,\"{\n\"\"a\"\": }\",\n"  // 8-9
                    "a/b.jpg,https://h/7.jpg,,,\n"              // 10
                    "good2.jpg,https://h/5.jpg,,,bogus\n"        // 11
                    "good3.jpg,https://h/6.jpg,,,\n");           // 12
  EXPECT_EQ(r.rows, 10u);
  EXPECT_EQ(r.created, 1u + 1u) << errors_of(r);  // good1, good3
  EXPECT_EQ(r.failed, 8u);
  std::map<uint64_t, std::string> why(r.errors.begin(), r.errors.end());
  ASSERT_EQ(why.size(), 8u) << errors_of(r);
  EXPECT_EQ(why[3], "the row has neither a URL nor image_bytes");
  EXPECT_EQ(why[4], "item_metadata is not JSON");
  EXPECT_EQ(why[5].rfind("image_bytes is not base64", 0), 0u) << why[5];
  EXPECT_NE(why[6].find("http:// or https://"), std::string::npos) << why[6];
  EXPECT_NE(why[7].find("/rows/taken.jpg exists and is another item"), std::string::npos) << why[7];
  EXPECT_EQ(why[8], "item_metadata is not JSON");  // the line its record starts on
  EXPECT_NE(why[10].find("contains '/'"), std::string::npos) << why[10];
  EXPECT_NE(why[11].find("'bogus'"), std::string::npos) << why[11];
  EXPECT_TRUE(at("/rows/good1.jpg").is_link());
  EXPECT_TRUE(at("/rows/good3.jpg").is_link());
  EXPECT_EQ(at("/rows/taken.jpg").link_url(), "https://h/other.jpg");  // untouched
}

TEST_F(CsvImportTest, ARerunMakesNoDuplicatesAndCountsTheRowsUnchanged) {
  std::string csv = "ID,URL,image_bytes\n"
                    "a,https://h/a.jpg,\n"
                    "b,," + base64_encode("bee") + "\n";
  auto first = imported(csv);
  EXPECT_EQ(first.created, 2u) << errors_of(first);
  Item a = at("/rows/a");
  auto second = imported(csv);
  EXPECT_EQ(second.created, 0u);
  EXPECT_EQ(second.unchanged, 2u) << errors_of(second);
  EXPECT_EQ(second.failed, 0u);
  EXPECT_EQ(at("/rows/a").id, a.id);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 2u);
  // The same names with other targets or bytes collide; nothing changes.
  auto changed = imported("ID,URL,image_bytes\n"
                          "a,https://h/other.jpg,\n"
                          "b,," + base64_encode("wasp") + "\n");
  EXPECT_EQ(changed.failed, 2u);
  EXPECT_EQ(at("/rows/a").link_url(), "https://h/a.jpg");
  EXPECT_EQ(read_item(*platform_, at("/rows/b")), "bee");
}

// A re-run whose rows carry new item_metadata or item_description updates the items already
// there (a link row in its batch, a bytes row by a patch); the same again changes nothing.
TEST_F(CsvImportTest, ARerunWithNewMetadataUpdatesTheItemsInPlace) {
  auto first = imported("ID,URL,image_bytes,item_metadata\n"
                        "a,https://h/a.jpg,,\"{\"\"cam\"\":\"\"c1\"\"}\"\n"
                        "b,," + base64_encode("bee") + ",\n");
  ASSERT_EQ(first.created, 2u) << errors_of(first);
  Item a = at("/rows/a"), b = at("/rows/b");
  std::string csv = "ID,URL,image_bytes,item_metadata,item_description\n"
                    "a,https://h/a.jpg,,\"{\"\"cam\"\":\"\"c2\"\"}\",\n"
                    "b,," + base64_encode("bee") + ",\"{\"\"k\"\":1}\",a bee\n";
  auto second = imported(csv);
  EXPECT_EQ(second.updated, 2u) << errors_of(second);
  EXPECT_EQ(second.created + second.unchanged + second.failed, 0u) << errors_of(second);
  EXPECT_EQ(at("/rows/a").id, a.id);
  EXPECT_EQ(at("/rows/a").user(), json({{"cam", "c2"}}));
  EXPECT_EQ(at("/rows/b").id, b.id);
  EXPECT_EQ(at("/rows/b").user(), json({{"k", 1}}));
  EXPECT_EQ(at("/rows/b").description.value_or(""), "a bee");
  EXPECT_EQ(read_item(*platform_, at("/rows/b")), "bee");
  auto third = imported(csv);
  EXPECT_EQ(third.unchanged, 2u) << errors_of(third);
  EXPECT_EQ(third.updated, 0u);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 2u);
}

TEST_F(CsvImportTest, AStoppedImportLeavesWholeItemsAndARerunCompletesIt) {
  std::string csv = "name,URL\n";
  const int rows = 3000;  // several chunks of the file
  for (int i = 0; i < rows; ++i) csv += "item-" + std::to_string(i) + ".jpg,https://img.example.com/" + std::to_string(i) + ".jpg\n";
  auto stopped = import(csv, "rows.csv", "/", [](const CsvImportReport&, int) { return false; });
  ASSERT_EQ(stopped.err(), ECANCELED);
  uint64_t made = platform_->get_dataset(ds_.id)->items_count;
  EXPECT_LT(made, uint64_t(rows));
  auto rerun = imported(csv);
  EXPECT_EQ(rerun.failed, 0u) << errors_of(rerun);
  EXPECT_EQ(rerun.unchanged, made);
  EXPECT_EQ(rerun.created, rows - made);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, uint64_t(rows));
  Item last = at("/rows/item-2999.jpg");
  EXPECT_EQ(last.link_url(), "https://img.example.com/2999.jpg");
}

TEST_F(CsvImportTest, TheQuotaRefusesTheRowsPastIt) {
  ASSERT_TRUE(platform_->set_dataset_quota(ds_.id, 3));
  auto r = imported("ID,URL,image_bytes\n"
                    "a,https://h/a,\n"
                    "b,https://h/b,\n"
                    "c,," + base64_encode("c") + "\n"
                    "d,https://h/d,\n"
                    "e,," + base64_encode("e") + "\n");
  EXPECT_EQ(r.created, 3u) << errors_of(r);
  ASSERT_EQ(r.failed, 2u);
  EXPECT_EQ(r.errors[0].first, 5u);
  EXPECT_EQ(r.errors[1].first, 6u);
  for (const auto& [line, why] : r.errors) EXPECT_NE(why.find("'cars' is full: 3 of its quota of 3"), std::string::npos) << why;
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/rows/d").err(), ENOENT);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 3u);
}

TEST_F(CsvImportTest, AFileThatStopsBeingCsvKeepsTheRowsBeforeAndSaysWhere) {
  auto r = imported("name,URL\nok.jpg,https://h/ok.jpg\nopen,\"https://h/never\n");
  EXPECT_EQ(r.created, 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].second.find("quoted field is not closed"), std::string::npos) << r.errors[0].second;
  auto unknown = imported("name,URL,colour\nx.jpg,https://h/x.jpg,red\n", "w.csv");
  EXPECT_EQ(unknown.created, 1u);
  ASSERT_FALSE(unknown.warnings.empty());
  EXPECT_NE(unknown.warnings[0].find("'colour'"), std::string::npos);
  EXPECT_EQ(import("a,b\n1,2\n", "none.csv").err(), EINVAL);  // no column it knows
}

}  // namespace dlfs::test
