// Uploads to the embedded platform take the spool file by hard link (one copy of the bytes on
// the disk, not two): the spool file is frozen from the upload's plan on, and a writer opening it
// afterwards — while the link is being made, after it landed, or after a restart — first gets an
// inode of its own, so the platform's stored bytes never change under it; readers opened before
// see the writer's bytes.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <mutex>

#include "remote/local_remote.h"
#include "support/held_upload_remote.h"
#include "support/process.h"
#include "support/spooled_fs.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

class FsUploadLink : public SpooledFsTest {
 protected:
  void configure() override {
    conn_ = std::move(LocalConnection::open(LocalOptions{dir.sub("store")})).value();
    ASSERT_TRUE(conn_->create_dataset("links"));
    platform_ = std::move(conn_->open("links")).value();
    held_ = std::make_unique<HeldUploadRemote>(*platform_);
    backend = held_.get();
    options.upload_batch = 1;
  }
  void TearDown() override {
    SpooledFsTest::TearDown();
    held_.reset();
    platform_.reset();
    conn_.reset();
  }
  // The platform's bytes of the file at `path`.
  std::string platform_bytes(const std::string& path) {
    auto item = platform_->get(path);
    if (!item) return "<" + item.status().to_string() + ">";
    std::string out(item->size() + 16, '\0');
    auto n = platform_->read(*item, 0, std::span<char>(out.data(), out.size()));
    if (!n) return "<" + n.status().to_string() + ">";
    out.resize(*n);
    return out;
  }
  // How many of the platform's stored binaries are the inode of `file`.
  int blobs_sharing(const std::string& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return -1;
    int n = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir.sub("store") + "/blobs")) {
      struct stat b {};
      n += e.is_regular_file() && ::stat(e.path().c_str(), &b) == 0 && b.st_ino == st.st_ino && b.st_dev == st.st_dev;
    }
    return n;
  }
  std::string spool_file() {
    auto records = spool->list();
    return records.size() == 1 ? spool->file_path(records[0].id) : "<" + std::to_string(records.size()) + " records>";
  }
  std::string read_fh(Ino ino, uint64_t fh) {
    std::string out(64, '\0');
    auto n = fs->read(ino, fh, 0, std::span<char>(out.data(), out.size()));
    if (!n) return "<" + n.status().to_string() + ">";
    out.resize(*n);
    return out;
  }
  void write_fh(Ino ino, uint64_t fh, const std::string& bytes) {
    auto n = fs->write(ino, fh, 0, std::span<const char>(bytes.data(), bytes.size()));
    ASSERT_TRUE(n) << n.status().to_string();
  }
  void close_fh(Ino ino, uint64_t fh) {
    EXPECT_TRUE(fs->flush(ino, fh));
    fs->release(fh);
  }

  std::unique_ptr<LocalConnection> conn_;
  std::unique_ptr<Remote> platform_;
  std::unique_ptr<HeldUploadRemote> held_;
};

}  // namespace

TEST_F(FsUploadLink, TheUploadIsTheSpoolFileAndAWriterCopiesItFirst) {
  Ino ino = put(kRootIno, "a.txt", "first");
  auto reader = fs->open(ino, O_RDONLY);
  ASSERT_TRUE(reader) << reader.status().to_string();
  fs->start_uploads();
  ASSERT_EQ(fs->wait_uploads(10s), 0u);
  // Still open: kept in the spool, its inode the platform's binary (one copy of the bytes).
  std::string spooled = spool_file();
  EXPECT_EQ(platform_bytes("/a.txt"), "first");
  EXPECT_EQ(blobs_sharing(spooled), 1);
  {
    // (named by its spool record: an upload in parts resumes after a restart)
    std::lock_guard lock(held_->mu);
    EXPECT_EQ(held_->resume_keys, std::vector<std::string>{spool->upload_token(spool->list()[0].id)});
  }

  auto writer = fs->open(ino, O_WRONLY);
  ASSERT_TRUE(writer) << writer.status().to_string();
  write_fh(ino, writer->fh, "SECOND");
  EXPECT_EQ(blobs_sharing(spooled), 0) << "the writer writes the platform's binary";
  EXPECT_EQ(platform_bytes("/a.txt"), "first");
  EXPECT_EQ(read_fh(ino, reader->fh), "SECOND") << "a reader opened before the write does not see it";
  close_fh(ino, writer->fh);
  ASSERT_EQ(fs->wait_uploads(10s), 0u);
  EXPECT_EQ(platform_bytes("/a.txt"), "SECOND");
  EXPECT_EQ(blobs_sharing(spooled), 1);
  fs->release(reader->fh);
  EXPECT_TRUE(wait_until([&] { return spool->list().empty(); }, 10s));
  EXPECT_EQ(platform_bytes("/a.txt"), "SECOND");
  EXPECT_EQ(*cat(ino), "SECOND");
}

// The upload offers the spool file by descriptor: a writer's copy made between the plan and the
// link takes the file's name, and the link (of an inode without a name now) becomes a copy of the
// bytes the upload was for.
TEST_F(FsUploadLink, AWriterOpeningWhileTheLinkIsUnderWayNeverWritesTheUploadedBytes) {
  Ino ino = put(kRootIno, "a.txt", "first");
  held_->gate.arm();
  fs->start_uploads();
  ASSERT_TRUE(held_->gate.wait_held());
  auto writer = fs->open(ino, O_WRONLY);
  ASSERT_TRUE(writer) << writer.status().to_string();
  write_fh(ino, writer->fh, "XYZ");
  held_->gate.release();
  ASSERT_TRUE(wait_until([&] { return bool(platform_->get("/a.txt")); }, 10s));
  ASSERT_EQ(fs->wait_uploads(10s), 0u);
  EXPECT_EQ(platform_bytes("/a.txt"), "first");  // the bytes the upload was for, not the writer's
  EXPECT_EQ(blobs_sharing(spool_file()), 0);
  EXPECT_EQ(*cat(ino), "XYZst");
  close_fh(ino, writer->fh);
  ASSERT_EQ(fs->wait_uploads(10s), 0u);
  EXPECT_EQ(platform_bytes("/a.txt"), "XYZst");
}

// After a restart, a pending file's spool file that an upload linked (it has two names) is
// frozen: the mount does not know what else links it.
TEST_F(FsUploadLink, ASpoolFileLinkedBeforeARestartIsCopiedBeforeItIsWritten) {
  Ino ino = put(kRootIno, "a.txt", "first");
  auto reader = fs->open(ino, O_RDONLY);
  ASSERT_TRUE(reader);
  fs->start_uploads();
  ASSERT_EQ(fs->wait_uploads(10s), 0u);
  std::string spooled = spool_file();
  ASSERT_EQ(blobs_sharing(spooled), 1);
  mount();  // stopped with the file open: its record stays, and is resumed
  fs->resume_journal();  // (no upload yet: the write comes first)
  auto e = walk("/a.txt");
  ASSERT_TRUE(e) << e.status().to_string();
  auto writer = fs->open(e->ino, O_WRONLY);
  ASSERT_TRUE(writer) << writer.status().to_string();
  write_fh(e->ino, writer->fh, "ZZ");
  EXPECT_EQ(platform_bytes("/a.txt"), "first");
  close_fh(e->ino, writer->fh);
  fs->start_uploads();
  ASSERT_EQ(fs->wait_uploads(10s), 0u);
  EXPECT_EQ(platform_bytes("/a.txt"), "ZZrst");
  (void)ino;
}
