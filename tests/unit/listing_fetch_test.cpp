// fs/listing_fetch: a large folder's listing walked as several id ranges at once comes back
// whole, in id order, each item once — whatever the split points are, with the folder changing
// during the fetch, and with a walk failing.
#include "fs/listing_fetch.h"

#include <gtest/gtest.h>

#include <mutex>
#include <random>
#include <set>

#include "remote/fake_remote.h"
#include "remote/forwarding_remote.h"

using namespace dlfs;

namespace {

std::vector<std::string> ids_of(const PackedItems& items) {
  std::vector<std::string> out;
  for (size_t i = 0; i < items.size(); ++i) out.emplace_back(items.id(i));
  return out;
}

std::vector<std::string> listed_ids(FakeRemote& fake, const std::string& dir) {
  std::vector<std::string> out;
  std::string after;
  for (;;) {
    auto page = fake.list(dir, after, 1000);
    EXPECT_TRUE(page) << page.status().to_string();
    if (!page) return out;
    for (const Item& i : page->items) out.push_back(i.id);
    if (!page->has_next()) return out;
    after = page->next_after;
  }
}

// Split points chosen by the test, and a hook run at every page (changes the folder meanwhile).
class SteeredRemote : public ForwardingRemote {
 public:
  using ForwardingRemote::ForwardingRemote;
  Result<ItemPage> list_range(std::string_view dir, std::string_view after, std::string_view until,
                              size_t page_size) override {
    {
      std::lock_guard lock(mu);
      ranges_walked.insert(std::string(until));
      if (on_page) on_page();
    }
    return ForwardingRemote::list_range(dir, after, until, page_size);
  }
  Result<std::string> listing_id_at(std::string_view dir, uint64_t offset) override {
    std::lock_guard lock(mu);
    ++probes;
    if (split) return split(offset);
    return ForwardingRemote::listing_id_at(dir, offset);
  }
  std::mutex mu;
  std::function<Result<std::string>(uint64_t)> split;
  std::function<void()> on_page;
  std::set<std::string> ranges_walked;
  int probes = 0;
};

class ListingFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2500; ++i) fake_.add_file("/big/f" + std::to_string(i), "x");
    fake_.add_file("/small/a", "a");
    fake_.add_file("/small/b", "b");
  }
  ListingFetch how(size_t streams) {
    ListingFetch h;
    h.page_size = 100;
    h.streams = streams;
    h.pages = &pages_;
    return h;
  }
  FakeRemote fake_;
  SteeredRemote steered_{fake_};
  std::atomic<uint64_t> pages_{0};
};

}  // namespace

TEST_F(ListingFetchTest, FourRangesAtOnceGiveTheFolderInIdOrderEachItemOnce) {
  auto want = listed_ids(fake_, "/big");
  ASSERT_EQ(want.size(), 2500u);
  auto got = fetch_listing(steered_, "/big", how(4));
  ASSERT_TRUE(got) << got.status().to_string();
  EXPECT_EQ(ids_of(*got), want);
  EXPECT_EQ(steered_.probes, 3);
  EXPECT_EQ(steered_.ranges_walked.size(), 4u) << "the walks were not split into 4 ranges";
  // 2,500 items: the first page, then 4 ranges of 600 in 6 pages each (a range's last page says
  // it is the last: no empty page to end a walk).
  EXPECT_EQ(pages_.load(), 25u);

  // One stream: one walk, no probes.
  steered_.probes = 0;
  auto one = fetch_listing(steered_, "/big", how(1));
  ASSERT_TRUE(one);
  EXPECT_EQ(ids_of(*one), want);
  EXPECT_EQ(steered_.probes, 0);
}

TEST_F(ListingFetchTest, AFolderOfOnePageIsOneCallAndItemsCanBeLeftOut) {
  auto h = how(4);
  h.keep = [](const Item& i) { return i.name != "b"; };
  auto got = fetch_listing(steered_, "/small", h);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->name(0), "a");
  EXPECT_EQ(pages_.load(), 1u);
  EXPECT_EQ(steered_.probes, 0);
  EXPECT_EQ(fetch_listing(steered_, "/nope", h).err(), ENOENT);
}

// Split points out of order, repeated, past the end, from another folder, or failing: the
// ranges still cover every id once.
TEST_F(ListingFetchTest, WhateverTheSplitPointsTheRangesCoverEveryIdOnce) {
  auto want = listed_ids(fake_, "/big");
  std::vector<std::function<Result<std::string>(uint64_t)>> splits = {
      [&](uint64_t o) -> Result<std::string> { return want[want.size() - 1 - o]; },  // decreasing
      [&](uint64_t) -> Result<std::string> { return want[1200]; },                     // all the same
      [&](uint64_t) -> Result<std::string> { return std::string(); },                  // past the end
      [&](uint64_t) -> Result<std::string> { return want[50]; },                       // inside the first page
      [&](uint64_t o) -> Result<std::string> {
        if (o < 1000) return want[o];
        return Status(ETIMEDOUT, "lost");
      },
      [&](uint64_t o) -> Result<std::string> { return want[o] + "~"; },  // ids of no item
  };
  for (size_t i = 0; i < splits.size(); ++i) {
    steered_.split = splits[i];
    auto got = fetch_listing(steered_, "/big", how(4));
    ASSERT_TRUE(got) << "split rule " << i << ": " << got.status().to_string();
    EXPECT_EQ(ids_of(*got), want) << "split rule " << i;
  }
}

// Items made and deleted while the ranges are walked: no id twice, ids in order, and every item
// there from start to end of the fetch is in it (what one walk promises).
TEST_F(ListingFetchTest, TheFolderChangingDuringTheFetchNeverDuplicatesOrLosesAStayingItem) {
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    auto before = listed_ids(fake_, "/big");
    std::mt19937 rng(seed);
    std::vector<std::string> paths;
    for (int i = 0; i < 2500; ++i) paths.push_back("/big/f" + std::to_string(i));
    std::set<std::string> touched;
    int made = 0;
    steered_.on_page = [&] {
      if (rng() % 2) {
        std::string path = "/big/new" + std::to_string(seed) + "-" + std::to_string(made++);
        touched.insert(fake_.add_file(path, "n").id);
        paths.push_back(path);
      } else {
        size_t i = rng() % paths.size();
        if (auto at = fake_.item_at(paths[i])) {
          touched.insert(at->id);
          fake_.erase(paths[i]);
        }
      }
    };
    auto got = fetch_listing(steered_, "/big", how(4));
    steered_.on_page = nullptr;
    ASSERT_TRUE(got) << got.status().to_string();
    auto ids = ids_of(*got);
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end())) << "seed " << seed;
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "an id twice, seed " << seed;
    auto after = listed_ids(fake_, "/big");
    std::set<std::string> now(after.begin(), after.end()), seen(ids.begin(), ids.end());
    for (const auto& id : before)
      if (now.count(id) && !touched.count(id)) EXPECT_TRUE(seen.count(id)) << "lost " << id << ", seed " << seed;
  }
}

// The platform lists in id order, with no snapshot: a file uploaded over a name the walks are
// already past (the model test found it: an upload replacing the item) comes again with its new
// id at the end. The listing still holds the name once, as its newer item.
TEST_F(ListingFetchTest, ANameReplacedDuringTheFetchIsListedOnceAsItsNewItem) {
  Item old_item = *fake_.item_at("/big/f3");
  bool replaced = false;
  int pages = 0;
  steered_.on_page = [&] {
    if (++pages == 3 && !replaced) {  // (the first walk is past f3 by its third page)
      fake_.erase("/big/f3");
      fake_.add_file("/big/f3", "new bytes");
      replaced = true;
    }
  };
  auto got = fetch_listing(steered_, "/big", how(1));
  steered_.on_page = nullptr;
  ASSERT_TRUE(got) << got.status().to_string();
  ASSERT_TRUE(replaced);
  size_t named = 0;
  std::string id;
  for (size_t i = 0; i < got->size(); ++i)
    if (got->name(i) == "f3") ++named, id = std::string(got->id(i));
  EXPECT_EQ(named, 1u);
  EXPECT_EQ(id, fake_.item_at("/big/f3")->id);
  EXPECT_NE(id, old_item.id);
  EXPECT_EQ(got->size(), 2500u);
}

TEST_F(ListingFetchTest, AFailingWalkFailsTheFetch) {
  fake_.fail_next(RemoteCall::kList, 1, ETIMEDOUT);  // the first page
  EXPECT_EQ(fetch_listing(steered_, "/big", how(4)).err(), ETIMEDOUT);
  int pages = 0;
  steered_.on_page = [&] {
    if (++pages == 6) fake_.fail_next(RemoteCall::kList, 1, EIO);  // a page of one of the walks
  };
  EXPECT_EQ(fetch_listing(steered_, "/big", how(4)).err(), EIO);
}
