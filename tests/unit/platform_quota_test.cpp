// Quotas of items: a dataset's (metadata.system.itemsQuota) and the store's, counted with the
// items in the catalogue; what would go past one is refused with EDQUOT and a message that says
// which quota and how to raise it.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "platform/platform.h"
#include "platform_fixture.h"

using namespace dlfs;
using namespace dlfs::test;

TEST_F(PlatformTest, DatasetQuotaRefusesTheItemPastItAndOnlyThat) {
  ASSERT_TRUE(platform_->set_dataset_quota(ds_.id, 3));
  put("/a", "1");
  put("/d/b", "2");  // the folder /d is not an item of the quota
  auto q = platform_->quota(ds_.id);
  ASSERT_TRUE(q) << q.status().to_string();
  EXPECT_EQ(q->dataset_items, 2u);
  EXPECT_EQ(q->dataset_quota, 3u);
  EXPECT_EQ(q->room(), std::optional<uint64_t>(1));
  put("/c", "3");
  auto refused = platform_->upload_bytes(ds_.id, "4", "/e", {});
  ASSERT_EQ(refused.err(), EDQUOT);
  EXPECT_NE(refused.status().message().find("'cars' is full: 3 of its quota of 3 items"), std::string::npos)
      << refused.status().to_string();
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/e").err(), ENOENT);  // nothing half-made
  EXPECT_EQ(platform_->quota(ds_.id)->room(), std::optional<uint64_t>(0));

  // Overwriting an item and moving one do not add items: both still work when full.
  UploadOptions overwrite;
  overwrite.mode = UploadMode::kOverwrite;
  auto again = platform_->upload_bytes(ds_.id, "new bytes", "/a", overwrite);
  ASSERT_TRUE(again) << again.status().to_string();
  EXPECT_EQ(read_all(again->item), "new bytes");
  ASSERT_TRUE(platform_->move_item(platform_->get_item_by_path(ds_.id, "/c")->id, "/d/c", "dev@local"));

  // Deleting makes room; raising the quota makes room; none removes it.
  ASSERT_TRUE(platform_->delete_item(platform_->get_item_by_path(ds_.id, "/d/c")->id));
  put("/e", "4");
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "5", "/f", {}).err(), EDQUOT);
  ASSERT_TRUE(platform_->set_dataset_quota(ds_.id, 4));
  put("/f", "5");
  ASSERT_TRUE(platform_->set_dataset_quota(ds_.id, 0));
  EXPECT_FALSE(platform_->quota(ds_.id)->room());
  put("/g", "6");
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 5u);

  // A quota below what is there refuses what comes next and removes nothing.
  ASSERT_TRUE(platform_->set_dataset_quota(ds_.id, 2));
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "7", "/h", {}).err(), EDQUOT);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 5u);
  EXPECT_EQ(platform_->quota(ds_.id)->room(), std::optional<uint64_t>(0));
  // It survives a reopen (it is in the dataset's record).
  reopen();
  EXPECT_EQ(platform_->quota(ds_.id)->dataset_quota, 2u);
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "7", "/h", {}).err(), EDQUOT);
}

TEST_F(PlatformTest, StoreQuotaCountsEveryDataset) {
  auto bikes = platform_->create_dataset("bikes", "dev@local");
  ASSERT_TRUE(bikes);
  ASSERT_TRUE(platform_->set_store_quota(3));
  put("/a", "1");
  put("/b", "2");
  ASSERT_TRUE(platform_->upload_bytes(bikes->id, "3", "/x", {}));
  auto refused = platform_->upload_bytes(bikes->id, "4", "/y", {});
  ASSERT_EQ(refused.err(), EDQUOT);
  EXPECT_NE(refused.status().message().find("the store is full: 3 of its quota of 3 items"), std::string::npos)
      << refused.status().to_string();
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "4", "/c", {}).err(), EDQUOT);
  auto q = platform_->quota(ds_.id);
  EXPECT_EQ(q->store_items, 3u);
  EXPECT_EQ(q->store_quota, 3u);
  EXPECT_EQ(q->room(), std::optional<uint64_t>(0));
  // The smaller room of the two quotas is the room.
  ASSERT_TRUE(platform_->set_store_quota(10));
  ASSERT_TRUE(platform_->set_dataset_quota(ds_.id, 3));
  EXPECT_EQ(platform_->quota(ds_.id)->room(), std::optional<uint64_t>(1));
  EXPECT_EQ(platform_->quota(bikes->id)->room(), std::optional<uint64_t>(7));
  // Deleting a dataset gives its items back to the store.
  ASSERT_TRUE(platform_->delete_dataset(bikes->id));
  EXPECT_EQ(platform_->quota(ds_.id)->store_items, 2u);
  reopen();
  EXPECT_EQ(platform_->quota(ds_.id)->store_quota, 10u);
}

TEST_F(PlatformTest, QuotaHoldsUnderConcurrentUploads) {
  // Uploads from many threads share catalogue commits: the quota must count each exactly once,
  // so that exactly `quota` of them land and every other one is refused with EDQUOT.
  ASSERT_TRUE(platform_->set_dataset_quota(ds_.id, 50));
  std::atomic<int> landed{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 12; ++i) {
        std::string path = "/q/" + std::to_string(t) + "-" + std::to_string(i);
        auto r = platform_->upload_bytes(ds_.id, path, path, {});
        if (r) ++landed;
        else if (r.err() == EDQUOT) ++refused;
        else ADD_FAILURE() << r.status().to_string();
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(landed.load(), 50);
  EXPECT_EQ(refused.load(), 8 * 12 - 50);
  EXPECT_EQ(names_in("/q").size(), 50u);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 50u);
}

TEST(QuotaInfoTest, JsonRoundTripAndRoom) {
  QuotaInfo q{.dataset_items = 4, .dataset_quota = 10, .store_items = 99, .store_quota = 100};
  EXPECT_EQ(q.room(), std::optional<uint64_t>(1));
  auto back = QuotaInfo::from_json(q.to_json());
  ASSERT_TRUE(back) << back.status().to_string();
  EXPECT_EQ(back->dataset_quota, 10u);
  EXPECT_EQ(back->store_items, 99u);
  EXPECT_EQ(q.to_json()["room"], 1);
  QuotaInfo none{.dataset_items = 4};
  EXPECT_FALSE(none.room());
  EXPECT_TRUE(none.to_json()["room"].is_null());
  EXPECT_TRUE(none.to_json()["itemsQuota"].is_null());
  QuotaInfo over{.dataset_items = 12, .dataset_quota = 10};
  EXPECT_EQ(over.room(), std::optional<uint64_t>(0));
  EXPECT_FALSE(QuotaInfo::from_json(json::array()));
}
