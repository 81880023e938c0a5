#include "support/dlfs_cli.h"

#include <algorithm>

namespace dlfs::test {

CommandResult DlfsCliTest::dlfs(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  args.insert(args.begin(), {std::string(DLFS_BIN_DIR) + "/dlfs", "--store", dir_.sub("store")});
  return run(args, timeout);
}

std::string DlfsCliTest::ok(const std::vector<std::string>& args) {
  auto r = dlfs(args);
  EXPECT_TRUE(r.ok()) << "dlfs " << ::testing::PrintToString(args) << " failed: " << r.err;
  return r.out;
}

std::string DlfsCliTest::fails(const std::vector<std::string>& args) {
  auto r = dlfs(args);
  EXPECT_FALSE(r.ok()) << "dlfs " << ::testing::PrintToString(args) << " should fail";
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.err.empty());
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  return r.err;
}

}  // namespace dlfs::test
