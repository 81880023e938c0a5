// The reference-model test through a real FUSE mount (issue 12's second, smaller variant):
// tests/integration/mount_model.py runs random create/write/append/pwrite/truncate/rename/
// unlink/mkdir/rmdir/setxattr/fsync/read/open-then-unlink steps from three threads on the mount,
// each checked against its in-memory POSIX model, in phases with a failure between them:
//   embedded platform: phase 1, the mount SIGKILLed and mounted again on the same spool (its
//     journal resumed), phase 2;
//   dlfsd: phase 1, dlfsd SIGKILLed, phase 2 while it is away (only what a mount promises
//     offline: new files and folders, writes and reads of them), dlfsd restarted, phase 3.
// Then `dlfs sync`, and a fresh mount (a new cache) of the dataset must hold the model: every
// name, every byte, every user.meta xattr. Seeds: DLFS_MOUNT_MODEL_SEED (default 1),
// DLFS_MOUNT_MODEL_STEPS (per thread per phase, default 60), DLFS_MOUNT_MODEL_ROUNDS (seeds in
// a row, default 1 in CI; e.g. 20 for a long run).
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>

#include "support/mounted_dataset.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

class MountModel : public MountedDatasetTest {
 protected:
  CommandResult model(const std::string& command, const std::string& root, const std::string& state, int seed,
                      bool offline = false) {
    std::vector<std::string> argv = {"python3", std::string(DLFS_SOURCE_DIR) + "/tests/integration/mount_model.py",
                                     command, "--root", root, "--state", state};
    if (command == "run") {
      argv.insert(argv.end(), {"--seed", std::to_string(seed), "--steps", std::to_string(steps_), "--threads", "3"});
      if (offline) argv.push_back("--offline");
    }
    auto r = run(argv, 600s);
    std::printf("%s%s", r.out.c_str(), r.err.c_str());
    return r;
  }
  int steps_ = env_int("DLFS_MOUNT_MODEL_STEPS", 60);
};

// The mount's log from the end, for a failure's story (what the mount did around the bad step).
std::string log_tail(const std::string& path, size_t lines = 60) {
  std::string all = read_file(path);
  if (const char* keep = std::getenv("DLFS_MOUNT_MODEL_DEBUG"); keep && *keep)
    write_file(std::string(keep) + "/mount.log", all);
  size_t at = all.size();
  while (lines-- > 0 && at > 0) {
    size_t nl = all.rfind('\n', at - 1);
    at = nl == std::string::npos ? 0 : nl;
  }
  return "mount log (end):\n" + all.substr(at);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, MountModel, kBackends, backend_name);

TEST_P(MountModel, RandomStepsMatchThePosixModelAcrossAKilledServerOrMount) {
  int first_seed = env_int("DLFS_MOUNT_MODEL_SEED", 1);
  int rounds = env_int("DLFS_MOUNT_MODEL_ROUNDS", 1);
  // Short HTTP bounds so that a server away is noticed fast; uploads outlast the restart.
  std::string opts = "http_timeout=1,http_stall=2,http_retries=2,upload_attempts=60,debug_retry_base_ms=100";
  // DLFS_MOUNT_MODEL_DEBUG=DIR: the mount logs at debug level, and a failing run's log is kept in DIR.
  const char* debug_dir = std::getenv("DLFS_MOUNT_MODEL_DEBUG");
  if (debug_dir && *debug_dir) opts += ",debug";
  for (int round = 0; round < rounds; ++round) {
    int seed = first_seed + round;
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::string r = std::to_string(round);
    std::string state = work.sub("model" + r + ".json");
    // Each round in its own dataset, so that the fresh mount's tree is the model's alone.
    dataset = "m" + r;
    ASSERT_TRUE(platform->connection()->create_dataset(dataset));
    auto m = mount("mnt" + r, "cache" + r, opts);
    ASSERT_TRUE(m);
    ASSERT_TRUE(model("run", m->mountpoint(), state, seed * 10 + 1).ok()) << log_tail(work.sub("mnt" + r + ".log"));
    if (GetParam() == Backend::kDlfsd) {
      DlfsdProcess* server = platform->server();
      server->kill();
      auto offline = model("run", m->mountpoint(), state, seed * 10 + 2, true);
      ASSERT_TRUE(server->restart()) << server->error();
      ASSERT_TRUE(offline.ok()) << log_tail(work.sub("mnt" + r + ".log"));
    } else {
      pid_t pid = m->daemon_pid();
      ASSERT_GT(pid, 0);
      ::kill(pid, SIGKILL);
      ASSERT_TRUE(wait_until([&] { return process_gone(pid); }, 20s));
      m->unmount();  // the lazy unmount of a dead mount
      m = mount("mnt" + r, "cache" + r, opts);  // the same cache folder: its journal resumes
      ASSERT_TRUE(m);
    }
    ASSERT_TRUE(model("run", m->mountpoint(), state, seed * 10 + 3).ok()) << log_tail(work.sub("mnt" + r + ".log"));
    auto synced = sync(m->mountpoint());
    ASSERT_TRUE(synced.ok()) << synced.out << synced.err;
    EXPECT_TRUE(m->unmount());
    auto fresh = mount("fresh" + r, "fresh-cache" + r);
    ASSERT_TRUE(fresh);
    EXPECT_TRUE(model("verify", fresh->mountpoint(), state, seed).ok());
  }
}
