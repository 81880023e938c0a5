// Dataset-aware prefetch through the filesystem core: a listed folder read in its order has its
// next files fetched into the data cache before they are opened (then read with no remote
// call); a few files read in a shuffled order fetch nothing ahead, a shuffled epoch has the rest
// of the folder fetched alongside. Read-only opens need no flush.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "support/fs_fixture.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

class FsPrefetch : public ::testing::Test, public FsFixture {
 protected:
  void SetUp() override {
    for (int i = 0; i < kFiles; ++i) remote.add_file(name(i), random_bytes(20'000 + size_t(i), uint32_t(i)));
    data_cache = test_data_cache(dir.sub("data"));
    options.data_cache = data_cache.get();
    options.prefetch = 4;
  }
  void TearDown() override {
    unmount();
    data_cache.reset();
  }
  static std::string name(int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "/d/f%03d.bin", i);
    return buf;
  }
  void read_file(int i) {
    auto got = cat(walk(name(i))->ino);
    ASSERT_TRUE(got) << got.status().to_string();
    EXPECT_EQ(*got, random_bytes(20'000 + size_t(i), uint32_t(i))) << name(i);
  }
  // Waits (bounded) until the data cache holds `n` files.
  uint64_t wait_kept(uint64_t n) {
    for (int i = 0; i < 1000 && data_cache->usage().first < n; ++i) std::this_thread::sleep_for(10ms);
    return data_cache->usage().first;
  }
  static constexpr int kFiles = 60;
  std::unique_ptr<DataCache> data_cache;
};

TEST_F(FsPrefetch, AFolderReadInListingOrderIsFetchedAheadAndThenReadWithNoRemoteCall) {
  mount();
  ASSERT_EQ(list(walk("/d")->ino)->size(), size_t(kFiles) + 2);  // (and . and ..)
  for (int i = 0; i < 10; ++i) read_file(i);
  // Walked from the 7th open: the rest of the folder (64 ahead) fetched by the prefetch.
  EXPECT_EQ(wait_kept(kFiles), uint64_t(kFiles));
  EXPECT_GE(data_cache->counters().prefetches, uint64_t(kFiles - 10));
  remote.reset_calls();
  uint64_t hits = data_cache->counters().hits;
  for (int i = 10; i < kFiles; ++i) read_file(i);
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 0u);
  EXPECT_EQ(data_cache->counters().hits - hits, uint64_t(kFiles - 10));
  EXPECT_EQ(fs->stats_json()["data_cache"]["prefetches"], data_cache->counters().prefetches.load());
}

TEST_F(FsPrefetch, AFewShuffledReadsFetchNothingAheadAndAShuffledEpochIsSwept) {
  mount();
  ASSERT_TRUE(list(walk("/d")->ino));
  std::vector<int> order(kFiles);
  for (int i = 0; i < kFiles; ++i) order[size_t(i)] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  // Seven files in a shuffled order, then the first again (a pass that ends: seven files ago,
  // not the same reader's second look), then six more: never an eighth of the folder (8 of 60)
  // opened once each in a pass, so nothing is fetched ahead.
  for (int k = 0; k < 7; ++k) read_file(order[size_t(k)]);
  read_file(order[0]);
  for (int k = 7; k < 13; ++k) read_file(order[size_t(k)]);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(data_cache->counters().prefetches, 0u);
  EXPECT_EQ(data_cache->usage().first, 13u);
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 13u);
  // One more: eight opened once each since the pass began, a shuffled epoch. The files not read
  // yet are fetched alongside (the 46 never read), and then read with no remote call.
  read_file(order[13]);
  EXPECT_EQ(wait_kept(kFiles), uint64_t(kFiles));
  EXPECT_EQ(data_cache->counters().prefetches, uint64_t(kFiles - 14));
  EXPECT_EQ(fs->prefetch_stats().sweeps, 1u);
  remote.reset_calls();
  for (int k = 14; k < kFiles; ++k) read_file(order[size_t(k)]);
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 0u);
}

TEST_F(FsPrefetch, OffAtZeroAndWithoutAListing) {
  options.prefetch = 0;
  mount();
  ASSERT_TRUE(list(walk("/d")->ino));
  for (int i = 0; i < 20; ++i) read_file(i);
  unmount();
  options.prefetch = 4;
  mount();  // a new core: no listing seen
  for (int i = 20; i < 40; ++i) read_file(i);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(data_cache->counters().prefetches, 0u);
  EXPECT_EQ(data_cache->usage().first, 40u);
}

TEST_F(FsPrefetch, AnItemChangedSinceTheListingIsFetchedAtItsNewVersion) {
  options.dir_ttl_ms = 1000;
  mount();
  ASSERT_TRUE(list(walk("/d")->ino));
  remote.rewrite_file(name(30), random_bytes(20'030, 999));  // same size, a later version
  clock.advance_ms(1500);  // (the listing's items expire: the prefetch asks for the item)
  for (int i = 0; i < 10; ++i) read_file(i);
  EXPECT_EQ(wait_kept(kFiles), uint64_t(kFiles));
  remote.reset_calls();
  auto got = cat(walk(name(30))->ino);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, random_bytes(20'030, 999));
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 0u);
}

TEST_F(FsPrefetch, AReadOnlyOpenAsksForNoFlush) {
  mount();
  auto opened = fs->open(walk(name(0))->ino, O_RDONLY);
  ASSERT_TRUE(opened);
  EXPECT_TRUE(opened->noflush);
  fs->release(opened->fh);
}

}  // namespace
