// The filesystem core's POSIX attributes over a FakeRemote that keeps them as the platform does
// (metadata.system.posix): the mode and owners a file or folder is made with, chmod, chown and
// utimensat on pending files and on items the platform has, what a fresh mount sees, who may
// change what, and the mount that does not keep them (EPERM, never a silent success).
#include <gtest/gtest.h>

#include <fcntl.h>

#include <mutex>
#include <thread>

#include "core/posix_attrs.h"
#include "remote/forwarding_remote.h"
#include "support/spooled_fs.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

class FsAttrs : public SpooledFsTest {};

constexpr int64_t k2020 = 1577836800LL * 1000000000 + 123456789;  // 2020-01-01, and some ns

TEST_F(FsAttrs, NewFilesAndFoldersKeepTheirModeAndOwnersThroughTheUploadAndARemount) {
  Ino f = put(kRootIno, "f", "bytes", NewNode{1234, 5678, 0600});
  auto d = fs->mkdir(kRootIno, "d", NewNode{1234, 5678, 0700});
  ASSERT_TRUE(d) << d.status().to_string();
  struct stat st = fs->getattr(f)->attr;
  EXPECT_EQ(st.st_mode, S_IFREG | 0600);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(d->attr.st_mode, S_IFDIR | 0700);
  EXPECT_EQ(d->attr.st_uid, 1234u);
  fs->start_uploads();
  ASSERT_EQ(fs->wait_uploads(5s), 0u);
  // The platform has them (what a second client reads), and a fresh mount shows them.
  auto on_platform = posix_attrs(*remote.item_at("/f"));
  EXPECT_EQ(on_platform.mode, 0600u);
  EXPECT_EQ(on_platform.uid, 1234u);
  EXPECT_EQ(on_platform.gid, 5678u);
  EXPECT_TRUE(on_platform.mtime_ns);
  EXPECT_EQ(posix_attrs(*remote.item_at("/d")).mode, 0700u);
  int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  unmount();
  mount();
  struct stat again = attr_of("/f");
  EXPECT_EQ(again.st_mode, S_IFREG | 0600);
  EXPECT_EQ(again.st_uid, 1234u);
  EXPECT_EQ(int64_t(again.st_mtim.tv_sec) * 1000000000 + again.st_mtim.tv_nsec, mtime);
  EXPECT_EQ(attr_of("/d").st_mode, S_IFDIR | 0700);
  // Without a NewNode (no FUSE context): the mount's defaults.
  Ino plain = put(kRootIno, "plain", "x", {});
  EXPECT_EQ(fs->getattr(plain)->attr.st_mode, S_IFREG | 0644);
  EXPECT_EQ(fs->getattr(plain)->attr.st_uid, 1000u);
}

TEST_F(FsAttrs, ChmodChownAndUtimensatChangePendingFilesAndPlatformItems) {
  remote.add_file("/old.txt", "on the platform");  // never had attributes: the defaults
  struct stat st = attr_of("/old.txt");
  EXPECT_EQ(st.st_mode, S_IFREG | 0644);
  EXPECT_EQ(st.st_uid, 1000u);
  Ino old = walk("/old.txt")->ino;
  Ino fresh = put(kRootIno, "new.txt", "pending", NewNode{1000, 1000, 0644});
  for (Ino ino : {old, fresh}) {
    int64_t ctime_before = fs->getattr(ino)->attr.st_ctim.tv_sec;
    clock.advance_ms(2000);
    auto changed = fs->setattr(ino, 0, AttrChange{.mode = 0640, .uid = 42, .gid = 43});
    ASSERT_TRUE(changed) << changed.status().to_string();
    EXPECT_EQ(changed->attr.st_mode, S_IFREG | 0640);
    EXPECT_EQ(changed->attr.st_uid, 42u);
    EXPECT_EQ(changed->attr.st_gid, 43u);
    EXPECT_GT(changed->attr.st_ctim.tv_sec, ctime_before);
    auto touched = fs->setattr(ino, 0, AttrChange{.atime_ns = k2020 + 1, .mtime_ns = k2020});
    ASSERT_TRUE(touched) << touched.status().to_string();
    EXPECT_EQ(touched->attr.st_mtim.tv_sec, 1577836800);
    EXPECT_EQ(touched->attr.st_mtim.tv_nsec, 123456789);
    EXPECT_EQ(touched->attr.st_atim.tv_nsec, 123456790);
  }
  EXPECT_EQ(posix_attrs(*remote.item_at("/old.txt")).mode, 0640u);  // patched at once
  EXPECT_EQ(posix_attrs(*remote.item_at("/old.txt")).mtime_ns, k2020);
  fs->start_uploads();
  ASSERT_EQ(fs->wait_uploads(5s), 0u);
  auto uploaded = posix_attrs(*remote.item_at("/new.txt"));  // kept with it, sent with the upload
  EXPECT_EQ(uploaded.mode, 0640u);
  EXPECT_EQ(uploaded.uid, 42u);
  EXPECT_EQ(uploaded.mtime_ns, k2020);
  // A write after a utimensat sets mtime again.
  auto opened = fs->open(fresh, O_WRONLY);
  ASSERT_TRUE(opened) << opened.status().to_string();
  ASSERT_TRUE(fs->write(fresh, opened->fh, 0, std::span<const char>("x", 1)));
  EXPECT_GT(fs->getattr(fresh)->attr.st_mtim.tv_sec, 1577836800 + 1000);
  ASSERT_TRUE(fs->flush(fresh, opened->fh));
  fs->release(opened->fh);
  ASSERT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_EQ(posix_attrs(*remote.item_at("/new.txt")).mode, 0640u);  // an overwrite keeps the mode
  EXPECT_GT(*posix_attrs(*remote.item_at("/new.txt")).mtime_ns, k2020);
}

TEST_F(FsAttrs, OnlyRootGivesAFileAwayAndOnlyTheOwnerChangesItsMode) {
  Ino f = put(kRootIno, "f", "x", NewNode{1000, 1000, 0644});
  EXPECT_EQ(fs->setattr(f, 0, AttrChange{.uid = 2000, .caller = 1000}).err(), EPERM);
  EXPECT_EQ(fs->setattr(f, 0, AttrChange{.mode = 0600, .caller = 2000}).err(), EPERM);
  EXPECT_EQ(fs->setattr(f, 0, AttrChange{.gid = 2000, .caller = 2000}).err(), EPERM);
  EXPECT_TRUE(fs->setattr(f, 0, AttrChange{.mode = 0600, .caller = 1000}));
  EXPECT_TRUE(fs->setattr(f, 0, AttrChange{.uid = 1000, .caller = 1000}));  // to itself: no change
  EXPECT_TRUE(fs->setattr(f, 0, AttrChange{.uid = 2000, .caller = 0}));
  EXPECT_EQ(fs->getattr(f)->attr.st_uid, 2000u);
  EXPECT_EQ(fs->getattr(f)->attr.st_mode, S_IFREG | 0600);
}

TEST_F(FsAttrs, AFolderWithItsSetGroupIdBitGivesItsGroup) {
  auto d = fs->mkdir(kRootIno, "shared", NewNode{1000, 777, 02775});
  ASSERT_TRUE(d);
  Ino f = put(d->ino, "f", "x", NewNode{1000, 1000, 0644});
  auto sub = fs->mkdir(d->ino, "sub", NewNode{1000, 1000, 0755});
  ASSERT_TRUE(sub);
  EXPECT_EQ(fs->getattr(f)->attr.st_gid, 777u);
  EXPECT_EQ(sub->attr.st_gid, 777u);
  EXPECT_EQ(sub->attr.st_mode, S_IFDIR | 02755);
}

TEST_F(FsAttrs, AMountThatDoesNotKeepThemAnswersEperm) {
  remote.add_file("/a.txt", "a");
  options.posix_attrs = false;
  mount();
  Ino a = walk("/a.txt")->ino;
  EXPECT_EQ(fs->setattr(a, 0, AttrChange{.mode = 0600}).err(), EPERM);
  EXPECT_EQ(fs->setattr(a, 0, AttrChange{.mtime_ns = k2020}).err(), EPERM);
  EXPECT_EQ(fs->setattr(a, 0, AttrChange{.uid = 1}).err(), EPERM);
  EXPECT_TRUE(fs->setattr(a, 0, AttrChange{.size = 0}));  // a truncate is not an attribute
  Ino f = put(kRootIno, "f", "x", NewNode{1234, 1234, 0600});
  EXPECT_EQ(fs->getattr(f)->attr.st_mode, S_IFREG | 0644);  // what it shows: the defaults
  EXPECT_EQ(fs->getattr(f)->attr.st_uid, 1000u);
  fs->start_uploads();
  ASSERT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_TRUE(posix_attrs(*remote.item_at("/f")).empty());
}

}  // namespace

namespace {
// What POSIX says a change sets: a write, a truncate and an open(O_TRUNC) set the file's mtime and
// ctime; a name made or removed in a folder sets the folder's. (open(O_TRUNC) of an uploaded file
// kept its old mtime: pjdfstest open/00 43-44.)
TEST_F(FsAttrs, WritesTruncatesAndNamesSetTheTimesPosixSays) {
  Ino f = put(kRootIno, "f", "bytes", {});
  auto d = fs->mkdir(kRootIno, "d", {});
  ASSERT_TRUE(d);
  fs->start_uploads();
  ASSERT_EQ(fs->wait_uploads(5s), 0u);
  auto seconds = [&](Ino ino) { return fs->getattr(ino)->attr.st_mtim.tv_sec; };
  auto ctime = [&](Ino ino) { return fs->getattr(ino)->attr.st_ctim.tv_sec; };
  int64_t t0 = seconds(f);
  clock.advance_ms(5000);
  auto opened = fs->open(f, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(opened) << opened.status().to_string();
  EXPECT_EQ(fs->getattr(f)->attr.st_size, 0);
  EXPECT_EQ(seconds(f), t0 + 5);
  EXPECT_EQ(ctime(f), t0 + 5);
  fs->release(opened->fh);
  ASSERT_EQ(fs->wait_uploads(5s), 0u);
  clock.advance_ms(5000);
  ASSERT_TRUE(fs->setattr(f, 0, AttrChange{.size = 3}));
  EXPECT_EQ(seconds(f), t0 + 10);
  auto now_s = [&] { return clock.now_ms() / 1000; };
  EXPECT_LT(seconds(d->ino), now_s());
  clock.advance_ms(5000);
  put(d->ino, "child", "x", {});
  EXPECT_EQ(seconds(d->ino), now_s());
  EXPECT_EQ(ctime(d->ino), now_s());
  clock.advance_ms(5000);
  ASSERT_TRUE(fs->unlink(d->ino, "child"));
  EXPECT_EQ(seconds(d->ino), now_s());
  EXPECT_LT(seconds(kRootIno), now_s());  // the folder's own folder: no name of it changed
}
}  // namespace

namespace {
// cp -a and tar -xp set a folder's times after filling it: that time stays (the names made in it
// before must not move it again).
TEST_F(FsAttrs, AFoldersTimeSetAfterItsNamesChangedStays) {
  auto d = fs->mkdir(kRootIno, "d", {});
  ASSERT_TRUE(d);
  clock.advance_ms(5000);
  put(d->ino, "child", "x", {});
  auto set = fs->setattr(d->ino, 0, AttrChange{.mtime_ns = k2020});
  ASSERT_TRUE(set) << set.status().to_string();
  EXPECT_EQ(set->attr.st_mtim.tv_sec, 1577836800);
  EXPECT_EQ(fs->getattr(d->ino)->attr.st_mtim.tv_sec, 1577836800);
  clock.advance_ms(5000);
  put(d->ino, "later", "y", {});  // a name made after it moves it again
  EXPECT_EQ(fs->getattr(d->ino)->attr.st_mtim.tv_sec, clock.now_ms() / 1000);
}
}  // namespace

namespace {

// A folder's link count is 2 and one per subfolder (as far as the mount knows its listing), and
// follows mkdir, rmdir and rename; an open file unlinked (or replaced) shows no links, without
// answering ENOENT to its fstat.
TEST_F(FsAttrs, LinkCountsFollowSubfoldersAndUnlinks) {
  auto a = fs->mkdir(kRootIno, "a", NewNode{});
  auto b = fs->mkdir(kRootIno, "b", NewNode{});
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(fs->mkdir(a->ino, "sub", NewNode{}));
  put(a->ino, "file", "x", NewNode{});
  EXPECT_EQ(fs->getattr(a->ino)->attr.st_nlink, 3u);
  EXPECT_EQ(fs->getattr(b->ino)->attr.st_nlink, 2u);
  ASSERT_TRUE(fs->rename(a->ino, "sub", b->ino, "moved", 0));
  EXPECT_EQ(fs->getattr(a->ino)->attr.st_nlink, 2u);
  EXPECT_EQ(fs->getattr(b->ino)->attr.st_nlink, 3u);
  ASSERT_TRUE(fs->rmdir(b->ino, "moved"));
  EXPECT_EQ(fs->getattr(b->ino)->attr.st_nlink, 2u);

  remote.add_file("/kept.txt", "on the platform");
  auto e = walk("/kept.txt");
  ASSERT_TRUE(e);
  auto opened = fs->open(e->ino, O_RDONLY);
  ASSERT_TRUE(opened) << opened.status().to_string();
  ASSERT_TRUE(fs->unlink(kRootIno, "kept.txt"));
  clock.advance_ms(60000);  // (stale: a getattr would otherwise ask the platform, and hear ENOENT)
  remote.reset_calls();
  auto after = fs->getattr(e->ino);
  ASSERT_TRUE(after) << after.status().to_string();
  EXPECT_EQ(after->attr.st_nlink, 0u);
  EXPECT_EQ(remote.total_calls(), 0u);
  fs->release(opened->fh);
}

}  // namespace

namespace {

// A read open records the access time as relatime does: at once in what stat shows, then on the
// platform in the background (its mtime kept as shown); again only once the file changed or a
// day passed. With -o noatime, never.
TEST_F(FsAttrs, AReadOpenSetsTheAccessTimeAsRelatimeDoes) {
  Item item = remote.add_file("/seen.txt", "bytes");  // an API client's: no POSIX times of its own
  fs->start_uploads();
  auto e = walk("/seen.txt");
  ASSERT_TRUE(e);
  const int64_t mtime_before = int64_t(e->attr.st_mtim.tv_sec) * 1000000000 + e->attr.st_mtim.tv_nsec;
  clock.advance_ms(5000);
  auto read_open = [&] {
    auto opened = fs->open(e->ino, O_RDONLY);
    ASSERT_TRUE(opened) << opened.status().to_string();
    fs->release(opened->fh);
  };
  auto atime_on_platform = [&]() -> std::optional<int64_t> { return posix_attrs(*remote.item_at("/seen.txt")).atime_ns; };
  auto wait_for_platform = [&](int64_t want) {
    for (int i = 0; i < 500 && atime_on_platform() != want; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(atime_on_platform(), want);
  };
  read_open();
  const int64_t first = clock.now_ms() * 1000000;
  EXPECT_EQ(fs->getattr(e->ino)->attr.st_atim.tv_sec, first / 1000000000);
  wait_for_platform(first);
  PosixAttrs kept = posix_attrs(*remote.item_at("/seen.txt"));
  EXPECT_EQ(kept.mtime_ns, mtime_before);  // the patch moved updatedAt; the mtime shown stays
  auto after = fs->getattr(e->ino);
  EXPECT_EQ(int64_t(after->attr.st_mtim.tv_sec) * 1000000000 + after->attr.st_mtim.tv_nsec, mtime_before);

  // Within a day and unchanged: nothing more is sent.
  remote.reset_calls();
  clock.advance_ms(3600 * 1000);
  read_open();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(remote.calls(RemoteCall::kPatch), 0u);
  // A day later: once more.
  clock.advance_ms(24 * 3600 * 1000);
  read_open();
  wait_for_platform(clock.now_ms() * 1000000);

  // -o noatime: reads record nothing.
  unmount();
  options.atime = false;
  mount();
  fs->start_uploads();
  remote.reset_calls();
  clock.advance_ms(48 * 3600 * 1000);
  e = walk("/seen.txt");
  read_open();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(remote.calls(RemoteCall::kPatch), 0u);
}

// The sizes of the batches of patches sent (patch_many), each passed on to the fake.
class PatchBatchCounter : public ForwardingRemote {
 public:
  using ForwardingRemote::ForwardingRemote;
  std::vector<Result<Item>> patch_many(std::span<const ItemPatch> patches) override {
    {
      std::lock_guard lock(mu);
      batches.push_back(patches.size());
    }
    return inner_.patch_many(patches);
  }
  std::vector<size_t> sizes() {
    std::lock_guard lock(mu);
    return batches;
  }
  std::mutex mu;
  std::vector<size_t> batches;
};

class FsAccessBatch : public FsAttrs {
 protected:
  void configure() override { backend = &counter; }
  PatchBatchCounter counter{remote};
};

// A first pass over a folder queues an access time per file: they go to the platform many in
// one call (on the embedded platform: one commit), not one call (and one durable commit) each,
// and every one of them lands.
TEST_F(FsAccessBatch, AccessTimesQueuedTogetherGoInOneCall) {
  constexpr int kFiles = 300;
  for (int i = 0; i < kFiles; ++i) remote.add_file("/d/f" + std::to_string(i), "x");
  std::vector<Ino> inos;
  for (int i = 0; i < kFiles; ++i) {
    auto e = walk("/d/f" + std::to_string(i));
    ASSERT_TRUE(e);
    inos.push_back(e->ino);
  }
  clock.advance_ms(5000);
  for (Ino ino : inos) {  // (queued: the workers start below)
    auto opened = fs->open(ino, O_RDONLY);
    ASSERT_TRUE(opened) << opened.status().to_string();
    fs->release(opened->fh);
  }
  const int64_t when = clock.now_ms() * 1000000;
  fs->start_uploads();
  auto landed = [&] {
    int n = 0;
    for (int i = 0; i < kFiles; ++i) n += posix_attrs(*remote.item_at("/d/f" + std::to_string(i))).atime_ns == when;
    return n;
  };
  for (int i = 0; i < 500 && landed() < kFiles; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(landed(), kFiles);
  auto sizes = counter.sizes();
  ASSERT_FALSE(sizes.empty()) << "every access time sent alone";
  size_t in_batches = 0;
  for (size_t n : sizes) in_batches += n;
  EXPECT_EQ(in_batches, size_t(kFiles));  // (none sent alone: 300 queued, at most 256 a call)
  EXPECT_LE(sizes.size(), 4u);
  EXPECT_LE(*std::max_element(sizes.begin(), sizes.end()), Filesystem::kAccessBatch);
}

}  // namespace

namespace {

// A name made in a folder moves the folder's mtime here at once, and on the platform a moment
// later (one patch for many changes), so that a remount and other mounts see it too.
TEST_F(FsAttrs, AFoldersChangedTimeReachesThePlatform) {
  auto d = fs->mkdir(kRootIno, "d", NewNode{});
  ASSERT_TRUE(d);
  fs->start_uploads();
  clock.advance_ms(10000);
  put(d->ino, "f", "x", NewNode{});
  put(d->ino, "g", "y", NewNode{});
  const int64_t changed = clock.now_ms() * 1000000;
  struct stat here = fs->getattr(d->ino)->attr;
  EXPECT_EQ(int64_t(here.st_mtim.tv_sec) * 1000000000 + here.st_mtim.tv_nsec, changed);
  ASSERT_EQ(fs->wait_uploads(5s), 0u);
  auto on_platform = [&] { return posix_attrs(*remote.item_at("/d")).mtime_ns; };
  for (int i = 0; i < 500 && on_platform() != changed; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(on_platform(), changed);
  remote.reset_calls();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(remote.calls(RemoteCall::kPatch), 0u);  // one patch for both names
  unmount();
  mount();
  struct stat there = attr_of("/d");
  EXPECT_EQ(int64_t(there.st_mtim.tv_sec) * 1000000000 + there.st_mtim.tv_nsec, changed);
}

}  // namespace

namespace {

// A listing reads a folder: its atime too, as relatime keeps it; a name made in it since makes
// the next listing record it again, without moving the folder's changed time back.
TEST_F(FsAttrs, AListingSetsAFoldersAccessTime) {
  auto d = fs->mkdir(kRootIno, "d", NewNode{});
  ASSERT_TRUE(d);
  fs->start_uploads();
  clock.advance_ms(5000);
  auto list_and_wait = [&] {
    ASSERT_TRUE(list(d->ino));
    const int64_t now = clock.now_ms() * 1000000;
    EXPECT_EQ(fs->getattr(d->ino)->attr.st_atim.tv_sec, now / 1000000000);
    auto atime = [&] { return posix_attrs(*remote.item_at("/d")).atime_ns; };
    for (int i = 0; i < 500 && atime() != now; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(atime(), now);
  };
  list_and_wait();
  clock.advance_ms(5000);
  put(d->ino, "f", "x", NewNode{});
  const int64_t changed = clock.now_ms() * 1000000;
  clock.advance_ms(5000);
  list_and_wait();
  auto mtime = [&] { return posix_attrs(*remote.item_at("/d")).mtime_ns; };
  for (int i = 0; i < 500 && mtime() != changed; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(mtime(), changed);
}

}  // namespace
