// Link items in a real FUSE mount (the built mount.dlfs), their targets on a real static server
// (`python3 -m http.server` on 127.0.0.1, which ignores Range) and in local files: refused by
// default with EACCES and user.dl.link.error saying why, readable with -o link_allow_private /
// link_allow_file, and link_allow_file never with allow_other. The embedded platform only: links
// are fetched by the mount itself whatever the platform. Every mount is held by a MountGuard
// (unmounted on every path); every wait is bounded.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "core/item.h"
#include "support/mount_guard.h"
#include "support/posix_read.h"
#include "support/process.h"
#include "support/static_http_server.h"
#include "support/temp_dir.h"
#include "support/test_platform.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

const std::string kMountBin = std::string(DLFS_BIN_DIR) + "/mount.dlfs";

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class MountLinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(work.sub("www/target.bin"), target);
    web = std::make_unique<StaticHttpServer>(work.sub("www"));
    ASSERT_TRUE(web->ok()) << web->error();
    write_file(secret, "root only\n");
    ASSERT_EQ(chmod(secret.c_str(), 0600), 0);
    platform = std::make_unique<TestPlatform>(Backend::kEmbedded, work.sub("platform"));
    ASSERT_TRUE(platform->ok()) << platform->error();
    ASSERT_TRUE(platform->connection()->create_dataset("links"));
    auto r = platform->connection()->open("links");
    ASSERT_TRUE(r) << r.status().to_string();
    remote = std::move(r).value();
    add_link("/web.json", web_url());
    add_link("/local.json", "file://" + secret);
  }

  std::string web_url() const { return web->origin() + "/target.bin"; }

  // A link item made as users make them: an uploaded link JSON.
  void add_link(const std::string& path, const std::string& url) {
    std::string json_file = work.sub("link" + std::to_string(++links_made) + ".json");
    write_file(json_file, make_link_json(url, "application/octet-stream").dump());
    auto up = remote->upload(json_file, path, UploadOptions{});
    ASSERT_TRUE(up) << up.status().to_string();
    ASSERT_TRUE(up->item.is_link());
  }

  // mount.dlfs with `extra` -o options, a fresh cache each; the command's result in `result`.
  std::unique_ptr<MountGuard> mount(const std::string& name, const std::string& extra, CommandResult* result = nullptr) {
    std::string dir = work.sub(name);
    std::filesystem::create_directories(dir);
    std::string opts = platform->mount_options() + ",cache=" + work.sub(name + "-cache") + ",log=" + dir + ".log";
    if (!extra.empty()) opts += "," + extra;
    auto r = run({kMountBin, platform->source("links"), dir, "-o", opts}, 60s);
    auto guard = std::make_unique<MountGuard>(dir, find_process("mount.dlfs", dir));
    if (result) *result = r;
    else EXPECT_TRUE(r.ok()) << r.err << read_file(dir + ".log");
    return guard;
  }

  // `getfattr -n NAME --only-values PATH`, as a user asks.
  CommandResult getfattr(const std::string& name, const std::string& path) {
    return run({"getfattr", "-n", name, "--only-values", path}, 20s);
  }

  TempDir work{"dlfs-links"};
  std::string target = random_bytes(300000, 13);
  std::string secret = work.sub("secret.txt");
  std::unique_ptr<StaticHttpServer> web;
  std::unique_ptr<TestPlatform> platform;
  std::unique_ptr<Remote> remote;  // (goes before the platform)
  int links_made = 0;
};

}  // namespace

TEST_F(MountLinksTest, PrivateAndFileTargetsRefusedByDefault) {
  auto m = mount("mnt", "");
  ASSERT_TRUE(m && is_mounted(m->mountpoint()));
  std::string dir = m->mountpoint();
  for (int i = 0; i < 3; ++i) {  // every read refused; the reason logged once
    auto r = read_all(dir + "/web.json");
    EXPECT_EQ(r.err, EACCES) << "read " << r.bytes.size() << " bytes";
    EXPECT_TRUE(r.bytes.empty());
  }
  auto cat = run({"cat", dir + "/web.json"}, 20s);
  EXPECT_FALSE(cat.ok());
  EXPECT_NE(cat.err.find("Permission denied"), std::string::npos) << cat.err;
  auto why = getfattr("user.dl.link.error", dir + "/web.json");
  ASSERT_TRUE(why.ok()) << why.err;
  EXPECT_EQ(why.out, "link target " + web_url() +
                         " refused: 127.0.0.1 is a loopback address; mount with -o link_allow_private to allow it");
  auto listed = run({"getfattr", "-d", "-m", "user.dl.link", dir + "/web.json"}, 20s);
  EXPECT_NE(listed.out.find("user.dl.link.error="), std::string::npos) << listed.out;
  // A file:// link: the mounting user's own file, never read.
  auto local = read_all(dir + "/local.json");
  EXPECT_EQ(local.err, EACCES);
  EXPECT_EQ(local.bytes.find("root only"), std::string::npos);
  auto file_why = getfattr("user.dl.link.error", dir + "/local.json");
  EXPECT_EQ(file_why.out, "link target file://" + secret +
                              " refused: file:// links read this machine's own files; mount with -o link_allow_file "
                              "to allow them (never with allow_other)");
  std::string log = read_file(dir + ".log");
  EXPECT_EQ(count(log, "127.0.0.1 is a loopback address"), 1u) << log;
  EXPECT_EQ(count(log, "file:// links read this machine's own files"), 1u) << log;
  // The server never saw a request.
  EXPECT_EQ(read_file(work.sub("www") + ".http-server.log").find("/target.bin"), std::string::npos);
  EXPECT_TRUE(m->unmount());
}

TEST_F(MountLinksTest, ReadableWithLinkAllowPrivate) {
  auto m = mount("mnt", "link_allow_private");
  ASSERT_TRUE(m && is_mounted(m->mountpoint()));
  std::string dir = m->mountpoint();
  struct stat st {};
  ASSERT_EQ(stat((dir + "/web.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, off_t(target.size()));  // the server's Content-Length
  auto whole = read_all(dir + "/web.json");
  EXPECT_EQ(whole.err, 0);
  EXPECT_TRUE(whole.bytes == target) << "read " << whole.bytes.size() << " bytes";
  // The server ignores Range (200, the whole body): every offset still reads right.
  for (off_t offset : {off_t(0), off_t(1), off_t(4095), off_t(131072), off_t(299990)}) {
    auto r = pread_at(dir + "/web.json", offset, 5000);
    EXPECT_EQ(r.err, 0) << offset;
    EXPECT_TRUE(r.bytes == target.substr(size_t(offset), 5000)) << offset << ": " << r.bytes.size() << " bytes";
  }
  // The static server answered them (its log: the other test's 'no request' is no blind check).
  EXPECT_NE(read_file(work.sub("www") + ".http-server.log").find("GET /target.bin"), std::string::npos);
  auto why = getfattr("user.dl.link.error", dir + "/web.json");
  EXPECT_FALSE(why.ok()) << why.out;  // absent while the link is fine
  EXPECT_NE(why.err.find("No such attribute"), std::string::npos) << why.err;
  // Private addresses allowed, file:// still not.
  EXPECT_EQ(read_all(dir + "/local.json").err, EACCES);
  EXPECT_EQ(count(read_file(dir + ".log"), "web.json"), 0u) << read_file(dir + ".log");  // nothing failed
  EXPECT_TRUE(m->unmount());
}

TEST_F(MountLinksTest, LinkAllowFileButNeverWithAllowOther) {
  CommandResult refused;
  auto none = mount("other", "link_allow_file,allow_other", &refused);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.err.find("link_allow_file cannot be used with allow_other"), std::string::npos) << refused.err;
  EXPECT_FALSE(is_mounted(none->mountpoint()));
  auto m = mount("mnt", "link_allow_file");
  ASSERT_TRUE(m && is_mounted(m->mountpoint()));
  auto local = read_all(m->mountpoint() + "/local.json");
  EXPECT_EQ(local.err, 0);
  EXPECT_EQ(local.bytes, "root only\n");
  EXPECT_EQ(read_all(m->mountpoint() + "/web.json").err, EACCES);  // loopback still refused
  EXPECT_TRUE(m->unmount());
}
