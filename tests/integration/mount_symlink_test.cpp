// ln -s through a real FUSE mount, over both backends: `ln -s URL NAME` makes a link item whose
// bytes read at once (a regular file, not a symlink, right after ln) and in a fresh mount; `dlfs
// link` the same; a file:// URL is refused with EPERM (and a log line), an existing name with
// EEXIST, a read-only mount with EROFS. `ln -s PATH NAME` makes a symlink, which the kernel follows
// and a second mount reads back. The link target is served by
// `python3 -m http.server` on 127.0.0.1 (hence -o link_allow_private). Every mount is held by a
// MountGuard; every wait is bounded.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "support/mounted_dataset.h"
#include "support/posix_read.h"
#include "support/process.h"
#include "support/static_http_server.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

// symlink(2)'s errno (0 on success).
int symlink_err(const std::string& target, const std::string& path) {
  return ::symlink(target.c_str(), path.c_str()) == 0 ? 0 : errno;
}

class MountSymlink : public MountedDatasetTest {
 protected:
  void SetUp() override {
    MountedDatasetTest::SetUp();
    if (HasFatalFailure()) return;
    write_file(work.sub("www/cat.jpg"), target);
    web = std::make_unique<StaticHttpServer>(work.sub("www"));
    ASSERT_TRUE(web->ok()) << web->error();
  }

  std::string url() const { return web->origin() + "/cat.jpg"; }

  // The platform's item at `path` (through the platform's own client, not a mount).
  Result<Item> on_platform(const std::string& path) {
    auto remote = platform->connection()->open(dataset);
    if (!remote) return remote.status();
    return (*remote)->get(path);
  }

  void expect_reads_as_target(const std::string& file) {
    struct stat st {};
    ASSERT_EQ(::lstat(file.c_str(), &st), 0) << strerror(errno);
    EXPECT_TRUE(S_ISREG(st.st_mode)) << std::oct << st.st_mode;
    auto r = read_all(file);
    EXPECT_EQ(r.err, 0) << strerror(r.err);
    EXPECT_TRUE(r.bytes == target) << "read " << r.bytes.size() << " bytes of " << target.size();
  }

  std::string target = random_bytes(200000, 21);
  std::unique_ptr<StaticHttpServer> web;
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, MountSymlink, kBackends, backend_name);

TEST_P(MountSymlink, LnSOfAUrlMakesALinkItemReadableAtOnceAndInAFreshMount) {
  auto m = mount("mnt", "cache", "link_allow_private");
  ASSERT_TRUE(m);
  std::string dir = m->mountpoint();
  ASSERT_EQ(::mkdir((dir + "/cats").c_str(), 0755), 0) << strerror(errno);
  auto ln = run({"ln", "-s", url(), dir + "/cats/cat.jpg"}, 30s);
  ASSERT_TRUE(ln.ok()) << ln.err << read_file(dir + ".log");
  // At once: the kernel took the reply as a symlink, but the name is a regular file now.
  expect_reads_as_target(dir + "/cats/cat.jpg");
  auto cat = run({"cat", dir + "/cats/cat.jpg"}, 30s);
  EXPECT_TRUE(cat.ok() && cat.out == target) << cat.err;
  auto stat = run({"stat", "-c", "%F %s", dir + "/cats/cat.jpg"}, 10s);
  EXPECT_EQ(stat.out, "regular file " + std::to_string(target.size()) + "\n") << stat.err;
  auto link_url = run({"getfattr", "-n", "user.dl.link.url", "--only-values", dir + "/cats/cat.jpg"}, 10s);
  EXPECT_EQ(link_url.out, url()) << link_url.err;
  auto item = on_platform("/cats/cat.jpg");
  ASSERT_TRUE(item) << item.status().to_string();
  EXPECT_TRUE(item->is_link());
  EXPECT_EQ(item->link_url(), url());
  EXPECT_EQ(item->name, "cat.jpg");
  EXPECT_TRUE(m->unmount());

  auto two = mount("two", "cache2", "link_allow_private");
  ASSERT_TRUE(two);
  expect_reads_as_target(two->mountpoint() + "/cats/cat.jpg");
  EXPECT_TRUE(two->unmount());
}

TEST_P(MountSymlink, DlfsLinkMakesTheSame) {
  auto made = dlfs({"link", dataset + ":/dl/cat.jpg", url(), "--mimetype", "image/jpeg"});
  ASSERT_TRUE(made.ok()) << made.err;
  EXPECT_EQ(made.out, dataset + ":/dl/cat.jpg -> " + url() + "\n");
  auto m = mount("mnt", "cache", "link_allow_private");
  ASSERT_TRUE(m);
  expect_reads_as_target(m->mountpoint() + "/dl/cat.jpg");
  auto mime = run({"getfattr", "-n", "user.dl.link.mimetype", "--only-values", m->mountpoint() + "/dl/cat.jpg"}, 10s);
  EXPECT_EQ(mime.out, "image/jpeg") << mime.err;
  // ln -s over the name dlfs link made: EEXIST, the link untouched.
  EXPECT_EQ(symlink_err("https://example.com/other.jpg", m->mountpoint() + "/dl/cat.jpg"), EEXIST);
  expect_reads_as_target(m->mountpoint() + "/dl/cat.jpg");
  EXPECT_TRUE(m->unmount());
}

TEST_P(MountSymlink, OtherTargetsExistingNamesAndReadOnlyMountsAreRefused) {
  auto m = mount("mnt", "cache", "link_allow_private");
  ASSERT_TRUE(m);
  std::string dir = m->mountpoint();
  // A file:// URL (or another scheme): EPERM, nothing made, said in the log.
  EXPECT_EQ(symlink_err("file:///etc/passwd", dir + "/file-url"), EPERM);
  EXPECT_EQ(symlink_err("s3://bucket/key", dir + "/s3-url"), EPERM);
  auto ln = run({"ln", "-s", "file:///etc/passwd", dir + "/by-ln"}, 30s);
  EXPECT_FALSE(ln.ok());
  EXPECT_NE(ln.err.find("Operation not permitted"), std::string::npos) << ln.err;
  for (const char* name : {"/file-url", "/s3-url", "/by-ln"}) {
    struct stat st {};
    EXPECT_NE(::lstat((dir + name).c_str(), &st), 0) << name;
    EXPECT_EQ(on_platform(name).err(), ENOENT) << name;
  }
  std::string log = read_file(dir + ".log");
  EXPECT_NE(log.find("ln -s file:///etc/passwd /file-url: refused: a link item's target must be an http:// or https:// URL"),
            std::string::npos)
      << log;
  // Over an existing file or folder: EEXIST.
  write_file(dir + "/plain.txt", "plain\n");
  ASSERT_TRUE(sync(dir).ok());
  EXPECT_EQ(symlink_err(url(), dir + "/plain.txt"), EEXIST);
  ASSERT_EQ(::mkdir((dir + "/folder").c_str(), 0755), 0);
  EXPECT_EQ(symlink_err(url(), dir + "/folder"), EEXIST);
  EXPECT_EQ(read_all(dir + "/plain.txt").bytes, "plain\n");
  // Reserved names: .thumbnails exists (the kernel answers EEXIST itself), .dataloop is EPERM.
  EXPECT_EQ(symlink_err(url(), dir + "/.thumbnails"), EEXIST);
  EXPECT_EQ(symlink_err(url(), dir + "/.dataloop"), EPERM);
  EXPECT_TRUE(m->unmount());

  auto ro = mount("ro", "cache-ro", "link_allow_private,ro");
  ASSERT_TRUE(ro);
  EXPECT_EQ(symlink_err(url(), ro->mountpoint() + "/ro.jpg"), EROFS);
  EXPECT_EQ(on_platform("/ro.jpg").err(), ENOENT);
  EXPECT_TRUE(ro->unmount());
}

TEST_P(MountSymlink, AnUnreachableServerAnswersEio) {
  if (GetParam() != Backend::kDlfsd) GTEST_SKIP() << "the embedded platform is never unreachable";
  auto m = mount("mnt", "cache", "link_allow_private,http_retries=1,http_timeout=5,unmount_wait=1");
  ASSERT_TRUE(m);
  std::string dir = m->mountpoint();
  // The root listed while the server is up: the kernel's lookup of the new name answers ENOENT
  // from it, so that the symlink itself meets the dead server.
  ASSERT_TRUE(run({"ls", dir}, 20s).ok());
  platform->server()->kill();
  EXPECT_EQ(symlink_err(url(), dir + "/away.jpg"), EIO);
  EXPECT_NE(read_file(dir + ".log").find("ln -s " + url() + " /away.jpg"), std::string::npos) << read_file(dir + ".log");
  // A symlink to a path is spooled as a new file is: made now, uploaded once the server is back.
  EXPECT_EQ(symlink_err("elsewhere", dir + "/away-link"), 0);
  EXPECT_EQ(std::filesystem::read_symlink(dir + "/away-link"), "elsewhere");
  EXPECT_TRUE(m->unmount());
}

// `ln -s PATH`: a symlink item. The kernel follows it (a relative one to a file of the dataset, an
// absolute one to this machine's own file); a second mount, fresh, reads it back; mv and rm work.
TEST_P(MountSymlink, LocalTargetsMakeSymlinksThatASecondMountReads) {
  auto m = mount("mnt", "cache", "link_allow_private");
  ASSERT_TRUE(m);
  std::string dir = m->mountpoint();
  ASSERT_EQ(::mkdir((dir + "/data").c_str(), 0755), 0);
  write_file(dir + "/data/plain.txt", "plain\n");
  write_file(work.sub("local.txt"), "this machine's\n");
  EXPECT_EQ(symlink_err("plain.txt", dir + "/data/rel"), 0);
  EXPECT_EQ(symlink_err("data", dir + "/folder-link"), 0);
  EXPECT_EQ(symlink_err(work.sub("local.txt"), dir + "/abs"), 0);
  EXPECT_EQ(symlink_err("missing/none", dir + "/dangling"), 0);
  auto ln = run({"ln", "-s", "../data/plain.txt", dir + "/data/by-ln"}, 30s);
  EXPECT_TRUE(ln.ok()) << ln.err;
  auto check = [&](const std::string& at) {
    struct stat st {};
    ASSERT_EQ(::lstat((at + "/data/rel").c_str(), &st), 0) << strerror(errno);
    EXPECT_TRUE(S_ISLNK(st.st_mode)) << std::oct << st.st_mode;
    EXPECT_EQ(st.st_size, 9);
    EXPECT_EQ(std::filesystem::read_symlink(at + "/data/rel"), "plain.txt");
    EXPECT_EQ(read_all(at + "/data/rel").bytes, "plain\n");
    EXPECT_EQ(read_all(at + "/data/by-ln").bytes, "plain\n");
    EXPECT_EQ(read_all(at + "/folder-link/plain.txt").bytes, "plain\n");
    EXPECT_EQ(read_all(at + "/abs").bytes, "this machine's\n");
    EXPECT_EQ(read_all(at + "/dangling").err, ENOENT);
    auto ls = run({"ls", "-l", at + "/data"}, 20s);
    EXPECT_NE(ls.out.find("rel -> plain.txt"), std::string::npos) << ls.out;
    auto find = run({"find", at, "-type", "l"}, 20s);
    EXPECT_EQ(std::count(find.out.begin(), find.out.end(), '\n'), 5) << find.out;
  };
  check(dir);
  ASSERT_TRUE(sync(dir).ok());
  auto item = on_platform("/data/rel");
  ASSERT_TRUE(item) << item.status().to_string();
  EXPECT_EQ(item->system()["posix"]["symlink"], "plain.txt");
  EXPECT_EQ(item->mimetype(), "inode/symlink");
  auto second = mount("second", "cache-second", "link_allow_private");
  ASSERT_TRUE(second);
  check(second->mountpoint());
  // mv and rm, seen by the second mount.
  ASSERT_EQ(::rename((dir + "/data/rel").c_str(), (dir + "/data/rel2").c_str()), 0);
  ASSERT_EQ(::unlink((dir + "/dangling").c_str()), 0);
  ASSERT_TRUE(sync(dir).ok());
  EXPECT_EQ(on_platform("/data/rel").err(), ENOENT);
  EXPECT_EQ(on_platform("/dangling").err(), ENOENT);
  EXPECT_EQ(std::filesystem::read_symlink(dir + "/data/rel2"), "plain.txt");
  EXPECT_TRUE(second->unmount());
  EXPECT_TRUE(m->unmount());
}
