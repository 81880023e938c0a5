// Writing through real FUSE mounts, of the embedded platform and of dlfsd: cp -r in and a fresh mount sees the
// same bytes, xattrs that survive a remount, mv, rm -r, overwrite and append, a SIGKILL in the
// middle of a copy, a full spool, failed uploads retried or discarded with `dlfs status`.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "support/mounted_dataset.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

namespace {

class MountWrite : public MountedDatasetTest {
 protected:
  void make_tree(const std::string& root, int files) {
    write_file(root + "/top.txt", "top\n");
    write_file(root + "/a/b/deep.bin", random_bytes(300000, 1));
    write_file(root + "/empty", "");
    for (int i = 0; i < files; ++i)
      write_file(root + "/many/f" + std::to_string(i) + ".dat", random_bytes(size_t(50 + i * 13 % 4000), uint32_t(i)));
  }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, MountWrite, kBackends, backend_name);

TEST_P(MountWrite, CopyInThenAFreshMountHasTheSameBytes) {
  std::string src = work.sub("src");
  make_tree(src, 200);
  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  auto cp = run({"cp", "-r", src + "/.", m->mountpoint() + "/"}, 300s);
  ASSERT_TRUE(cp.ok()) << cp.err;
  // Pending files read back at once, before any upload is known to be done.
  EXPECT_TRUE(run({"diff", "-r", src, m->mountpoint()}, 120s).ok());
  ASSERT_TRUE(sync(m->mountpoint()).ok());
  auto state = run({"getfattr", "--only-values", "-n", "user.dl.uploads", m->mountpoint()}, 10s);
  EXPECT_NE(state.out.find("\"pending\":0"), std::string::npos) << state.out;
  EXPECT_TRUE(m->unmount());
  auto two = mount("two", "cache2");
  ASSERT_TRUE(two);
  auto diff = run({"diff", "-r", src, two->mountpoint()}, 300s);
  EXPECT_TRUE(diff.ok()) << diff.out << diff.err;
}

TEST_P(MountWrite, XattrsRoundTripAndSurviveARemount) {
  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  std::string f = m->mountpoint() + "/a.txt";
  ASSERT_TRUE(sh("echo hi > '" + f + "'").ok());
  ASSERT_TRUE(sync(m->mountpoint()).ok());
  ASSERT_TRUE(run({"setfattr", "-n", "user.meta.camera", "-v", "canon", f}).ok());
  ASSERT_TRUE(run({"setfattr", "-n", "user.meta.iso", "-v", "400", f}).ok());
  ASSERT_TRUE(run({"setfattr", "-n", "user.dl.description", "-v", "a note", f}).ok());
  EXPECT_FALSE(run({"setfattr", "-n", "user.dl.mimetype", "-v", "x", f}).ok());  // EPERM
  ASSERT_TRUE(run({"setfattr", "-x", "user.meta.iso", f}).ok());
  EXPECT_TRUE(m->unmount());
  auto two = mount("two", "cache2");
  ASSERT_TRUE(two);
  std::string g = two->mountpoint() + "/a.txt";
  EXPECT_EQ(run({"getfattr", "--only-values", "-n", "user.meta.camera", g}).out, "canon");
  EXPECT_EQ(run({"getfattr", "--only-values", "-n", "user.dl.description", g}).out, "a note");
  EXPECT_FALSE(run({"getfattr", "-n", "user.meta.iso", g}).ok());
}

TEST_P(MountWrite, XattrsSetRightAfterCopyWhileTheUploadRunsAreKept) {
  // A regression: metadata set while a new file's first upload was in flight was lost (the
  // upload had already taken its copy). Many files, so that some are mid-upload when set.
  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  for (int i = 0; i < 40; ++i) {
    std::string f = m->mountpoint() + "/x" + std::to_string(i) + ".bin";
    write_file(f, random_bytes(200000, uint32_t(i)));
    ASSERT_TRUE(run({"setfattr", "-n", "user.meta.camera", "-v", "cam-" + std::to_string(i), f}).ok());
  }
  ASSERT_TRUE(sync(m->mountpoint()).ok());
  EXPECT_TRUE(m->unmount());
  auto two = mount("two", "cache2");
  ASSERT_TRUE(two);
  for (int i = 0; i < 40; ++i) {
    std::string g = two->mountpoint() + "/x" + std::to_string(i) + ".bin";
    EXPECT_EQ(run({"getfattr", "--only-values", "-n", "user.meta.camera", g}).out, "cam-" + std::to_string(i)) << g;
  }
}

TEST_P(MountWrite, MoveRemoveOverwriteAndAppend) {
  std::string src = work.sub("src");
  make_tree(src, 50);
  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  std::string d = m->mountpoint();
  ASSERT_TRUE(run({"cp", "-r", src + "/.", d + "/"}, 300s).ok());
  ASSERT_TRUE(sync(d).ok());
  ASSERT_TRUE(run({"mv", d + "/top.txt", d + "/a/top2.txt"}).ok());
  ASSERT_TRUE(run({"mv", d + "/many", d + "/moved"}).ok());
  EXPECT_EQ(read_file(d + "/a/top2.txt"), "top\n");
  EXPECT_EQ(read_file(d + "/moved/f7.dat"), read_file(src + "/many/f7.dat"));
  EXPECT_FALSE(stdfs::exists(d + "/many"));
  ASSERT_TRUE(sh("echo more >> '" + d + "/a/top2.txt'").ok());            // append to an existing item
  ASSERT_TRUE(sh("printf new > '" + d + "/moved/f1.dat'").ok());          // overwrite
  EXPECT_EQ(read_file(d + "/a/top2.txt"), "top\nmore\n");
  ASSERT_TRUE(run({"rm", "-r", d + "/a/b"}).ok());
  EXPECT_FALSE(stdfs::exists(d + "/a/b"));
  EXPECT_FALSE(run({"rmdir", d + "/moved"}).ok());  // ENOTEMPTY
  ASSERT_TRUE(sync(d).ok());
  EXPECT_TRUE(m->unmount());
  auto two = mount("two", "cache2");
  ASSERT_TRUE(two);
  std::string e = two->mountpoint();
  EXPECT_EQ(read_file(e + "/a/top2.txt"), "top\nmore\n");
  EXPECT_EQ(read_file(e + "/moved/f1.dat"), "new");
  EXPECT_EQ(read_file(e + "/moved/f7.dat"), read_file(src + "/many/f7.dat"));
  EXPECT_FALSE(stdfs::exists(e + "/a/b"));
  EXPECT_FALSE(stdfs::exists(e + "/top.txt"));
  EXPECT_EQ(run({"sh", "-c", "ls '" + e + "/moved' | wc -l"}).out, "50\n");
}

TEST_P(MountWrite, SigkillAfterCopyLosesNothingThatWasClosed) {
  std::string src = work.sub("src");
  make_tree(src, 150);
  auto m = mount("mnt", "cache", "upload_workers=1");
  ASSERT_TRUE(m);
  ASSERT_TRUE(run({"cp", "-r", src + "/.", m->mountpoint() + "/"}, 300s).ok());
  pid_t pid = m->daemon_pid();
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGKILL);
  EXPECT_TRUE(wait_until([&] { return process_gone(pid); }, 20s));
  m->unmount();  // the lazy unmount of a dead mount
  auto again = mount("mnt", "cache");  // the same cache dir: the journal is there
  ASSERT_TRUE(again);
  ASSERT_TRUE(sync(again->mountpoint()).ok());
  EXPECT_TRUE(again->unmount());
  auto fresh = mount("two", "cache2");
  ASSERT_TRUE(fresh);
  auto diff = run({"diff", "-r", src, fresh->mountpoint()}, 300s);
  EXPECT_TRUE(diff.ok()) << diff.out << diff.err;
}

TEST_P(MountWrite, AFullSpoolAnswersEnospc) {
  auto m = mount("mnt", "cache", "spool_size=1M,upload_workers=1");
  ASSERT_TRUE(m);
  auto dd = run({"dd", "if=/dev/zero", "of=" + m->mountpoint() + "/big", "bs=64K", "count=64"}, 60s);
  EXPECT_FALSE(dd.ok());
  EXPECT_NE(dd.err.find("No space left"), std::string::npos) << dd.err;
}

TEST_P(MountWrite, APlatformRefusingUploadsForAWhileGetsEveryFile) {
  std::string src = work.sub("src");
  make_tree(src, 30);
  auto m = mount("mnt", "cache", "debug_upload_failures=40,debug_retry_base_ms=20");
  ASSERT_TRUE(m);
  ASSERT_TRUE(run({"cp", "-r", src + "/.", m->mountpoint() + "/"}, 300s).ok());
  ASSERT_TRUE(sync(m->mountpoint()).ok());
  EXPECT_TRUE(m->unmount());
  auto two = mount("two", "cache2");
  ASSERT_TRUE(two);
  auto diff = run({"diff", "-r", src, two->mountpoint()}, 300s);
  EXPECT_TRUE(diff.ok()) << diff.out << diff.err;
}

TEST_P(MountWrite, SyncReportsFailedUploadsAndStatusRetriesOrDiscardsThem) {
  // One try each, four refusals: the four files end failed.
  auto m = mount("mnt", "cache", "debug_upload_failures=4,upload_attempts=1,upload_workers=1");
  ASSERT_TRUE(m);
  std::string mnt = m->mountpoint();
  for (const char* name : {"a", "b", "c", "d"}) write_file(mnt + "/" + name + ".txt", std::string(name) + " bytes");
  auto synced = sync(mnt);
  EXPECT_EQ(synced.exit_code, 1) << synced.out << synced.err;
  for (const char* name : {"a", "b", "c", "d"})
    EXPECT_NE(synced.err.find("failed: /" + std::string(name) + ".txt: "), std::string::npos) << synced.err;
  auto status = dlfs({"status", mnt}, 30s);
  ASSERT_TRUE(status.ok()) << status.err;
  EXPECT_NE(status.out.find("failed: /d.txt: "), std::string::npos) << status.out;
  EXPECT_EQ(read_file(mnt + "/d.txt"), "d bytes");  // kept, readable

  auto bad = dlfs({"status", mnt, "--retry", mnt + "/nope.txt"}, 30s);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("no failed upload at"), std::string::npos) << bad.err;
  auto discard = dlfs({"status", mnt, "--discard", mnt + "/d.txt"}, 30s);
  ASSERT_TRUE(discard.ok()) << discard.err;
  auto retry = dlfs({"status", mnt, "--retry", "all", "--json"}, 30s);
  ASSERT_TRUE(retry.ok()) << retry.err;
  synced = sync(mnt);
  ASSERT_TRUE(synced.ok()) << synced.out << synced.err;
  EXPECT_NE(synced.out.find("synced"), std::string::npos);
  EXPECT_TRUE(m->unmount());

  auto two = mount("two", "cache2");
  ASSERT_TRUE(two);
  for (const char* name : {"a", "b", "c"})
    EXPECT_EQ(read_file(two->mountpoint() + "/" + name + ".txt"), std::string(name) + " bytes");
  EXPECT_FALSE(stdfs::exists(two->mountpoint() + "/d.txt"));
  EXPECT_EQ(sync(work.path()).exit_code, 1);  // not a mount point
}

TEST_P(MountWrite, ReadOnlyMountsStillRefuseWrites) {
  auto m = mount("mnt", "cache", "ro");
  ASSERT_TRUE(m);
  EXPECT_FALSE(sh("echo x > '" + m->mountpoint() + "/x'").ok());
}
