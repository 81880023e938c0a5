// The `dlfs` command line, run as a user runs it: the built binary, a temp store, real files.
#include <gtest/gtest.h>

#include "cache/metadata_cache.h"
#include "core/json_util.h"
#include "server/jwt.h"
#include "support/dlfs_cli.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

class CliTest : public DlfsCliTest {
 protected:
  CliTest() : DlfsCliTest("dlfs-cli") {}
};

}  // namespace

TEST_F(CliTest, DatasetLifecycle) {
  EXPECT_NE(ok({"dataset", "create", "cars"}).find("created dataset cars"), std::string::npos);
  EXPECT_NE(fails({"dataset", "create", "cars"}).find("already exists"), std::string::npos);
  ok({"dataset", "create", "bikes"});
  std::string list = ok({"dataset", "list"});
  EXPECT_NE(list.find("cars"), std::string::npos);
  EXPECT_NE(list.find("bikes"), std::string::npos);
  ok({"dataset", "delete", "bikes"});
  EXPECT_EQ(ok({"dataset", "list"}).find("bikes"), std::string::npos);
  EXPECT_NE(fails({"dataset", "delete", "bikes"}).find("no dataset 'bikes'"), std::string::npos);
  fails({"dataset", "create"});
  fails({"dataset", "frobnicate", "x"});
}

TEST_F(CliTest, UploadLikeCpRecursiveThenBrowse) {
  ok({"dataset", "create", "ds"});
  write_file(dir_.sub("photos/a.jpg"), "jpeg-a");
  write_file(dir_.sub("photos/sub/b b.png"), "png-b");
  write_file(dir_.sub("photos/sub/ünï.txt"), "");
  ASSERT_EQ(::mkdir(dir_.sub("photos/empty").c_str(), 0755), 0);
  write_file(dir_.sub("single.txt"), "just one");
  std::string out = ok({"upload", "--dataset", "ds", "--to", "/in", "--meta", R"({"camera":"cam-7"})",
                        dir_.sub("photos"), dir_.sub("single.txt")});
  EXPECT_NE(out.find("uploaded 4 files"), std::string::npos) << out;
  EXPECT_NE(out.find("0 failed"), std::string::npos) << out;

  EXPECT_EQ(ok({"ls", "ds:/in"}), "photos/\nsingle.txt\n");
  EXPECT_EQ(ok({"ls", "ds:/in/photos"}), "a.jpg\nempty/\nsub/\n");
  EXPECT_EQ(ok({"ls", "ds:/in/photos/sub"}), "b b.png\nünï.txt\n");
  std::string long_list = ok({"ls", "-l", "ds:/in/photos"});
  EXPECT_NE(long_list.find("- "), std::string::npos);
  EXPECT_NE(long_list.find("6  "), std::string::npos) << long_list;  // a.jpg's size
  EXPECT_EQ(ok({"cat", "ds:/in/photos/a.jpg"}), "jpeg-a");
  EXPECT_EQ(ok({"cat", "ds:/in/photos/sub/ünï.txt"}), "");

  json stat = json::parse(ok({"stat", "ds:/in/photos/sub/b b.png"}));
  EXPECT_EQ(stat["filename"], "/in/photos/sub/b b.png");
  EXPECT_EQ(stat["metadata"]["system"]["size"], 5);
  EXPECT_EQ(stat["metadata"]["system"]["originalname"], "b b.png");
  EXPECT_EQ(stat["metadata"]["user"]["camera"], "cam-7");

  // Again: everything exists, so everything is skipped unless --overwrite.
  write_file(dir_.sub("photos/a.jpg"), "jpeg-a2");
  EXPECT_NE(ok({"upload", "--dataset", "ds", "--to", "/in", dir_.sub("photos")}).find("3 skipped"), std::string::npos);
  EXPECT_EQ(ok({"cat", "ds:/in/photos/a.jpg"}), "jpeg-a");
  EXPECT_NE(ok({"upload", "--dataset", "ds", "--to", "/in", "--overwrite", dir_.sub("photos")}).find("3 overwritten"),
            std::string::npos);
  EXPECT_EQ(ok({"cat", "ds:/in/photos/a.jpg"}), "jpeg-a2");
}

TEST_F(CliTest, UploadManyFilesInParallel) {
  ok({"dataset", "create", "ds"});
  for (int i = 0; i < 300; ++i) write_file(dir_.sub("many/f" + std::to_string(i)), std::string(size_t(i), 'x'));
  std::string out = ok({"upload", "--dataset", "ds", "--jobs", "16", dir_.sub("many")});
  EXPECT_NE(out.find("uploaded 300 files"), std::string::npos) << out;
  std::string names = ok({"ls", "ds:/many"});
  EXPECT_EQ(std::count(names.begin(), names.end(), '\n'), 300);
  EXPECT_EQ(ok({"cat", "ds:/many/f299"}), std::string(299, 'x'));
}

TEST_F(CliTest, UploadFailuresAreClear) {
  ok({"dataset", "create", "ds"});
  EXPECT_NE(fails({"upload", "--dataset", "ds", dir_.sub("missing")}).find("no such file"), std::string::npos);
  write_file(dir_.sub("f"), "x");
  EXPECT_NE(fails({"upload", "--dataset", "nope", dir_.sub("f")}).find("no dataset 'nope'"), std::string::npos);
  EXPECT_NE(fails({"upload", "--dataset", "ds", "--meta", "{bad", dir_.sub("f")}).find("invalid JSON"), std::string::npos);
  EXPECT_NE(fails({"upload", "--dataset", "ds", "--meta", "[1]", dir_.sub("f")}).find("JSON object"), std::string::npos);
  EXPECT_NE(fails({"upload", "--dataset", "ds", "--to", "/a/../b", dir_.sub("f")}).find("'..'"), std::string::npos);
  fails({"upload", "--dataset", "ds"});
  fails({"upload", "--bogus", "--dataset", "ds", dir_.sub("f")});
  // A file where a folder is needed fails that file, names it, and exits non-zero.
  ok({"upload", "--dataset", "ds", dir_.sub("f")});
  write_file(dir_.sub("tree/f/inner"), "y");
  auto r = dlfs({"upload", "--dataset", "ds", dir_.sub("tree/f")});
  EXPECT_FALSE(r.ok());
}

TEST_F(CliTest, RmMvMkdirMeta) {
  ok({"dataset", "create", "ds"});
  write_file(dir_.sub("t/a.jpg"), "a");
  write_file(dir_.sub("t/d/b.jpg"), "b");
  ok({"upload", "--dataset", "ds", dir_.sub("t")});

  ok({"mkdir", "ds:/made/deep"});
  EXPECT_NE(fails({"mkdir", "ds:/made/deep"}).find("already exists"), std::string::npos);
  ok({"mkdir", "-p", "ds:/made/deep"});
  EXPECT_NE(fails({"mkdir", "-p", "ds:/t/a.jpg"}).find("already exists"), std::string::npos);

  ok({"mv", "ds:/t/a.jpg", "ds:/t/renamed.jpg"});
  ok({"mv", "ds:/t/d", "ds:/made"});  // onto a folder: into it
  EXPECT_EQ(ok({"ls", "ds:/made"}), "d/\ndeep/\n");
  EXPECT_EQ(ok({"cat", "ds:/made/d/b.jpg"}), "b");
  ok({"mv", "ds:/t/renamed.jpg", "ds:/made/d"});  // onto a folder: into it, keeping the name
  EXPECT_EQ(ok({"ls", "ds:/made/d"}), "b.jpg\nrenamed.jpg\n");
  ok({"upload", "--dataset", "ds", "--to", "/t", dir_.sub("t/a.jpg")});
  EXPECT_NE(fails({"mv", "ds:/t/a.jpg", "/made/d/renamed.jpg"}).find("already exists"), std::string::npos);
  EXPECT_NE(fails({"mv", "ds:/made", "ds:/made/d/inside"}).find("into itself"), std::string::npos);
  ok({"dataset", "create", "other"});
  EXPECT_NE(fails({"mv", "ds:/t/a.jpg", "other:/a.jpg"}).find("between datasets"), std::string::npos);

  json meta = json::parse(ok({"meta", "set", "ds:/made/d/renamed.jpg", R"({"camera":"cam-7","n":{"x":1}})"}));
  EXPECT_EQ(meta["user"]["camera"], "cam-7");
  meta = json::parse(ok({"meta", "set", "ds:/made/d/renamed.jpg", R"({"camera":null})"}));
  EXPECT_FALSE(meta["user"].contains("camera"));
  meta = json::parse(ok({"meta", "get", "ds:/made/d/renamed.jpg"}));
  EXPECT_EQ(meta["user"]["n"]["x"], 1);
  EXPECT_EQ(meta["system"]["size"], 1);
  EXPECT_NE(fails({"meta", "set", "ds:/made/d/renamed.jpg", "nope"}).find("invalid JSON"), std::string::npos);

  EXPECT_NE(fails({"rm", "ds:/made"}).find("rm -r"), std::string::npos);
  ok({"rm", "-r", "ds:/made"});
  ok({"rm", "ds:/t/a.jpg"});
  EXPECT_EQ(ok({"ls", "ds:/"}), "t/\n");
  EXPECT_NE(fails({"cat", "ds:/made/d/renamed.jpg"}).find("no item at '/made/d/renamed.jpg'"), std::string::npos);
  EXPECT_NE(fails({"ls", "nope:/"}).find("no dataset 'nope'"), std::string::npos);
  EXPECT_NE(fails({"cat", "ds:/t"}).find("is a folder"), std::string::npos);
  fails({"ls", ":/x"});
  fails({"frobnicate"});
}

TEST_F(CliTest, CacheStatAndClear) {
  ok({"dataset", "create", "ds"});
  json stat = json::parse(ok({"stat", "ds"}));
  std::string id = stat["datasetId"];
  std::string cache_dir = dir_.sub("cache");
  {
    auto cache = MetadataCache::open(CacheOptions{cache_dir, cache_key("store", id)});
    ASSERT_TRUE(cache) << cache.status().to_string();
    Item item;
    item.id = id;
    item.dataset_id = id;
    item.set_path("/a.jpg");
    ASSERT_TRUE((*cache)->put_listing("/", {item}));
    auto other = MetadataCache::open(CacheOptions{cache_dir, cache_key("store", "65f0c0ffee0000000000beef")});
    ASSERT_TRUE(other);
  }
  std::string out = ok({"--cache", cache_dir, "cache", "stat"});
  EXPECT_NE(out.find(cache_key("store", id)), std::string::npos) << out;
  EXPECT_NE(out.find("1 listings"), std::string::npos) << out;
  EXPECT_NE(out.find("65f0c0ffee0000000000beef"), std::string::npos) << out;

  ok({"--cache", cache_dir, "cache", "clear", "ds"});  // by name: only that dataset's cache
  out = ok({"--cache", cache_dir, "cache", "stat"});
  EXPECT_EQ(out.find(cache_key("store", id)), std::string::npos) << out;
  EXPECT_NE(out.find("65f0c0ffee0000000000beef"), std::string::npos) << out;
  ok({"--cache", cache_dir, "cache", "clear"});
  EXPECT_NE(ok({"--cache", cache_dir, "cache", "stat"}).find("no caches"), std::string::npos);
  fails({"--cache", cache_dir, "cache", "clear", "nothing-cached"});
  fails({"cache", "frob"});
}

TEST_F(CliTest, ServerNeedsATokenAndRefusesPreprocess) {
  unsetenv("DLFS_TOKEN");
  const std::string url = "http://127.0.0.1:9";
  EXPECT_NE(fails({"--server", url, "ls", "cars"}).find("DLFS_TOKEN"), std::string::npos);
  EXPECT_NE(fails({"--server", url, "--token-file", dir_.sub("none"), "ls", "cars"}).find("token file"),
            std::string::npos);
  write_file(dir_.sub("tok"), "t\n");
  EXPECT_NE(fails({"--server", url, "--token-file", dir_.sub("tok"), "preprocess", "cars"}).find("embedded store only"),
            std::string::npos);
  EXPECT_NE(fails({"--server=ftp://x", "ls", "cars"}).find("http"), std::string::npos);
  // Every global option takes both forms.
  EXPECT_NE(fails({"--server=" + url, "--token-file=" + dir_.sub("none"), "--ca-file=" + dir_.sub("ca.pem"), "ls",
                   "cars"}).find("token file"),
            std::string::npos);
  EXPECT_NE(fails({"--ca-file"}).find("needs a value"), std::string::npos);
  EXPECT_NE(fails({"--bogus", "ls", "cars"}).find("unknown option '--bogus'"), std::string::npos);
}

// The rule of every dlfs tool (dlfs, dlfsd; mount.dlfs in fs_mount_options_test): the global
// options stand before or after the command words.
TEST_F(CliTest, GlobalOptionsGoBeforeOrAfterTheCommand) {
  const std::string dlfs_bin = std::string(DLFS_BIN_DIR) + "/dlfs";
  const std::string store = dir_.sub("other-store");
  auto made = run({dlfs_bin, "dataset", "create", "late", "--store", store});
  ASSERT_TRUE(made.ok()) << made.err;
  auto before = run({dlfs_bin, "--store", store, "dataset", "list"});
  auto between = run({dlfs_bin, "dataset", "--store=" + store, "list"});
  auto after = run({dlfs_bin, "dataset", "list", "--store", store});
  ASSERT_TRUE(before.ok()) << before.err;
  EXPECT_EQ(before.out.rfind("late ", 0), 0u) << before.out;
  EXPECT_EQ(between.out, before.out);
  EXPECT_EQ(after.out, before.out);
  EXPECT_EQ(ok({"dataset", "list"}), "");  // the fixture's own store stayed empty
  auto help = run({dlfs_bin, "ls", "--help"});
  EXPECT_TRUE(help.ok());
  EXPECT_NE(help.out.find("usage: dlfs"), std::string::npos);
  // "--" ends the options: a folder named like one is an argument.
  EXPECT_NE(fails({"ls", "--", "--store"}).find("no dataset '--store'"), std::string::npos);

  const std::string dlfsd_bin = std::string(DLFS_BIN_DIR) + "/dlfsd";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{dlfsd_bin, "--store", store, "token", "--email", "me@example.com"},
        std::vector<std::string>{dlfsd_bin, "token", "--email", "me@example.com", "--store", store, "--days=2"}}) {
    auto minted = run(args);
    ASSERT_TRUE(minted.ok()) << minted.err;
    auto secret = load_or_create_secret(store);
    ASSERT_TRUE(secret);
    auto claims = jwt_verify(*secret, minted.out.substr(0, minted.out.find('\n')), time(nullptr));
    ASSERT_TRUE(claims) << claims.status().to_string() << ": " << minted.out;
    EXPECT_EQ(claims->email, "me@example.com");
  }
  auto stray = run({dlfsd_bin, "--store", store, "tokn"});
  EXPECT_EQ(stray.exit_code, 2);
  EXPECT_NE(stray.err.find("unknown command 'tokn'"), std::string::npos) << stray.err;
}
