#include "support/mounted_dataset.h"

#include <filesystem>

#include "remote/local_remote.h"

namespace dlfs::test {

using namespace std::chrono_literals;

namespace {
const std::string kMountBin = std::string(DLFS_BIN_DIR) + "/mount.dlfs";
const std::string kDlfsBin = std::string(DLFS_BIN_DIR) + "/dlfs";
}  // namespace

void MountedDatasetTest::SetUp() {
  LocalOptions o;
  o.store_dir = store;
  auto c = LocalConnection::open(o);
  ASSERT_TRUE(c) << c.status().to_string();
  ASSERT_TRUE((*c)->create_dataset(dataset));
}

std::unique_ptr<MountGuard> MountedDatasetTest::mount(const std::string& name, const std::string& cache_name,
                                                      const std::string& extra) {
  std::string dir = work.sub(name);
  std::filesystem::create_directories(dir);
  std::string opts = "store=" + store + ",cache=" + work.sub(cache_name) + ",log=" + dir + ".log";
  if (!extra.empty()) opts += "," + extra;
  auto r = run({kMountBin, dataset, dir, "-o", opts}, 60s);
  auto guard = std::make_unique<MountGuard>(dir, find_process("mount.dlfs", dir));
  EXPECT_TRUE(r.ok()) << r.err;
  if (!r.ok()) return nullptr;
  return guard;
}

CommandResult MountedDatasetTest::sync(const std::string& dir) { return run({kDlfsBin, "sync", dir}, 300s); }

CommandResult MountedDatasetTest::dlfs(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  args.insert(args.begin(), {kDlfsBin, "--store", store});
  return run(args, timeout);
}

}  // namespace dlfs::test
