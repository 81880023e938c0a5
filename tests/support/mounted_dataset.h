// A dataset on a test platform (embedded, or dlfsd on 127.0.0.1: the test's parameter), mounted
// with the built mount.dlfs: the setup of the tests that write through a mount and read back
// through a second, fresh one. Suites deriving from it run once per backend:
//   INSTANTIATE_TEST_SUITE_P(Backends, MySuite, kBackends, backend_name);
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/mount_guard.h"
#include "support/process.h"
#include "support/test_platform.h"
#include "support/temp_dir.h"

namespace dlfs::test {

class MountedDatasetTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override;  // starts the platform and makes the dataset `dataset`

  // Mounts the dataset at work/<name> with its own cache folder work/<cache_name> (a fresh cache
  // is a fresh client); `extra` is more -o options. Null (and a test failure) if it fails.
  std::unique_ptr<MountGuard> mount(const std::string& name, const std::string& cache_name,
                                    const std::string& extra = "");
  // `dlfs sync DIR`: waits for every upload of the mount, as a user does.
  CommandResult sync(const std::string& dir);
  // `dlfs <the platform's options> args...`.
  CommandResult dlfs(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(120));

  TempDir work{"dlfs-mnt"};
  std::unique_ptr<TestPlatform> platform;
  std::string dataset = "w";
};

}  // namespace dlfs::test
