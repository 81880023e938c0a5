// Quotas of items end to end: `dlfs quota`, dlfsd's /datasets/{id}/quota and its 403 {"reason": "quota"} answers,
// and a mount (of the embedded platform and of dlfsd) that refuses a new file once the quota is
// full, shows the room as `df -i`'s free inodes, and keeps an upload the quota refused until
// the user raises it.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>

#include "support/dlfsd_process.h"
#include "support/mounted_dataset.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

namespace {

class MountQuota : public MountedDatasetTest {
 protected:
  // `stat -f`'s free file nodes: what `df -i` shows as IFree.
  long free_inodes(const std::string& mnt) {
    auto r = run({"stat", "-f", "-c", "%d", mnt}, 10s);
    return r.ok() ? std::stol(r.out) : -1;
  }
  bool creates(const std::string& path) { return sh("echo bytes > '" + path + "'", 30s).ok(); }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, MountQuota, kBackends, backend_name);

TEST_P(MountQuota, ANewFilePastTheQuotaIsRefusedAtCreateAndDfShowsTheRoom) {
  auto set = dlfs({"quota", "set", dataset, "3"});
  ASSERT_TRUE(set.ok()) << set.err;
  EXPECT_NE(set.out.find("quota of 3 items"), std::string::npos) << set.out;
  auto shown = dlfs({"quota", dataset});
  ASSERT_TRUE(shown.ok()) << shown.err;
  EXPECT_NE(shown.out.find(dataset + ": 0 items, quota 3"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("room for 3 more items"), std::string::npos) << shown.out;

  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  std::string mnt = m->mountpoint();
  EXPECT_EQ(free_inodes(mnt), 3);
  ASSERT_TRUE(creates(mnt + "/a"));
  ASSERT_TRUE(creates(mnt + "/b"));
  EXPECT_EQ(free_inodes(mnt), 1);  // files not uploaded yet take their room at once
  ASSERT_TRUE(creates(mnt + "/c"));
  auto refused = sh("echo bytes > '" + mnt + "/d'", 30s);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.err.find("Disk quota exceeded"), std::string::npos) << refused.err;
  EXPECT_FALSE(stdfs::exists(mnt + "/d"));
  // Writing to a file that is there still works: an overwrite adds no item.
  EXPECT_TRUE(sh("echo more >> '" + mnt + "/a'", 30s).ok());
  ASSERT_TRUE(sync(mnt).ok());
  EXPECT_TRUE(wait_until([&] { return free_inodes(mnt) == 0; }, 10s)) << free_inodes(mnt);
  auto status = dlfs({"status", mnt}, 30s);
  EXPECT_NE(status.out.find("quota: room for 0 more items"), std::string::npos) << status.out << status.err;

  // Raised from another client: the mount sees it within its 2 s of caching.
  ASSERT_TRUE(dlfs({"quota", "set", dataset, "5"}).ok());
  EXPECT_TRUE(wait_until([&] { return creates(mnt + "/d"); }, 10s));
  ASSERT_TRUE(sync(mnt).ok());
  EXPECT_TRUE(m->unmount());

  auto two = mount("two", "cache2");
  ASSERT_TRUE(two);
  EXPECT_EQ(read_file(two->mountpoint() + "/a"), "bytes\nmore\n");
  EXPECT_EQ(read_file(two->mountpoint() + "/d"), "bytes\n");
  EXPECT_EQ(free_inodes(two->mountpoint()), 1);
  shown = dlfs({"quota", dataset});
  EXPECT_NE(shown.out.find(dataset + ": 4 items, quota 5"), std::string::npos) << shown.out;
  ASSERT_TRUE(dlfs({"quota", "set", dataset, "none"}).ok());
  shown = dlfs({"quota", dataset});
  EXPECT_NE(shown.out.find("room for any number of items"), std::string::npos) << shown.out;
}

TEST_P(MountQuota, AnUploadTheQuotaRefusesIsKeptUntilTheQuotaIsRaised) {
  // Mount two spools y while there is no quota; its upload is held back (four refusals, retried
  // after at least 0.5+1+2+4 s). Meanwhile a quota of one is set and mount one's x fills it. Then
  // the platform refuses y (EDQUOT: not tried again): kept in the spool, readable, listed by
  // `dlfs sync`/`dlfs status` with the reason, and uploaded by --retry once the quota is raised.
  auto one = mount("one", "cache1");
  auto two = mount("two", "cache2", "debug_upload_failures=4,debug_retry_base_ms=1000");
  ASSERT_TRUE(one && two);
  ASSERT_TRUE(creates(two->mountpoint() + "/y"));
  ASSERT_TRUE(dlfs({"quota", "set", dataset, "1"}).ok());
  ASSERT_TRUE(creates(one->mountpoint() + "/x"));
  auto s1 = sync(one->mountpoint());
  ASSERT_TRUE(s1.ok()) << s1.out << s1.err;
  auto failed = sync(two->mountpoint());
  EXPECT_EQ(failed.exit_code, 1) << failed.out << failed.err;
  EXPECT_NE(failed.err.find("failed: /y: "), std::string::npos) << failed.err;
  EXPECT_NE(failed.err.find("is full"), std::string::npos) << failed.err;
  EXPECT_EQ(read_file(two->mountpoint() + "/y"), "bytes\n");
  // Mount two knew of no quota (asked again only every 30 s then); the refusal made it ask at
  // once: a new file is refused at create.
  auto z = sh("echo bytes > '" + two->mountpoint() + "/z'", 30s);
  EXPECT_NE(z.err.find("Disk quota exceeded"), std::string::npos) << z.out << z.err;

  ASSERT_TRUE(dlfs({"quota", "set", dataset, "2"}).ok());
  auto retry = dlfs({"status", two->mountpoint(), "--retry", "all"}, 30s);
  ASSERT_TRUE(retry.ok()) << retry.err;
  auto synced = sync(two->mountpoint());
  ASSERT_TRUE(synced.ok()) << synced.out << synced.err;
  EXPECT_TRUE(one->unmount());
  EXPECT_TRUE(two->unmount());
  auto fresh = mount("fresh", "cache3");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(read_file(fresh->mountpoint() + "/x"), "bytes\n");
  EXPECT_EQ(read_file(fresh->mountpoint() + "/y"), "bytes\n");
}

TEST(DlfsdQuota, StoreQuotaFromTheConfigAndDatasetQuotaOverTheApi) {
  signal(SIGPIPE, SIG_IGN);
  DlfsdOptions options;
  options.extra_args = {"--items-quota", "2"};
  DlfsdProcess server(options);
  ASSERT_TRUE(server.ok()) << server.error();
  httplib::Client http(server.host_port());
  http.set_default_headers(server.auth_headers());
  auto P = [](const std::string& rel) { return DlfsdProcess::path(rel); };
  auto r = http.Post(P("/datasets"), R"({"name":"q"})", "application/json");
  ASSERT_TRUE(r && r->status == 200);
  std::string ds = json::parse(r->body)["id"];
  auto upload = [&](const std::string& path) {
    return http.Post(P("/datasets/" + ds + "/items"), httplib::MultipartFormDataItems{
                                                          {"type", "file", "", ""}, {"path", path, "", ""}, {"file", path, "f", ""}});
  };
  ASSERT_EQ(upload("/a")->status, 200);
  ASSERT_EQ(upload("/b")->status, 200);
  r = upload("/c");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(json::parse(r->body)["reason"], "quota");
  EXPECT_NE(json::parse(r->body)["message"].get<std::string>().find("the store is full: 2 of its quota of 2 items"),
            std::string::npos)
      << r->body;
  r = http.Get(P("/datasets/" + ds + "/quota"));
  ASSERT_TRUE(r && r->status == 200);
  json q = json::parse(r->body);
  EXPECT_EQ(q["items"], 2);
  EXPECT_EQ(q["storeItemsQuota"], 2);
  EXPECT_EQ(q["room"], 0);
  EXPECT_TRUE(q["itemsQuota"].is_null());

  r = http.Put(P("/datasets/" + ds + "/quota"), R"({"items": 1})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["itemsQuota"], 1);
  EXPECT_EQ(http.Put(P("/datasets/" + ds + "/quota"), R"({"items": "many"})", "application/json")->status, 400);
  EXPECT_EQ(http.Put(P("/datasets/" + ds + "/quota"), R"([1])", "application/json")->status, 400);
  EXPECT_EQ(http.Get(P("/datasets/ffffffffffffffffffffffff/quota"))->status, 404);
  r = upload("/c");
  EXPECT_NE(json::parse(r->body)["message"].get<std::string>().find("'q' is full"), std::string::npos) << r->body;

  // The store's quota is the server's to set: a client is told where it is.
  auto cli = sh("DLFS_TOKEN='" + server.token() + "' " + std::string(DLFS_BIN_DIR) + "/dlfs --server " + server.base_url() +
                     " quota set-store 10",
                 30s);
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_NE(cli.err.find("--items-quota"), std::string::npos) << cli.err;
  // A restart keeps the quotas.
  ASSERT_TRUE(server.restart());
  r = http.Get(P("/datasets/" + ds + "/quota"));
  ASSERT_TRUE(r && r->status == 200);
  EXPECT_EQ(json::parse(r->body)["itemsQuota"], 1);
}
