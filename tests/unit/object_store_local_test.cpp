// The local-folder object store against the ObjectStore contract, and what is its own: objects
// are plain files under the folder, temp files never show in a listing.
#include <gtest/gtest.h>

#include <filesystem>

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
