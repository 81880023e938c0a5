// A dataset in a temp store, mounted with the built mount.dlfs: the setup of the tests that
// write through a mount and read back through a second, fresh one.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/mount_guard.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace dlfs::test {

class MountedDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override;  // makes the store and the dataset `dataset`

  // Mounts the dataset at work/<name> with its own cache folder work/<cache_name> (a fresh cache
  // is a fresh client); `extra` is more -o options. Null (and a test failure) if it fails.
  std::unique_ptr<MountGuard> mount(const std::string& name, const std::string& cache_name,
                                    const std::string& extra = "");
  // `dlfs sync DIR`: waits for every upload of the mount, as a user does.
  CommandResult sync(const std::string& dir);
  // `dlfs --store <store> args...`.
  CommandResult dlfs(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(120));

  TempDir work{"dlfs-mnt"};
  std::string store = work.sub("store");
  std::string dataset = "w";
};

}  // namespace dlfs::test
