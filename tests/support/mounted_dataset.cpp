#include "support/mounted_dataset.h"

#include <filesystem>


namespace dlfs::test {

using namespace std::chrono_literals;

namespace {
const std::string kMountBin = std::string(DLFS_BIN_DIR) + "/mount.dlfs";
const std::string kDlfsBin = std::string(DLFS_BIN_DIR) + "/dlfs";
}  // namespace

void MountedDatasetTest::SetUp() {
  platform = std::make_unique<TestPlatform>(GetParam(), work.sub("platform"));
  ASSERT_TRUE(platform->ok()) << platform->error();
  auto made = platform->connection()->create_dataset(dataset);
  ASSERT_TRUE(made) << made.status().to_string();
}

std::unique_ptr<MountGuard> MountedDatasetTest::mount(const std::string& name, const std::string& cache_name,
                                                      const std::string& extra) {
  std::string dir = work.sub(name);
  std::filesystem::create_directories(dir);
  std::string opts = platform->mount_options() + ",cache=" + work.sub(cache_name) + ",log=" + dir + ".log";
  if (!extra.empty()) opts += "," + extra;
  auto r = run({kMountBin, platform->source(dataset), dir, "-o", opts}, 60s);
  auto guard = std::make_unique<MountGuard>(dir, find_process("mount.dlfs", dir));
  EXPECT_TRUE(r.ok()) << r.err << read_file(dir + ".log");
  if (!r.ok()) return nullptr;
  return guard;
}

CommandResult MountedDatasetTest::sync(const std::string& dir) { return run({kDlfsBin, "sync", dir}, 300s); }

CommandResult MountedDatasetTest::dlfs(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  auto reach = platform->dlfs_args();
  args.insert(args.begin(), reach.begin(), reach.end());
  args.insert(args.begin(), kDlfsBin);
  return run(args, timeout);
}

}  // namespace dlfs::test
