#include "mount_guard.h"

#include <dirent.h>
#include <signal.h>
#include <time.h>

#include <fstream>
#include <sstream>

#include "process.h"

#include "fs/mountinfo.h"

namespace dlfs::test {

bool is_mounted(const std::string& dir) { return is_mount_point(dir); }

pid_t find_process(const std::string& needle, const std::string& arg) {
  DIR* proc = opendir("/proc");
  if (!proc) return 0;
  pid_t found = 0;
  while (struct dirent* e = readdir(proc)) {
    pid_t pid = pid_t(atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bool has_needle = cmdline.find(needle) != std::string::npos;
    bool has_arg = false;
    for (size_t start = 0; start < cmdline.size();) {
      size_t end = cmdline.find('\0', start);
      if (end == std::string::npos) end = cmdline.size();
      if (cmdline.compare(start, end - start, arg) == 0) has_arg = true;
      start = end + 1;
    }
    if (has_needle && has_arg && !process_gone(pid)) {
      found = pid;
      break;
    }
  }
  closedir(proc);
  return found;
}

bool process_gone(pid_t pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || (paren + 2 < stat.size() && stat[paren + 2] == 'Z');
}

bool stop_process(pid_t pid, std::chrono::milliseconds grace) {
  if (pid <= 0 || process_gone(pid)) return true;
  kill(pid, SIGTERM);
  if (wait_until([&] { return process_gone(pid); }, grace)) return true;
  kill(pid, SIGKILL);
  return wait_until([&] { return process_gone(pid); }, std::chrono::seconds(5));
}

MountGuard::MountGuard(std::string mountpoint, pid_t daemon_pid)
    : mountpoint_(std::move(mountpoint)), pid_(daemon_pid) {}

MountGuard::MountGuard(MountGuard&& other) noexcept
    : mountpoint_(std::move(other.mountpoint_)), pid_(other.pid_) {
  other.mountpoint_.clear();
  other.pid_ = 0;
}

MountGuard& MountGuard::operator=(MountGuard&& other) noexcept {
  if (this != &other) {
    unmount();
    mountpoint_ = std::move(other.mountpoint_);
    pid_ = other.pid_;
    other.mountpoint_.clear();
    other.pid_ = 0;
  }
  return *this;
}

bool MountGuard::unmount(std::chrono::milliseconds grace) {
  if (mountpoint_.empty()) return true;
  if (pid_ == 0) pid_ = find_process("mount.dlfs", mountpoint_);
  if (is_mounted(mountpoint_)) run({"fusermount3", "-u", "-z", mountpoint_}, std::chrono::seconds(10));
  bool clean = pid_ <= 0 || wait_until([&] { return process_gone(pid_); }, grace);
  if (!clean) stop_process(pid_, std::chrono::seconds(2));
  if (is_mounted(mountpoint_)) run({"umount", "-l", mountpoint_}, std::chrono::seconds(10));
  mountpoint_.clear();
  pid_ = 0;
  return clean;
}

}  // namespace dlfs::test
