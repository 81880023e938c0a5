// Durability shared by many uploads: GroupSync (one syncfs for the writers that arrive while
// one is under way), the platform syncing its storage before the commit that names the bytes
// (checked through PlatformOptions::sync_store), and batch uploads (Platform::upload_files: one
// sync and one commit for many files, each file's outcome its own).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "core/group_sync.h"
#include "platform_fixture.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

// A randomized reference model of GroupSync: writers on several threads each "write" (a tick of
// a global clock) then sync; the fake sync takes random time and fails at random. The model:
// a writer answered ok has a sync that began after its write and ended, successfully, before its
// answer (the answer of a failed covering sync is an error, never ok).
struct SyncEvent {
  uint64_t begin, end;
  bool ok;
};

void run_group_sync_model(uint32_t seed, int threads, int per_thread) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  TempDir dir("dlfs-group-sync");
  std::atomic<uint64_t> clock{0};
  std::mutex mu;
  std::vector<SyncEvent> syncs;
  std::atomic<int> running{0}, overlapped{0};
  std::mt19937 fail_rng(seed);
  auto gs = GroupSync::open(dir.path(), [&](int) {
    if (running.fetch_add(1) > 0) ++overlapped;
    uint64_t begin = ++clock;
    bool fail;
    int delay_us;
    {
      std::lock_guard lock(mu);
      fail = fail_rng() % 5 == 0;
      delay_us = int(fail_rng() % 400);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    uint64_t end = ++clock;
    {
      std::lock_guard lock(mu);
      syncs.push_back({begin, end, !fail});
    }
    running.fetch_sub(1);
    if (fail) errno = EIO;
    return fail ? -1 : 0;
  });
  ASSERT_TRUE(gs) << gs.status().to_string();
  struct Answer {
    uint64_t wrote, answered;
    bool ok;
  };
  std::vector<std::vector<Answer>> answers(static_cast<size_t>(threads));
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      std::mt19937 rng(seed * 977 + uint32_t(t));
      for (int i = 0; i < per_thread; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
        uint64_t wrote = ++clock;
        Status s = (*gs)->sync();
        uint64_t answered = ++clock;
        if (!s) EXPECT_EQ(s.err(), EIO);
        answers[size_t(t)].push_back({wrote, answered, s.is_ok()});
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(overlapped.load(), 0) << "two syncs ran at once";
  size_t calls = 0;
  for (const auto& per : answers)
    for (const Answer& a : per) {
      ++calls;
      bool covered = false, failed_cover = false;
      for (const SyncEvent& e : syncs) {
        if (e.begin <= a.wrote || e.end >= a.answered) continue;
        (e.ok ? covered : failed_cover) = true;
      }
      if (a.ok) EXPECT_TRUE(covered) << "an ok answer without a sync that began after the write";
      else EXPECT_TRUE(failed_cover) << "an error answer without a failed sync after the write";
    }
  EXPECT_EQ((*gs)->syncs(), syncs.size());
  EXPECT_LT(syncs.size(), calls) << "no two writers shared a sync";
}

}  // namespace

TEST(GroupSync, EveryAnswerIsCoveredByASyncThatBeganAfterTheWrite) {
  const char* n = std::getenv("DLFS_GROUP_SYNC_SEEDS");
  uint32_t seeds = n ? uint32_t(std::atoi(n)) : 6;
  for (uint32_t seed = 1; seed <= seeds && !HasFailure(); ++seed) run_group_sync_model(seed, 2 + int(seed % 7), 60);
}

TEST(GroupSync, AWriterAlonePaysOneSync) {
  TempDir dir("dlfs-group-sync-one");
  int calls = 0;
  auto gs = GroupSync::open(dir.path(), [&](int) { return ++calls, 0; });
  ASSERT_TRUE(gs);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*gs)->sync());
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(GroupSync::open(dir.sub("missing")).err(), ENOENT);
}

namespace {

// The platform with its store sync seen: each sync records which blobs existed and whether the
// items were in the catalogue then.
class PlatformSyncTest : public PlatformTest {
 protected:
  void SetUp() override {
    PlatformTest::SetUp();
    reopen_seen();
    auto ds = platform_->find_dataset("cars");
    ASSERT_TRUE(ds);
    ds_ = *ds;
  }
  void reopen_seen() {
    platform_.reset();
    PlatformOptions o{(dir_ / "store").string(), &clock_};
    o.sync_store = [this](int fd) {
      ++syncs_;
      if (on_sync_) on_sync_();
      if (sync_delay_.count()) std::this_thread::sleep_for(sync_delay_);
      if (fail_syncs_) {
        errno = EIO;
        return -1;
      }
      return ::syncfs(fd);
    };
    auto p = Platform::open(o);
    ASSERT_TRUE(p) << p.status().to_string();
    platform_ = std::move(*p);
  }
  size_t blob_files() {
    size_t n = 0;
    for (auto& e : fs::recursive_directory_iterator(dir_ / "store" / "blobs")) n += e.is_regular_file();
    return n;
  }
  std::string file_with(const std::string& name, const std::string& bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::atomic<int> syncs_{0};
  std::function<void()> on_sync_;
  std::chrono::milliseconds sync_delay_{0};
  std::atomic<bool> fail_syncs_{false};
};

}  // namespace

TEST_F(PlatformSyncTest, AnUploadsBytesAreSyncedBeforeItsCommit) {
  size_t blobs_before = blob_files();
  bool item_seen_at_sync = true;
  size_t blobs_at_sync = 0;
  on_sync_ = [&] {
    blobs_at_sync = blob_files();
    item_seen_at_sync = platform_->get_item_by_path(ds_.id, "/a.bin").is_ok();
  };
  auto up = platform_->upload_bytes(ds_.id, "the bytes", "/a.bin", {});
  ASSERT_TRUE(up) << up.status().to_string();
  EXPECT_EQ(syncs_.load(), 1);
  EXPECT_EQ(blobs_at_sync, blobs_before + 1) << "the bytes were not in the store when it was synced";
  EXPECT_FALSE(item_seen_at_sync) << "the item was committed before its bytes were synced";
  EXPECT_EQ(read_all(up->item), "the bytes");
}

TEST_F(PlatformSyncTest, UploadsAtOnceShareStoreSyncs) {
  sync_delay_ = 5ms;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string path = "/many/" + std::to_string(t) + "-" + std::to_string(i);
        auto r = platform_->upload_bytes(ds_.id, path, path, {});
        EXPECT_TRUE(r) << r.status().to_string();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(names_in("/many").size(), 80u);
  EXPECT_LT(syncs_.load(), 50) << "80 uploads by 8 threads should share syncs";
  EXPECT_GE(syncs_.load(), 10);
}

TEST_F(PlatformSyncTest, AFailedStoreSyncCommitsNothingAndDropsTheBytes) {
  size_t blobs_before = blob_files();
  fail_syncs_ = true;
  auto one = platform_->upload_bytes(ds_.id, "lost?", "/x.bin", {});
  EXPECT_EQ(one.err(), EIO);
  std::vector<FileUpload> batch{{file_with("p", "p"), "/p", {}, false}, {file_with("q", "q"), "/q", {}, false}};
  auto many = platform_->upload_files(ds_.id, batch);
  ASSERT_EQ(many.size(), 2u);
  for (auto& r : many) EXPECT_EQ(r.err(), EIO);
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/x.bin").err(), ENOENT);
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/p").err(), ENOENT);
  EXPECT_EQ(blob_files(), blobs_before);
  fail_syncs_ = false;  // and the same uploads go through once the disk is back
  EXPECT_TRUE(platform_->upload_bytes(ds_.id, "kept", "/x.bin", {}));
  for (auto& r : platform_->upload_files(ds_.id, batch)) EXPECT_TRUE(r) << r.status().to_string();
}

TEST_F(PlatformSyncTest, ABatchIsOneSyncAndEachFileHasItsOwnOutcome) {
  put("/old.txt", "old");
  put("/kept.txt", "kept");
  put("/folder/inside", "x");
  int syncs_before = syncs_.load();
  size_t blobs_before = blob_files();
  UploadOptions overwrite;
  overwrite.mode = UploadMode::kOverwrite;
  UploadOptions with_user = with_meta({{"user", {{"cam", 7}}}});
  std::vector<FileUpload> batch{
      {file_with("a", "alpha"), "/new/a.txt", with_user, false},
      {file_with("b", "beta!"), "/folder", {}, false},          // a folder there: EISDIR
      {file_with("c", "changed"), "/old.txt", overwrite, false},  // overwritten
      {file_with("d", "not this"), "/kept.txt", {}, false},       // skip: kept
      {file_with("e", "echo"), "/", {}, false},                   // the root: refused
      {file_with("f", "foxtrot"), "/new/f.txt", {}, true},        // owned: moved into the store
  };
  auto r = platform_->upload_files(ds_.id, batch);
  ASSERT_EQ(r.size(), batch.size());
  ASSERT_TRUE(r[0]) << r[0].status().to_string();
  EXPECT_EQ(r[0]->op, UploadOp::kCreated);
  EXPECT_EQ(r[0]->item.user()["cam"], 7);
  EXPECT_EQ(r[1].err(), EISDIR);
  ASSERT_TRUE(r[2]) << r[2].status().to_string();
  EXPECT_EQ(r[2]->op, UploadOp::kOverwritten);
  ASSERT_TRUE(r[3]);
  EXPECT_EQ(r[3]->op, UploadOp::kSkipped);
  EXPECT_EQ(r[4].err(), EISDIR);
  ASSERT_TRUE(r[5]) << r[5].status().to_string();
  EXPECT_EQ(syncs_.load() - syncs_before, 1);
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/new/a.txt")), "alpha");
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/old.txt")), "changed");
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/kept.txt")), "kept");
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/new/f.txt")), "foxtrot");
  EXPECT_FALSE(fs::exists(dir_ / "f")) << "an owned file is moved in";
  EXPECT_TRUE(fs::exists(dir_ / "a")) << "a file not owned stays";
  // Two new binaries (a, f), one replaced (old.txt's) and nothing left of the refused or skipped.
  EXPECT_EQ(blob_files(), blobs_before + 2);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 5u);  // old, kept, inside, a, f
}

TEST_F(PlatformSyncTest, TwoFilesOfOneBatchAtOnePathMeetAsInOrder) {
  UploadOptions overwrite;
  overwrite.mode = UploadMode::kOverwrite;
  std::vector<FileUpload> batch{{file_with("1", "first"), "/same", {}, false},
                                {file_with("2", "second"), "/same", {}, false},
                                {file_with("3", "third"), "/same", overwrite, false}};
  auto r = platform_->upload_files(ds_.id, batch);
  ASSERT_EQ(r.size(), 3u);
  ASSERT_TRUE(r[0] && r[1] && r[2]);
  EXPECT_EQ(r[0]->op, UploadOp::kCreated);
  EXPECT_EQ(r[1]->op, UploadOp::kSkipped);
  EXPECT_EQ(r[2]->op, UploadOp::kOverwritten);
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/same")), "third");
  EXPECT_EQ(blob_files(), 1u);
}

// Take::kLink (the mount's spool files): the stored binary is the file's inode — one copy of the
// bytes — made durable by the store's sync before the commit, as a copy is.
TEST_F(PlatformSyncTest, ALinkableUploadIsTheFilesInodeSyncedBeforeItsCommit) {
  std::string file = file_with("spooled", "spooled bytes");
  bool item_seen_at_sync = true;
  on_sync_ = [&] { item_seen_at_sync = platform_->get_item_by_path(ds_.id, "/l.bin").is_ok(); };
  UploadOptions o;
  o.linkable = true;
  auto up = platform_->upload_file(ds_.id, file, "/l.bin", o);
  ASSERT_TRUE(up) << up.status().to_string();
  EXPECT_EQ(syncs_.load(), 1);
  EXPECT_FALSE(item_seen_at_sync);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u) << "copied, not linked";
  EXPECT_EQ(read_all(up->item), "spooled bytes");
  // In a batch too; and without the flag, a copy.
  std::string other = file_with("other", "other bytes");
  FileUpload files[] = {{other, "/b1.bin", o, false}, {other, "/b2.bin", {}, false}};
  auto answers = platform_->upload_files(ds_.id, files);
  ASSERT_EQ(answers.size(), 2u);
  ASSERT_TRUE(answers[0] && answers[1]);
  ASSERT_EQ(::stat(other.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(read_all(answers[1]->item), "other bytes");
}

// The mount offers a spool file by descriptor (/proc/self/fd/N): when the file lost its name
// meanwhile (a writer gave the spool file a new inode), the descriptor's bytes are copied.
TEST_F(PlatformSyncTest, ALinkableUploadOfADescriptorWithoutANameIsCopied) {
  std::string file = file_with("gone", "the uploaded bytes");
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::unlink(file.c_str()), 0);
  UploadOptions o;
  o.linkable = true;
  auto up = platform_->upload_file(ds_.id, "/proc/self/fd/" + std::to_string(fd), "/g.bin", o);
  ::close(fd);
  ASSERT_TRUE(up) << up.status().to_string();
  EXPECT_EQ(up->item.size(), 18u);
  EXPECT_EQ(read_all(up->item), "the uploaded bytes");
}
