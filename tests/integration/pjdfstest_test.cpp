// pjdfstest, the POSIX conformance suite JuiceFS and s3fs run in CI, on a real mount of the
// embedded platform and over dlfsd: the groups that fit a dataset filesystem (open, mkdir, rmdir,
// unlink, rename, truncate, ftruncate, chmod, chown, utimensat; tests/pjdfstest/pjdfstest_figure.py
// lists them), with -o allow_other,default_permissions (it switches users). It prints the share of
// cases that pass, every counted-out case (those that need a fifo, socket, device node or hard
// link, which a dataset cannot hold, and what follows from them in the same loop) and every
// failure; the test fails under the gate.
// pjdfstest is built by scripts/test.sh into build-test/pjdfstest (the exact commit, vendored
// with its licence in tests/pjdfstest/).
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include "support/mounted_dataset.h"
#include "support/process.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

// The share of the counted cases that must pass: the bar is 95%; the gate is what passes
// today less a margin (all counted cases on both backends, 2026-12-05, once symlinks, long paths
// and link counts were kept), so that no change loses ground.
constexpr double kGatePercent = 99.0;

const std::string kSuite = std::string(DLFS_BIN_DIR) + "/../pjdfstest";
const std::string kFigure = std::string(DLFS_SOURCE_DIR) + "/tests/pjdfstest/pjdfstest_figure.py";

class Pjdfstest : public MountedDatasetTest {};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, Pjdfstest, kBackends, backend_name);

TEST_P(Pjdfstest, TheGroupsThatFitADatasetPass) {
  ASSERT_TRUE(std::filesystem::exists(kSuite + "/pjdfstest")) << kSuite << "/pjdfstest is not built: scripts/test.sh builds it";
  auto m = mount("mnt", "cache", "allow_other,default_permissions");
  ASSERT_TRUE(m);
  const std::string dir = m->mountpoint() + "/pjdfstest";
  ASSERT_TRUE(run({"mkdir", dir}).ok());
  ASSERT_TRUE(run({"chmod", "0777", dir}).ok());
  auto r = run({"python3", kFigure, "--suite", kSuite, "--dir", dir, "--gate", std::to_string(kGatePercent),
                "--timeout", "240"},
               std::chrono::minutes(14));
  std::cout << r.out;
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(r.ok()) << r.err;
  EXPECT_NE(r.out.find("cases pass"), std::string::npos);
  EXPECT_TRUE(m->unmount());
}
