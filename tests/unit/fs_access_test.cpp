// Access times held while the mount is busy (fs/filesystem_access.cpp): none is sent while reads
// go on; all of them once the reads pause, at most access_hold_ms late when they never do, and at
// unmount (wait_uploads); and one held when this mount changes the item (a time set by hand, a
// write) never puts the older times back.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <chrono>
#include <thread>

#include "core/posix_attrs.h"
#include "support/spooled_fs.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

constexpr int64_t k2020 = 1577836800LL * 1000000000 + 123456789;  // 2020-01-01, and some ns

class FsAccessHeld : public SpooledFsTest {
 protected:
  void configure() override {
    options.access_quiet_ms = quiet_ms;
    options.access_hold_ms = hold_ms;
  }
  void SetUp() override {
    SpooledFsTest::SetUp();
    for (int i = 0; i < kFiles; ++i) remote.add_file(name(i), "x");  // (no POSIX times of their own)
    for (int i = 0; i < kFiles; ++i) {
      auto e = walk(name(i));
      ASSERT_TRUE(e);
      inos.push_back(e->ino);
    }
    clock.advance_ms(5000);
    fs->start_uploads();
  }
  static std::string name(int i) { return "/d/f" + std::to_string(i); }
  void read_open(Ino ino) {
    auto opened = fs->open(ino, O_RDONLY);
    ASSERT_TRUE(opened) << opened.status().to_string();
    fs->release(opened->fh);
  }
  // How many of the files the platform has with atime `when`.
  int landed(int64_t when) {
    int n = 0;
    for (int i = 0; i < kFiles; ++i) n += posix_attrs(*remote.item_at(name(i))).atime_ns == when;
    return n;
  }
  static constexpr int kFiles = 40;
  int64_t quiet_ms = 500;  // (a stall of the test's own thread this long would send them early)
  int64_t hold_ms = 60000;
  std::vector<Ino> inos;
};

TEST_F(FsAccessHeld, NoneIsSentWhileReadsGoOnAndAllOnceTheyPause) {
  const int64_t when = clock.now_ms() * 1000000;
  auto start = std::chrono::steady_clock::now();
  auto last_read = start;
  while (std::chrono::steady_clock::now() - start < 1500ms) {  // three quiet times of reads
    for (Ino ino : inos) read_open(ino);
    last_read = std::chrono::steady_clock::now();
    ASSERT_EQ(remote.calls(RemoteCall::kPatch), 0u) << "an access time sent while reads go on";
    std::this_thread::sleep_for(20ms);
  }
  for (int i = 0; i < 500 && landed(when) < kFiles; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(landed(when), kFiles);
  EXPECT_GE(std::chrono::steady_clock::now() - last_read, 450ms);  // (not before the pause)
  EXPECT_EQ(remote.calls(RemoteCall::kPatch), size_t(kFiles));  // one each, the newest
}

class FsAccessHeldLong : public FsAccessHeld {
 protected:
  void configure() override {
    quiet_ms = 60000;
    hold_ms = 400;
    FsAccessHeld::configure();
  }
};

TEST_F(FsAccessHeldLong, ReadsThatNeverPauseHoldThemAtMostTheHoldTime) {
  const int64_t when = clock.now_ms() * 1000000;
  auto start = std::chrono::steady_clock::now();
  while (landed(when) < kFiles && std::chrono::steady_clock::now() - start < 5s) {
    for (Ino ino : inos) read_open(ino);
    std::this_thread::sleep_for(10ms);
  }
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(landed(when), kFiles);
  EXPECT_GE(took, 350ms);
  EXPECT_LT(took, 3s);
}

class FsAccessHeldAtUnmount : public FsAccessHeld {
 protected:
  void configure() override {
    quiet_ms = hold_ms = 60000;
    FsAccessHeld::configure();
  }
};

// A folder the platform keeps no times of (an API client's), listed: the held access time
// carries the mtime shown then; a name made in it since moves that mtime, sent a second later —
// the access time, sent after it, must not put the older one back.
TEST_F(FsAccessHeldAtUnmount, AFoldersChangedTimeIsNotPutBackByItsHeldAccessTime) {
  remote.add_dir("/e");
  auto e = walk("/e");
  ASSERT_TRUE(e);
  ASSERT_TRUE(list(e->ino));  // (its access time held)
  clock.advance_ms(1000);
  put(e->ino, "made", "x");
  const int64_t changed = clock.now_ms() * 1000000;
  auto mtime = [&] { return posix_attrs(*remote.item_at("/e")).mtime_ns; };
  for (int i = 0; i < 500 && mtime() != changed; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(mtime(), changed);
  ASSERT_EQ(fs->wait_uploads(5s), 0u);  // (what was held goes now)
  EXPECT_EQ(mtime(), changed);
}

// A folder listed just after a name was made in it (a `cp` into it, then `ls`): its access time
// is held without an mtime, the change's being on its way (sent a second after it). Sending that
// time dropped the held access as if it carried the older mtime: the listing's atime never
// reached the platform (FsAttrs.AListingSetsAFoldersAccessTime failed under load).
TEST_F(FsAccessHeldAtUnmount, AnAccessAfterAFoldersChangeIsSentAfterTheChangesTime) {
  remote.add_dir("/e");
  auto e = walk("/e");
  ASSERT_TRUE(e);
  clock.advance_ms(1000);
  put(e->ino, "made", "x");
  const int64_t changed = clock.now_ms() * 1000000;
  clock.advance_ms(1000);
  ASSERT_TRUE(list(e->ino));  // (its access time held; the change's time not sent yet)
  const int64_t listed = clock.now_ms() * 1000000;
  auto mtime = [&] { return posix_attrs(*remote.item_at("/e")).mtime_ns; };
  for (int i = 0; i < 500 && mtime() != changed; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(mtime(), changed);
  ASSERT_EQ(fs->wait_uploads(5s), 0u);  // (what was held goes now)
  EXPECT_EQ(posix_attrs(*remote.item_at("/e")).atime_ns, listed);
  EXPECT_EQ(mtime(), changed);
}

TEST_F(FsAccessHeldAtUnmount, TheUnmountSendsThem) {
  const int64_t when = clock.now_ms() * 1000000;
  for (Ino ino : inos) read_open(ino);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(landed(when), 0);
  ASSERT_EQ(fs->wait_uploads(5s), 0u);  // (what the mount does once unmounted)
  EXPECT_EQ(landed(when), kFiles);
}

TEST_F(FsAccessHeld, ATimeSetByHandIsNotPutBackByTheHeldOne) {
  read_open(inos[0]);
  clock.advance_ms(1000);
  auto touched = fs->setattr(inos[0], 0, AttrChange{.atime_ns = k2020, .mtime_ns = k2020 + 7});
  ASSERT_TRUE(touched) << touched.status().to_string();
  std::this_thread::sleep_for(std::chrono::milliseconds(quiet_ms + 300));
  ASSERT_EQ(fs->wait_uploads(5s), 0u);
  PosixAttrs kept = posix_attrs(*remote.item_at(name(0)));
  EXPECT_EQ(kept.atime_ns, k2020);
  EXPECT_EQ(kept.mtime_ns, k2020 + 7);
  // Read again: recorded anew (relatime: older than the change), and sent.
  clock.advance_ms(1000);
  read_open(inos[0]);
  const int64_t again = clock.now_ms() * 1000000;
  ASSERT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_EQ(posix_attrs(*remote.item_at(name(0))).atime_ns, again);
  EXPECT_EQ(posix_attrs(*remote.item_at(name(0))).mtime_ns, k2020 + 7);
}

TEST_F(FsAccessHeld, AWriteAfterAReadIsNotUndoneByTheHeldAccessTime) {
  read_open(inos[0]);  // held: the item has no mtime of its own, the patch carries the one shown
  clock.advance_ms(1000);
  auto opened = fs->open(inos[0], O_WRONLY | O_TRUNC);
  ASSERT_TRUE(opened) << opened.status().to_string();
  const std::string bytes = "new bytes";
  ASSERT_TRUE(fs->write(inos[0], opened->fh, 0, std::span<const char>(bytes.data(), bytes.size())));
  const int64_t written = clock.now_ms() * 1000000;
  ASSERT_TRUE(fs->flush(inos[0], opened->fh));
  fs->release(opened->fh);
  ASSERT_EQ(fs->wait_uploads(5s), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(quiet_ms + 300));
  ASSERT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_EQ(remote_bytes(name(0)), bytes);
  EXPECT_EQ(posix_attrs(*remote.item_at(name(0))).mtime_ns, written);
}

}  // namespace
