// Symlinks in the filesystem core, over a FakeRemote that keeps them as the platform does: `ln -s
// PATH` makes a symlink item (its bytes the target, metadata.system.posix.symlink saying so),
// spooled and uploaded as a new file is — made while the server is away, renamed before its
// upload, resumed from the journal after a crash — and read back by a fresh mount; a URL of
// another scheme than http(s) is refused.
#include <gtest/gtest.h>

#include <fcntl.h>

#include "core/posix_attrs.h"
#include "support/spooled_fs.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

class FsSymlinks : public SpooledFsTest {
 protected:
  // What a lookup from the root shows: the mode and, for a symlink, its target.
  std::pair<mode_t, std::string> seen(const std::string& path) {
    auto e = walk(path);
    if (!e) return {0, e.status().to_string()};
    auto target = fs->readlink(e->ino);
    return {e->attr.st_mode, target ? *target : std::string()};
  }
  void upload_all() {
    fs->start_uploads();
    ASSERT_EQ(fs->wait_uploads(10s), 0u);
  }
};

TEST_F(FsSymlinks, ALocalTargetMakesASymlinkItemThatAFreshMountReads) {
  remote.add_dir("/d");
  Ino d = walk("/d")->ino;
  auto made = fs->symlink("../data/a.txt", d, "s", NewNode{1234, 5678, std::nullopt});
  ASSERT_TRUE(made) << made.status().to_string();
  EXPECT_EQ(made->attr.st_mode, S_IFLNK | 0777);
  EXPECT_EQ(made->attr.st_size, off_t(13));
  EXPECT_EQ(made->attr.st_uid, 1234u);
  auto target = fs->readlink(made->ino);
  ASSERT_TRUE(target) << target.status().to_string();
  EXPECT_EQ(*target, "../data/a.txt");
  EXPECT_EQ(seen("/d/s"), std::make_pair(mode_t(S_IFLNK | 0777), std::string("../data/a.txt")));
  EXPECT_EQ(fs->symlink("elsewhere", d, "s").err(), EEXIST);

  upload_all();
  // The platform has it: its bytes are the target, its metadata says it is a symlink.
  auto item = remote.item_at("/d/s");
  ASSERT_TRUE(item);
  EXPECT_EQ(symlink_target(*item), "../data/a.txt");
  EXPECT_EQ(item->mimetype(), kSymlinkMimetype);
  EXPECT_EQ(posix_attrs(*item).uid, 1234u);
  EXPECT_EQ(remote_bytes("/d/s"), "../data/a.txt");
  // The same node after the upload, and in a fresh mount.
  EXPECT_EQ(walk("/d/s")->ino, made->ino);
  EXPECT_EQ(*fs->readlink(made->ino), "../data/a.txt");
  unmount();
  mount();
  EXPECT_EQ(seen("/d/s"), std::make_pair(mode_t(S_IFLNK | 0777), std::string("../data/a.txt")));
  auto again = walk("/d/s");
  EXPECT_EQ(again->attr.st_size, off_t(13));
  EXPECT_EQ(again->attr.st_uid, 1234u);
  EXPECT_EQ(again->attr.st_gid, 5678u);

  // Unlinked: gone on the platform too.
  ASSERT_TRUE(fs->unlink(walk("/d")->ino, "s"));
  EXPECT_FALSE(remote.item_at("/d/s"));
}

// (A URL makes a link item: the mount tests show it on both platforms; the fake makes none.)
TEST_F(FsSymlinks, AUrlOfAnotherSchemeIsRefusedAndAColonIsAPath) {
  EXPECT_EQ(fs->symlink("file:///etc/passwd", kRootIno, "passwd").err(), EPERM);
  EXPECT_EQ(fs->symlink("s3://bucket/key", kRootIno, "key").err(), EPERM);
  EXPECT_FALSE(remote.item_at("/passwd"));
  // A path that merely has a colon is a path.
  ASSERT_TRUE(fs->symlink("a:b/c", kRootIno, "colon"));
  EXPECT_EQ(seen("/colon").second, "a:b/c");
}

TEST_F(FsSymlinks, TargetsUpTo4095BytesAndReadlinkOfAFileIsEinval) {
  std::string longest(kMaxSymlinkBytes, 'x');
  ASSERT_TRUE(fs->symlink(longest, kRootIno, "longest"));
  EXPECT_EQ(fs->symlink(longest + "x", kRootIno, "longer").err(), ENAMETOOLONG);
  remote.add_file("/plain.txt", "plain");
  EXPECT_EQ(fs->readlink(walk("/plain.txt")->ino).err(), EINVAL);
  EXPECT_EQ(fs->readlink(kRootIno).err(), EINVAL);
  upload_all();
  unmount();
  mount();
  EXPECT_EQ(seen("/longest").second, longest);
  // A platform item with a bad target (an API client's patch) is shown as the file it is.
  Item bad = *remote.item_at("/plain.txt");
  bad.system()[kPosixKey] = {{"symlink", ""}};
  remote.put_item(bad);
  unmount();
  mount();
  EXPECT_EQ(walk("/plain.txt")->attr.st_mode & S_IFMT, mode_t(S_IFREG));
}

TEST_F(FsSymlinks, MadeWhileTheServerIsAwayRenamedThenUploaded) {
  remote.set_away(true);
  remote.reset_calls();
  ASSERT_TRUE(fs->symlink("target", kRootIno, "s"));
  ASSERT_TRUE(fs->rename(kRootIno, "s", kRootIno, "t", 0));
  EXPECT_EQ(seen("/t").second, "target");
  EXPECT_EQ(walk("/s").err(), ENOENT);
  EXPECT_EQ(remote.calls(RemoteCall::kUpload), 0u);
  remote.set_away(false);
  upload_all();
  EXPECT_FALSE(remote.item_at("/s"));
  ASSERT_TRUE(remote.item_at("/t"));
  EXPECT_EQ(symlink_target(*remote.item_at("/t")), "target");
}

TEST_F(FsSymlinks, ACrashBeforeItsUploadLosesNothing) {
  ASSERT_TRUE(fs->symlink("../kept", kRootIno, "s", NewNode{1234, 1234, std::nullopt}));
  // The mount stops before any upload (as a SIGKILL would leave it): the journal has it. The
  // next mount resumes it (its upload held back while the server is away).
  unmount();
  remote.set_away(true);
  mount();
  fs->start_uploads();
  EXPECT_EQ(seen("/s"), std::make_pair(mode_t(S_IFLNK | 0777), std::string("../kept")));
  EXPECT_FALSE(remote.item_at("/s"));
  remote.set_away(false);
  upload_all();
  ASSERT_TRUE(remote.item_at("/s"));
  EXPECT_EQ(symlink_target(*remote.item_at("/s")), "../kept");
  EXPECT_EQ(posix_attrs(*remote.item_at("/s")).uid, 1234u);
}

TEST_F(FsSymlinks, OwnersAndTimesOfASymlinkAreKept) {
  ASSERT_TRUE(fs->symlink("t", kRootIno, "s"));
  upload_all();
  Ino s = walk("/s")->ino;
  constexpr int64_t k2020 = 1577836800LL * 1000000000;
  auto changed = fs->setattr(s, 0, AttrChange{.uid = 42, .gid = 43, .mtime_ns = k2020});  // lchown, touch -h
  ASSERT_TRUE(changed) << changed.status().to_string();
  EXPECT_EQ(changed->attr.st_mode, S_IFLNK | 0777);
  unmount();
  mount();
  auto e = walk("/s");
  EXPECT_EQ(e->attr.st_mode, S_IFLNK | 0777);
  EXPECT_EQ(e->attr.st_uid, 42u);
  EXPECT_EQ(e->attr.st_gid, 43u);
  EXPECT_EQ(e->attr.st_mtim.tv_sec, 1577836800);
}

TEST_F(FsSymlinks, AMountThatDoesNotKeepAttributesStillMakesSymlinks) {
  unmount();
  options.posix_attrs = false;
  mount();
  ASSERT_TRUE(fs->symlink("there", kRootIno, "s", NewNode{1234, 1234, std::nullopt}));
  upload_all();
  auto item = remote.item_at("/s");
  ASSERT_TRUE(item);
  EXPECT_EQ(symlink_target(*item), "there");
  EXPECT_FALSE(posix_attrs(*item).uid);  // nothing else kept
  unmount();
  mount();
  EXPECT_EQ(seen("/s"), std::make_pair(mode_t(S_IFLNK | 0777), std::string("there")));
}

}  // namespace
