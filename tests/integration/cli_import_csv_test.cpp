// `dlfs import csv FILE --dataset NAME [--to /folder]` as a user runs it, against the embedded
// store and against dlfsd: link, upload (fetched from a real `python3 -m http.server` on
// 127.0.0.1, allowed explicitly) and image_bytes rows become items that another client and a
// mount read back; a bad row is listed by line and makes the exit status 1; a re-run changes
// nothing; an upload row on 127.0.0.1 is refused where private addresses are not allowed. Every
// URL is on the test's own server (the platforms' preprocessing fetches link targets).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/base64.h"
#include "support/mounted_dataset.h"
#include "support/static_http_server.h"

namespace dlfs::test {
namespace {

using namespace std::chrono_literals;

const std::string kDlfsBin = std::string(DLFS_BIN_DIR) + "/dlfs";

class CliImportCsv : public MountedDatasetTest {
 protected:
  void SetUp() override {
    MountedDatasetTest::SetUp();
    write_file(work.sub("www/photo.bin"), photo);
    web = std::make_unique<StaticHttpServer>(work.sub("www"));
    ASSERT_TRUE(web->ok()) << web->error();
  }
  // `dlfs import csv FILE --dataset w --to /in`, allowing 127.0.0.1 on the embedded platform (a
  // server has its own switch, given by TestPlatform).
  CommandResult import(const std::string& file) {
    std::vector<std::string> args = {"import", "csv", file, "--dataset", dataset, "--to", "/in"};
    if (GetParam() == Backend::kEmbedded) args.push_back("--link-allow-private");
    return dlfs(args);
  }
  std::string read(Remote& remote, const std::string& path) {
    auto item = remote.get(path);
    EXPECT_TRUE(item) << path << ": " << item.status().to_string();
    if (!item) return {};
    std::string out(item->size() + 10, '\0');
    auto n = remote.read(*item, 0, std::span<char>(out.data(), out.size()));
    EXPECT_TRUE(n) << n.status().to_string();
    out.resize(n ? *n : 0);
    return out;
  }

  std::string photo = random_bytes(200000, 7);
  std::unique_ptr<StaticHttpServer> web;
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, CliImportCsv, kBackends, backend_name);

TEST_P(CliImportCsv, ImportsLinkUploadAndBytesRowsThatAnotherClientAndAMountRead) {
  std::string csv = work.sub("shots.csv");
  write_file(csv, "\xEF\xBB\xBFID,URL,image_bytes,name,action,item_metadata,item_description\n"
                  "1," + web->origin() + "/cats/cat.jpg,,cat.jpg,link,\"{\"\"camera\"\": \"\"cam-7\"\"}\",\"a cat, sitting\"\n"
                  "," + web->origin() + "/photo.bin,,,upload,,\n"
                  "note-3,," + base64_encode("hello, bytes\n") + ",,,,\n"
                  "4,,,empty,,,\n");
  auto r = import(csv);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;  // a row failed
  EXPECT_NE(r.out.find("imported " + csv + " into w:/in/shots: 4 rows, 3 created, 0 updated, 0 unchanged, 1 failed"),
            std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("line 5: the row has neither a URL nor image_bytes"), std::string::npos) << r.err;

  // Another client of the platform.
  auto remote = platform->connection()->open(dataset);
  ASSERT_TRUE(remote) << remote.status().to_string();
  auto cat = (*remote)->get("/in/shots/cat.jpg");
  ASSERT_TRUE(cat) << cat.status().to_string();
  EXPECT_TRUE(cat->is_link());
  EXPECT_EQ(cat->link_url(), web->origin() + "/cats/cat.jpg");
  EXPECT_EQ(cat->user(), json({{"camera", "cam-7"}}));
  EXPECT_EQ(cat->description, std::optional<std::string>("a cat, sitting"));
  EXPECT_EQ(read(**remote, "/in/shots/photo.bin"), photo);  // named after its URL
  EXPECT_EQ(read(**remote, "/in/shots/note-3"), "hello, bytes\n");
  EXPECT_EQ((*remote)->get("/in/shots/empty").err(), ENOENT);

  // A mount.
  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  EXPECT_EQ(read_file(work.sub("mnt/in/shots/photo.bin")), photo);
  EXPECT_EQ(read_file(work.sub("mnt/in/shots/note-3")), "hello, bytes\n");

  // Again: nothing new, nothing duplicated.
  auto again = import(csv);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.out.find("4 rows, 0 created, 0 updated, 3 unchanged, 1 failed"), std::string::npos) << again.out << again.err;
  auto listed = (*remote)->list("/in/shots", "", 100);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->items.size(), 3u);

  // A file whose rows are all good exits 0.
  std::string good = work.sub("good.csv");
  write_file(good, "URL\n" + web->origin() + "/one.jpg\n");
  auto ok = import(good);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE((*remote)->get("/in/good/one.jpg"));
  EXPECT_EQ(dlfs({"import", "csv", good}).exit_code, 2);  // no --dataset
}

TEST_P(CliImportCsv, RefusesAnUploadRowOnLoopbackWhereItIsNotAllowed) {
  TestPlatform strict(GetParam(), work.sub("strict"), /*link_allow_private=*/false);
  ASSERT_TRUE(strict.ok()) << strict.error();
  ASSERT_TRUE(strict.connection()->create_dataset("s"));
  std::string csv = work.sub("fetch.csv");
  write_file(csv, "name,URL,action\n"
                  "photo.bin," + web->origin() + "/photo.bin,upload\n"
                  "link.bin," + web->origin() + "/photo.bin,link\n");
  std::vector<std::string> args = {kDlfsBin};
  for (const auto& a : strict.dlfs_args()) args.push_back(a);
  for (const auto& a : {"import", "csv", csv.c_str(), "--dataset", "s"}) args.push_back(a);
  auto r = run(args, 120s);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("2 rows, 1 created, 0 updated, 0 unchanged, 1 failed"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("line 2: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("127.0.0.1 is a loopback address"), std::string::npos) << r.err;
  auto remote = strict.connection()->open("s");
  ASSERT_TRUE(remote);
  EXPECT_EQ((*remote)->get("/fetch/photo.bin").err(), ENOENT);  // nothing half-made
  auto link = (*remote)->get("/fetch/link.bin");  // a link is made; reading it is guarded later
  ASSERT_TRUE(link) << link.status().to_string();
  EXPECT_TRUE(link->is_link());
}

}  // namespace dlfs::test
