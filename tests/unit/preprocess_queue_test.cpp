// The preprocessing queue and workers on the embedded platform: queued with the upload, results
// in metadata.system and a hidden thumbnail item, crash recovery (a worker process SIGKILLed in
// the middle of a job), overwrites, stale results, two processes on one store, hostile files.
//
// Another process is this test binary run again with DLFS_PP_CHILD set: a global test
// environment does the child's part and exits before any test runs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include "platform/platform.h"
#include "platform/preprocess.h"
#include "preprocess_fixtures.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

// DLFS_PP_CHILD=claim: claim one job, say so in a file, then hang (the parent SIGKILLs us).
// DLFS_PP_CHILD=work: run one worker until the dataset has nothing pending; write how many
// jobs this process ran.
class ChildMode : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* mode = getenv("DLFS_PP_CHILD");
    if (!mode) return;
    std::string store = getenv("DLFS_PP_STORE"), out = getenv("DLFS_PP_OUT");
    auto p = Platform::open(PlatformOptions{store});
    if (!p) _exit(10);
    if (const char* lease = getenv("DLFS_PP_LEASE_MS")) (*p)->preprocessor().settings().lease_ms = atoi(lease);
    if (std::string(mode) == "claim") {
      auto job = (*p)->preprocessor().claim();
      if (!job || !*job) _exit(11);
      spit(out, (*job)->item_id);
      for (;;) pause();
    }
    auto ds = (*p)->find_dataset("cars");
    if (!ds) _exit(12);
    auto page = (*p)->list_dir(ds->id, "/", "", 1000);
    if (!page) _exit(13);
    std::vector<std::string> ids;
    for (auto& item : page->items) ids.push_back(item.id);
    if (!(*p)->start_preprocessing(1)) _exit(14);
    auto tally = (*p)->wait_preprocessed(ids, 60s);
    (*p)->stop_preprocessing();
    spit(out, std::to_string((*p)->preprocessor().processed()));
    _exit(tally && tally->pending == 0 ? 0 : 15);
  }
};
const auto* const kChildMode = ::testing::AddGlobalTestEnvironment(new ChildMode);

class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reopen();
    auto ds = platform_->create_dataset("cars", "dev@local");
    ASSERT_TRUE(ds) << ds.status().to_string();
    ds_ = *ds;
    jpeg_ = slurp(make_picture(dir_, "a.jpg", 320, 240));
    png_ = slurp(make_picture(dir_, "b.png", 100, 50));
  }
  void TearDown() override { platform_.reset(); }
  void reopen() {
    platform_.reset();
    auto p = Platform::open(PlatformOptions{dir_.sub("store"), &clock_});
    ASSERT_TRUE(p) << p.status().to_string();
    platform_ = std::move(*p);
  }
  Item put(const std::string& path, const std::string& bytes, UploadOptions options = {}) {
    auto r = platform_->upload_bytes(ds_.id, bytes, path, options);
    EXPECT_TRUE(r) << path << ": " << r.status().to_string();
    return r ? r->item : Item{};
  }
  Item get(const std::string& id) {
    auto item = platform_->get_item(id);
    EXPECT_TRUE(item) << item.status().to_string();
    return item ? *item : Item{};
  }
  std::string phase(const std::string& id) { return get(id).system().value("preprocessPhase", ""); }
  PreprocessTally wait(const std::vector<std::string>& ids, std::chrono::milliseconds timeout = 60s) {
    auto t = platform_->wait_preprocessed(ids, timeout);
    EXPECT_TRUE(t) << t.status().to_string();
    return t ? *t : PreprocessTally{};
  }
  // Runs `mode` in a child process of this binary.
  Child child(const std::string& mode, const std::string& out) {
    setenv("DLFS_PP_CHILD", mode.c_str(), 1);
    setenv("DLFS_PP_STORE", dir_.sub("store").c_str(), 1);
    setenv("DLFS_PP_OUT", out.c_str(), 1);
    Child c({"/proc/self/exe"});
    unsetenv("DLFS_PP_CHILD");
    return c;
  }

  TempDir dir_{"dlfs-ppqueue"};
  FakeClock clock_;
  std::unique_ptr<Platform> platform_;
  Dataset ds_;
  std::string jpeg_, png_;
};

}  // namespace

TEST_F(QueueTest, AnUploadIsQueuedInItsOwnTransaction) {
  Item a = put("/cars/a.jpg", jpeg_);
  EXPECT_EQ(a.system()["preprocessPhase"], "pending");  // the upload's answer says so
  EXPECT_EQ(phase(a.id), "pending");
  EXPECT_FALSE(a.system().contains("width"));
  put("/.dataloop/hidden.jpg", jpeg_);  // hidden items are the platform's: never queued
  auto job = platform_->preprocessor().claim();
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->item_id, a.id);
  EXPECT_FALSE((*job)->blob_key.empty());
  EXPECT_EQ((*job)->owner_pid, getpid());
  auto none = platform_->preprocessor().claim();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none) << "the hidden item was queued, or a claimed job was claimed again";
  EXPECT_FALSE(
      get(platform_->get_item_by_path(ds_.id, "/.dataloop/hidden.jpg")->id).system().contains("preprocessPhase"));
}

// Workers claim jobs in batches and write a batch's results in one commit; each job's results are
// its own (a stale one is dropped, the others land), and nothing is claimed twice.
TEST_F(QueueTest, JobsAreClaimedAndFinishedInBatches) {
  Item a = put("/a.jpg", jpeg_);
  Item b = put("/b.png", png_);
  Item c = put("/c.txt", "hello");
  Item d = put("/d.txt", "world");
  Item e = put("/e.jpg", jpeg_);
  auto first = platform_->preprocessor().claim_batch(3);
  ASSERT_TRUE(first) << first.status().to_string();
  ASSERT_EQ(first->size(), 3u);
  std::set<std::string> claimed;
  for (const auto& job : *first) {
    EXPECT_EQ(job.owner_pid, getpid());
    claimed.insert(job.item_id);
  }
  auto rest = platform_->preprocessor().claim_batch(10);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 2u);
  for (const auto& job : *rest) EXPECT_TRUE(claimed.insert(job.item_id).second) << "claimed twice: " << job.item_id;
  EXPECT_EQ(claimed, (std::set<std::string>{a.id, b.id, c.id, d.id, e.id}));
  EXPECT_TRUE(platform_->preprocessor().claim_batch(10)->empty());

  // One of the first batch is overwritten before its results are written: they are stale.
  const PreprocessJob& stale = first->at(1);
  Item overwritten = get(stale.item_id);
  UploadOptions over;
  over.mode = UploadMode::kOverwrite;
  put(overwritten.filename, "new bytes", over);
  ASSERT_TRUE(platform_->preprocessor().run_batch(*first));
  EXPECT_EQ(phase(first->at(0).item_id), "done");
  EXPECT_EQ(phase(first->at(2).item_id), "done");
  EXPECT_EQ(phase(stale.item_id), "pending");  // its new bytes are queued anew
  ASSERT_TRUE(platform_->preprocessor().run_batch(*rest));
  for (const auto& job : *rest) EXPECT_EQ(phase(job.item_id), "done");
  EXPECT_EQ(get(a.id).system().value("width", 0), 320);
  EXPECT_EQ(get(e.id).system().value("height", 0), 240);
  EXPECT_EQ(get(c.id).system().value("mimetype", ""), "text/plain");
  // The overwritten item's new job, then nothing.
  auto again = platform_->preprocessor().claim_batch(10);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->front().item_id, stale.item_id);
  ASSERT_TRUE(platform_->preprocessor().run_batch(*again));
  EXPECT_EQ(phase(stale.item_id), "done");
  EXPECT_EQ(get(stale.item_id).system().value("mimetype", ""), "text/plain");
}

TEST_F(QueueTest, WorkersFillTheSystemMetadataAndMakeAHiddenThumbnail) {
  ASSERT_TRUE(platform_->start_preprocessing(2));
  UploadOptions with_user;
  with_user.metadata = {{"user", {{"camera", "cam-7"}}}};
  Item a = put("/cars/a.jpg", jpeg_, with_user);
  Item b = put("/cars/b.png", png_);
  Item t = put("/notes.txt", "just text\n");
  auto tally = wait({a.id, b.id, t.id});
  EXPECT_EQ(tally.done, 3u);
  EXPECT_EQ(tally.pending, 0u);

  Item got = get(a.id);
  const json& sys = got.system();
  EXPECT_EQ(sys["preprocessPhase"], "done");
  EXPECT_EQ(sys["mimetype"], "image/jpeg");
  EXPECT_EQ(sys["width"], 320);
  EXPECT_EQ(sys["height"], 240);
  EXPECT_EQ(sys["exif"]["Orientation"], 1);
  EXPECT_EQ(sys["size"], jpeg_.size());
  EXPECT_EQ(sys["originalname"], "a.jpg");
  EXPECT_EQ(got.user()["camera"], "cam-7");
  ASSERT_TRUE(sys.contains("thumbnailId"));
  auto thumb = platform_->get_item_by_path(ds_.id, thumbnail_path(a.id));
  ASSERT_TRUE(thumb);
  EXPECT_TRUE(thumb->hidden);
  EXPECT_EQ(thumb->id, sys["thumbnailId"]);
  EXPECT_FALSE(thumb->system().contains("preprocessPhase"));  // thumbnails are not queued
  auto bytes = platform_->thumbnail(got);
  ASSERT_TRUE(bytes) << bytes.status().to_string();
  Decoded d(*bytes);
  EXPECT_EQ(d.width(), 256);
  EXPECT_EQ(d.height(), 192);

  Item text = get(t.id);
  EXPECT_EQ(text.system()["mimetype"], "text/plain");
  EXPECT_EQ(text.system()["preprocessPhase"], "done");
  EXPECT_FALSE(text.system().contains("thumbnailId"));
  EXPECT_EQ(platform_->thumbnail(text).err(), ENOENT);
  // Hidden things stay hidden and uncounted.
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 3u);
  auto root = platform_->list_dir(ds_.id, "/", "", 100);
  for (const auto& item : root->items) EXPECT_NE(item.name, ".dataloop");
  // Deleting an item deletes its thumbnail.
  ASSERT_TRUE(platform_->delete_item(a.id));
  EXPECT_EQ(platform_->get_item(thumb->id).err(), ENOENT);
}

TEST_F(QueueTest, AThumbnailIsMadeOnDemandWhenThereIsNone) {
  Item a = put("/a.jpg", jpeg_);  // no workers: still pending
  auto bytes = platform_->thumbnail(a);
  ASSERT_TRUE(bytes) << bytes.status().to_string();
  EXPECT_EQ(Decoded(*bytes).width(), 256);
  EXPECT_EQ(phase(a.id), "done");
  // The queued job was satisfied by that: nothing left to claim.
  auto none = platform_->preprocessor().claim();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  Item bad = put("/bad.png", png_.substr(0, png_.size() / 2));
  auto no_thumb = platform_->thumbnail(bad);
  EXPECT_EQ(no_thumb.err(), ENOENT);
  EXPECT_EQ(phase(bad.id), "failed");
}

TEST_F(QueueTest, AJobWhoseWorkerProcessWasKilledRunsAgain) {
  Item a = put("/a.jpg", jpeg_);
  std::string out = dir_.sub("claimed");
  Child c = child("claim", out);
  ASSERT_TRUE(wait_until([&] { return !slurp(out).empty(); }, 60s)) << "the child never claimed";
  EXPECT_EQ(slurp(out), a.id);
  // While the child lives, its claim holds.
  auto held = platform_->preprocessor().claim();
  ASSERT_TRUE(held);
  EXPECT_FALSE(*held);
  c.kill_now();  // SIGKILL in the middle of the job
  c.wait(10s);
  ASSERT_TRUE(platform_->start_preprocessing(1));
  EXPECT_EQ(wait({a.id}).done, 1u);
  EXPECT_EQ(get(a.id).system()["width"], 320);
  EXPECT_EQ(platform_->preprocessor().processed(), 1u);
}

TEST_F(QueueTest, AClaimOfALiveProcessExpiresWithItsLease) {
  Item a = put("/a.jpg", jpeg_);
  std::string out = dir_.sub("claimed");
  setenv("DLFS_PP_LEASE_MS", "1500", 1);  // the child claims for 1.5 s (of the wall clock)
  Child c = child("claim", out);
  unsetenv("DLFS_PP_LEASE_MS");
  ASSERT_TRUE(wait_until([&] { return !slurp(out).empty(); }, 60s));
  EXPECT_FALSE(*platform_->preprocessor().claim());
  std::this_thread::sleep_for(1600ms);
  auto job = platform_->preprocessor().claim();
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->tries, 2);
  ASSERT_TRUE(platform_->preprocessor().run(**job));
  EXPECT_EQ(phase(a.id), "done");
}

TEST_F(QueueTest, AClaimOfAWorkerPoolThatIsGoneIsVoidInTheSameProcess) {
  Item a = put("/a.jpg", jpeg_);
  ASSERT_TRUE(*platform_->preprocessor().claim());
  reopen();  // the pool that claimed is gone, as after a crash; the pid is the same
  ASSERT_TRUE(platform_->start_preprocessing(1));
  EXPECT_EQ(wait({a.id}).done, 1u);
}

TEST_F(QueueTest, AJobThatKeepsKillingItsWorkersIsGivenUp) {
  Item a = put("/a.jpg", jpeg_);
  int max = platform_->preprocessor().settings().max_tries;
  for (int i = 0; i < max; ++i) {
    auto job = platform_->preprocessor().claim();
    ASSERT_TRUE(job && *job) << i;
    reopen();
  }
  ASSERT_TRUE(platform_->start_preprocessing(1));
  EXPECT_EQ(wait({a.id}).failed, 1u);
  EXPECT_NE(get(a.id).system()["preprocessError"].get<std::string>().find("interrupted"), std::string::npos);
}

TEST_F(QueueTest, AnOverwriteQueuesAgainAndStaleResultsAreDropped) {
  Item a = put("/a.jpg", jpeg_);
  auto old_job = platform_->preprocessor().claim();
  ASSERT_TRUE(old_job && *old_job);
  UploadOptions overwrite;
  overwrite.mode = UploadMode::kOverwrite;
  std::string wide = slurp(make_picture(dir_, "wide.png", 400, 100));
  put("/a.jpg", wide, overwrite);
  EXPECT_EQ(phase(a.id), "pending");
  // The job for the old binary finishes late: its results must not land.
  ASSERT_TRUE(platform_->preprocessor().run(**old_job));
  EXPECT_EQ(phase(a.id), "pending");
  EXPECT_FALSE(get(a.id).system().contains("width"));
  ASSERT_TRUE(platform_->start_preprocessing(1));
  EXPECT_EQ(wait({a.id}).done, 1u);
  Item now = get(a.id);
  EXPECT_EQ(now.system()["width"], 400);
  EXPECT_EQ(now.system()["mimetype"], "image/png");  // by content, whatever the name says
  // Once more, after it was done: the new binary is processed again, its thumbnail replaced.
  std::string first_thumb = *platform_->thumbnail(now);
  put("/a.jpg", png_, overwrite);
  EXPECT_EQ(wait({a.id}).done, 1u);
  Item again = get(a.id);
  EXPECT_EQ(again.system()["width"], 100);
  EXPECT_EQ(again.system()["thumbnailId"], now.system()["thumbnailId"]);  // same hidden item
  EXPECT_NE(*platform_->thumbnail(again), first_thumb);
  // With a non-image, the thumbnail goes.
  put("/a.jpg", "not an image any more", overwrite);
  EXPECT_EQ(wait({a.id}).done, 1u);
  EXPECT_FALSE(get(a.id).system().contains("thumbnailId"));
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, thumbnail_path(a.id)).err(), ENOENT);
}

TEST_F(QueueTest, ResultsNeverClobberAConcurrentUserPatch) {
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(put("/p" + std::to_string(i) + ".jpg", jpeg_).id);
  ASSERT_TRUE(platform_->start_preprocessing(2));
  for (int round = 0; round < 5; ++round)
    for (size_t i = 0; i < ids.size(); ++i)
      ASSERT_TRUE(
          platform_->patch_item(ids[i], {{"metadata", {{"user", {{"r" + std::to_string(round), i}}}}}}, false, "u"));
  EXPECT_EQ(wait(ids).done, ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    Item item = get(ids[i]);
    EXPECT_EQ(item.system()["width"], 320);
    for (int round = 0; round < 5; ++round) EXPECT_EQ(item.user()["r" + std::to_string(round)], i);
  }
}

TEST_F(QueueTest, TwoProcessesShareTheQueueWithoutDoingAJobTwice) {
  std::string png = slurp(make_picture(dir_, "big.png", 1000, 800));  // some work each
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(put("/p" + std::to_string(i) + ".png", png).id);
  std::string out = dir_.sub("child-count");
  Child c = child("work", out);
  // Let the child get going first, so that both really work at once.
  EXPECT_TRUE(wait_until([&] { return wait(ids, 0ms).pending < ids.size(); }, 60s));
  ASSERT_TRUE(platform_->start_preprocessing(1));
  EXPECT_EQ(wait(ids).done, ids.size());
  EXPECT_EQ(c.wait(60s), 0);
  platform_->stop_preprocessing();
  uint64_t mine = platform_->preprocessor().processed();
  uint64_t theirs = std::stoull("0" + slurp(out));
  EXPECT_EQ(mine + theirs, ids.size()) << "here " << mine << ", there " << theirs;
}

TEST_F(QueueTest, RequeueRunsAFolderAgain) {
  Item a = put("/f/a.jpg", jpeg_);
  Item b = put("/f/sub/b.png", png_);
  put("/other.txt", "x");
  ASSERT_TRUE(platform_->start_preprocessing(1));
  wait({a.id, b.id});
  platform_->stop_preprocessing();
  auto ids = platform_->requeue_preprocessing(ds_.id, "/f");
  ASSERT_TRUE(ids) << ids.status().to_string();
  EXPECT_EQ(ids->size(), 2u);
  EXPECT_EQ(phase(a.id), "pending");
  EXPECT_EQ(get(a.id).system()["width"], 320);  // the old results stay until the new ones land
  auto tally = wait(*ids, 300ms);               // nobody works: it times out
  EXPECT_EQ(tally.pending, 2u);
  ASSERT_TRUE(platform_->start_preprocessing(1));
  EXPECT_EQ(wait(*ids).done, 2u);
  EXPECT_EQ(platform_->requeue_preprocessing(ds_.id, "/nope").err(), ENOENT);
  EXPECT_EQ(platform_->requeue_preprocessing(ds_.id, "/f/a.jpg")->size(), 1u);
}

TEST_F(QueueTest, HostileFilesEndFailedQuicklyAndTheWorkersLiveOn) {
  ASSERT_TRUE(platform_->start_preprocessing(2));
  auto start = std::chrono::steady_clock::now();
  Item bomb = put("/bomb.png", png_declaring(100000, 100000));
  Item cut = put("/cut.jpg", jpeg_.substr(0, jpeg_.size() / 2));
  Item fine = put("/fine.png", png_);
  auto tally = wait({bomb.id, cut.id, fine.id}, 20s);
  EXPECT_EQ(tally.failed, 2u);
  EXPECT_EQ(tally.done, 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  Item b = get(bomb.id);
  EXPECT_EQ(b.system()["preprocessPhase"], "failed");
  EXPECT_NE(b.system()["preprocessError"].get<std::string>().find("megapixel"), std::string::npos);
  EXPECT_EQ(b.system()["mimetype"], "image/png");
  EXPECT_FALSE(b.system().contains("thumbnailId"));
  EXPECT_FALSE(get(cut.id).system()["preprocessError"].get<std::string>().empty());
  // Still working afterwards.
  Item later = put("/later.jpg", jpeg_);
  EXPECT_EQ(wait({later.id}).done, 1u);
}

TEST_F(QueueTest, StoppingAbandonsAndReleasesTheJobInProgress) {
  std::string big = dir_.sub("big.png");
  must("convert -size 2500x2500 xc: +noise Random " + quote(big));
  Item a = put("/big.png", slurp(big));
  ASSERT_TRUE(platform_->start_preprocessing(1));
  std::this_thread::sleep_for(100ms);
  platform_->stop_preprocessing();
  EXPECT_FALSE(platform_->preprocessor().running());
  // Whether it finished or was given back, nothing is lost: a new pool completes it.
  ASSERT_TRUE(platform_->start_preprocessing(1));
  EXPECT_EQ(wait({a.id}).done, 1u);
  EXPECT_EQ(platform_->start_preprocessing(1).err(), EBUSY);
}

// A symlink item (made by ln -s in a mount) keeps its mimetype through preprocessing, even under
// an image's name: its bytes are a path, nothing to decode or thumbnail.
TEST_F(QueueTest, ASymlinkItemIsNotDecodedAndStaysInodeSymlink) {
  ASSERT_TRUE(platform_->start_preprocessing(1));
  UploadOptions as_symlink;
  as_symlink.metadata = {{"system", {{"posix", {{"symlink", "../real/a.jpg"}}}}}};
  Item s = put("/cars/a.jpg", "../real/a.jpg", as_symlink);
  EXPECT_EQ(s.mimetype(), "inode/symlink");
  EXPECT_EQ(wait({s.id}).done, 1u);
  Item got = get(s.id);
  EXPECT_EQ(got.system()["mimetype"], "inode/symlink");
  EXPECT_EQ(got.system()["posix"]["symlink"], "../real/a.jpg");
  EXPECT_FALSE(got.system().contains("thumbnailId"));
  // Overwritten by a plain upload: a file again (an overwrite keeps mode and owners, not the kind).
  UploadOptions overwrite;
  overwrite.mode = UploadMode::kOverwrite;
  Item file = put("/cars/a.jpg", jpeg_, overwrite);
  EXPECT_FALSE(file.system()["posix"].contains("symlink")) << file.system().dump();
  EXPECT_EQ(wait({file.id}).done, 1u);
  EXPECT_EQ(get(file.id).system()["mimetype"], "image/jpeg");
}
