// The fixture of the embedded platform's unit tests (platform_test, platform_query_test): a
// store in a temp folder with a fake clock and the dataset "cars".
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "platform/platform.h"
#include "support/read_item.h"

namespace dlfs::test {

using namespace dlfs;
namespace fs = std::filesystem;

inline UploadOptions with_meta(json metadata) {
  UploadOptions options;
  options.metadata = std::move(metadata);
  return options;
}

class PlatformTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dlfs-platform-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    reopen();
    auto ds = platform_->create_dataset("cars", "dev@local");
    ASSERT_TRUE(ds) << ds.status().to_string();
    ds_ = *ds;
  }
  void TearDown() override {
    platform_.reset();
    fs::remove_all(dir_);
  }
  void reopen() {
    platform_.reset();
    auto p = Platform::open(PlatformOptions{(dir_ / "store").string(), &clock_});
    ASSERT_TRUE(p) << p.status().to_string();
    platform_ = std::move(*p);
  }
  UploadResult put(const std::string& path, const std::string& bytes, UploadOptions options = {}) {
    auto r = platform_->upload_bytes(ds_.id, bytes, path, options);
    EXPECT_TRUE(r) << path << ": " << r.status().to_string();
    return r ? *r : UploadResult{};
  }
  std::string read_all(const Item& item) { return read_item(*platform_, item); }
  std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> names;
    std::string after;
    do {
      auto page = platform_->list_dir(ds_.id, dir, after, 7);
      EXPECT_TRUE(page) << page.status().to_string();
      if (!page) break;
      for (auto& item : page->items) names.push_back(item.name);
      after = page->next_after;
    } while (!after.empty());
    std::sort(names.begin(), names.end());
    return names;
  }
  std::string write_file(const std::string& name, const std::string& bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  FakeClock clock_;
  fs::path dir_;
  std::unique_ptr<Platform> platform_;
  Dataset ds_;
};

}  // namespace dlfs::test
