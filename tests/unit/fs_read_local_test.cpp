// Reads whose bytes are in local files: the embedded platform's stored binaries (opened once
// per handle, handed to the kernel by descriptor) and a remote's items kept in the data cache
// (fetched whole at the first read, then no remote call, across remounts too).
#include <gtest/gtest.h>

#include <fcntl.h>

#include <chrono>
#include <thread>

#include "remote/local_remote.h"
#include "support/fs_fixture.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

// What the kernel gets for a read: the descriptor's bytes where read_local answers one, else
// the bytes it read into the buffer. `local` tells which it was.
Result<std::string> read_as_kernel(Filesystem& fs, Ino ino, uint64_t fh, uint64_t offset, size_t size,
                                   bool* local = nullptr) {
  std::string out(size, '\0');
  DLFS_ASSIGN(auto lr, fs.read_local(ino, fh, offset, std::span<char>(out.data(), out.size())));
  if (local) *local = bool(lr.fd);
  if (lr.fd) {
    ssize_t n = ::pread(lr.fd->fd, out.data(), lr.size, off_t(lr.offset));
    if (n < 0 || size_t(n) != lr.size) return Status(EIO, "short pread");
  }
  out.resize(lr.size);
  return out;
}

// Reads a whole file the way the kernel does (128 KiB requests until a short one).
Result<std::string> cat_as_kernel(Filesystem& fs, Ino ino, bool* local = nullptr) {
  DLFS_ASSIGN(auto opened, fs.open(ino, O_RDONLY));
  std::string all;
  for (;;) {
    auto part = read_as_kernel(fs, ino, opened.fh, all.size(), 128 << 10, local);
    if (!part) {
      fs.release(opened.fh);
      return part.status();
    }
    all += *part;
    if (part->size() < (128u << 10)) break;
  }
  fs.release(opened.fh);
  return all;
}

class FsDataCache : public ::testing::Test, public FsFixture {
 protected:
  void open_data_cache() {
    data_cache.reset();
    DataCacheOptions o;
    o.dir = dir.sub("data");
    o.space = "fake";
    o.max_bytes = 64 << 20;
    o.max_file_bytes = 4 << 20;
    o.min_free = 0;
    data_cache = std::move(DataCache::open(o)).value();
    options.data_cache = data_cache.get();
  }
  void remount() {  // a new process: a new core and a new data cache over the same folders
    unmount();
    open_data_cache();
    mount();
  }
  void TearDown() override {
    unmount();
    data_cache.reset();
  }
  std::unique_ptr<DataCache> data_cache;
};

TEST_F(FsDataCache, TheSecondReadAndTheReadAfterARemountAskTheRemoteNothing) {
  remote.add_file("/a.bin", random_bytes(300 << 10, 1));
  remote.add_file("/b.bin", random_bytes(1000, 2));
  open_data_cache();
  mount();
  Ino a = walk("/a.bin")->ino, b = walk("/b.bin")->ino;
  bool local = false;
  EXPECT_EQ(*cat_as_kernel(*fs, a, &local), random_bytes(300 << 10, 1));
  EXPECT_TRUE(local);
  EXPECT_EQ(*cat_as_kernel(*fs, b), random_bytes(1000, 2));
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 2u);  // one fetch of each, whole
  remote.reset_calls();
  EXPECT_EQ(*cat_as_kernel(*fs, a), random_bytes(300 << 10, 1));
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 0u);

  remount();
  a = walk("/a.bin")->ino;
  b = walk("/b.bin")->ino;
  remote.reset_calls();
  EXPECT_EQ(*cat_as_kernel(*fs, a), random_bytes(300 << 10, 1));
  EXPECT_EQ(*cat(b), random_bytes(1000, 2));  // (read() too)
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 0u);
  EXPECT_EQ(data_cache->counters().hits, 2u);
  EXPECT_EQ(fs->stats_json()["data_cache"]["hits"], 2);
}

TEST_F(FsDataCache, AChangedItemIsReadAnewNotFromTheOlderCopy) {
  remote.add_file("/f", random_bytes(5000, 1));
  options.dir_ttl_ms = 1000;
  open_data_cache();
  mount();
  Ino f = walk("/f")->ino;
  EXPECT_EQ(*cat_as_kernel(*fs, f), random_bytes(5000, 1));
  remote.rewrite_file("/f", random_bytes(5000, 2));  // same size, a later updatedAt
  clock.advance_ms(1500);
  ASSERT_EQ(fs->getattr(f)->attr.st_size, 5000);
  EXPECT_EQ(*cat_as_kernel(*fs, f), random_bytes(5000, 2));
  remount();
  EXPECT_EQ(*cat_as_kernel(*fs, walk("/f")->ino), random_bytes(5000, 2));
}

TEST_F(FsDataCache, LargeItemsAreReadInRangesAsAsked) {
  remote.add_file("/big", random_bytes(5 << 20, 1));  // over max_file_bytes (4 MiB)
  open_data_cache();
  mount();
  Ino big = walk("/big")->ino;
  auto opened = *fs->open(big, O_RDONLY);
  bool local = true;
  EXPECT_EQ(*read_as_kernel(*fs, big, opened.fh, 4096, 100, &local), random_bytes(5 << 20, 1).substr(4096, 100));
  EXPECT_FALSE(local);
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 1u);
  fs->release(opened.fh);
  EXPECT_EQ(data_cache->usage().first, 0u);
}

TEST_F(FsDataCache, AFetchThatFailsOnTheServerIsTheReadsErrorOnceAndNotWaitedForTwice) {
  remote.add_file("/f", random_bytes(5000, 1));
  open_data_cache();
  mount();
  Ino f = walk("/f")->ino;
  auto opened = *fs->open(f, O_RDONLY);
  remote.fail_next(RemoteCall::kRead, 1, EIO);
  EXPECT_EQ(read_as_kernel(*fs, f, opened.fh, 0, 4096).err(), EIO);  // (not followed by a direct read)
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 1u);
  EXPECT_EQ(*read_as_kernel(*fs, f, opened.fh, 0, 5000), random_bytes(5000, 1));  // fetched now
  EXPECT_EQ(fs->stats_json()["data_cache"]["errors"], 1);
  EXPECT_EQ(data_cache->usage().first, 1u);
  fs->release(opened.fh);

  // A timeout: the kernel's retry, at once, is answered without asking again.
  remote.add_file("/g", random_bytes(5000, 2));
  Ino g = walk("/g")->ino;
  remote.fail_next(RemoteCall::kRead, 1, ETIMEDOUT);
  remote.reset_calls();
  EXPECT_EQ(cat_as_kernel(*fs, g).err(), ETIMEDOUT);
  EXPECT_EQ(cat_as_kernel(*fs, g).err(), ETIMEDOUT);
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 1u);
  clock.advance_ms(250);
  EXPECT_EQ(*cat_as_kernel(*fs, g), random_bytes(5000, 2));
}

// Large remote items read from start to end: fetched ahead in 4 MiB parts.
class FsReadAhead : public ::testing::Test, public FsFixture {
 protected:
  // A remote item of `size` bytes, opened: its bytes, inode and handle.
  void open_big(size_t size, uint32_t seed) {
    data = random_bytes(size, seed);
    remote.add_file("/big", data);
    mount();
    big = walk("/big")->ino;
    fh = fs->open(big, O_RDONLY)->fh;
  }
  // The remote reads once the parts under way have started (they start on the pool's threads,
  // a moment after the read that asked for them): stable for 100 ms, or 3 s passed.
  uint64_t settled_reads() {
    uint64_t last = remote.calls(RemoteCall::kRead);
    for (int i = 0, stable = 0; i < 60 && stable < 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      uint64_t now = remote.calls(RemoteCall::kRead);
      stable = now == last ? stable + 1 : 0;
      last = now;
    }
    return last;
  }
  Result<std::string> read(uint64_t offset, size_t size) {
    std::string buf(size, '\0');
    DLFS_ASSIGN(size_t n, fs->read(big, fh, offset, std::span<char>(buf.data(), buf.size())));
    buf.resize(n);
    return buf;
  }
  std::string data;
  Ino big = 0;
  uint64_t fh = 0;
};

TEST_F(FsReadAhead, SequentialReadsAreFetchedAheadInPartsRandomOnesAreNot) {
  open_big(40 << 20, 5);
  remote.reset_calls();
  std::string all;
  for (uint64_t off = 0; off < data.size(); off += 512 << 10) {
    auto part = read(off, 512 << 10);
    ASSERT_TRUE(part) << part.status().to_string();
    all += *part;
  }
  EXPECT_TRUE(all == data);
  // The first read directly, then ten parts of 4 MiB (not 80 reads of 512 KiB).
  EXPECT_LE(remote.calls(RemoteCall::kRead), 12u);
  fs->release(fh);

  // Random reads: one remote read each, of what was asked, never a part.
  fh = fs->open(big, O_RDONLY)->fh;
  remote.reset_calls();
  for (uint64_t off : {30ull << 20, 1ull << 20, 20ull << 20, 5ull << 20, 39ull << 20})
    EXPECT_EQ(*read(off, 4096), data.substr(off, 4096));
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 5u);
  fs->release(fh);
}

TEST_F(FsReadAhead, AReadArrivingLateIsReadDirectlyWithoutStartingOver) {
  open_big(40 << 20, 8);
  const size_t step = 512 << 10;
  // (Parts start where streaming did, at the second read: 0.5 MiB, 4.5, 8.5, 12.5, ...)
  for (uint64_t off = 0; off < (13u << 20); off += step) ASSERT_EQ(*read(off, step), data.substr(off, step));
  uint64_t calls = settled_reads();
  // The kernel's readahead runs on several threads: a read of the part just left behind (its
  // buffer given back) comes last.
  EXPECT_EQ(*read(12 << 20, step), data.substr(12 << 20, step));
  EXPECT_EQ(settled_reads(), calls + 1);  // directly, and the parts stay
  for (uint64_t off = 13u << 20; off < (20u << 20); off += step) ASSERT_EQ(*read(off, step), data.substr(off, step));
  // Fetched ahead already (the window is 8 parts by now): hardly a part more asked.
  EXPECT_LE(remote.calls(RemoteCall::kRead), calls + 2);
  fs->release(fh);
}

TEST_F(FsReadAhead, APartThatFailsIsReadDirectlyAndItsErrorAnswered) {
  open_big(20 << 20, 6);
  const size_t step = 512 << 10;
  ASSERT_TRUE(read(0, step));
  remote.fail_next(RemoteCall::kRead, 1, EIO);  // the first part: then the direct read answers
  EXPECT_EQ(*read(step, step), data.substr(step, step));
  remote.fail_next(RemoteCall::kRead, 100, EIO);  // the server fails for good: so does the read
  bool failed = false;
  for (uint64_t off = 2 * step; off < data.size() && !failed; off += step) {
    auto r = read(off, step);
    if (!r) {
      failed = true;
      EXPECT_EQ(r.err(), EIO);
    } else {
      EXPECT_EQ(*r, data.substr(off, r->size()));  // (from parts fetched before)
    }
  }
  EXPECT_TRUE(failed);
  remote.fail_next(RemoteCall::kRead, 0, EIO);
  fs->release(fh);
}

TEST_F(FsReadAhead, ClosingNeverWaitsForTheFetchesUnderWay) {
  open_big(20 << 20, 7);
  const size_t step = 512 << 10;
  ASSERT_TRUE(read(0, step));
  ASSERT_TRUE(read(step, step));                     // a part fetched
  remote.set_read_delay(std::chrono::seconds(60));  // the server stalls
  EXPECT_EQ(*read(2 * step, step), data.substr(2 * step, step));  // (asks the next part)
  for (int i = 0; i < 500 && remote.blocked_reads() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GT(remote.blocked_reads(), 0);
  auto start = std::chrono::steady_clock::now();
  fs->release(fh);  // with a fetch stalled: must not wait for it
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  remote.release_reads();
}

TEST_F(FsReadAhead, ReadsWithoutAnOpenHandleAreFetchedAheadToo) {
  // -o ro answers open with ENOSYS: the kernel reads with fh 0.
  open_big(40 << 20, 9);
  fs->release(fh);
  fh = 0;
  remote.reset_calls();
  std::string all;
  for (uint64_t off = 0; off < data.size(); off += 512 << 10) all += *read(off, 512 << 10);
  EXPECT_TRUE(all == data);
  EXPECT_LE(remote.calls(RemoteCall::kRead), 12u);  // (not 80)

  // A reader that stopped halfway is dropped once idle: a new pass starts over, correctly.
  remote.reset_calls();
  EXPECT_EQ(*read(0, 512 << 10), data.substr(0, 512 << 10));
  EXPECT_EQ(*read(512 << 10, 512 << 10), data.substr(512 << 10, 512 << 10));
  clock.advance_ms(6000);
  remote.add_file("/other", random_bytes(9 << 20, 10));  // another inode's first read drops it
  Ino other = walk("/other")->ino;
  std::string buf(4096, '\0');
  ASSERT_TRUE(fs->read(other, 0, 0, std::span<char>(buf.data(), buf.size())));
  all.clear();
  for (uint64_t off = 0; off < data.size(); off += 512 << 10) all += *read(off, 512 << 10);
  EXPECT_TRUE(all == data);

  // The item changed (a new Item for the inode): its bytes are read.
  remote.rewrite_file("/big", random_bytes(40 << 20, 11));
  clock.advance_ms(60000);
  ASSERT_TRUE(fs->getattr(big));
  std::string fresh = random_bytes(40 << 20, 11);
  all.clear();
  for (uint64_t off = 0; off < fresh.size(); off += 512 << 10) all += *read(off, 512 << 10);
  EXPECT_TRUE(all == fresh);
}

// The embedded platform: every read is of its stored binary's descriptor, no read() calls.
class FsEmbeddedRead : public ::testing::Test {
 protected:
  void SetUp() override {
    conn = std::move(LocalConnection::open(LocalOptions{dir.sub("store")})).value();
    ASSERT_TRUE(conn->create_dataset("d"));
    platform = std::move(conn->open("d")).value();
  }
  void upload(const std::string& path, const std::string& bytes) {
    write_file(dir.sub("up"), bytes);
    ASSERT_TRUE(platform->upload(dir.sub("up"), path, UploadOptions{.mode = UploadMode::kOverwrite}));
  }
  TempDir dir{"dlfs-embedded-read"};
  std::unique_ptr<Connection> conn;
  std::unique_ptr<Remote> platform;
};

TEST_F(FsEmbeddedRead, ReadsAreOfTheStoredBinaryByDescriptorAndAnOpenFileKeepsItsVersion) {
  upload("/a.bin", random_bytes(1 << 20, 1));
  FsOptions o;
  auto fs = std::move(Filesystem::create(*platform, nullptr, nullptr, o)).value();
  Ino a = fs->lookup(kRootIno, "a.bin")->ino;
  bool local = false;
  EXPECT_EQ(*cat_as_kernel(*fs, a, &local), random_bytes(1 << 20, 1));
  EXPECT_TRUE(local);
  EXPECT_EQ(fs->stats_json()["remote"]["read"], 0);
  // Held open across an overwrite on the platform: it reads the version it opened, whole, as an
  // open file on a local disk does when another is renamed over it.
  auto held = *fs->open(a, O_RDONLY);
  EXPECT_EQ(*read_as_kernel(*fs, a, held.fh, 0, 10), random_bytes(1 << 20, 1).substr(0, 10));
  upload("/a.bin", random_bytes(1 << 20, 2));
  EXPECT_EQ(*read_as_kernel(*fs, a, held.fh, 500000, 1000), random_bytes(1 << 20, 1).substr(500000, 1000));
  fs->release(held.fh);
  // fh 0 (-o ro: no opens) reads what the platform has now.
  EXPECT_EQ(*read_as_kernel(*fs, a, 0, (1 << 20) - 5, 100), random_bytes(1 << 20, 2).substr((1 << 20) - 5));
  EXPECT_EQ(*read_as_kernel(*fs, a, 0, 1 << 20, 100), "");
  EXPECT_EQ(fs->stats_json()["remote"]["read"], 0);
}

}  // namespace
