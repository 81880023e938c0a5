// The durable upload spool: records and files, states, byte bound with ENOSPC after a wait,
// and a reopen after a simulated crash.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cache/upload_spool.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

SpoolOptions opts(const TempDir& dir, uint64_t max = 1 << 20) {
  SpoolOptions o;
  o.dir = dir.sub("spool");
  o.max_bytes = max;
  o.full_wait = 200ms;
  return o;
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
  // The child writes, closes (fsync) and dies without any cleanup.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto spool = UploadSpool::open(opts(dir));
    if (!spool) _exit(2);
    auto r = (*spool)->create("ds", "/photos/x.jpg", "");
    if (!r) _exit(3);
    write_file((*spool)->file_path(r->id), std::string(1234, 'x'));
    if (!(*spool)->resize(r->id, 1234) || !(*spool)->close_file(r->id)) _exit(4);
    auto w = (*spool)->create("ds", "/photos/half.jpg", "");  // still being written
    if (!w) _exit(5);
    write_file((*spool)->file_path(w->id), "partial");
    kill(getpid(), SIGKILL);
    _exit(6);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exit " << WEXITSTATUS(status);

  auto spool = std::move(UploadSpool::open(opts(dir))).value();
  auto pending = spool->pending("ds");
  ASSERT_EQ(pending.size(), 2u);
  id = pending[0].id;
  EXPECT_EQ(pending[0].path, "/photos/x.jpg");
  EXPECT_EQ(pending[0].state, UploadState::kPending);
  EXPECT_EQ(pending[0].size, 1234u);
  EXPECT_EQ(read_file(spool->file_path(id)), std::string(1234, 'x'));
  EXPECT_EQ(pending[1].state, UploadState::kWriting);
  EXPECT_EQ(spool->used_bytes(), 1234u + 7u);
  // New ids never reuse old ones.
  auto fresh = spool->create("ds", "/y", "").value();
  EXPECT_GT(fresh.id, pending[1].id);
}
