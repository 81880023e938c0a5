// ListingWriter: the listings a mount fetched go into the metadata cache in the background, in
// order, all of them before the writer goes, and never one that changed since its fetch.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "cache/metadata_cache.h"
#include "core/clock.h"
#include "core/ids.h"
#include "fs/listing_writer.h"
#include "support/temp_dir.h"

using namespace dlfs;

namespace {

Item file_at(const std::string& path) {
  Item item;
  item.id = new_id();
  item.dataset_id = "65f1c0ffee0000000000d5e7";
  item.set_path(path);
  item.metadata["system"] = {{"mimetype", "text/plain"}, {"size", 5}};
  return item;
}

std::shared_ptr<const PackedItems> listing_of(const std::string& dir, int n, const std::string& tag = "f") {
  PackedItems items;
  for (int i = 0; i < n; ++i) items.add(file_at(dir + "/" + tag + std::to_string(i)));
  return std::make_shared<const PackedItems>(std::move(items));
}

class ListingWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CacheOptions o;
    o.dir = dir_.sub("cache");
    o.key = "ds1-0badcafe";
    o.clock = &clock_;
    auto opened = MetadataCache::open(o);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    cache_ = std::move(opened).value();
  }
  size_t cached_count(const std::string& dir) {
    auto got = cache_->get_listing(dir);
    return got ? got->items.size() : 0;
  }

  test::TempDir dir_{"dlfs-listing-writer"};  // (first: the cache goes before it)
  FakeClock clock_;
  std::unique_ptr<MetadataCache> cache_;
};

TEST_F(ListingWriterTest, StoresListingsAndTheirItems) {
  ListingWriter writer(*cache_, [](const std::string&, uint64_t) { return true; });
  auto a = listing_of("/a", 3);
  writer.store("/a", a, 1, clock_.now_ms());
  writer.flush();
  ASSERT_EQ(cached_count("/a"), 3u);
  auto item = cache_->get_item("/a/f2");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->item, a->item(2).value());
}

// A listing stored late (the writer behind, a loaded machine) keeps its fetch's time: stamped
// when stored, it looked fresher than it was, and a stale folder was answered from the cache
// with no refetch (FsFreshness.ConcurrentReadersOfAStaleFolderShareOneRefetch, under load).
TEST_F(ListingWriterTest, AListingStoredLateKeepsItsFetchTime) {
  ListingWriter writer(*cache_, [](const std::string&, uint64_t) { return true; });
  writer.hold(true);
  int64_t fetched = clock_.now_ms();
  writer.store("/a", listing_of("/a", 3), 1, fetched);
  clock_.advance_ms(5000);
  writer.flush();
  auto got = cache_->get_listing("/a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->fetched_ms, fetched);
  EXPECT_EQ(cache_->get_item("/a/f0")->fetched_ms, fetched);
}

TEST_F(ListingWriterTest, AListingThatChangedBeforeItsTurnIsNotStored) {
  std::atomic<uint64_t> epoch{1};
  ListingWriter writer(*cache_, [&](const std::string&, uint64_t e) { return e == epoch.load(); });
  epoch = 2;  // a change of /a after the fetch read epoch 1
  writer.store("/a", listing_of("/a", 3), 1, clock_.now_ms());
  writer.store("/b", listing_of("/b", 2), 2, clock_.now_ms());
  writer.flush();
  EXPECT_EQ(cached_count("/a"), 0u);
  EXPECT_FALSE(cache_->get_item("/a/f0"));
  EXPECT_EQ(cached_count("/b"), 2u);
}

TEST_F(ListingWriterTest, AListingThatChangedWhileStoredIsTakenOutAgain) {
  int asked = 0;
  // Current when looked at before storing, changed when looked at after.
  ListingWriter writer(*cache_, [&](const std::string&, uint64_t) { return ++asked == 1; });
  writer.store("/a", listing_of("/a", 3), 1, clock_.now_ms());
  writer.flush();
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(cached_count("/a"), 0u);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(cache_->get_item("/a/f" + std::to_string(i)));
}

TEST_F(ListingWriterTest, ListingsOfOneFolderAreStoredInOrderAndAllBeforeTheWriterGoes) {
  {
    ListingWriter writer(*cache_, [](const std::string&, uint64_t) { return true; });
    for (int round = 0; round < 20; ++round) writer.store("/a", listing_of("/a", round + 1, "r" + std::to_string(round) + "-"), 1, clock_.now_ms());
    for (int d = 0; d < 50; ++d) writer.store("/d" + std::to_string(d), listing_of("/d" + std::to_string(d), 2), 1, clock_.now_ms());
  }  // no flush: the destructor stores what is queued
  auto last = cache_->get_listing("/a");
  ASSERT_TRUE(last);
  ASSERT_EQ(last->items.size(), 20u);  // the last fetch's, not an earlier one
  EXPECT_EQ(last->items.name(0).substr(0, 4), "r19-");
  for (int d = 0; d < 50; ++d) EXPECT_EQ(cached_count("/d" + std::to_string(d)), 2u) << d;
}

TEST_F(ListingWriterTest, StoreWaitsWhileTooManyItemsAreQueued) {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  ListingWriter writer(
      *cache_,
      [&](const std::string&, uint64_t) {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return open; });  // the writer is stuck on its first listing
        return true;
      },
      /*max_queued_items=*/10);
  writer.store("/one", listing_of("/one", 6), 1, clock_.now_ms());  // taken by the writer (stuck), still counted
  writer.store("/two", listing_of("/two", 4), 1, clock_.now_ms());  // queued: 10 items wait now
  auto third = std::async(std::launch::async, [&] { writer.store("/three", listing_of("/three", 1), 1, clock_.now_ms()); });
  EXPECT_EQ(third.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  {
    std::lock_guard lock(mu);
    open = true;
  }
  cv.notify_all();
  ASSERT_EQ(third.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  writer.flush();
  EXPECT_EQ(cached_count("/three"), 1u);
}

}  // namespace

// A listing is stored a little after it was queued (the readdirs after its opendir come first),
// at once on flush(), and whatever is queued when the writer goes.
TEST_F(ListingWriterTest, AListingIsStoredAfterADelayOrAtOnceOnFlushOrAtTheEnd) {
  using namespace std::chrono_literals;
  {
    ListingWriter writer(*cache_, [](const std::string&, uint64_t) { return true; });
    auto queued = std::chrono::steady_clock::now();
    writer.store("/a", listing_of("/a", 3), 1, clock_.now_ms());
    std::this_thread::sleep_for(100ms);
    if (std::chrono::steady_clock::now() - queued < ListingWriter::kStoreDelay - 50ms)
      EXPECT_EQ(cached_count("/a"), 0u);  // (not due yet)
    for (int i = 0; i < 400 && cached_count("/a") == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(cached_count("/a"), 3u);
    EXPECT_GE(std::chrono::steady_clock::now() - queued, ListingWriter::kStoreDelay);

    writer.store("/b", listing_of("/b", 2), 1, clock_.now_ms());
    auto flushing = std::chrono::steady_clock::now();
    writer.flush();
    EXPECT_EQ(cached_count("/b"), 2u);
    EXPECT_LT(std::chrono::steady_clock::now() - flushing, ListingWriter::kStoreDelay);

    writer.store("/c", listing_of("/c", 4), 1, clock_.now_ms());
  }
  EXPECT_EQ(cached_count("/c"), 4u);
}
