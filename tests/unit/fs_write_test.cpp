// The filesystem core's write side without FUSE, over a FakeRemote: files through the spool and
// the background uploads (retries, failures, resume), edits of existing items, truncation,
// folders, unlink, rename and xattr writes.
#include <gtest/gtest.h>
#include <sys/statvfs.h>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/xattr.h>

#include <algorithm>
#include <filesystem>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "fs/mount_options.h"
#include "remote/forwarding_remote.h"
#include "support/fs_fixture.h"
#include "support/gate.h"
#include "support/held_upload_remote.h"
#include "support/process.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

class FsWrite : public ::testing::Test, public FsFixture {
 protected:
  void SetUp() override {
    open_spool();
    options.retry_base_ms = 5;
    options.retry_max_ms = 20;
    options.preprocess_polls = 0;
    options.upload_workers = 2;
    mount();
  }
  void TearDown() override {
    fs.reset();
    spool.reset();
  }
  void open_spool(uint64_t max = 64 << 20) {
    SpoolOptions so;
    so.dir = dir.sub("spool");
    so.max_bytes = max;
    so.full_wait = 100ms;
    so.on_sync = [this](const std::string& what) {
      std::lock_guard lock(synced_mu);
      synced.push_back(what);
    };
    spool = std::move(UploadSpool::open(so)).value();
    options.spool = spool.get();
  }
  std::vector<std::string> take_synced() {
    std::lock_guard lock(synced_mu);
    return std::exchange(synced, {});
  }
  std::mutex synced_mu;
  std::vector<std::string> synced;  // what the spool fsynced (SpoolOptions::on_sync)
  // create + write + flush + release; answers the inode.
  Ino put(Ino parent, const std::string& name, const std::string& content) {
    auto made = fs->create(parent, name, O_WRONLY | O_CREAT | O_TRUNC);
    EXPECT_TRUE(made) << made.status().to_string();
    if (!made) return 0;
    auto n = fs->write(made->first.ino, made->second.fh, 0, std::span<const char>(content.data(), content.size()));
    EXPECT_TRUE(n);
    EXPECT_TRUE(fs->flush(made->first.ino, made->second.fh));
    fs->release(made->second.fh);
    return made->first.ino;
  }
  std::vector<std::string> names(Ino ino) {
    auto all = list(ino).value();
    all.erase(std::remove_if(all.begin(), all.end(), [](auto& n) { return n == "." || n == ".."; }), all.end());
    std::sort(all.begin(), all.end());
    return all;
  }

  // Mounts the core again over a wrapper R of `remote`, owned here so that it outlives the core
  // (TearDown drops the core first).
  template <class R>
  R& mount_over() {
    auto wrapped = std::make_unique<R>(remote);
    R& ref = *wrapped;
    wrapper = std::move(wrapped);
    backend = &ref;
    mount();
    return ref;
  }

  std::unique_ptr<UploadSpool> spool;
  std::unique_ptr<Remote> wrapper;
};

}  // namespace

TEST_F(FsWrite, NewFileReadsBackWhilePendingThenArrives) {
  auto made = fs->create(kRootIno, "new.txt", O_WRONLY | O_CREAT);
  ASSERT_TRUE(made) << made.status().to_string();
  Ino ino = made->first.ino;
  uint64_t fh = made->second.fh;
  std::string a = "hello", b = " world";
  ASSERT_EQ(*fs->write(ino, fh, 0, std::span<const char>(a.data(), a.size())), 5u);
  ASSERT_EQ(*fs->write(ino, fh, 5, std::span<const char>(b.data(), b.size())), 6u);
  EXPECT_EQ(fs->getattr(ino)->attr.st_size, 11);
  EXPECT_EQ(*fs->getxattr(ino, "user.dl.upload_state"), "pending");
  ASSERT_TRUE(fs->flush(ino, fh));
  fs->release(fh);
  // Not uploaded yet (no workers): listed, looked up and read from the spool.
  EXPECT_EQ(names(kRootIno), std::vector<std::string>{"new.txt"});
  EXPECT_EQ(walk("/new.txt")->attr.st_size, 11);
  EXPECT_EQ(*cat(ino), "hello world");
  EXPECT_EQ(spool->pending(remote.dataset().id).size(), 1u);
  EXPECT_FALSE(remote.item_at("/new.txt"));

  fs->start_uploads();
  ASSERT_TRUE(fs->fsync(ino, 0));
  EXPECT_EQ(remote_bytes("/new.txt"), "hello world");
  EXPECT_EQ(fs->wait_uploads(1s), 0u);
  EXPECT_TRUE(spool->list().empty());
  EXPECT_EQ(spool->used_bytes(), 0u);
  // The inode answers (now for the uploaded item), and a lookup finds the same number: a new
  // file keeps its inode from create through its upload.
  EXPECT_EQ(fs->getattr(ino)->attr.st_size, 11);
  auto e = walk("/new.txt");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ino, ino);
  EXPECT_EQ(*cat(e->ino), "hello world");
  EXPECT_EQ(*fs->getxattr(kRootIno, "user.dl.uploads"),
            json({{"failed", json::array()}, {"pending", 0}, {"spool_bytes", 0}, {"uploading", 0}, {"writing", 0}}).dump());
}

// The local disk's promise: a close syncs nothing; fsync(2) of the file, or of a folder (dlfs
// sync), fsyncs its spool file(s) and the journal before waiting for the upload.
TEST_F(FsWrite, ACloseSyncsNothingAndAnFsyncSyncsTheSpoolFileAndTheJournal) {
  Ino a = put(kRootIno, "a.txt", "hello");
  put(kRootIno, "b.txt", "world");
  EXPECT_EQ(take_synced(), std::vector<std::string>{});
  auto records = spool->list();
  ASSERT_EQ(records.size(), 2u);
  std::string files = spool->dir() + "/files", journal = spool->dir() + "/journal";
  auto until_journal_synced = [&] {
    return wait_until([&] {
      std::lock_guard lock(synced_mu);
      return !synced.empty() && synced.back() == journal;
    }, 10s);
  };
  // No upload workers yet: each call syncs, then waits for the upload.
  auto file_synced = std::async(std::launch::async, [&] { return fs->fsync(a, 0); });
  ASSERT_TRUE(until_journal_synced());
  EXPECT_EQ(take_synced(), (std::vector<std::string>{spool->file_path(records[0].id), files, journal}));
  auto dir_synced = std::async(std::launch::async, [&] { return fs->fsyncdir(kRootIno); });
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(synced_mu);
    return synced.size() >= 4;  // both files, the folder, and the journal (b's record was not in it yet)
  }, 10s));
  auto both = take_synced();
  std::sort(both.begin(), both.end());  // the files in any order, then their folder and the journal
  std::vector<std::string> expected{files, spool->file_path(records[0].id), spool->file_path(records[1].id), journal};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(both, expected);
  fs->start_uploads();
  ASSERT_EQ(file_synced.wait_for(10s), std::future_status::ready);
  ASSERT_EQ(dir_synced.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(file_synced.get());
  EXPECT_TRUE(dir_synced.get());
  EXPECT_EQ(remote_bytes("/a.txt"), "hello");
  EXPECT_EQ(remote_bytes("/b.txt"), "world");
}

TEST_F(FsWrite, WritesAtAnyOffsetAndTruncate) {
  fs->start_uploads();
  auto made = fs->create(kRootIno, "sparse.bin", O_RDWR | O_CREAT);
  ASSERT_TRUE(made);
  Ino ino = made->first.ino;
  std::string x = "XYZ";
  ASSERT_TRUE(fs->write(ino, made->second.fh, 10, std::span<const char>(x.data(), 3)));
  EXPECT_EQ(fs->getattr(ino)->attr.st_size, 13);
  ASSERT_TRUE(fs->setattr(ino, made->second.fh, AttrChange{.size = 11}));  // ftruncate
  EXPECT_EQ(fs->getattr(ino)->attr.st_size, 11);
  ASSERT_TRUE(fs->fsync(ino, made->second.fh));
  fs->release(made->second.fh);
  EXPECT_EQ(remote_bytes("/sparse.bin"), std::string(10, '\0') + "X");
  // truncate(2) of an uploaded file, with no handle.
  auto e = walk("/sparse.bin");
  ASSERT_TRUE(fs->setattr(e->ino, 0, AttrChange{.size = 2}));
  ASSERT_TRUE(fs->fsync(e->ino, 0));
  EXPECT_EQ(remote_bytes("/sparse.bin"), std::string(2, '\0'));
}

TEST_F(FsWrite, EditingAnExistingItemKeepsItsInodeAndId) {
  Item orig = remote.add_file("/a.bin", "0123456789", json{{"k", 1}});
  fs->start_uploads();
  auto e = walk("/a.bin");
  ASSERT_TRUE(e);
  auto opened = fs->open(e->ino, O_RDWR);
  ASSERT_TRUE(opened) << opened.status().to_string();
  std::string xy = "XY";
  ASSERT_TRUE(fs->write(e->ino, opened->fh, 3, std::span<const char>(xy.data(), 2)));
  // Append (the kernel turns O_APPEND into the offset at the end).
  ASSERT_TRUE(fs->write(e->ino, opened->fh, 10, std::span<const char>(xy.data(), 2)));
  EXPECT_EQ(*cat(e->ino), "012XY56789XY");
  ASSERT_TRUE(fs->flush(e->ino, opened->fh));
  fs->release(opened->fh);
  ASSERT_TRUE(fs->fsync(e->ino, 0));
  EXPECT_EQ(remote_bytes("/a.bin"), "012XY56789XY");
  EXPECT_EQ(remote.item_at("/a.bin")->id, orig.id);
  EXPECT_EQ(remote.item_at("/a.bin")->user(), json({{"k", 1}}));
  EXPECT_EQ(walk("/a.bin")->ino, e->ino);
  EXPECT_EQ(fs->getattr(e->ino)->attr.st_size, 12);

  // O_TRUNC overwrite.
  auto t = fs->open(e->ino, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(t);
  EXPECT_EQ(fs->getattr(e->ino)->attr.st_size, 0);
  std::string fresh = "new";
  ASSERT_TRUE(fs->write(e->ino, t->fh, 0, std::span<const char>(fresh.data(), 3)));
  ASSERT_TRUE(fs->flush(e->ino, t->fh));
  fs->release(t->fh);
  ASSERT_TRUE(fs->fsync(e->ino, 0));
  EXPECT_EQ(remote_bytes("/a.bin"), "new");
}

TEST_F(FsWrite, TransientFailuresRetryPermanentOnesAreKept) {
  fs->start_uploads();
  remote.fail_next(RemoteCall::kUpload, 3, EIO);
  Ino ino = put(kRootIno, "flaky.txt", "data");
  ASSERT_TRUE(fs->fsync(ino, 0));
  EXPECT_EQ(remote_bytes("/flaky.txt"), "data");
  EXPECT_EQ(remote.calls(RemoteCall::kUpload), 4u);

  remote.fail_next(RemoteCall::kUpload, 1, EINVAL);
  Ino bad = put(kRootIno, "refused.txt", "nope");
  Status s = fs->fsync(bad, 0);
  EXPECT_EQ(s.err(), EIO);
  auto state = fs->getxattr(bad, "user.dl.upload_state");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->rfind("failed: ", 0), 0u) << *state;
  EXPECT_EQ(*cat(bad), "nope");  // kept, still readable
  auto status = json::parse(*fs->getxattr(kRootIno, "user.dl.uploads"));
  ASSERT_EQ(status["failed"].size(), 1u);
  EXPECT_EQ(status["failed"][0]["path"], "/refused.txt");
  EXPECT_EQ(spool->list().size(), 1u);
  EXPECT_EQ(spool->list()[0].state, UploadState::kFailed);

  // Many retries give up after max_attempts.
  remote.fail_next(RemoteCall::kUpload, 100, ECONNREFUSED);
  Ino gone = put(kRootIno, "down.txt", "x");
  EXPECT_EQ(fs->fsync(gone, 0).err(), EIO);
  remote.fail_next(RemoteCall::kUpload, 0, 0);
}

TEST_F(FsWrite, ClosedFilesSurviveACrashAndResume) {
  Ino ino = put(kRootIno, "a.txt", "alpha");
  put(kRootIno, "b.txt", "beta");
  (void)ino;
  // "Crash": the core goes away with nothing uploaded (no workers ran).
  fs.reset();
  spool.reset();
  open_spool();
  mount();
  fs->resume_journal();
  EXPECT_EQ(names(kRootIno), (std::vector<std::string>{"a.txt", "b.txt"}));
  EXPECT_EQ(*cat(walk("/b.txt")->ino), "beta");
  fs->start_uploads();
  EXPECT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_EQ(remote_bytes("/a.txt"), "alpha");
  EXPECT_EQ(remote_bytes("/b.txt"), "beta");
  EXPECT_TRUE(spool->list().empty());
}

// An edit of a platform item resumed after a crash is shown with the metadata of that item (by
// its id), not with nothing when the mount's cache lost track of it or has another item at its
// path: the attributes set before the crash must still read back at once.
TEST_F(FsWrite, AnEditResumedAfterACrashShowsItsItemsMetadata) {
  remote.add_file("/e.txt", "old", {{"kc", "v1"}});
  auto e = walk("/e.txt");
  ASSERT_TRUE(e);
  ASSERT_TRUE(fs->setxattr(e->ino, "user.meta.kd", "v2", 0));
  auto opened = fs->open(e->ino, O_WRONLY);
  ASSERT_TRUE(opened);
  ASSERT_TRUE(fs->write(e->ino, opened->fh, 0, std::span<const char>("new", 3)));
  // A crash with the file open; the next mount starts with a fresh cache (lost, or another
  // machine's), and the platform cannot answer by path for a moment.
  fs.reset();
  spool.reset();
  cache.reset();
  std::filesystem::remove_all(dir.sub("cache"));
  open_spool();
  mount();
  remote.fail_next(RemoteCall::kGet, 1, EIO);
  fs->resume_journal();
  auto again = walk("/e.txt");
  ASSERT_TRUE(again) << again.status().to_string();
  auto kc = fs->getxattr(again->ino, "user.meta.kc");
  EXPECT_EQ(kc ? *kc : kc.status().to_string(), "v1");
  auto kd = fs->getxattr(again->ino, "user.meta.kd");
  EXPECT_EQ(kd ? *kd : kd.status().to_string(), "v2");
  fs->start_uploads();
  EXPECT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_EQ(remote_bytes("/e.txt"), "new");
  EXPECT_EQ(remote.item_at("/e.txt")->user().value("kd", ""), "v2");
}

TEST_F(FsWrite, FullSpoolAnswersEnospc) {
  fs.reset();
  spool.reset();
  open_spool(1000);
  mount();
  auto made = fs->create(kRootIno, "big", O_WRONLY | O_CREAT);
  ASSERT_TRUE(made);
  std::string chunk(800, 'a');
  ASSERT_TRUE(fs->write(made->first.ino, made->second.fh, 0, std::span<const char>(chunk.data(), chunk.size())));
  auto over = fs->write(made->first.ino, made->second.fh, 800, std::span<const char>(chunk.data(), chunk.size()));
  EXPECT_EQ(over.err(), ENOSPC);
  fs->release(made->second.fh);
}

TEST_F(FsWrite, BadNamesAreRefusedAtCreateAndMkdir) {
  EXPECT_EQ(fs->create(kRootIno, std::string(300, 'n'), O_CREAT | O_WRONLY).err(), ENAMETOOLONG);
  EXPECT_EQ(fs->mkdir(kRootIno, std::string(300, 'n')).err(), ENAMETOOLONG);
  EXPECT_EQ(fs->create(kRootIno, "..", O_CREAT | O_WRONLY).err(), EINVAL);
  remote.add_file("/x", "1");
  EXPECT_EQ(fs->create(kRootIno, "x", O_CREAT | O_EXCL | O_WRONLY).err(), EEXIST);
  EXPECT_EQ(fs->mkdir(kRootIno, "x").err(), EEXIST);
}

TEST_F(FsWrite, FoldersUnlinkAndRename) {
  fs->start_uploads();
  auto d = fs->mkdir(kRootIno, "d");
  ASSERT_TRUE(d) << d.status().to_string();
  EXPECT_TRUE(remote.item_at("/d")->is_dir());
  Ino f = put(d->ino, "f.txt", "f");
  ASSERT_TRUE(fs->fsync(f, 0));
  EXPECT_EQ(fs->rmdir(kRootIno, "d").err(), ENOTEMPTY);
  EXPECT_EQ(fs->rmdir(kRootIno, "nothere").err(), ENOENT);

  // Rename a file; onto an existing file replaces it; NOREPLACE answers EEXIST.
  put(kRootIno, "g.txt", "g");
  ASSERT_TRUE(fs->fsyncdir(kRootIno));
  EXPECT_EQ(fs->rename(kRootIno, "g.txt", d->ino, "f.txt", RENAME_NOREPLACE).err(), EEXIST);
  ASSERT_TRUE(fs->rename(kRootIno, "g.txt", d->ino, "f.txt", 0));
  EXPECT_EQ(remote_bytes("/d/f.txt"), "g");
  EXPECT_FALSE(remote.item_at("/g.txt"));
  // A pending (never uploaded) file renames too.
  fs->stop_uploads();
  put(kRootIno, "p.txt", "pending");
  ASSERT_TRUE(fs->rename(kRootIno, "p.txt", kRootIno, "q.txt", 0));
  EXPECT_EQ(*cat(walk("/q.txt")->ino), "pending");
  fs->start_uploads();
  EXPECT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_EQ(remote_bytes("/q.txt"), "pending");
  EXPECT_FALSE(remote.item_at("/p.txt"));

  // Folders: onto a non-empty folder ENOTEMPTY; a whole folder moves; its known children follow.
  remote.add_file("/full/x", "x");
  EXPECT_EQ(fs->rename(kRootIno, "d", kRootIno, "full", 0).err(), ENOTEMPTY);
  Ino child = walk("/d/f.txt")->ino;
  ASSERT_TRUE(fs->rename(kRootIno, "d", kRootIno, "e", 0));
  EXPECT_EQ(remote_bytes("/e/f.txt"), "g");
  EXPECT_EQ(names(walk("/e")->ino), std::vector<std::string>{"f.txt"});
  EXPECT_FALSE(walk("/d"));
  EXPECT_EQ(*cat(child), "g");
  EXPECT_TRUE(fs->getattr(child));

  // unlink and rmdir.
  ASSERT_TRUE(fs->unlink(walk("/e")->ino, "f.txt"));
  EXPECT_FALSE(remote.item_at("/e/f.txt"));
  EXPECT_EQ(fs->unlink(kRootIno, "e").err(), EISDIR);
  ASSERT_TRUE(fs->rmdir(kRootIno, "e"));
  EXPECT_FALSE(remote.item_at("/e"));
  EXPECT_FALSE(walk("/e"));
  // Unlinking a pending file drops it from the spool.
  fs->stop_uploads();
  put(kRootIno, "tmp", "t");
  ASSERT_TRUE(fs->unlink(kRootIno, "tmp"));
  EXPECT_FALSE(walk("/tmp"));
  EXPECT_TRUE(spool->list().empty());
}

TEST_F(FsWrite, XattrWrites) {
  remote.add_file("/a.jpg", "jpeg");
  fs->start_uploads();
  Ino ino = walk("/a.jpg")->ino;
  ASSERT_TRUE(fs->setxattr(ino, "user.meta.camera", "canon", 0));
  ASSERT_TRUE(fs->setxattr(ino, "user.meta.shot.iso", "400", 0));
  ASSERT_TRUE(fs->setxattr(ino, "user.meta.tags", "[\"a\",\"b\"]", 0));
  ASSERT_TRUE(fs->setxattr(ino, "user.dl.description", "a car", 0));
  EXPECT_EQ(remote.item_at("/a.jpg")->user(),
            json({{"camera", "canon"}, {"shot", {{"iso", 400}}}, {"tags", {"a", "b"}}}));
  EXPECT_EQ(remote.item_at("/a.jpg")->description, "a car");
  EXPECT_EQ(*fs->getxattr(ino, "user.meta.shot.iso"), "400");
  EXPECT_EQ(*fs->getxattr(ino, "user.dl.description"), "a car");
  EXPECT_EQ(fs->setxattr(ino, "user.meta.camera", "x", XATTR_CREATE).err(), EEXIST);
  EXPECT_EQ(fs->setxattr(ino, "user.meta.nope", "x", XATTR_REPLACE).err(), ENODATA);
  ASSERT_TRUE(fs->removexattr(ino, "user.meta.camera"));
  EXPECT_EQ(fs->getxattr(ino, "user.meta.camera").err(), ENODATA);
  EXPECT_FALSE(remote.item_at("/a.jpg")->user().contains("camera"));
  EXPECT_EQ(fs->removexattr(ino, "user.meta.camera").err(), ENODATA);

  EXPECT_EQ(fs->setxattr(ino, "user.dl.mimetype", "x", 0).err(), EPERM);
  EXPECT_EQ(fs->removexattr(ino, "user.dl.id").err(), EPERM);
  EXPECT_EQ(fs->setxattr(ino, "security.selinux", "x", 0).err(), ENOTSUP);
  EXPECT_EQ(fs->setxattr(ino, "trusted.x", "x", 0).err(), ENOTSUP);
  EXPECT_EQ(fs->setxattr(ino, "user.other", "x", 0).err(), ENOTSUP);
  std::string big(65537, 'v');
  EXPECT_EQ(fs->setxattr(ino, "user.meta.big", big, 0).err(), E2BIG);

  // A new file's metadata goes with its upload.
  fs->stop_uploads();
  Ino n = put(kRootIno, "n.txt", "n");
  ASSERT_TRUE(fs->setxattr(n, "user.meta.k", "v", 0));
  EXPECT_EQ(*fs->getxattr(n, "user.meta.k"), "v");
  fs->start_uploads();
  ASSERT_TRUE(fs->fsync(n, 0));
  EXPECT_EQ(remote.item_at("/n.txt")->user(), json({{"k", "v"}}));
}

TEST_F(FsWrite, ReadOnlyMountRefusesWrites) {
  options.read_only = true;
  mount();
  EXPECT_EQ(fs->create(kRootIno, "x", O_CREAT | O_WRONLY).err(), EROFS);
  EXPECT_EQ(fs->mkdir(kRootIno, "x").err(), EROFS);
}

TEST(MountWriteOptions, ParseAndWritableMountsSkipOpenUnlessTold) {
  auto o = parse_mount_args({"mount.dlfs", "ds", "/mnt", "-o",
                             "upload_workers=8,spool_size=1G,sync_upload,unmount_wait=5,no_open,max_pending=77"});
  ASSERT_TRUE(o) << o.status().to_string();
  EXPECT_EQ(o->upload_workers, 8u);
  EXPECT_EQ(o->spool_size, 1ull << 30);
  EXPECT_EQ(o->max_pending, 77u);
  EXPECT_TRUE(o->sync_upload);
  EXPECT_EQ(o->unmount_wait, 5);
  EXPECT_TRUE(o->resolved_no_open());
  auto d = parse_mount_args({"mount.dlfs", "ds", "/mnt"});
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->resolved_no_open());  // writes come with fh 0 (fs/filesystem_implicit.cpp)
  EXPECT_FALSE(parse_mount_args({"mount.dlfs", "ds", "/mnt", "-o", "no_open=0"})->resolved_no_open());
  EXPECT_EQ(d->upload_workers, 4u);
  EXPECT_EQ(d->max_pending, 1024u);
  EXPECT_FALSE(d->sync_upload);
  // Unset, the spool takes what its disk has room for (less 5% of the disk), at least 4 GiB: a
  // file larger than any fixed bound (the 6 GiB) can be written in.
  EXPECT_EQ(d->spool_size, 0u);
  struct statvfs vs {};
  ASSERT_EQ(::statvfs("/tmp", &vs), 0);
  int64_t room = int64_t(vs.f_bavail * vs.f_frsize) - int64_t(vs.f_blocks * vs.f_frsize / 20);
  int64_t want = std::max<int64_t>(4ll << 30, room);
  EXPECT_NEAR(double(auto_spool_size("/tmp")), double(want), double(256 << 20));
  EXPECT_EQ(auto_spool_size("/no/such/dir"), 4ull << 30);
  EXPECT_FALSE(parse_mount_args({"mount.dlfs", "ds", "/mnt", "-o", "upload_workers=0"}));
  EXPECT_FALSE(parse_mount_args({"mount.dlfs", "ds", "/mnt", "-o", "spool_size=lots"}));
  EXPECT_FALSE(parse_mount_args({"mount.dlfs", "ds", "/mnt", "-o", "max_pending=0"}));
}

namespace {

// A listing held once its remote answer is in: a readdir whose listing is in flight while an
// upload ends.
class HeldListRemote : public ForwardingRemote {
 public:
  using ForwardingRemote::ForwardingRemote;
  Result<ItemPage> list_range(std::string_view dir, std::string_view after, std::string_view until,
                              size_t page_size) override {
    auto page = ForwardingRemote::list_range(dir, after, until, page_size);  // asked before the upload ends
    gate.pass();
    return page;
  }
  Gate gate;
};

}  // namespace

// A regression (a flaky `diff -r` after `cp -r`): a listing fetched before an upload's commit
// and answered after the file left the pending set lost the file, and was kept as fresh, so
// lookups of the file answered ENOENT until it expired.
TEST_F(FsWrite, AListingThatRacesAnUploadStillShowsTheFile) {
  auto& held = mount_over<HeldListRemote>();
  put(kRootIno, "a.txt", "first");
  held.gate.arm();
  std::vector<std::string> seen;
  std::thread lister([&] { seen = names(kRootIno); });
  bool was_held = held.gate.wait_held();
  fs->start_uploads();
  EXPECT_EQ(fs->wait_uploads(10s), 0u);
  EXPECT_TRUE(remote.item_at("/a.txt"));
  held.gate.release();
  lister.join();
  ASSERT_TRUE(was_held);
  EXPECT_EQ(seen, std::vector<std::string>{"a.txt"});
  auto e = walk("/a.txt");
  ASSERT_TRUE(e) << e.status().to_string();
  EXPECT_EQ(*cat(e->ino), "first");
  EXPECT_EQ(names(kRootIno), std::vector<std::string>{"a.txt"});
}

TEST_F(FsWrite, FailedUploadsCanBeRetriedOrDiscardedEvenAfterARemount) {
  fs->start_uploads();
  remote.fail_next(RemoteCall::kUpload, 2, EDQUOT);  // permanent: kept as failed at once
  Ino a = put(kRootIno, "a.txt", "alpha");
  EXPECT_EQ(fs->fsync(a, 0).err(), EIO);
  Ino d = fs->mkdir(kRootIno, "d").value().ino;
  Ino b = put(d, "b.txt", "beta");
  EXPECT_EQ(fs->fsync(b, 0).err(), EIO);
  EXPECT_EQ(json::parse(*fs->getxattr(kRootIno, "user.dl.uploads"))["failed"].size(), 2u);
  EXPECT_EQ(fs->setxattr(kRootIno, "user.dl.retry", "/nothing/here", 0).err(), ENOENT)
      << fs->setxattr(kRootIno, "user.dl.retry", "/nothing/here", 0).to_string();

  // A remount finds both in the journal, still failed and not retried by themselves.
  fs.reset();
  mount();
  fs->start_uploads();
  EXPECT_EQ(fs->wait_uploads(1s), 0u);
  EXPECT_FALSE(remote.item_at("/a.txt"));
  auto status = json::parse(*fs->getxattr(kRootIno, "user.dl.uploads"));
  ASSERT_EQ(status["failed"].size(), 2u);

  // Retry one folder: only what is under it goes.
  ASSERT_TRUE(fs->setxattr(kRootIno, "user.dl.retry", "/d", 0));
  EXPECT_EQ(fs->wait_uploads(5s), 0u);
  EXPECT_EQ(remote_bytes("/d/b.txt"), "beta");
  status = json::parse(*fs->getxattr(kRootIno, "user.dl.uploads"));
  ASSERT_EQ(status["failed"].size(), 1u);
  EXPECT_EQ(status["failed"][0]["path"], "/a.txt");

  // Discard the other: gone from the listing and from the spool, never uploaded.
  ASSERT_TRUE(fs->setxattr(kRootIno, "user.dl.discard", "/a.txt", 0));
  EXPECT_EQ(json::parse(*fs->getxattr(kRootIno, "user.dl.uploads"))["failed"].size(), 0u);
  EXPECT_EQ(names(kRootIno), std::vector<std::string>{"d"});
  EXPECT_TRUE(spool->list().empty());
  EXPECT_EQ(spool->used_bytes(), 0u);
  EXPECT_FALSE(remote.item_at("/a.txt"));
  EXPECT_EQ(fs->setxattr(kRootIno, "user.dl.discard", "*", 0).err(), ENOENT);
}


// A regression (`echo hi > f; dlfs sync` taking 20 s now and then): the shell's first close of
// the new, empty file queued an upload; the write landed while it was in flight, so the
// platform got more bytes than measured, the size check failed, and the retry (its attempt
// count reset by the second close, so the backoff shift overflowed to the maximum) waited the
// longest backoff before the new bytes went up.
TEST_F(FsWrite, AFileWrittenAgainWhileItUploadsGoesUpAtOnce) {
  options.retry_base_ms = 60000;
  options.retry_max_ms = 60000;
  auto& held = mount_over<HeldUploadRemote>();
  held.gate.arm();
  fs->start_uploads();
  auto made = fs->create(kRootIno, "f", O_WRONLY | O_CREAT | O_TRUNC);
  ASSERT_TRUE(made);
  Ino ino = made->first.ino;
  uint64_t fh = made->second.fh;
  ASSERT_TRUE(fs->flush(ino, fh));  // empty: queued
  bool was_held = held.gate.wait_held();
  std::string hi = "hi\n";
  ASSERT_EQ(*fs->write(ino, fh, 0, std::span<const char>(hi.data(), hi.size())), 3u);
  ASSERT_TRUE(fs->flush(ino, fh));
  fs->release(fh);
  held.gate.release();
  ASSERT_TRUE(was_held);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(fs->wait_uploads(20s), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(remote_bytes("/f"), "hi\n");
  auto state = json::parse(*fs->getxattr(kRootIno, "user.dl.uploads"));
  EXPECT_TRUE(state["failed"].empty()) << state.dump();
}

// A server that stalls (accepts, never answers) cost a stall bound per request: `cp -r` into a
// folder of the mount did 2 files in 11 minutes. Once the remote says the server is away, names
// the mount knows (listed folders, folders it made), new files and new folders (nested too) and
// the quota are answered without a single call; everything goes up once it answers again.
namespace {
struct QuotaCounting : ForwardingRemote {
  using ForwardingRemote::ForwardingRemote;
  Result<QuotaInfo> quota() override {
    ++asked;
    return inner_.quota();
  }
  std::atomic<int> asked{0};
};
}  // namespace

TEST_F(FsWrite, WhileTheServerIsAwayKnownNamesNewFilesAndFoldersCallNothing) {
  remote.add_file("/d/a.txt", "a");
  remote.set_items_quota(1000);
  options.dir_ttl_ms = 1000;
  QuotaCounting& counting = mount_over<QuotaCounting>();
  Ino d = walk("/d")->ino;
  ASSERT_EQ(names(d), std::vector<std::string>{"a.txt"});
  auto m = fs->mkdir(kRootIno, "m");  // made on the platform while it answers
  ASSERT_TRUE(m) << m.status().to_string();
  put(kRootIno, "first.txt", "1");  // asks the quota
  ASSERT_GE(counting.asked, 1);
  clock.advance_ms(60000);  // every listing, item and quota answer is stale now

  remote.set_away(true);
  remote.reset_calls();
  counting.asked = 0;
  EXPECT_TRUE(walk("/d/a.txt"));
  EXPECT_EQ(walk("/d/none").err(), ENOENT);
  EXPECT_EQ(names(d), std::vector<std::string>{"a.txt"});
  EXPECT_EQ(walk("/m/none").err(), ENOENT);
  put(d, "b.txt", "bee");
  put(m->ino, "c.txt", "sea");
  auto sub = fs->mkdir(m->ino, "sub");
  ASSERT_TRUE(sub) << sub.status().to_string();
  put(sub->ino, "e.txt", "eee");
  EXPECT_EQ(fs->mkdir(m->ino, "sub").err(), EEXIST);
  EXPECT_EQ(names(m->ino), (std::vector<std::string>{"c.txt", "sub"}));
  EXPECT_EQ(names(sub->ino), std::vector<std::string>{"e.txt"});
  EXPECT_EQ(remote.total_calls(), 0u);
  EXPECT_EQ(counting.asked, 0);
  // A name the mount knows nothing of (a folder never listed) still asks.
  remote.add_file("/unlisted/x.txt", "x");
  EXPECT_TRUE(walk("/unlisted/x.txt"));
  EXPECT_GE(remote.calls(RemoteCall::kGet), 1u);

  // Back: everything goes up.
  remote.set_away(false);
  fs->start_uploads();
  EXPECT_EQ(fs->wait_uploads(10s), 0u);
  EXPECT_EQ(remote_bytes("/d/b.txt"), "bee");
  EXPECT_EQ(remote_bytes("/m/c.txt"), "sea");
  EXPECT_EQ(remote_bytes("/m/sub/e.txt"), "eee");
  ASSERT_TRUE(remote.item_at("/m/sub"));
  EXPECT_TRUE(remote.item_at("/m/sub")->is_dir());
}

// Memory bounded: a copy faster than the uploads kept every file it made pending in memory (a
// `cp -r` of 100,000 files: over 700 MB). Past max_pending files waiting, a new file waits for
// uploads to land; never for uploads that do not move.
namespace {
class SlowUploadRemote : public ForwardingRemote {
 public:
  using ForwardingRemote::ForwardingRemote;
  Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                              const UploadOptions& options) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
    if (fail) return Status(EIO, "the test's server fails every upload");
    return ForwardingRemote::upload(local_file, remote_path, options);
  }
  std::atomic<int> delay_ms{10};
  std::atomic<bool> fail{false};
};
}  // namespace

TEST_F(FsWrite, NewFilesWaitForUploadsBeyondMaxPendingButNeverForUploadsThatDoNotMove) {
  options.max_pending = 5;
  options.upload_workers = 2;
  options.upload_batch = 1;  // (one file in flight per worker: the bound below is exact)
  options.max_attempts = 1000000;  // (the failing uploads below keep trying)
  auto& slow = mount_over<SlowUploadRemote>();
  fs->start_uploads();
  size_t most = 0;
  for (int i = 0; i < 60; ++i) {
    put(kRootIno, "f" + std::to_string(i), "bytes " + std::to_string(i));
    auto state = json::parse(*fs->getxattr(kRootIno, "user.dl.uploads"));
    most = std::max<size_t>(most, state["pending"].get<size_t>() + state["uploading"].get<size_t>() +
                                      state["writing"].get<size_t>());
  }
  // (the queue's 5, the 2 being uploaded, and the file just made)
  EXPECT_LE(most, 8u);
  EXPECT_GE(most, 3u);  // (the uploads were behind: the bound was what held them)
  EXPECT_EQ(fs->wait_uploads(30s), 0u);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(remote_bytes("/f" + std::to_string(i)), "bytes " + std::to_string(i));

  // Every upload failing: nothing lands, and new files stop waiting for landings (2 s) that do
  // not come.
  slow.fail = true;
  slow.delay_ms = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; ++i) put(kRootIno, "g" + std::to_string(i), "g");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
  slow.fail = false;
  EXPECT_EQ(fs->wait_uploads(60s), 0u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(remote_bytes("/g" + std::to_string(i)), "g") << i;
}

// Files kept as failed are not a backlog: with more of them than max_pending, new files were
// made to wait for 2 s without a landing each (one file per 2 s while the others landed).
namespace {
class RefusingRemote : public ForwardingRemote {
 public:
  using ForwardingRemote::ForwardingRemote;
  Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                              const UploadOptions& options) override {
    if (std::string(remote_path).find("/refused/") != std::string::npos)
      return Status(EACCES, "the test's server refuses this folder");
    return ForwardingRemote::upload(local_file, remote_path, options);
  }
};
}  // namespace

TEST_F(FsWrite, FilesKeptAsFailedDoNotMakeNewFilesWait) {
  options.max_pending = 3;
  mount_over<RefusingRemote>();
  fs->start_uploads();
  auto dir = fs->mkdir(kRootIno, "refused");
  ASSERT_TRUE(dir) << dir.status().to_string();
  for (int i = 0; i < 8; ++i) put(dir->ino, "r" + std::to_string(i), "r");
  fs->wait_uploads(20s);
  auto state = json::parse(*fs->getxattr(kRootIno, "user.dl.uploads"));
  ASSERT_EQ(state["failed"].size(), 8u) << state.dump();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) put(kRootIno, "ok" + std::to_string(i), "ok");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 6s);
  EXPECT_EQ(fs->wait_uploads(20s), 0u);  // (the failed ones are not waited for)
  for (int i = 0; i < 20; ++i) EXPECT_EQ(remote_bytes("/ok" + std::to_string(i)), "ok") << i;
}
