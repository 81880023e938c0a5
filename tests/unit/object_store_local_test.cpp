// The local-folder object store against the ObjectStore contract, and what is its own: objects
// are plain files under the folder, temp files never show in a listing.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "platform/folder_changes.h"
#include "platform/object_store.h"
#include "support/object_store_contract.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

class LocalFolderStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(bucket_.sub("root"));
    auto s = open_local_folder_store(bucket_.sub("root"));
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
  }
  TempDir bucket_{"dlfs-bucket"};
  TempDir scratch_{"dlfs-scratch"};
  std::unique_ptr<ObjectStore> store_;
};

}  // namespace

TEST_F(LocalFolderStoreTest, Basics) { check_object_store_basics(*store_, scratch_.path()); }

TEST_F(LocalFolderStoreTest, Listing) { check_object_store_listing(*store_); }

TEST_F(LocalFolderStoreTest, Copy) { check_object_store_copy(*store_); }

TEST_F(LocalFolderStoreTest, ObjectsArePlainFilesAndTempFilesAreNotListed) {
  ASSERT_TRUE(store_->put_bytes("a/b.txt", "bytes"));
  EXPECT_EQ(read_file(bucket_.sub("root/a/b.txt")), "bytes");
  EXPECT_EQ(store_->local_path("a/b.txt"), bucket_.sub("root/a/b.txt"));
  write_file(bucket_.sub("root/a/c.txt"), "put there by someone else");
  write_file(bucket_.sub("root/a/.dlfs-tmp-123"), "half an upload");
  std::vector<std::string> keys;
  ASSERT_TRUE(store_->list("", [&](const ObjectInfo& o) {
    keys.push_back(o.key);
    return true;
  }));
  EXPECT_EQ(keys, (std::vector<std::string>{"a/b.txt", "a/c.txt"}));
}

TEST_F(LocalFolderStoreTest, TheFolderMustExistAndBeAbsolute) {
  EXPECT_EQ(open_local_folder_store(bucket_.sub("missing")).err(), ENOENT);
  EXPECT_EQ(open_local_folder_store("relative/path").err(), EINVAL);
}

// Change notifications (watched syncs of a local folder's datasets): every change below the
// prefix is told — in folders there before the watch and in folders made after it —, nothing
// outside it, in what the caller skips or in the store's own temp files; a removed folder ends it.
TEST_F(LocalFolderStoreTest, ChangeNotificationsTellEveryChangeBelowThePrefixAndNothingSkipped) {
  namespace fs = std::filesystem;
  fs::create_directories(bucket_.sub("root/cams/old"));
  fs::create_directories(bucket_.sub("root/other"));
  std::vector<std::string> skipped_asked;
  auto watch = store_->watch_changes("cams", [&](std::string_view key) {
    skipped_asked.emplace_back(key);
    return key == "cams/.dataloop" || key.starts_with("cams/.dataloop/");
  });
  ASSERT_TRUE(watch) << watch.status().to_string();
  ObjectChanges& changes = **watch;
  auto take = [&] {
    auto r = changes.take();
    EXPECT_TRUE(r) << r.status().to_string();
    return r && *r;
  };
  EXPECT_FALSE(take()) << "a change told before any";

  write_file(bucket_.sub("root/cams/a.txt"), "a");
  EXPECT_TRUE(take()) << "a new object";
  EXPECT_FALSE(take()) << "told twice";
  write_file(bucket_.sub("root/other/x.txt"), "x");
  EXPECT_FALSE(take()) << "a change outside the prefix";
  write_file(bucket_.sub("root/cams/old/b.txt"), "b");
  EXPECT_TRUE(take()) << "a new object in a folder there before the watch";

  fs::create_directories(bucket_.sub("root/cams/new/deeper"));
  EXPECT_TRUE(take()) << "a new folder";
  write_file(bucket_.sub("root/cams/new/deeper/c.txt"), "c");
  EXPECT_TRUE(take()) << "a new object in a folder made after the watch";

  write_file(bucket_.sub("root/cams/.dlfs-tmp-9"), "half an upload");
  EXPECT_FALSE(take()) << "the store's own temp file";
  ASSERT_TRUE(store_->put_bytes("cams/d.txt", "d"));
  EXPECT_TRUE(take()) << "an object put through the store (its temp file's rename)";
  fs::create_directories(bucket_.sub("root/cams/.dataloop/thumbnails"));
  write_file(bucket_.sub("root/cams/.dataloop/thumbnails/t.jpg"), "t");
  EXPECT_FALSE(take()) << "a change in what the caller skips";
  EXPECT_NE(std::find(skipped_asked.begin(), skipped_asked.end(), "cams/.dataloop"), skipped_asked.end());

  write_file(bucket_.sub("root/cams/a.txt"), "a, rewritten");
  EXPECT_TRUE(take()) << "an object rewritten";
  fs::last_write_time(bucket_.sub("root/cams/a.txt"), fs::file_time_type::clock::now() - std::chrono::hours(1));
  EXPECT_TRUE(take()) << "an object's time changed";
  fs::rename(bucket_.sub("root/cams/old"), bucket_.sub("root/cams/older"));
  EXPECT_TRUE(take()) << "a folder renamed";
  write_file(bucket_.sub("root/cams/older/e.txt"), "e");
  EXPECT_TRUE(take()) << "a new object in a renamed folder";
  fs::remove(bucket_.sub("root/cams/a.txt"));
  EXPECT_TRUE(take()) << "an object removed";

  fs::remove_all(bucket_.sub("root/cams"));
  auto gone = changes.take();
  ASSERT_TRUE(gone);
  EXPECT_TRUE(*gone) << "the watched folder removed";
  EXPECT_EQ(changes.take().err(), ENOENT) << "a watch that can no longer see changes goes on";
}

TEST_F(LocalFolderStoreTest, ChangeNotificationsNeedTheFolderAndABoundedTree) {
  EXPECT_EQ(store_->watch_changes("missing", nullptr).err(), ENOENT);
  for (int i = 0; i < 5; ++i) std::filesystem::create_directories(bucket_.sub("root/many/d" + std::to_string(i)));
  FolderChangesOptions bounded;
  bounded.max_folders = 4;
  auto too_many = watch_folder_tree(bucket_.sub("root/many"), bounded);
  EXPECT_EQ(too_many.err(), ENOSPC);
  EXPECT_NE(too_many.status().to_string().find("more than 4 folders"), std::string::npos) << too_many.status().to_string();
  bounded.max_folders = 6;
  EXPECT_TRUE(watch_folder_tree(bucket_.sub("root/many"), bounded));
}
