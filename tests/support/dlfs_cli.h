// Running the built `dlfs` binary against a temp store, as a user runs it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace dlfs::test {

class DlfsCliTest : public ::testing::Test {
 protected:
  explicit DlfsCliTest(const std::string& prefix = "dlfs-cli") : dir_(prefix) {}

  // `dlfs --store <temp store> args...`, bounded by `timeout`.
  CommandResult dlfs(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(120));
  // Runs and expects success; answers stdout.
  std::string ok(const std::vector<std::string>& args);
  // Runs and expects a failure with a single line on stderr; answers it.
  std::string fails(const std::vector<std::string>& args);

  TempDir dir_;
};

}  // namespace dlfs::test
