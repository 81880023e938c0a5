// The mount's upload workers sending small files queued together in one remote call
// (fs/filesystem_upload_batch.cpp): every file lands with its bytes, a file that fails in a
// batch is retried alone while the others land, and a file renamed before its batch ran goes
// up at its new name.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "support/held_upload_remote.h"
#include "support/spooled_fs.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

// Holds the first single upload until released (so that files queue behind it), and records the
// size of every batch sent.
class BatchRecordingRemote : public HeldUploadRemote {
 public:
  explicit BatchRecordingRemote(Remote& inner) : HeldUploadRemote(inner) { gate.arm(); }
  std::vector<Result<UploadResult>> upload_files(std::span<const FileUpload> files) override {
    {
      std::lock_guard lock(mu);
      batches.push_back(files.size());
      for (const FileUpload& f : files) batch_paths.push_back(f.remote_path);
    }
    return Remote::upload_files(files);  // (each through upload(): the gate and faults apply)
  }
  std::vector<size_t> batches;
  std::vector<std::string> batch_paths;
};

class FsUploadBatch : public SpooledFsTest {
 protected:
  void configure() override {
    options.retry_max_ms = 20;
    options.upload_workers = 1;  // (one worker: the files queue behind the held upload)
    recording = std::make_unique<BatchRecordingRemote>(remote);
    backend = recording.get();
  }
  static std::string bytes_of(int i) { return "file " + std::to_string(i) + std::string(size_t(i) * 37, char('a' + i % 26)); }

  std::unique_ptr<BatchRecordingRemote> recording;
};

}  // namespace

TEST_F(FsUploadBatch, SmallFilesQueuedTogetherGoInOneCallAndEachLands) {
  fs->start_uploads();
  put(kRootIno, "first", "held");
  ASSERT_TRUE(recording->gate.wait_held());
  for (int i = 0; i < 40; ++i) put(kRootIno, "f" + std::to_string(i), bytes_of(i));
  recording->gate.release();
  EXPECT_EQ(fs->wait_uploads(10s), 0u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(remote_bytes("/f" + std::to_string(i)), bytes_of(i)) << i;
  EXPECT_EQ(remote_bytes("/first"), "held");
  std::lock_guard lock(recording->mu);
  ASSERT_FALSE(recording->batches.empty()) << "40 files queued behind one upload went one by one";
  EXPECT_EQ(recording->batches.front(), 32u) << "a batch takes up to upload_batch files";
  size_t in_batches = 0;
  for (size_t n : recording->batches) in_batches += n;
  EXPECT_EQ(in_batches, 40u);
  // The files are shown as the platform's now (their node kept), with their sizes.
  auto e = walk("/f7");
  ASSERT_TRUE(e);
  EXPECT_EQ(uint64_t(e->attr.st_size), bytes_of(7).size());
}

TEST_F(FsUploadBatch, AFileThatFailsInABatchIsRetriedWhileTheOthersLand) {
  fs->start_uploads();
  put(kRootIno, "first", "held");
  ASSERT_TRUE(recording->gate.wait_held());
  for (int i = 0; i < 10; ++i) put(kRootIno, "f" + std::to_string(i), bytes_of(i));
  // The held upload passes, then the batch's first two uploads fail (transient) and are retried.
  remote.fail_next(RemoteCall::kUpload, 3, EIO);
  recording->gate.release();
  EXPECT_EQ(fs->wait_uploads(10s), 0u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(remote_bytes("/f" + std::to_string(i)), bytes_of(i)) << i;
  EXPECT_EQ(remote_bytes("/first"), "held");
  EXPECT_EQ(fs->upload_status()["failed"].size(), 0u);
}

TEST_F(FsUploadBatch, AFileRenamedWhileQueuedGoesUpAtItsNewName) {
  options.upload_batch = 32;
  fs->start_uploads();
  put(kRootIno, "first", "held");
  ASSERT_TRUE(recording->gate.wait_held());
  for (int i = 0; i < 6; ++i) put(kRootIno, "f" + std::to_string(i), bytes_of(i));
  ASSERT_TRUE(fs->rename(kRootIno, "f2", kRootIno, "renamed", 0));
  ASSERT_TRUE(fs->unlink(kRootIno, "f4"));
  recording->gate.release();
  EXPECT_EQ(fs->wait_uploads(10s), 0u);
  EXPECT_EQ(remote_bytes("/renamed"), bytes_of(2));
  EXPECT_EQ(remote_bytes("/f2"), "<missing>");
  EXPECT_EQ(remote_bytes("/f4"), "<missing>");
  for (int i : {0, 1, 3, 5}) EXPECT_EQ(remote_bytes("/f" + std::to_string(i)), bytes_of(i)) << i;
}

TEST_F(FsUploadBatch, UploadBatchOneSendsOneFilePerCall) {
  fs.reset();
  options.upload_batch = 1;
  mount();
  fs->start_uploads();
  put(kRootIno, "first", "held");
  ASSERT_TRUE(recording->gate.wait_held());
  for (int i = 0; i < 5; ++i) put(kRootIno, "f" + std::to_string(i), bytes_of(i));
  recording->gate.release();
  EXPECT_EQ(fs->wait_uploads(10s), 0u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(remote_bytes("/f" + std::to_string(i)), bytes_of(i)) << i;
  std::lock_guard lock(recording->mu);
  EXPECT_TRUE(recording->batches.empty());
}
