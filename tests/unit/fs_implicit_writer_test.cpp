// Writes without opens (FsOptions::no_open, fs/filesystem_implicit.cpp): what the kernel sends
// for an existing file once it skips open and release — writes, truncates and flushes with fh 0
// — made into one edit per close, uploaded as a close's would be, never lost, never sent twice.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cache/data_cache.h"
#include "core/posix_attrs.h"
#include "support/spooled_fs.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

class ImplicitWriter : public SpooledFsTest {
 protected:
  void configure() override {
    options.no_open = true;
    options.implicit_idle_ms = 60000;  // (a test that wants the sweeper sets it short)
  }
  // A write(2) through a descriptor the kernel opened without asking.
  Status write0(Ino ino, uint64_t offset, const std::string& bytes) {
    auto n = fs->write(ino, 0, offset, std::span<const char>(bytes.data(), bytes.size()));
    if (!n) return n.status();
    return *n == bytes.size() ? Status() : Status(EIO, "short write");
  }
  Result<std::string> read0(Ino ino) {
    std::string out;
    std::vector<char> buf(4096);
    for (;;) {
      DLFS_ASSIGN(size_t n, fs->read(ino, 0, out.size(), std::span<char>(buf.data(), buf.size())));
      if (n == 0) return out;
      out.append(buf.data(), n);
    }
  }
  // A new file made and written through its create's handle, closed (flushed) but not released
  // yet: its node and that handle.
  std::pair<Ino, uint64_t> create_written(const std::string& name, const std::string& bytes) {
    auto made = fs->create(kRootIno, name, O_WRONLY | O_CREAT);
    EXPECT_TRUE(made) << made.status().to_string();
    if (!made) return {0, 0};
    EXPECT_TRUE(fs->write(made->first.ino, made->second.fh, 0, std::span<const char>(bytes.data(), bytes.size())));
    EXPECT_TRUE(fs->flush(made->first.ino, made->second.fh));
    return {made->first.ino, made->second.fh};
  }
  Ino ino_of(const std::string& path) {
    auto e = walk(path);
    EXPECT_TRUE(e) << path << ": " << e.status().to_string();
    return e ? e->ino : 0;
  }
  // Until the platform holds `want` at `path` (10 s at most).
  bool platform_has(const std::string& path, const std::string& want) {
    for (int i = 0; i < 1000; ++i) {
      if (remote_bytes(path) == want) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
};

TEST_F(ImplicitWriter, WritesWithoutAnOpenAreOneEditUploadedAtTheClose) {
  remote.add_file("/a.txt", "hello world");
  Ino ino = ino_of("/a.txt");
  fs->start_uploads();
  ASSERT_TRUE(write0(ino, 6, "there"));
  ASSERT_TRUE(write0(ino, 11, "!"));
  EXPECT_EQ(*read0(ino), "hello there!");
  EXPECT_EQ(fs->getattr(ino)->attr.st_size, 12);
  // Still open: nothing is promised or sent before its close.
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(remote_bytes("/a.txt"), "hello world");
  EXPECT_EQ(remote.calls(RemoteCall::kUpload), 0u);
  ASSERT_TRUE(fs->flush(ino, 0));
  ASSERT_TRUE(platform_has("/a.txt", "hello there!"));
  EXPECT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_EQ(remote.calls(RemoteCall::kUpload), 1u);
  // A reader's close (a flush of the node with nothing written) sends nothing.
  ASSERT_TRUE(fs->flush(ino, 0));
  EXPECT_EQ(*read0(ino), "hello there!");
  EXPECT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_EQ(remote.calls(RemoteCall::kUpload), 1u);
  EXPECT_TRUE(spool->list().empty());
}

// open(O_TRUNC) of an existing file arrives as a setattr of size 0 with no fh (atomic O_TRUNC is
// off with no_open): the old bytes are never fetched, and the empty file is not uploaded on its own.
TEST_F(ImplicitWriter, AnOpenWithTruncateFetchesNothingAndUploadsOnlyWhatIsWrittenThen) {
  remote.add_file("/big.bin", std::string(1 << 20, 'x'));
  Ino ino = ino_of("/big.bin");
  fs->start_uploads();
  remote.reset_calls();
  ASSERT_TRUE(fs->setattr(ino, 0, AttrChange{.size = 0}));
  EXPECT_EQ(fs->getattr(ino)->attr.st_size, 0);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(remote.calls(RemoteCall::kUpload), 0u);
  ASSERT_TRUE(write0(ino, 0, "new"));
  ASSERT_TRUE(fs->flush(ino, 0));
  EXPECT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 0u);  // (before platform_has reads it)
  EXPECT_EQ(remote.calls(RemoteCall::kUpload), 1u);
  ASSERT_TRUE(platform_has("/big.bin", "new"));
  // An ftruncate of a descriptor (fh 0) to a size: the bytes up to it kept, through one writer.
  ASSERT_TRUE(fs->setattr(ino, 0, AttrChange{.size = 5}));
  ASSERT_TRUE(write0(ino, 5, "!"));
  EXPECT_EQ(*read0(ino), std::string("new\0\0!", 6));
  ASSERT_TRUE(fs->flush(ino, 0));
  ASSERT_TRUE(platform_has("/big.bin", std::string("new\0\0!", 6)));
}

// What comes with no close after it — pages of a shared mapping written back later, a
// truncate(2) by path — goes up once the writer has been idle, without anyone's close.
TEST_F(ImplicitWriter, WritesWithNoCloseAfterThemAreUploadedOnceIdle) {
  options.implicit_idle_ms = 50;
  mount();
  remote.add_file("/m.bin", "0123456789");
  remote.add_file("/t.txt", "truncate me");
  fs->start_uploads();
  Ino m = ino_of("/m.bin"), t = ino_of("/t.txt");
  ASSERT_TRUE(write0(m, 2, "ab"));
  ASSERT_TRUE(fs->setattr(t, 0, AttrChange{.size = 8}));
  EXPECT_TRUE(platform_has("/m.bin", "01ab456789"));
  EXPECT_TRUE(platform_has("/t.txt", "truncate"));
  EXPECT_EQ(fs->wait_uploads(5s), 0u);
  // Each once: the sweeper let the writers go.
  EXPECT_EQ(remote.calls(RemoteCall::kUpload), 2u);
  EXPECT_TRUE(spool->list().empty());
}

TEST_F(ImplicitWriter, AnUnmountPromisesWhatWasWrittenWithNoCloseAfterIt) {
  remote.add_file("/a.txt", "before");
  Ino ino = ino_of("/a.txt");
  ASSERT_TRUE(write0(ino, 0, "AFTER!"));
  mount();  // the core goes (uploads never started), a new one resumes the journal
  EXPECT_EQ(remote_bytes("/a.txt"), "before");
  fs->resume_journal();
  auto e = walk("/a.txt");
  ASSERT_TRUE(e);
  EXPECT_EQ(*cat(e->ino), "AFTER!");
  fs->start_uploads();
  EXPECT_TRUE(platform_has("/a.txt", "AFTER!"));
}

// A close of one descriptor while another writes (a flush from any of the node's descriptors lets
// the writer go): no write ever lands on a handle already let go, nothing is lost, and the last
// close sends the whole.
TEST_F(ImplicitWriter, ConcurrentWritesAndClosesOfOneFileLoseNothing) {
  remote.add_file("/log.txt", "");
  Ino ino = ino_of("/log.txt");
  fs->start_uploads();
  constexpr int kChunks = 300;
  std::string want;
  for (int i = 0; i < kChunks; ++i) want += std::string(99, char('a' + i % 26)) + "\n";
  std::atomic<bool> done{false};
  std::atomic<int> write_errors{0}, close_errors{0};
  std::thread writer([&] {
    for (int i = 0; i < kChunks; ++i)
      if (!write0(ino, uint64_t(i) * 100, want.substr(size_t(i) * 100, 100))) ++write_errors;
    done = true;
  });
  std::thread closer([&] {
    while (!done)
      if (!fs->flush(ino, 0)) ++close_errors;
  });
  writer.join();
  closer.join();
  EXPECT_EQ(write_errors.load(), 0);
  EXPECT_EQ(close_errors.load(), 0);
  ASSERT_TRUE(fs->flush(ino, 0));
  auto back = read0(ino);  // (compared whole, told short: the bytes are 30 KB)
  EXPECT_TRUE(back && *back == want) << "read back " << (back ? back->size() : 0) << " bytes, written " << want.size();
  EXPECT_TRUE(platform_has("/log.txt", want));
  EXPECT_EQ(fs->wait_uploads(10s), 0u);
}

// A file unlinked while a descriptor writes it lives on for that descriptor — another one's close
// does not end it — and is never brought back to the platform.
TEST_F(ImplicitWriter, AFileUnlinkedWhileADescriptorWritesItLivesOnForIt) {
  remote.add_file("/tmp.txt", "hello");
  Ino ino = ino_of("/tmp.txt");
  fs->start_uploads();
  ASSERT_TRUE(write0(ino, 0, "HE"));
  ASSERT_TRUE(fs->unlink(kRootIno, "tmp.txt"));
  ASSERT_TRUE(fs->flush(ino, 0));  // another descriptor's close
  ASSERT_TRUE(write0(ino, 5, "!!"));
  EXPECT_EQ(*read0(ino), "HEllo!!");
  EXPECT_EQ(fs->wait_uploads(5s), 0u);  // (lets every writer go)
  EXPECT_FALSE(remote.item_at("/tmp.txt"));
  EXPECT_FALSE(walk("/tmp.txt"));
  EXPECT_TRUE(spool->list().empty());
}

// A new file, closed, then unlinked while a descriptor the kernel opened without asking still
// holds it, and written through that descriptor: its bytes were kept (the spool file's) and are
// written as a private copy, readable through it, never uploaded.
TEST_F(ImplicitWriter, ANewFileUnlinkedAfterItsCloseIsWrittenThroughAnotherDescriptor) {
  auto [ino, fh] = create_written("n.txt", "yyyy");
  EXPECT_EQ(fh, 0u);  // (the kernel may send no release for it: it writes as any fh-0 descriptor)
  ASSERT_TRUE(fs->unlink(kRootIno, "n.txt"));
  {
    Status written = write0(ino, 4, "tail");
    ASSERT_TRUE(written) << written.to_string();
  }
  EXPECT_EQ(*read0(ino), "yyyytail");
  EXPECT_EQ(fs->getattr(ino)->attr.st_nlink, 0u);
  fs->start_uploads();
  fs->forget(ino, 1);  // its last descriptor closed
  EXPECT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_FALSE(remote.item_at("/n.txt"));
  EXPECT_TRUE(spool->list().empty());
}

// Once the kernel has been told ENOSYS to an open, it sends no release even for a file it made
// through CREATE: a handle kept per file made, each with its spool descriptor, ran a `cp -r` of
// more files than the mount's descriptor limit into EMFILE. Each create's handle is let go at
// its close; nothing waits for a release.
TEST_F(ImplicitWriter, FilesMadeHoldNoDescriptorPastTheirCloseWithNoReleaseSent) {
  auto open_fds = [] {
    size_t n = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
  };
  fs->start_uploads();
  size_t before = open_fds();
  constexpr int kFiles = 300;
  for (int i = 0; i < kFiles; ++i) {
    auto [ino, fh] = create_written("f" + std::to_string(i), "bytes " + std::to_string(i));
    ASSERT_NE(ino, 0u);
  }
  EXPECT_LT(open_fds(), before + 64);  // (uploads in flight open a few; one kept per file: 300)
  EXPECT_EQ(fs->wait_uploads(10s), 0u);
  for (int i = 0; i < kFiles; i += 37) EXPECT_EQ(remote_bytes("/f" + std::to_string(i)), "bytes " + std::to_string(i));
  EXPECT_LT(open_fds(), before + 64);
}

// A file made and written with no close after (a writer that stays open): uploaded once idle.
TEST_F(ImplicitWriter, AFileMadeAndWrittenWithNoCloseIsUploadedOnceIdle) {
  options.implicit_idle_ms = 50;
  mount();
  fs->start_uploads();
  auto made = fs->create(kRootIno, "open.txt", O_WRONLY | O_CREAT);
  ASSERT_TRUE(made) << made.status().to_string();
  std::string bytes = "still open";
  ASSERT_TRUE(fs->write(made->first.ino, made->second.fh, 0, std::span<const char>(bytes.data(), bytes.size())));
  EXPECT_TRUE(platform_has("/open.txt", bytes));
}

// A descriptor whose file was unlinked or renamed over before it wrote anything: its bytes are
// the platform's deleted item's, not the spool's to bring back — the write is refused (ESTALE),
// and nothing reappears.
TEST_F(ImplicitWriter, ADescriptorWhoseFileWasRemovedBeforeItWroteCannotBringItBack) {
  remote.add_file("/gone.txt", "old");
  remote.add_file("/a.txt", "a");
  remote.add_file("/b.txt", "b");
  Ino gone = ino_of("/gone.txt"), a = ino_of("/a.txt");
  fs->start_uploads();
  ASSERT_TRUE(fs->unlink(kRootIno, "gone.txt"));
  EXPECT_EQ(write0(gone, 0, "back?").err(), ESTALE);
  EXPECT_EQ(fs->setattr(gone, 0, AttrChange{.size = 0}).err(), ESTALE);
  ASSERT_TRUE(fs->rename(kRootIno, "b.txt", kRootIno, "a.txt", 0));
  EXPECT_EQ(write0(a, 0, "A").err(), ESTALE);
  EXPECT_TRUE(fs->flush(gone, 0));
  EXPECT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_FALSE(remote.item_at("/gone.txt"));
  EXPECT_EQ(remote_bytes("/a.txt"), "b");
  EXPECT_EQ(remote.calls(RemoteCall::kUpload), 0u);
}

TEST_F(ImplicitWriter, WritesThatCannotBeAreRefusedAtTheWriteWithWhy) {
  remote.add_link("/link.jpg", "http://example.test/x.jpg");
  remote.add_file("/a.txt", "a");
  Ino link = ino_of("/link.jpg");
  EXPECT_EQ(write0(link, 0, "x").err(), EPERM);
  options.read_only = true;
  mount();
  Ino a = ino_of("/a.txt");
  auto refused = fs->write(a, 0, 0, std::span<const char>("x", 1));
  EXPECT_EQ(refused.err(), EROFS);
  EXPECT_NE(refused.status().to_string().find("read-only"), std::string::npos);
  EXPECT_EQ(fs->setattr(a, 0, AttrChange{.size = 0}).err(), EROFS);
}

// The kernel reads a file with no open only up to the size it was told: a link whose server
// tells no size shows a placeholder (the short read at its end tells the kernel the true one),
// one whose target fails shows one byte, so that the read reaches the mount and its error.
TEST_F(ImplicitWriter, LinksShowASizeThatMakesTheKernelAskTheMount) {
  std::string bytes = std::string(100000, 'b');
  links.targets["http://example.invalid/ok"] = bytes;
  links.targets["http://example.invalid/nosize"] = bytes;
  links.sizeless.insert("http://example.invalid/nosize");
  links.failures["http://example.invalid/refused"] = Status(EACCES, "refused by policy");
  remote.add_link("/ok.bin", "http://example.invalid/ok");
  remote.add_link("/nosize.bin", "http://example.invalid/nosize");
  remote.add_link("/refused.bin", "http://example.invalid/refused");
  auto ok = walk("/ok.bin"), nosize = walk("/nosize.bin"), refused = walk("/refused.bin");
  ASSERT_TRUE(ok && nosize && refused);
  EXPECT_EQ(ok->attr.st_size, 100000);
  EXPECT_EQ(ok->attr_timeout, 0);  // (asked before every read: getattr revalidates the target)
  EXPECT_EQ(uint64_t(nosize->attr.st_size), kUnknownLinkSize);
  EXPECT_EQ(refused->attr.st_size, 1);
  EXPECT_EQ(*read0(ok->ino), bytes);
  EXPECT_EQ(*read0(nosize->ino), bytes);  // (to its end: a short read there)
  EXPECT_EQ(read0(refused->ino).err(), EACCES);
  options.no_open = false;  // with opens: an open tells the kernel to read past the size (direct_io)
  mount();
  EXPECT_EQ(walk("/nosize.bin")->attr.st_size, 0);
}

// The first read of a file (offset 0, fh 0) stands for its open: the access time is kept as
// relatime keeps it, as a read open's is.
TEST_F(ImplicitWriter, AFirstReadStandsForTheOpenTheKernelDidNotSend) {
  remote.add_file("/seen.txt", "bytes");
  fs->start_uploads();
  Ino ino = ino_of("/seen.txt");
  clock.advance_ms(5000);
  ASSERT_EQ(*read0(ino), "bytes");
  const int64_t now = clock.now_ms() * 1000000;
  EXPECT_EQ(fs->getattr(ino)->attr.st_atim.tv_sec, now / 1000000000);
  std::optional<int64_t> kept;
  for (int i = 0; i < 500 && kept != now; ++i, std::this_thread::sleep_for(10ms))
    kept = posix_attrs(*remote.item_at("/seen.txt")).atime_ns;
  EXPECT_EQ(kept, now);
}

}  // namespace

namespace {

// A remote's mount (no local files: the bytes are the data cache's): what it uploaded stays in the
// data cache, read back with no fetch, and a descriptor of it opened without asking still reads
// it after a rename over it.
class ImplicitWriterDataCache : public ImplicitWriter {
 protected:
  void configure() override {
    ImplicitWriter::configure();
    data_cache = test_data_cache(dir.sub("data"));
    options.data_cache = data_cache.get();
  }
  void TearDown() override {
    ImplicitWriter::TearDown();
    data_cache.reset();
  }
  std::unique_ptr<DataCache> data_cache;
};

TEST_F(ImplicitWriterDataCache, WhatAMountUploadedIsReadBackWithNoFetchAndOutlivesARenameOverIt) {
  fs->start_uploads();
  auto [t, t_fh] = create_written("t.txt", "old");
  fs->release(t_fh);
  ASSERT_EQ(fs->wait_uploads(5s), 0u);
  remote.reset_calls();
  EXPECT_EQ(*read0(t), "old");
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 0u);
  EXPECT_EQ(data_cache->counters().hits, 1u);
  // A descriptor of t.txt (the kernel opened it without asking), then a rename over it.
  fs->release(create_written("new.txt", "new").second);
  ASSERT_TRUE(fs->rename(kRootIno, "new.txt", kRootIno, "t.txt", 0));
  EXPECT_EQ(*read0(t), "old");
  EXPECT_EQ(fs->getattr(t)->attr.st_nlink, 0u);
  ASSERT_TRUE(write0(t, 0, "OLD"));  // (a private copy: never the platform's)
  EXPECT_EQ(*read0(t), "OLD");
  ASSERT_TRUE(fs->flush(t, 0));
  EXPECT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_TRUE(platform_has("/t.txt", "new"));
  fs->forget(t, 1);  // the kernel lets it go: its last descriptor closed
  EXPECT_TRUE(spool->list().empty());
}

}  // namespace

// With no close seen (the kernel told ENOSYS to a flush), every file written stays its writer's
// until idle — each holding its spool file's descriptor. Past max_implicit_writers, a new one
// lets the least recently written go (promised and uploaded, as a close did); one still being
// written stays.
TEST_F(ImplicitWriter, PastTheMostWritersKeptTheLeastRecentlyWrittenAreLetGo) {
  options.max_implicit_writers = 4;
  mount();
  fs->start_uploads();
  auto kept = fs->create(kRootIno, "kept.log", O_WRONLY | O_CREAT);
  ASSERT_TRUE(kept) << kept.status().to_string();
  constexpr int kFiles = 12;
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_TRUE(write0(kept->first.ino, 0, "line " + std::to_string(i)));  // still written
    std::this_thread::sleep_for(2ms);  // (a clock tick between writers' last writes)
    auto made = fs->create(kRootIno, "f" + std::to_string(i), O_WRONLY | O_CREAT);
    ASSERT_TRUE(made) << made.status().to_string();
    ASSERT_TRUE(write0(made->first.ino, 0, "bytes " + std::to_string(i)));
    std::this_thread::sleep_for(2ms);
  }
  // The early ones went up with no close, no idle time (60 s here) and no sync.
  for (int i = 0; i < kFiles - 4; ++i) EXPECT_TRUE(platform_has("/f" + std::to_string(i), "bytes " + std::to_string(i))) << i;
  // The one written all along did not: it goes at the sync, whole.
  EXPECT_FALSE(remote.item_at("/kept.log"));
  EXPECT_EQ(fs->wait_uploads(10s), 0u);
  EXPECT_EQ(remote_bytes("/kept.log"), "line " + std::to_string(kFiles - 1));  // (each written at 0, the last longest)
  for (int i = kFiles - 4; i < kFiles; ++i) EXPECT_EQ(remote_bytes("/f" + std::to_string(i)), "bytes " + std::to_string(i));
}
