// The walk detector and pool of fs/folder_prefetch.h: in-order opens (one reader, or several
// interleaved) fetch the next files ahead; a shuffled epoch sweeps the files not opened yet, once
// an eighth of the folder was opened with none twice; a few random opens, or random opens that
// come back to a file, fetch nothing; a jump starts over.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "fs/folder_prefetch.h"

using namespace dlfs;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> names_of(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("f" + std::to_string(100000 + i) + ".jpg");
  return out;
}

// Records the fetches (folder/name), each answered at once unless `hold` is set.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::multiset<std::string> fetched;
  bool hold = false;
  int running = 0;
  std::vector<size_t> batches;  // files per call
  uint64_t file_bytes = 1000;   // each file's size, as the fetch tells
  FolderPrefetch::Fetched fetch(const std::string& folder, std::span<const std::string_view> names) {
    std::unique_lock lock(mu);
    for (std::string_view name : names) fetched.insert(folder + "/" + std::string(name));
    batches.push_back(names.size());
    ++running;
    cv.notify_all();
    cv.wait(lock, [&] { return !hold; });
    --running;
    return {names.size(), names.size(), names.size() * file_bytes};
  }
  size_t count() {
    std::lock_guard lock(mu);
    return fetched.size();
  }
  // Waits (bounded) until `n` fetches were made; answers the count.
  size_t wait_for(size_t n) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return fetched.size() >= n; });
    return fetched.size();
  }
};

FolderPrefetchOptions small(size_t ahead = 16) {
  FolderPrefetchOptions o;
  o.threads = 3;
  o.ahead = ahead;
  o.batch = 1;
  return o;
}

TEST(FolderPrefetch, OneReaderInListingOrderFetchesTheNextFilesAheadOnce) {
  Recorder rec;
  auto names = names_of(200);
  {
    FolderPrefetch p(small(16), [&](auto& f, auto n) { return rec.fetch(f, n); });
    p.listed("/d", names);
    // Walked from the 7th open on (index 6): every file up to the furthest open + 16, fetched
    // once. (The reader waits for the fetches queued by each open: one slower than its fetches.)
    for (size_t i = 0; i < 100; ++i) {
      p.opened("/d", names[i]);
      if (i >= 6) ASSERT_EQ(rec.wait_for(i + 16 - 6), i + 16 - 6) << i;
    }
    size_t want = 100 + 16 - 7;
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(rec.count(), want);
    EXPECT_EQ(p.stats().walks, 1u);
    EXPECT_EQ(p.stats().queued, want);
  }
  for (size_t i = 7; i < 116; ++i) EXPECT_EQ(rec.fetched.count("/d/" + names[i]), 1u) << i;
  EXPECT_EQ(rec.fetched.count("/d/" + names[116]), 0u);
}

// A walk's next small files go to the fetch in batches (one request to dlfsd for each batch),
// never more than `batch` and never two folders' files in one; each file still once.
TEST(FolderPrefetch, AWalksNextFilesAreFetchedInBatchesOfOneFolderEach) {
  Recorder rec;
  std::vector<std::string> d = names_of(200), e;
  for (const std::string& n : d) e.push_back("g" + n);
  std::mutex mu;
  bool mixed = false;
  {
    FolderPrefetchOptions o = small(16);
    o.batch = 4;
    FolderPrefetch p(o, [&](const std::string& folder, std::span<const std::string_view> names) {
      const auto& of = folder == "/d" ? d : e;
      {
        std::lock_guard lock(mu);
        for (std::string_view n : names) mixed = mixed || std::find(of.begin(), of.end(), n) == of.end();
      }
      return rec.fetch(folder, names);
    });
    p.listed("/d", d);
    p.listed("/e", e);
    // Two readers, one walking each folder, their opens interleaved.
    for (size_t i = 0; i < 100; ++i) {
      p.opened("/d", d[i]);
      p.opened("/e", e[i]);
      if (i >= 6) ASSERT_EQ(rec.wait_for(2 * (i + 16 - 6)), 2 * (i + 16 - 6)) << i;
    }
  }
  std::lock_guard lock(rec.mu);
  EXPECT_FALSE(mixed);
  size_t most = 0, total = 0;
  for (size_t b : rec.batches) {
    EXPECT_LE(b, 4u);
    most = std::max(most, b);
    total += b;
  }
  EXPECT_EQ(most, 4u);  // (a walk's start queues 16 files at once)
  EXPECT_EQ(total, rec.fetched.size());
  for (size_t i = 7; i < 116; ++i) {
    EXPECT_EQ(rec.fetched.count("/d/" + d[i]), 1u) << i;
    EXPECT_EQ(rec.fetched.count("/e/" + e[i]), 1u) << i;
  }
}

// A folder of large files is fetched one file at a time, however they are queued: a reader of
// the 8th must not wait for 7 large files in one stream first.
TEST(FolderPrefetch, LargeFilesAreFetchedOneAtATime) {
  Recorder rec;
  rec.file_bytes = 2 << 20;
  auto names = names_of(100);
  {
    FolderPrefetchOptions o = small(16);
    o.batch = 4;
    FolderPrefetch p(o, [&](auto& f, auto n) { return rec.fetch(f, n); });
    p.listed("/d", names);
    for (size_t i = 0; i < 50; ++i) {
      p.opened("/d", names[i]);
      if (i >= 6) ASSERT_EQ(rec.wait_for(i + 16 - 6), i + 16 - 6) << i;
    }
  }
  std::lock_guard lock(rec.mu);
  ASSERT_FALSE(rec.batches.empty());
  for (size_t b : rec.batches) EXPECT_EQ(b, 1u);
}

TEST(FolderPrefetch, AFewRandomOpensOrRandomOpensThatComeBackFetchNothing) {
  Recorder rec;
  auto names = names_of(2000);
  FolderPrefetch p(small(64), [&](auto& f, auto n) { return rec.fetch(f, n); });
  p.listed("/train", names);
  std::mt19937 rng(3);
  // Random reads with replacement (a sampler, a viewer): 20,000 of them.
  for (int k = 0; k < 20000; ++k) p.opened("/train", names[rng() % names.size()]);
  // Shuffled passes cut short of an eighth of the folder (249 of 2,000), each ended by a file
  // opened again.
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    std::shuffle(order.begin(), order.end(), std::mt19937(seed));
    for (size_t k = 0; k < 249; ++k) p.opened("/train", names[order[k]]);
    p.opened("/train", names[order[0]]);
  }
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(p.stats().queued, 0u);
  EXPECT_EQ(p.stats().sweeps, 0u);
  EXPECT_EQ(rec.count(), 0u);
}

TEST(FolderPrefetch, AShuffledEpochSweepsTheFilesNotOpenedYetAheadOfTheOpens) {
  Recorder rec;
  auto names = names_of(2000);
  constexpr size_t kAhead = 32;
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  FolderPrefetch p(small(kAhead), [&](auto& f, auto n) { return rec.fetch(f, n); });
  p.listed("/train", names);
  for (uint32_t epoch = 1; epoch <= 3; ++epoch) {
    std::shuffle(order.begin(), order.end(), std::mt19937(epoch));
    std::set<std::string> early;  // opened before an eighth of the folder was
    uint64_t queued_before = p.stats().queued;
    for (size_t k = 0; k < order.size(); ++k) {
      // Nothing before an eighth of the folder was opened once; then each open finds the sweep
      // at most kAhead files ahead of the opens since it began.
      if (k < 250) {
        ASSERT_EQ(p.stats().queued, queued_before) << epoch << " " << k;
        early.insert("/train/" + names[order[k]]);
      }
      p.opened("/train", names[order[k]]);
      if (k >= 249) {
        uint64_t queued = p.stats().queued - queued_before;
        ASSERT_LE(queued, k - 249 + kAhead) << epoch << " " << k;
        if (queued > 0) rec.wait_for(1);  // (the pool keeps up, as a mount's would)
      }
    }
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(p.stats().sweeps, epoch);
    // This epoch's sweep fetched each file once at most, none opened before it began (how many
    // depends on the pool's pace: these opens are far quicker than a reader's).
    std::multiset<std::string> fetched;
    {
      std::lock_guard lock(rec.mu);
      fetched.swap(rec.fetched);
    }
    EXPECT_GT(fetched.size(), 0u) << epoch;
    for (const std::string& f : fetched) {
      EXPECT_EQ(fetched.count(f), 1u) << f;
      EXPECT_EQ(early.count(f), 0u) << f;
    }
  }
}

TEST(FolderPrefetch, SeveralReadersWalkingTogetherAreAWalk) {
  // DataLoader-like: 4 workers, each reading its own batch of 8 in order, batches handed out in
  // order and at most 4 outstanding (the DataLoader hands out a batch when the oldest is taken in
  // order, so no worker falls further behind); the workers' opens interleave.
  Recorder rec;
  auto names = names_of(400);
  FolderPrefetch p(small(32), [&](auto& f, auto n) { return rec.fetch(f, n); });
  p.listed("/d", names);
  constexpr size_t kBatches = 25, kOutstanding = 4;
  std::mutex bm;
  std::condition_variable bcv;
  std::vector<bool> done(kBatches);
  size_t done_below = 0;  // every batch before this one is read
  size_t next_batch = 0;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      for (;;) {
        size_t b;
        {
          std::unique_lock lock(bm);
          if (!bcv.wait_for(lock, 10s, [&] { return next_batch < done_below + kOutstanding; })) return;
          b = next_batch++;
        }
        if (b >= kBatches) return;
        for (size_t i = b * 8; i < b * 8 + 8; ++i) p.opened("/d", names[i]);
        std::lock_guard lock(bm);
        done[b] = true;
        while (done_below < kBatches && done[done_below]) ++done_below;
        bcv.notify_all();
      }
    });
  for (auto& t : workers) t.join();
  EXPECT_EQ(p.stats().walks, 1u);
  // Ahead of the furthest open (199): files past it were fetched before anyone opened them.
  {
    std::unique_lock lock(rec.mu);
    rec.cv.wait_for(lock, 10s, [&] { return rec.fetched.count("/d/" + names[200 + 31]) > 0; });
  }
  std::this_thread::sleep_for(50ms);
  std::lock_guard lock(rec.mu);
  EXPECT_EQ(rec.fetched.count("/d/" + names[200 + 31]), 1u) << p.stats().queued;
  EXPECT_EQ(rec.fetched.count("/d/" + names[200 + 32]), 0u);
}

TEST(FolderPrefetch, ANewEpochFromTheTopStartsTheWalkOver) {
  Recorder rec;
  auto names = names_of(300);
  FolderPrefetch p(small(8), [&](auto& f, auto n) { return rec.fetch(f, n); });
  p.listed("/d", names);
  for (size_t i = 0; i < 300; ++i) {
    p.opened("/d", names[i]);
    if (i >= 6) ASSERT_EQ(rec.wait_for(std::min<size_t>(i + 8, 299) - 6), std::min<size_t>(i + 8, 299) - 6);
  }
  // Epoch 2, walked again from its 7th open (index 6): up to 19 + 8 fetched a second time.
  for (size_t i = 0; i < 20; ++i) {
    p.opened("/d", names[i]);
    if (i >= 6) ASSERT_EQ(rec.wait_for(293 + i + 8 - 6), 293 + i + 8 - 6);
  }
  size_t want = (300 - 7) + (27 - 6);
  EXPECT_EQ(rec.count(), want);
  EXPECT_EQ(p.stats().walks, 2u);
  EXPECT_EQ(rec.fetched.count("/d/" + names[27]), 2u);
  EXPECT_EQ(rec.fetched.count("/d/" + names[28]), 1u);
}

TEST(FolderPrefetch, OnlyListedFoldersOfEnoughFilesAndListedNamesCount) {
  Recorder rec;
  FolderPrefetchOptions o = small();
  o.min_files = 8;
  FolderPrefetch p(o, [&](auto& f, auto n) { return rec.fetch(f, n); });
  auto names = names_of(100);
  for (size_t i = 0; i < 50; ++i) p.opened("/never-listed", names[i]);
  p.listed("/few", names_of(7));
  for (auto& n : names_of(7)) p.opened("/few", n);
  p.listed("/d", names);
  for (size_t i = 0; i < 50; ++i) p.opened("/d", "other" + std::to_string(i));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(p.stats().queued, 0u);
  // A listing that changed is a new order; the same listing again keeps the walk.
  p.listed("/d", names);
  for (size_t i = 0; i < 10; ++i) p.opened("/d", names[i]);
  p.listed("/d", names);
  for (size_t i = 10; i < 12; ++i) p.opened("/d", names[i]);
  EXPECT_EQ(p.stats().walks, 1u);
  EXPECT_EQ(rec.wait_for(11 + 16 - 6), 11u + 16 - 6);
}

TEST(FolderPrefetch, ClosingDropsWhatIsQueuedAndWaitsOnlyForFetchesUnderWay) {
  Recorder rec;
  rec.hold = true;
  auto names = names_of(1000);
  auto p = std::make_unique<FolderPrefetch>(small(500), [&](auto& f, auto n) { return rec.fetch(f, n); });
  p->listed("/d", names);
  for (size_t i = 0; i < 10; ++i) p->opened("/d", names[i]);
  {
    std::unique_lock lock(rec.mu);
    rec.cv.wait_for(lock, 10s, [&] { return rec.running == 3; });  // every thread in a fetch
  }
  std::thread release([&] {
    std::this_thread::sleep_for(100ms);
    std::lock_guard lock(rec.mu);
    rec.hold = false;
    rec.cv.notify_all();
  });
  p.reset();
  release.join();
  EXPECT_EQ(rec.count(), 3u);  // only the 3 under way
}

}  // namespace

// The listings remembered are the last listed, up to a count of folders and of names together:
// an ImageFolder's 10 class folders are all remembered (its shuffled epoch sweeps each), and a
// folder listed beyond the bound of names forgets the oldest.
TEST(FolderPrefetch, TheLastFoldersListedAreRememberedUpToABoundOfNames) {
  Recorder rec;
  FolderPrefetchOptions o = small(8);
  o.max_names = 1000;
  FolderPrefetch p(o, [&](auto& f, auto n) { return rec.fetch(f, n); });
  auto names = names_of(100);
  for (int c = 0; c < 10; ++c) p.listed("/train/c" + std::to_string(c), names);  // 1,000 names
  auto walk = [&](const std::string& folder) {
    uint64_t walks = p.stats().walks;
    for (size_t i = 0; i < 10; ++i) p.opened(folder, names[i]);
    return p.stats().walks - walks;
  };
  for (int c = 2; c < 10; ++c) EXPECT_EQ(walk("/train/c" + std::to_string(c)), 1u) << c;
  p.listed("/train/c10", names);  // 1,100: the first listed goes
  EXPECT_EQ(walk("/train/c10"), 1u);
  EXPECT_EQ(walk("/train/c0"), 0u);
  EXPECT_EQ(walk("/train/c1"), 1u);
}
