// A mount learns what the platform's preprocessing found for the files it uploaded by polling
// them together (fs/filesystem_preprocess_poll.cpp): one query by id for many files, never a
// request per file per poll; and an answer older than a rename the mount made does not put the
// file back at its old name.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <mutex>
#include <map>
#include <set>
#include <thread>

#include "remote/forwarding_remote.h"
#include "support/gate.h"
#include "support/spooled_fs.h"
#include "support/process.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

// A platform that preprocesses: every upload lands "pending"; the test finishes them (done,
// with a width) when it likes.
class PreprocessingRemote : public ForwardingRemote {
 public:
  explicit PreprocessingRemote(FakeRemote& fake) : ForwardingRemote(fake), fake_(fake) {}
  Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                              const UploadOptions& options) override {
    DLFS_ASSIGN(UploadResult up, ForwardingRemote::upload(local_file, remote_path, options));
    up.item.metadata["system"]["preprocessPhase"] = "pending";
    fake_.put_item(up.item);
    return up;
  }
  // Query answers give this item the old path (an answer fetched before a move, seen after it),
  // or are this old item (an answer fetched before a later upload); a held query waits for
  // release() after it was asked.
  Result<ItemPage> query(const json& dql) override {
    DLFS_ASSIGN(ItemPage page, ForwardingRemote::query(dql));
    gate_.pass();
    std::lock_guard lock(mu_);
    for (Item& item : page.items) {
      if (auto s = stale_.find(item.id); s != stale_.end()) item.set_path(s->second);
      if (old_item_ && old_item_->id == item.id) item = *old_item_;
    }
    return page;
  }
  void hold_next_query(std::optional<Item> answer_with) {
    {
      std::lock_guard lock(mu_);
      old_item_ = std::move(answer_with);
    }
    gate_.arm();
  }
  bool wait_held() { return gate_.wait_held(); }
  void release() { gate_.release(); }
  void answer_stale(const std::string& id, const std::string& old_path) {
    std::lock_guard lock(mu_);
    stale_[id] = old_path;
  }
  void finish_all() {
    auto page = fake_.query(json::object());
    ASSERT_TRUE(page);
    for (Item item : page->items) {
      if (!item.is_file()) continue;
      item.metadata["system"]["preprocessPhase"] = "done";
      item.metadata["system"]["width"] = 640;
      fake_.put_item(item);
    }
  }

 private:
  FakeRemote& fake_;
  Gate gate_;
  std::mutex mu_;
  std::optional<Item> old_item_;
  std::map<std::string, std::string> stale_;
};

class FsPreprocessPoll : public SpooledFsTest {
 protected:
  void configure() override {
    options.preprocess_poll_ms = 20;
    options.preprocess_polls = 1000;
    preprocessing = std::make_unique<PreprocessingRemote>(remote);
    backend = preprocessing.get();
  }
  Ino put(const std::string& name, const std::string& content) { return SpooledFsTest::put(kRootIno, name, content); }
  std::string phase(Ino ino) {
    auto v = fs->getxattr(ino, "user.dl.preprocess");
    return v ? *v : "<" + v.status().to_string() + ">";
  }
  std::unique_ptr<PreprocessingRemote> preprocessing;
};

}  // namespace

TEST_F(FsPreprocessPoll, ManyFilesArePolledTogetherUntilDone) {
  fs->start_uploads();
  std::vector<Ino> inos;
  for (int i = 0; i < 60; ++i) inos.push_back(put("f" + std::to_string(i) + ".jpg", "bytes " + std::to_string(i)));
  ASSERT_EQ(fs->wait_uploads(10s), 0u);
  EXPECT_EQ(phase(inos[5]), "pending");
  std::this_thread::sleep_for(200ms);  // several polls while nothing is done
  remote.reset_calls();
  preprocessing->finish_all();
  EXPECT_TRUE(wait_until([&] {
    for (Ino ino : inos)
      if (phase(ino) != "done") return false;
    return true;
  }, 10s)) << phase(inos[0]) << " " << phase(inos[59]);
  EXPECT_EQ(*fs->getxattr(inos[7], "user.dl.width"), "640");
  // After the last one is done, no more polls; and never a request per file.
  std::this_thread::sleep_for(200ms);
  uint64_t queries = remote.calls(RemoteCall::kQuery);
  EXPECT_LE(queries, 20u) << "60 files should be asked after together";
  EXPECT_EQ(remote.calls(RemoteCall::kGetById), 0u);
  EXPECT_EQ(remote.calls(RemoteCall::kGet), 0u);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(remote.calls(RemoteCall::kQuery), queries) << "polling went on with nothing awaited";
}

TEST_F(FsPreprocessPoll, AnAnswerOlderThanARenameDoesNotBringTheOldNameBack) {
  fs->start_uploads();
  Ino a = put("a.jpg", "aaa");
  ASSERT_EQ(fs->wait_uploads(10s), 0u);
  ASSERT_TRUE(fs->rename(kRootIno, "a.jpg", kRootIno, "b.jpg", 0));
  auto moved = remote.item_at("/b.jpg");
  ASSERT_TRUE(moved);
  preprocessing->answer_stale(moved->id, "/a.jpg");
  preprocessing->finish_all();
  remote.reset_calls();
  EXPECT_TRUE(wait_until([&] { return remote.calls(RemoteCall::kQuery) >= 1; }, 10s));
  std::this_thread::sleep_for(200ms);  // (its answer taken in)
  EXPECT_EQ(walk("/a.jpg").err(), ENOENT) << "a poll's stale answer brought the old name back";
  auto b = walk("/b.jpg");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->ino, a);
}

// The mount's own later change (here: the file written again and uploaded) is newer than a poll
// answer asked before it: the answer must not take the file back to its old size.
TEST_F(FsPreprocessPoll, AnAnswerOlderThanTheNextUploadIsNotTaken) {
  fs->start_uploads();
  Ino a = put("a.jpg", "aaa");
  ASSERT_EQ(fs->wait_uploads(10s), 0u);
  auto old = remote.item_at("/a.jpg");
  ASSERT_TRUE(old);
  old->metadata["system"]["preprocessPhase"] = "done";
  preprocessing->hold_next_query(*old);
  ASSERT_TRUE(preprocessing->wait_held());  // a poll asked, its answer the 3-byte version
  ASSERT_EQ(put("a.jpg", "bbbbbb"), a);
  ASSERT_EQ(fs->wait_uploads(10s), 0u);
  preprocessing->release();
  std::this_thread::sleep_for(300ms);  // (the answer taken in, or not)
  auto st = fs->getattr(a);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->attr.st_size, 6) << "a poll's answer older than the upload took the file back";
  EXPECT_EQ(remote_bytes("/a.jpg"), "bbbbbb");
}

TEST_F(FsPreprocessPoll, PollsStopAfterTheirCount) {
  fs.reset();
  options.preprocess_polls = 3;
  mount();
  fs->start_uploads();
  put("never.jpg", "n");
  ASSERT_EQ(fs->wait_uploads(10s), 0u);
  std::this_thread::sleep_for(1500ms);  // 3 polls at 20, 40, 80 ms: long over
  remote.reset_calls();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(remote.calls(RemoteCall::kQuery), 0u);
}
