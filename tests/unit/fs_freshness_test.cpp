// Freshness of the core's listings and items: the LMDB cache serves a warm remount without a
// remote call, entries older than dir_ttl are refetched, changes reach the kernel as
// invalidations, and a failing remote falls back to what is cached.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <random>
#include <thread>

#include "fs/metadata_source.h"
#include "remote/forwarding_remote.h"
#include "support/fs_fixture.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {
class FsFreshness : public ::testing::Test, public FsFixture {};
}  // namespace

TEST_F(FsFreshness, WarmRemountListsWithoutAnyRemoteListing) {
  for (int i = 0; i < 30; ++i) remote.add_file("/d/f" + std::to_string(i), "x");
  mount();
  auto cold = list(walk("/d")->ino);
  EXPECT_EQ(cold->size(), 32u);
  EXPECT_EQ(remote.calls(RemoteCall::kList), 1u);  // "/d" once; "/" is only looked up
  unmount();
  remote.reset_calls();
  clock.advance_ms(10000);  // within the default 30 s
  mount();
  auto warm = list(walk("/d")->ino);
  EXPECT_EQ(*warm, *cold);
  EXPECT_EQ(remote.calls(RemoteCall::kList), 0u);
  EXPECT_EQ(remote.total_calls(), 0u);  // the root, /d and the listing all from the cache
  auto stats = fs->stats_json();
  EXPECT_EQ(stats["remote"]["list_pages"], 0);
  EXPECT_GE(stats["listings"]["cache_hits"], 1);
}

TEST_F(FsFreshness, ExpiredListingIsRefetchedAndChangesInvalidateTheKernel) {
  remote.add_file("/d/keep", "k");
  remote.add_file("/d/gone", "g");
  Item changing = remote.add_file("/d/changing", "v1");
  options.dir_ttl_ms = 5000;
  mount();
  Ino d = walk("/d")->ino;
  ASSERT_EQ(list(d)->size(), 5u);
  Ino changing_ino = walk("/d/changing")->ino;
  Ino gone_ino = walk("/d/gone")->ino;
  remote.reset_calls();

  remote.erase("/d/gone");
  remote.add_file("/d/new", "n");
  remote.rewrite_file("/d/changing", "version 2");
  clock.advance_ms(4000);  // still fresh: nothing seen, nothing asked
  EXPECT_EQ(list(d)->size(), 5u);
  EXPECT_EQ(remote.calls(RemoteCall::kList), 0u);
  EXPECT_EQ(walk("/d/new").err(), ENOENT);  // negative answer from the fresh listing
  EXPECT_EQ(remote.calls(RemoteCall::kGet), 0u);

  clock.advance_ms(2000);  // now older than dir_ttl
  auto names = *list(d);
  EXPECT_EQ(remote.calls(RemoteCall::kList), 1u);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            (std::set<std::string>{".", "..", "keep", "changing", "new"}));
  EXPECT_EQ(invalidator.inodes(), std::vector<Ino>{changing_ino});
  ASSERT_EQ(invalidator.entries().size(), 1u);
  EXPECT_EQ(invalidator.entries()[0], std::make_pair(d, std::string("gone")));
  EXPECT_EQ(fs->getattr(changing_ino)->attr.st_size, 9);
  EXPECT_EQ(*cat(changing_ino), "version 2");
  (void)gone_ino;
  (void)changing;
}

TEST_F(FsFreshness, InfiniteTtlNeverRefetches) {
  remote.add_file("/d/a", "a");
  options.dir_ttl_ms = -1;
  mount();
  Ino d = walk("/d")->ino;
  list(d).value();
  remote.reset_calls();
  clock.advance_ms(365LL * 24 * 3600 * 1000);
  list(d).value();
  EXPECT_EQ(fs->getattr(walk("/d/a")->ino)->attr.st_size, 1);
  EXPECT_EQ(remote.total_calls(), 0u);
}

TEST_F(FsFreshness, StaleEntriesServedWhenTheRemoteFails) {
  remote.add_file("/d/a", "a");
  options.dir_ttl_ms = 1000;
  mount();
  Ino d = walk("/d")->ino;
  list(d).value();
  clock.advance_ms(5000);
  remote.fail_next(RemoteCall::kList, 1, EIO);
  auto names = list(d);
  ASSERT_TRUE(names) << names.status().to_string();
  EXPECT_EQ(names->size(), 3u);
  EXPECT_EQ(fs->stats_json()["listings"]["stale_served"], 1);
  // A folder deleted remotely is an error, not a stale listing.
  clock.advance_ms(5000);
  remote.erase("/d");
  EXPECT_EQ(list(d).err(), ENOENT);
}

TEST_F(FsFreshness, ExpiredItemIsRefetchedOnGetattr) {
  remote.add_file("/a", "1");
  options.dir_ttl_ms = 1000;
  mount();
  Ino a = walk("/a")->ino;
  remote.reset_calls();
  EXPECT_EQ(fs->getattr(a)->attr.st_size, 1);
  EXPECT_EQ(remote.total_calls(), 0u);
  clock.advance_ms(2000);
  remote.erase("/a");
  EXPECT_EQ(fs->getattr(a).err(), ENOENT);
  EXPECT_EQ(remote.calls(RemoteCall::kGet), 1u);
}

TEST_F(FsFreshness, ConcurrentReadersOfAStaleFolderShareOneRefetch) {
  for (int i = 0; i < 10; ++i) remote.add_file("/d/f" + std::to_string(i), "x");
  options.dir_ttl_ms = 1000;
  mount();
  Ino d = walk("/d")->ino;
  list(d).value();
  clock.advance_ms(2000);
  remote.reset_calls();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) threads.emplace_back([&] { EXPECT_EQ(list(d)->size(), 12u); });
  for (auto& th : threads) th.join();
  const auto& c = fs->source_counters();
  EXPECT_EQ(remote.calls(RemoteCall::kList), 1u)
      << "memory hits " << c.listing_memory_hits << ", cache hits " << c.listing_cache_hits << ", fetches "
      << c.listing_fetches << ", stale " << c.stale_served << ", list calls " << remote.total_calls();
}

// A listing read from the cache while the mount learns an item of that folder must not go into
// memory without it: a later lookup would answer ENOENT for a file the mount itself just made
// (found by the core model's long run, FakePlatform seed 1051: a file resumed after a remount
// was listed, then not found); nor may an item the mount removed come back. Races the two many
// times, with a random head start.
// Runs source.listing(dir) on another thread against `change` on this one, the listing given a
// random head start.
void race_listing(MetadataSource& source, const std::string& dir, std::mt19937& rng,
                  const std::function<void()>& change) {
  std::atomic<bool> go{false};
  std::thread lister([&] {
    while (!go) std::this_thread::yield();
    (void)source.listing(dir);
  });
  int head_start = int(rng() % 4000);
  go = true;
  for (int spin = 0; spin < head_start; ++spin) std::atomic_signal_fence(std::memory_order_seq_cst);  // (not optimized away)
  change();
  lister.join();
}

TEST_F(FsFreshness, AListingReadFromTheCacheNeverHidesAnItemLearnedMeanwhile) {
  mount();  // (opens the cache)
  std::mt19937 rng(7);
  for (int round = 0; round < 500 && !HasFailure(); ++round) {
    MetadataSource source(remote, cache.get(), clock, 30000);
    std::string dir = "/r" + std::to_string(round);
    Item a = remote.add_file(dir + "/a", "a");
    ASSERT_TRUE(cache->put_listing(dir, {a}));  // fresh, and without c
    Item c = remote.add_file(dir + "/c", "c");
    race_listing(source, dir, rng, [&] { source.learned(c); });
    auto found = source.item(dir + "/c");
    ASSERT_TRUE(found) << "round " << round << ": " << found.status().to_string();
  }
  // The same for an item the mount removed: it must not come back from the cached listing.
  for (int round = 0; round < 500 && !HasFailure(); ++round) {
    MetadataSource source(remote, cache.get(), clock, 30000);
    std::string dir = "/g" + std::to_string(round);
    Item c = remote.add_file(dir + "/c", "c");
    ASSERT_TRUE(cache->put_listing(dir, {c}));  // fresh, with c
    ASSERT_TRUE(remote.remove(c.id));
    race_listing(source, dir, rng, [&] { source.removed(dir + "/c"); });
    auto found = source.item(dir + "/c");
    ASSERT_FALSE(found) << "round " << round << ": a removed item is back";
  }
}

// Listings are stored in the cache in the background. One stored between a change's dropping
// of the cached entries and its epoch bump passes both of the writer's checks; it must not keep
// the old state for a remount (found by the core model, FakePlatform seed 1001, 6 items in
// memory: listings read back from the cache all the time).
TEST_F(FsFreshness, AListingStoredInTheBackgroundNeverHidesAChangeMadeMeanwhile) {
  mount();  // (opens the cache)
  for (std::string change : {"learned", "removed", "forgotten"}) {
    SCOPED_TRACE(change);
    bool removal = change == "removed";
    std::string dir = "/" + change;
    remote.add_file(dir + "/a", "a");
    Item c;
    if (removal) c = remote.add_file(dir + "/c", "c");
    {
      MetadataSource source(remote, cache.get(), clock, 30000);
      source.hold_cache_writes(true);
      ASSERT_TRUE(source.listing(dir));  // fetched; waits to be stored
      // The change reaches the platform, then the mount; the listing is stored in between the
      // change's two steps.
      source.set_change_hook_for_tests([&] { source.flush_cache_writes(); });
      if (removal) {
        ASSERT_TRUE(remote.remove(c.id));
        source.removed(dir + "/c");
      } else if (change == "learned") {
        c = remote.add_file(dir + "/c", "c");
        source.learned(c);
      } else {  // a change whose outcome the mount does not know (an answer lost)
        c = remote.add_file(dir + "/c", "c");
        source.forget(dir + "/c");
      }
    }
    // A remount: what the cache answers has the change.
    MetadataSource again(remote, cache.get(), clock, 30000);
    auto listing = again.listing(dir);
    ASSERT_TRUE(listing) << listing.status().to_string();
    bool listed = false;
    for (size_t i = 0; i < listing->items->size(); ++i) listed |= listing->items->name(i) == "c";
    EXPECT_EQ(listed, !removal);
    EXPECT_EQ(again.item(dir + "/c").is_ok(), !removal);
  }
}

TEST_F(FsFreshness, ListingsInMemoryStayWithinTheirBoundAndEvictedOnesAreAskedAgain) {
  mount();
  MetadataSource source(remote, cache.get(), clock, 30000, 1000, /*memory_items=*/20);
  for (int d = 0; d < 10; ++d)
    for (int f = 0; f < 5; ++f) remote.add_file("/d" + std::to_string(d) + "/f" + std::to_string(f), "x");
  for (int d = 0; d < 10; ++d) {
    ASSERT_TRUE(source.listing("/d" + std::to_string(d)));
    EXPECT_LE(source.items_in_memory(), 20u);
  }
  // A copy into a new folder: every file learned, the count bounded all along (the changes are
  // counted, and the oldest listings go).
  source.made_dir(remote.add_dir("/new"));
  std::vector<Item> made;
  for (int f = 0; f < 100; ++f) {
    made.push_back(remote.add_file("/new/n" + std::to_string(f), "y"));
    source.learned(made.back());
    EXPECT_LE(source.items_in_memory(), 20u + 1) << f;  // (the folder written to is kept whole)
  }
  // Over the bound alone, the folder still answers a name that is not there without a remote call
  // (a `cp` asks one per file), and the names it made from the cache.
  remote.reset_calls();
  EXPECT_EQ(source.item("/new/not-there").err(), ENOENT);
  for (int f = 0; f < 100; ++f) EXPECT_EQ(source.item(made[f].filename)->item, made[f]) << f;
  EXPECT_EQ(remote.total_calls(), 0u);
  // Removals are counted and bounded too; and what went out of memory is still right.
  for (int f = 0; f < 50; ++f) {
    remote.erase(made[f].filename);
    source.removed(made[f].filename);
  }
  for (int f = 0; f < 100; ++f) EXPECT_EQ(bool(source.item(made[f].filename)), f >= 50) << f;
  auto listed = source.listing("/new");
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->items->size(), 50u);
  for (int d = 0; d < 10; ++d) {
    auto again = source.listing("/d" + std::to_string(d));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->items->size(), 5u);
  }
  EXPECT_LE(source.items_in_memory(), 100u);
}

// A listing that raced with the mount's own changes to its folder (uploads landing while it was
// read, as at the end of a busy `cp -r`) is kept with those changes replayed on top. Before, it
// was dropped: the folder kept no listing, and once the server went away a create in it failed
// with EIO (its lookup had nothing to answer "not there" from) — the mount model's offline phase
// under load, in CI.
namespace {
// Runs `during` once, inside the first listing call, before it reaches the remote.
class ListingHookRemote : public ForwardingRemote {
 public:
  using ForwardingRemote::ForwardingRemote;
  Result<ItemPage> list_range(std::string_view dir, std::string_view after, std::string_view until,
                              size_t page_size) override {
    if (auto hook = std::exchange(during, nullptr)) hook();
    return ForwardingRemote::list_range(dir, after, until, page_size);
  }
  std::function<void()> during;
};

bool lists(const Listing& listing, std::string_view name) {
  for (size_t i = 0; i < listing.items->size(); ++i)
    if (listing.items->name(i) == name) return true;
  return false;
}
}  // namespace

TEST_F(FsFreshness, AListingThatRacedTheMountsOwnChangesIsKeptWithThem) {
  mount();  // (opens the cache)
  for (std::string change : {"learned", "removed", "forgotten"}) {
    SCOPED_TRACE(change);
    std::string dir = "/" + change;
    Item a = remote.add_file(dir + "/a", "a");
    ListingHookRemote hooked(remote);
    MetadataSource source(hooked, cache.get(), clock, 30000);
    hooked.during = [&] {  // the change reaches the platform, then the mount, as the listing is read
      if (change == "learned") {
        source.learned(remote.add_file(dir + "/c", "c"));
      } else if (change == "removed") {
        ASSERT_TRUE(remote.remove(a.id));
        source.removed(dir + "/a");
      } else {
        remote.add_file(dir + "/c", "c");
        source.forget(dir + "/c");
      }
    };
    auto listing = source.listing(dir);
    ASSERT_TRUE(listing) << listing.status().to_string();
    EXPECT_EQ(lists(*listing, "a"), change != "removed");
    EXPECT_EQ(lists(*listing, "c"), change != "removed");
    // The server goes away: what the mount kept answers, or (a change it cannot know) nothing.
    remote.set_away(true);
    remote.fail_next(RemoteCall::kGet, 10, EHOSTDOWN);
    remote.fail_next(RemoteCall::kList, 10, EHOSTDOWN);
    auto absent = source.item(dir + "/new");
    if (change == "forgotten") {
      EXPECT_EQ(absent.err(), EHOSTDOWN) << "a listing that raced a change of unknown outcome was kept";
    } else {
      EXPECT_EQ(absent.err(), ENOENT) << absent.status().to_string();
      EXPECT_EQ(source.item(dir + "/a").is_ok(), change == "learned");
      EXPECT_EQ(source.item(dir + "/c").is_ok(), change == "learned");
    }
    remote.set_away(false);
    remote.fail_next(RemoteCall::kGet, 0, 0);
    remote.fail_next(RemoteCall::kList, 0, 0);
  }
}

// A folder's times patched after names changed in it (run_folder_times) mark its cached item
// stale rather than drop it: a remount asks the platform again, and a mount whose server is away
// still finds the folder. Before, the folder's lookup failed with EIO once the kernel asked again
// (its parent never listed) — the same offline phase.
TEST_F(FsFreshness, APatchedFolderIsAgedInTheCacheNotDropped) {
  mount();
  Item t = remote.add_dir("/t");
  remote.add_file("/t/a", "a");
  {
    MetadataSource source(remote, cache.get(), clock, 30000);
    source.made_dir(t);  // (as mkdir does: the item cached, the parent never listed)
    ASSERT_TRUE(source.listing("/t"));
    source.age_cached("/t");
  }
  auto cached = cache->get_item("/t");
  ASSERT_TRUE(cached) << "the folder's item was dropped";
  MetadataSource again(remote, cache.get(), clock, 30000);
  remote.set_away(true);
  remote.fail_next(RemoteCall::kGet, 1, EHOSTDOWN);
  auto offline = again.item("/t");
  ASSERT_TRUE(offline) << offline.status().to_string();
  EXPECT_TRUE(offline->item.is_dir());
  remote.set_away(false);
  remote.reset_calls();
  ASSERT_TRUE(again.item("/t"));
  EXPECT_EQ(remote.calls(RemoteCall::kGet), 1u) << "a stale entry must be asked for again online";
}
