// Real FUSE mounts in tests. A MountGuard unmounts on every path out of a test: `fusermount3 -u
// -z` (lazy, so a busy mount never blocks), then the daemon is stopped by PID (SIGTERM, then
// SIGKILL after a bound). Every wait here is bounded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace dlfs::test {

// True if `dir` (an absolute path) is a mount point in /proc/self/mountinfo.
bool is_mounted(const std::string& dir);
// The PID of a running process whose command line holds `needle` and `arg` (0 if none).
pid_t find_process(const std::string& needle, const std::string& arg);
// True if the process is gone (or a zombie nobody reaps).
bool process_gone(pid_t pid);
// Stops a process: SIGTERM, then SIGKILL after `grace`. Answers true if it is gone.
bool stop_process(pid_t pid, std::chrono::milliseconds grace = std::chrono::seconds(10));

class MountGuard {
 public:
  MountGuard() = default;
  // Guards a mount at `mountpoint` served by `daemon_pid` (0: looked up when needed).
  explicit MountGuard(std::string mountpoint, pid_t daemon_pid = 0);
  ~MountGuard() { unmount(); }
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;
  MountGuard(MountGuard&& other) noexcept;
  MountGuard& operator=(MountGuard&& other) noexcept;

  // Unmounts (if still mounted) and stops the daemon. Answers true if the daemon exited on its
  // own within `grace` after the unmount (a clean exit), false if it had to be killed.
  bool unmount(std::chrono::milliseconds grace = std::chrono::seconds(10));
  pid_t daemon_pid() const { return pid_; }
  const std::string& mountpoint() const { return mountpoint_; }

 private:
  std::string mountpoint_;
  pid_t pid_ = 0;
};

}  // namespace dlfs::test
