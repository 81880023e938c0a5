// The upload spool: records and files, states, byte bound with ENOSPC after a wait, a reopen
// after a simulated crash, what each promise syncs (through the on_sync seam), and a journal
// rebuilt from the spool files after a power loss left it unreadable.
#include <gtest/gtest.h>

#include <algorithm>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/xattr.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include <atomic>
#include <cstring>

#include "cache/upload_spool.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

// The spool keeps each new file's record in its file's user xattr: a disk without them (some
// tmpfs) cannot run the tests that rely on it.
bool keeps_user_xattrs(const std::string& path) { return ::setxattr(path.c_str(), "user.probe", "1", 1, 0) == 0; }
constexpr const char* kNoUserXattrs = "the temp folder's disk keeps no user xattrs";

SpoolOptions opts(const TempDir& dir, uint64_t max = 1 << 20) {
  SpoolOptions o;
  o.dir = dir.sub("spool");
  o.max_bytes = max;
  o.full_wait = 200ms;
  o.journal_sync_period = 0ms;  // the tests below sync when they say so
  return o;
}

// What the spool fsynced, in order (SpoolOptions::on_sync).
struct SyncLog {
  std::mutex mu;
  std::vector<std::string> synced;
  void attach(SpoolOptions& o) {
    o.on_sync = [this](const std::string& what) {
      std::lock_guard lock(mu);
      synced.push_back(what);
    };
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mu);
    return std::exchange(synced, {});
  }
};

// Runs `body` on the spool of `o` in a child process that then dies by SIGKILL, no cleanup at
// all (a mount killed with kill -9). `body` answers 0, or an exit code naming what failed.
// True once the child was killed as planned.
bool killed_after(const SpoolOptions& o, const std::function<int(UploadSpool&)>& body) {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    auto spool = UploadSpool::open(o);
    if (!spool) _exit(2);
    if (int failed = body(**spool)) _exit(failed);
    kill(getpid(), SIGKILL);
    _exit(9);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return false;
  EXPECT_TRUE(WIFSIGNALED(status)) << "child exit " << WEXITSTATUS(status);
  return WIFSIGNALED(status);
}

}  // namespace

TEST(UploadSpool, CreateWriteCloseListRemove) {
  TempDir dir;
  auto spool = UploadSpool::open(opts(dir));
  ASSERT_TRUE(spool) << spool.status().to_string();
  struct stat st {};
  ASSERT_EQ(::stat(dir.sub("spool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  auto a = (*spool)->create("ds1", "/a.txt", "");
  auto b = (*spool)->create("ds1", "/b.txt", "item-b");
  auto c = (*spool)->create("ds2", "/c.txt", "");
  ASSERT_TRUE(a && b && c);
  EXPECT_NE(a->id, b->id);
  EXPECT_EQ(a->state, UploadState::kWriting);
  ASSERT_TRUE((*spool)->resize(a->id, 5).is_ok());
  write_file((*spool)->file_path(a->id), "hello");
  ASSERT_TRUE((*spool)->close_file(a->id).is_ok());
  auto got = (*spool)->get(a->id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, UploadState::kPending);
  EXPECT_EQ(got->size, 5u);
  EXPECT_EQ(got->path, "/a.txt");
  EXPECT_EQ((*spool)->get(b->id)->item_id, "item-b");

  EXPECT_EQ((*spool)->list("ds1").size(), 2u);
  EXPECT_EQ((*spool)->list().size(), 3u);
  EXPECT_EQ((*spool)->pending("ds2").size(), 1u);

  got->state = UploadState::kFailed;
  got->attempts = 3;
  got->last_error = "refused name";
  ASSERT_TRUE((*spool)->update(*got).is_ok());
  EXPECT_EQ((*spool)->pending("ds1").size(), 1u);  // b only; failed ones are kept, not resumed
  EXPECT_EQ((*spool)->get(a->id)->last_error, "refused name");

  EXPECT_EQ((*spool)->used_bytes(), 5u);
  ASSERT_TRUE((*spool)->remove(a->id).is_ok());
  EXPECT_FALSE((*spool)->get(a->id));
  EXPECT_NE(::access((*spool)->file_path(a->id).c_str(), F_OK), 0);
  EXPECT_EQ((*spool)->used_bytes(), 0u);
}

TEST(UploadSpool, FullAnswersEnospcAfterAWaitAndRoomWakesWriters) {
  TempDir dir;
  auto spool = std::move(UploadSpool::open(opts(dir, 1000))).value();
  auto a = spool->create("ds", "/a", "").value();
  auto b = spool->create("ds", "/b", "").value();
  ASSERT_TRUE(spool->resize(a.id, 800).is_ok());
  auto t0 = std::chrono::steady_clock::now();
  Status full = spool->resize(b.id, 300);
  EXPECT_EQ(full.err(), ENOSPC);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
  EXPECT_TRUE(spool->resize(b.id, 200).is_ok());  // exactly fits
  // Larger than any file a dataset holds: EFBIG at once (pjdfstest truncate/12).
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(spool->resize(b.id, kMaxFileBytes + 1).err(), EFBIG);
  EXPECT_EQ(spool->resize(b.id, 999999999999999999ull).err(), EFBIG);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 100ms);
  // A writer waiting for room gets it when another entry is released.
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(spool->remove(a.id).is_ok());
  });
  EXPECT_TRUE(spool->resize(b.id, 900).is_ok());
  releaser.join();
  EXPECT_EQ(spool->used_bytes(), 900u);
  EXPECT_TRUE(spool->resize(b.id, 10).is_ok());  // shrinking never waits
  EXPECT_EQ(spool->used_bytes(), 10u);
}

TEST(UploadSpool, SurvivesACrash) {
  TempDir dir;
  uint64_t id = 0;
  // The child writes, closes and dies without any cleanup.
  ASSERT_TRUE(killed_after(opts(dir), [](UploadSpool& spool) {
    auto r = spool.create("ds", "/photos/x.jpg", "");
    if (!r) return 3;
    write_file(spool.file_path(r->id), std::string(1234, 'x'));
    if (!spool.resize(r->id, 1234) || !spool.close_file(r->id)) return 4;
    auto w = spool.create("ds", "/photos/half.jpg", "");  // still being written
    if (!w) return 5;
    write_file(spool.file_path(w->id), "partial");
    return 0;
  }));

  auto spool = std::move(UploadSpool::open(opts(dir))).value();
  auto pending = spool->pending("ds");
  ASSERT_EQ(pending.size(), 2u);
  id = pending[0].id;
  EXPECT_EQ(pending[0].path, "/photos/x.jpg");
  EXPECT_EQ(pending[0].state, UploadState::kPending);
  EXPECT_EQ(pending[0].size, 1234u);
  EXPECT_EQ(read_file(spool->file_path(id)), std::string(1234, 'x'));
  // Never closed, never journaled: found by its spool file's xattr, and resumed as it is.
  EXPECT_EQ(pending[1].path, "/photos/half.jpg");
  EXPECT_EQ(pending[1].state, UploadState::kPending);
  EXPECT_EQ(pending[1].size, 7u);
  EXPECT_EQ(spool->used_bytes(), 1234u + 7u);
  // New ids never reuse old ones.
  auto fresh = spool->create("ds", "/y", "").value();
  EXPECT_GT(fresh.id, pending[1].id);
}

// The local disk's promise: a close syncs nothing (it survives a SIGKILL, SurvivesACrash); sync()
// fsyncs the files asked, their folder and the journal once; durable_close syncs at every close.
TEST(UploadSpool, CloseSyncsNothingAndSyncMakesFilesAndJournalDurable) {
  TempDir dir;
  SyncLog log;
  SpoolOptions o = opts(dir);
  log.attach(o);
  auto spool = std::move(UploadSpool::open(o)).value();
  std::string files = o.dir + "/files", journal = o.dir + "/journal";
  auto a = spool->create("ds", "/a", "").value();
  auto b = spool->create("ds", "/b", "").value();
  write_file(spool->file_path(a.id), "aaa");
  write_file(spool->file_path(b.id), "bb");
  ASSERT_TRUE(spool->close_file(a.id));
  ASSERT_TRUE(spool->close_file(b.id));
  EXPECT_EQ(log.take(), std::vector<std::string>{});
  ASSERT_TRUE(spool->sync({a.id, b.id}));
  EXPECT_EQ(log.take(), (std::vector<std::string>{spool->file_path(a.id), spool->file_path(b.id), files, journal}));
  // Nothing committed since: the journal is not synced again. A removed file is skipped.
  ASSERT_TRUE(spool->remove(b.id));
  ASSERT_TRUE(spool->sync({a.id}));
  EXPECT_EQ(log.take(), (std::vector<std::string>{spool->file_path(a.id), files, journal}));  // the remove was a commit
  ASSERT_TRUE(spool->sync({a.id, b.id}));
  EXPECT_EQ(log.take(), (std::vector<std::string>{spool->file_path(a.id), files}));
  spool.reset();
  EXPECT_EQ(log.take(), std::vector<std::string>{});  // nothing left to sync at the end

  SpoolOptions durable = opts(dir);
  durable.durable_close = true;
  log.attach(durable);
  auto d = std::move(UploadSpool::open(durable)).value();
  auto c = d->create("ds", "/c", "").value();
  EXPECT_EQ(log.take(), (std::vector<std::string>{files, journal}));
  write_file(d->file_path(c.id), "c");
  ASSERT_TRUE(d->close_file(c.id));
  EXPECT_EQ(log.take(), (std::vector<std::string>{d->file_path(c.id), journal}));
}

TEST(UploadSpool, TheBackgroundSyncerSyncsTheJournalAfterCommits) {
  TempDir dir;
  SyncLog log;
  SpoolOptions o = opts(dir);
  o.journal_sync_period = 20ms;
  log.attach(o);
  auto spool = std::move(UploadSpool::open(o)).value();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(log.take(), std::vector<std::string>{});  // nothing to sync yet
  auto a = spool->create("ds", "/a", "").value();
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(log.mu);
    return !log.synced.empty();
  }, 5s));
  EXPECT_EQ(log.take(), std::vector<std::string>{o.dir + "/journal"});
}

// Concurrent sync() calls share journal syncs: never more than the callers, and each caller's
// own records are durable when its call returns (the journal synced after its commit).
TEST(UploadSpool, ConcurrentSyncsShareJournalSyncs) {
  TempDir dir;
  std::atomic<int> journal_syncs{0};
  SpoolOptions o = opts(dir, 64 << 20);
  o.on_sync = [&](const std::string& what) {
    if (what.ends_with("/journal")) ++journal_syncs;
  };
  auto spool = std::move(UploadSpool::open(o)).value();
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = spool->create("ds", "/t" + std::to_string(t) + "/" + std::to_string(i), "");
        if (!r || !spool->close_file(r->id) || !spool->sync({r->id})) ++failures;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(journal_syncs.load(), 1);
  EXPECT_LE(journal_syncs.load(), kThreads * kEach);
  EXPECT_EQ(spool->pending("ds").size(), size_t(kThreads * kEach));
}

// A power loss can leave the journal's pages half written (it is not fsynced at every commit):
// the next open moves it aside and rebuilds every record from its spool file's xattr.
TEST(UploadSpool, AnUnreadableJournalIsRebuiltFromTheSpoolFiles) {
  TempDir dir;
  SpoolOptions o = opts(dir);
  std::vector<SpoolRecord> before;
  std::string instance;
  {
    auto spool = std::move(UploadSpool::open(o)).value();
    if (!keeps_user_xattrs(spool->file_path(spool->create("ds", "/probe", "").value().id)))
      GTEST_SKIP() << kNoUserXattrs << ": " << strerror(errno);
    auto a = spool->create("ds", "/photos/a.jpg", "").value();
    write_file(spool->file_path(a.id), "AAAA");
    ASSERT_TRUE(spool->resize(a.id, 4));
    ASSERT_TRUE(spool->close_file(a.id));
    auto b = spool->create("ds", "/b.txt", "item-b").value();  // an edit, still being written
    b.patch = nlohmann::json{{"metadata", {{"user", {{"camera", "cam-7"}}}}}};
    ASSERT_TRUE(spool->update(b));
    auto gone = spool->create("ds", "/gone", "").value();
    ASSERT_TRUE(spool->remove(gone.id));
    before = spool->list();
    instance = spool->instance_id();
  }
  // Torn pages: the data file's header overwritten.
  std::string data = o.dir + "/journal/data.mdb";
  std::string garbage(8192, '\x5a');
  write_file(data, garbage);
  auto reopened = UploadSpool::open(o);
  ASSERT_TRUE(reopened) << reopened.status().to_string();
  auto& spool = *reopened;
  auto after = spool->list();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].id, before[i].id);
    EXPECT_EQ(after[i].path, before[i].path);
    EXPECT_EQ(after[i].item_id, before[i].item_id);
    EXPECT_EQ(after[i].state, UploadState::kPending);  // closed or still written: uploaded next
    EXPECT_EQ(after[i].size, before[i].size);         // (from the file)
    EXPECT_EQ(after[i].patch, before[i].patch);
  }
  EXPECT_EQ(spool->used_bytes(), 4u);
  // The same instance: an upload whose answer was lost is still recognized by its token.
  EXPECT_EQ(spool->instance_id(), instance);
  auto fresh = spool->create("ds", "/new", "").value();
  EXPECT_GT(fresh.id, before.back().id);
  int aside = 0;
  for (const auto& e : std::filesystem::directory_iterator(o.dir))
    if (e.path().filename().string().starts_with("journal.unreadable-")) ++aside;
  EXPECT_EQ(aside, 1);  // kept for a post-mortem
}

// The xattr a rebuild reads is written when where the bytes go changes (create, an item id, a
// patch), not at every close or state change: a setxattr changes the file's ctime, so an
// unchanged ctime shows that none was made.
TEST(UploadSpool, TheRebuildXattrIsWrittenOnlyWhenWhereTheBytesGoChanges) {
  TempDir dir;
  auto spool = std::move(UploadSpool::open(opts(dir))).value();
  auto a = spool->create("ds", "/a.jpg", "").value();
  std::string file = spool->file_path(a.id);
  char probe[8];
  if (::getxattr(file.c_str(), "user.dlfs.record", probe, 0) < 0)
    GTEST_SKIP() << kNoUserXattrs << ": " << strerror(errno);
  write_file(file, "AAAA");
  auto ctime = [&] {
    struct stat st {};
    EXPECT_EQ(::stat(file.c_str(), &st), 0);
    return std::pair(st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  };
  auto before = ctime();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(spool->close_file(a.id));
  auto rec = spool->get(a.id).value();
  rec.state = UploadState::kUploading;
  rec.attempts = 3;
  rec.last_error = "the server is away";
  ASSERT_TRUE(spool->update(rec));
  EXPECT_EQ(ctime(), before) << "a close or a state change rewrote the xattr";
  rec.item_id = "item-a";  // the platform's item now: a rebuild must know it
  ASSERT_TRUE(spool->update(rec));
  EXPECT_NE(ctime(), before);
  std::string kept(4096, '\0');
  ssize_t n = ::getxattr(file.c_str(), "user.dlfs.record", kept.data(), kept.size());
  ASSERT_GT(n, 0);
  EXPECT_NE(kept.substr(0, size_t(n)).find("item-a"), std::string::npos);
}

// A power loss can keep a file's unlink and lose the journal commit before it (remove() deletes
// the record, then the file): a record with no spool file was uploaded, and goes at the next open.
TEST(UploadSpool, ARecordWhoseFileIsGoneIsDroppedAtOpen) {
  TempDir dir;
  SpoolOptions o = opts(dir);
  uint64_t kept = 0, gone = 0;
  {
    auto spool = std::move(UploadSpool::open(o)).value();
    kept = spool->create("ds", "/kept", "").value().id;
    gone = spool->create("ds", "/gone", "").value().id;
    ASSERT_TRUE(spool->close_file(gone));
    ASSERT_EQ(::unlink(spool->file_path(gone).c_str()), 0);
  }
  auto spool = std::move(UploadSpool::open(o)).value();
  auto left = spool->list();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, kept);
  EXPECT_FALSE(spool->get(gone));
}

// A new file costs the journal nothing until there is something to promise of it: create and
// close keep its record in memory (where the bytes go is its spool file's xattr), remove drops
// it without a commit; an update (a rename, a failure) or a sync journals it. Ids are reserved
// in blocks: one commit for many creates.
TEST(UploadSpool, NewFilesAreJournaledOnlyWhenSomethingIsPromised) {
  TempDir dir;
  auto spool = std::move(UploadSpool::open(opts(dir))).value();
  if (!keeps_user_xattrs(dir.path())) GTEST_SKIP() << kNoUserXattrs << ": " << strerror(errno);
  (void)spool->create("ds", "/first", "").value();  // (reserves a block of ids)
  uint64_t before = spool->journal_commits();
  std::vector<uint64_t> ids;
  for (int i = 0; i < 20; ++i) {
    auto r = spool->create("ds", "/f" + std::to_string(i), "").value();
    write_file(spool->file_path(r.id), "bytes");
    ASSERT_TRUE(spool->close_file(r.id));
    ids.push_back(r.id);
  }
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(spool->remove(ids[i]));
  EXPECT_EQ(spool->journal_commits(), before);
  // Seen by list() and get() all the same, with their state and size.
  auto got = spool->get(ids[15]);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, UploadState::kPending);
  EXPECT_EQ(got->size, 5u);
  EXPECT_EQ(spool->list("ds").size(), 11u);  // /first and the 10 kept
  EXPECT_FALSE(spool->get(ids[0]));
  EXPECT_NE(::access(spool->file_path(ids[0]).c_str(), F_OK), 0);
  // An update journals it; a sync journals those it names.
  got->path = "/renamed";
  ASSERT_TRUE(spool->update(*got));
  EXPECT_EQ(spool->journal_commits(), before + 1);
  ASSERT_TRUE(spool->sync({ids[16], ids[17]}));
  EXPECT_EQ(spool->journal_commits(), before + 3);
  EXPECT_EQ(spool->get(ids[15])->path, "/renamed");
}

// The promise of a close, kept without a journal commit: a mount killed right after its closes
// returned loses none of those files (resumed from their spool files' xattrs, pending, with
// their sizes); a spool file that names no upload (its process died inside create) is dropped.
TEST(UploadSpool, FilesClosedBeforeASigkillAreResumedFromTheirSpoolFiles) {
  TempDir dir;
  SpoolOptions o = opts(dir);
  ASSERT_TRUE(std::filesystem::create_directories(o.dir));
  if (!keeps_user_xattrs(o.dir)) GTEST_SKIP() << kNoUserXattrs << ": " << strerror(errno);
  ASSERT_TRUE(killed_after(o, [&](UploadSpool& spool) {
    for (int i = 0; i < 50; ++i) {
      auto r = spool.create("ds", "/copied/f" + std::to_string(i), "");
      if (!r) return 3;
      write_file(spool.file_path(r->id), std::string(size_t(100 + i), 'a' + char(i % 26)));
      if (!spool.resize(r->id, uint64_t(100 + i)) || !spool.close_file(r->id)) return 4;
    }
    write_file(o.dir + "/files/00000000000f0000", "made by a create that never answered");
    return 0;
  }));

  auto spool = std::move(UploadSpool::open(o)).value();
  auto pending = spool->pending("ds");
  ASSERT_EQ(pending.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(pending[size_t(i)].path, "/copied/f" + std::to_string(i));
    EXPECT_EQ(pending[size_t(i)].state, UploadState::kPending);
    EXPECT_EQ(pending[size_t(i)].size, uint64_t(100 + i));
    EXPECT_EQ(read_file(spool->file_path(pending[size_t(i)].id)), std::string(size_t(100 + i), 'a' + char(i % 26)));
  }
  EXPECT_NE(::access((o.dir + "/files/00000000000f0000").c_str(), F_OK), 0);
  // Resumed records are journaled now, and new ids pass every file's.
  auto fresh = spool->create("ds", "/new", "").value();
  EXPECT_GT(fresh.id, 0xf0000u);
  spool.reset();
  auto again = std::move(UploadSpool::open(o)).value();
  EXPECT_EQ(again->pending("ds").size(), 51u);
}

// Two processes on one spool folder: one that is not alone there leaves the files it does not
// know alone (they are another mount's files being written), and ids never collide.
TEST(UploadSpool, AnOpenThatIsNotAloneLeavesOtherFilesAlone) {
  TempDir dir;
  SpoolOptions o = opts(dir);
  auto first = std::move(UploadSpool::open(o)).value();
  auto a = first->create("ds", "/a", "").value();
  write_file(first->file_path(a.id), "being written");
  std::string stray = o.dir + "/files/00000000000e0000";
  write_file(stray, "no record, no xattr");
  // The second one in a child process (LMDB allows one environment per process).
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto second = UploadSpool::open(o);
    if (!second) _exit(2);
    if (::access(stray.c_str(), F_OK) != 0) _exit(3);
    auto b = (*second)->create("ds", "/b", "");
    if (!b || b->id == a.id) _exit(4);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(read_file(first->file_path(a.id)), "being written");
  first.reset();
  // Alone now: the stray file goes.
  auto alone = std::move(UploadSpool::open(o)).value();
  EXPECT_NE(::access(stray.c_str(), F_OK), 0);
}

// Bytes the mount copies in itself (an edited item's old bytes) are promised nothing until the
// copy is whole (promise) or the file's first close: a crash mid-copy leaves nothing that the
// next mount would send back over the item (cut short, or empty after an open with O_TRUNC).
// Promised, it is resumed as far as it was written, as a new file is.
TEST(UploadSpool, ACopyNotPromisedYetIsDroppedByACrashAndKeptOncePromisedOrClosed) {
  TempDir dir;
  SpoolOptions o = opts(dir);
  ASSERT_TRUE(std::filesystem::create_directories(o.dir));
  if (!keeps_user_xattrs(o.dir)) GTEST_SKIP() << kNoUserXattrs << ": " << strerror(errno);
  ASSERT_TRUE(killed_after(o, [](UploadSpool& spool) {
    auto cut = spool.create("ds", "/big.bin", "item-big", false, nullptr, /*promised=*/false);
    auto empty = spool.create("ds", "/trunc.bin", "item-trunc", false, nullptr, /*promised=*/false);
    auto edited = spool.create("ds", "/edited.bin", "item-edited", false, nullptr, /*promised=*/false);
    auto copied = spool.create("ds", "/copied.bin", "item-copied", false, nullptr, /*promised=*/false);
    if (!cut || !empty || !edited || !copied) return 3;
    write_file(spool.file_path(cut->id), "the first half of ");
    write_file(spool.file_path(edited->id), "old bytes, then the user's");
    write_file(spool.file_path(copied->id), "all the old bytes");
    if (!spool.promise(copied->id)) return 5;
    write_file(spool.file_path(copied->id), "all the old bytes + some");  // (still being written)
    return spool.close_file(edited->id) ? 0 : 4;
  }));
  auto spool = std::move(UploadSpool::open(o)).value();
  auto pending = spool->pending("ds");
  ASSERT_EQ(pending.size(), 2u);
  std::sort(pending.begin(), pending.end(), [](auto& a, auto& b) { return a.path < b.path; });
  EXPECT_EQ(pending[0].path, "/copied.bin");
  EXPECT_EQ(pending[0].item_id, "item-copied");
  EXPECT_EQ(read_file(spool->file_path(pending[0].id)), "all the old bytes + some");
  EXPECT_EQ(pending[1].path, "/edited.bin");
  EXPECT_EQ(pending[1].item_id, "item-edited");
  EXPECT_EQ(read_file(spool->file_path(pending[1].id)), "old bytes, then the user's");
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(o.dir + "/files")) files += e.is_regular_file();
  EXPECT_EQ(files, 2u);
}

// unshare: the spool file gets an inode of its own, with its bytes and its record xattr, while
// a descriptor (or a hard link: the platform's stored binary) keeps the old one; a file removed
// meanwhile is not brought back; a copy a crash left half-made goes at the next open.
TEST(UploadSpool, UnshareGivesTheFileANewInodeWithItsBytesAndRecord) {
  TempDir dir;
  SpoolOptions o = opts(dir);
  auto spool = std::move(UploadSpool::open(o)).value();
  auto a = spool->create("ds", "/a.jpg", "item-a").value();
  std::string file = spool->file_path(a.id);
  write_file(file, "AAAA");
  ASSERT_TRUE(spool->close_file(a.id));
  std::string linked = dir.sub("linked");
  ASSERT_EQ(::link(file.c_str(), linked.c_str()), 0);
  ASSERT_TRUE(spool->unshare(a.id));
  struct stat was {}, now {};
  ASSERT_EQ(::stat(linked.c_str(), &was), 0);
  ASSERT_EQ(::stat(file.c_str(), &now), 0);
  EXPECT_NE(was.st_ino, now.st_ino);
  EXPECT_EQ(now.st_nlink, 1u);
  EXPECT_EQ(was.st_nlink, 1u);
  write_file(file, "BBBB");
  EXPECT_EQ(read_file(linked), "AAAA");
  char probe[8];
  if (::getxattr(linked.c_str(), "user.dlfs.record", probe, 0) >= 0) {
    std::string kept(4096, '\0');
    ssize_t n = ::getxattr(file.c_str(), "user.dlfs.record", kept.data(), kept.size());
    ASSERT_GT(n, 0) << "the record's xattr did not go with the copy";
    EXPECT_NE(kept.substr(0, size_t(n)).find("item-a"), std::string::npos);
  }
  ASSERT_TRUE(spool->remove(a.id));
  EXPECT_EQ(spool->unshare(a.id).err(), ENOENT);
  EXPECT_NE(::access(file.c_str(), F_OK), 0);
  // A half-made copy of a crashed process: gone at the next open (when alone).
  write_file(o.dir + "/unshare/0000000000000042", "half");
  spool.reset();
  spool = std::move(UploadSpool::open(o)).value();
  EXPECT_TRUE(std::filesystem::is_empty(o.dir + "/unshare"));
}
