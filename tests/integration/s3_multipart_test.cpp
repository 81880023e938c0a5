// Multipart uploads and copies of the S3 store (platform/s3_multipart.h) against s3rver, with
// its missing multipart calls (ListMultipartUploads, ListParts, Abort, UploadPartCopy) served by
// tests/emulators/s3rver-fixes.js from the emulator's own upload folders. Parts are made small
// (1 MiB) so that files of a few MiB go in several parts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>

#include "platform/object_store_s3.h"
#include "platform/s3_multipart.h"
#include "support/s3_emulator.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string read_all(ObjectStore& store, std::string_view key, size_t size) {
  std::string buf(size + 10, '\0');
  size_t got = 0;
  while (got < buf.size()) {
    auto n = store.read(key, got, std::span<char>(buf.data() + got, std::min<size_t>(buf.size() - got, 3 * kMiB)));
    EXPECT_TRUE(n) << n.status().to_string();
    if (!n || *n == 0) break;
    got += *n;
  }
  buf.resize(got);
  return buf;
}

class S3MultipartTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emulator_ = new S3Emulator();
    start_error_ = new std::string(emulator_->start());
  }
  static void TearDownTestSuite() {
    delete emulator_;
    delete start_error_;
    emulator_ = nullptr;
    start_error_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(*start_error_, ""); }

  // A store sending parts of 1 MiB, `parallel` at once, each part first through `fault`
  // (counted in `sent`).
  std::unique_ptr<ObjectStore> open(unsigned parallel, std::function<Status(int)> fault = nullptr) {
    S3StoreConfig c = emulator_->config();
    c.multipart_threshold = kMiB;
    c.part_size = kMiB;
    c.upload_parallel = parallel;
    c.single_copy_max = kMiB;
    c.copy_part_size = kMiB;
    c.before_part_for_test = [this, fault](int part) -> Status {
      {
        std::lock_guard lock(mu_);
        sent_.insert(part);
        ++calls_;
      }
      return fault ? fault(part) : Status();
    };
    auto store = open_s3_store(c);
    EXPECT_TRUE(store) << store.status().to_string();
    return store ? std::move(*store) : nullptr;
  }
  std::set<int> sent() {
    std::lock_guard lock(mu_);
    std::set<int> s = sent_;
    sent_.clear();
    calls_ = 0;
    return s;
  }

  static S3Emulator* emulator_;
  static std::string* start_error_;
  std::mutex mu_;
  std::set<int> sent_;
  int calls_ = 0;
  TempDir tmp_;
};

S3Emulator* S3MultipartTest::emulator_ = nullptr;
std::string* S3MultipartTest::start_error_ = nullptr;

TEST_F(S3MultipartTest, AFileOverTheThresholdGoesInParallelPartsAndReadsBackExact) {
  const size_t size = 5 * kMiB + 123;
  std::string bytes = random_bytes(size, 7);
  write_file(tmp_.sub("f"), bytes);
  // Three parts at once, each held until all three are in flight: a serial upload never gets there.
  std::atomic<int> in_flight{0}, most{0};
  auto store = open(3, [&](int) {
    ++in_flight;
    for (int i = 0; i < 200 && in_flight < 3; ++i) usleep(5000);
    most = std::max(most.load(), in_flight.load());
    --in_flight;
    return Status();
  });
  auto put = store->put_file("mp/f.bin", tmp_.sub("f"));
  ASSERT_TRUE(put) << put.status().to_string();
  EXPECT_EQ(put->size, size);
  EXPECT_EQ(sent(), (std::set<int>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(most.load(), 3);
  EXPECT_TRUE(read_all(*store, "mp/f.bin", size) == bytes) << "the bytes read back differ";
  // A small file replaces it in one PUT (no part).
  write_file(tmp_.sub("small"), "small");
  ASSERT_TRUE(store->put_file("mp/f.bin", tmp_.sub("small")));
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(read_all(*store, "mp/f.bin", 5), "small");
}

TEST_F(S3MultipartTest, AnUploadThatDiesPartWayIsResumedSendingOnlyWhatIsMissing) {
  const size_t size = 6 * kMiB - 1;
  std::string bytes = random_bytes(size, 8);
  write_file(tmp_.sub("f"), bytes);
  {
    // The network goes at part 4 (one part at a time, so parts 1-3 are in the bucket).
    auto dying = open(1, [](int part) { return part == 4 ? Status(EIO, "connection reset") : Status(); });
    auto put = dying->put_file("mp/resume.bin", tmp_.sub("f"));
    EXPECT_EQ(put.err(), EIO) << put.status().to_string();
    EXPECT_NE(put.status().message().find("in 6 parts"), std::string::npos) << put.status().to_string();
    EXPECT_EQ(dying->head("mp/resume.bin").err(), ENOENT);
  }
  EXPECT_EQ(sent(), (std::set<int>{1, 2, 3, 4}));
  auto store = open(2);
  auto put = store->put_file("mp/resume.bin", tmp_.sub("f"));
  ASSERT_TRUE(put) << put.status().to_string();
  EXPECT_EQ(sent(), (std::set<int>{4, 5, 6}));
  EXPECT_TRUE(read_all(*store, "mp/resume.bin", size) == bytes) << "the bytes read back differ";
  // Done: nothing left to resume, the next upload of the key sends every part.
  ASSERT_TRUE(store->put_file("mp/resume.bin", tmp_.sub("f")));
  EXPECT_EQ(sent().size(), 6u);
}

TEST_F(S3MultipartTest, AResumeSendsAgainEveryPartWhoseBytesChanged) {
  const size_t size = 4 * kMiB;
  std::string first = random_bytes(size, 9);
  write_file(tmp_.sub("f"), first);
  auto dying = open(1, [](int part) { return part == 4 ? Status(ETIMEDOUT, "stalled") : Status(); });
  EXPECT_EQ(dying->put_file("mp/changed.bin", tmp_.sub("f")).err(), ETIMEDOUT);
  sent();
  // The same size, part 2 different: parts 1 and 3 are taken from the bucket, 2 and 4 sent.
  std::string second = first;
  second[kMiB + 10] ^= 0x5a;
  write_file(tmp_.sub("f"), second);
  auto store = open(4);
  ASSERT_TRUE(store->put_file("mp/changed.bin", tmp_.sub("f")));
  EXPECT_EQ(sent(), (std::set<int>{2, 4}));
  EXPECT_TRUE(read_all(*store, "mp/changed.bin", size) == second) << "the bytes read back differ";
}

TEST_F(S3MultipartTest, ARefusedUploadIsAbortedAndLeavesTheOldObject) {
  auto store = open(2);
  ASSERT_TRUE(store->put_bytes("mp/kept.bin", "version 1"));
  std::string bytes = random_bytes(3 * kMiB, 10);
  write_file(tmp_.sub("f"), bytes);
  auto refused = open(2, [](int part) { return part == 2 ? Status(EACCES, "access denied") : Status(); });
  auto put = refused->put_file("mp/kept.bin", tmp_.sub("f"));
  EXPECT_EQ(put.err(), EACCES) << put.status().to_string();
  EXPECT_EQ(read_all(*store, "mp/kept.bin", 9), "version 1");
  sent();
  // Aborted: the next upload has nothing to resume.
  ASSERT_TRUE(store->put_file("mp/kept.bin", tmp_.sub("f")));
  EXPECT_EQ(sent().size(), 3u);
  EXPECT_TRUE(read_all(*store, "mp/kept.bin", bytes.size()) == bytes);
}

TEST_F(S3MultipartTest, AFileOverFiveGibGoesInPartsWhateverTheThreshold) {
  ASSERT_EQ(s3_part_size_for(6ull << 30, 16 * kMiB), 16 * kMiB);         // 384 parts
  ASSERT_EQ(s3_part_size_for(1ull << 40, 16 * kMiB), ((1ull << 40) + 9999) / 10000);  // 10,000 parts
  ASSERT_EQ(s3_part_size_for(100ull << 40, 16 * kMiB), kS3MaxPartSize);
  write_file(tmp_.sub("huge"), "");
  ASSERT_EQ(::truncate(tmp_.sub("huge").c_str(), (off_t(5) << 30) + 1), 0);  // sparse
  S3StoreConfig c = emulator_->config();
  c.multipart_threshold = UINT64_MAX;
  std::atomic<int> parts{0};
  c.before_part_for_test = [&](int) {
    ++parts;
    return Status(EACCES, "refused before any byte");  // nothing is sent; the upload is aborted
  };
  auto store = open_s3_store(c);
  ASSERT_TRUE(store);
  auto put = (*store)->put_file("mp/huge", tmp_.sub("huge"));
  EXPECT_EQ(put.err(), EACCES) << put.status().to_string();
  EXPECT_NE(put.status().message().find("in 321 parts"), std::string::npos) << put.status().to_string();
  EXPECT_GE(parts.load(), 1);
}

TEST_F(S3MultipartTest, AnObjectOverTheSingleCopyLimitIsCopiedInParts) {
  auto store = open(3);
  const size_t size = 3 * kMiB + kMiB / 2;
  std::string bytes = random_bytes(size, 11);
  ASSERT_TRUE(store->put_bytes("mp/src.bin", bytes));
  sent();
  auto copy = store->copy("mp/src.bin", "mp/copy dir/dst.bin");
  ASSERT_TRUE(copy) << copy.status().to_string();
  EXPECT_EQ(copy->size, size);
  EXPECT_EQ(sent(), (std::set<int>{1, 2, 3, 4}));
  EXPECT_TRUE(read_all(*store, "mp/copy dir/dst.bin", size) == bytes) << "the copy's bytes differ";
  EXPECT_TRUE(read_all(*store, "mp/src.bin", size) == bytes);
  // A part that fails fails the copy, and the target is not made.
  auto failing = open(1, [](int part) { return part == 3 ? Status(EIO, "reset") : Status(); });
  EXPECT_EQ(failing->copy("mp/src.bin", "mp/never.bin").err(), EIO);
  EXPECT_EQ(store->head("mp/never.bin").err(), ENOENT);
}

}  // namespace
