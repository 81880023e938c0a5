#include "mount_guard.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <sstream>

#include "process.h"

#include "fs/mountinfo.h"

namespace dlfs::test {

bool is_mounted(const std::string& dir) { return is_mount_point(dir); }

namespace {

// A file of /proc/PID, whole; "" if it cannot be read. (Not std::ifstream: a process that exits
// while its file is read makes read() fail with ESRCH, and libstdc++'s filebuf throws on that
// whatever the stream's exception mask — out of find_process, with /proc's DIR left open.)
std::string read_proc_file(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;  // (an error: what was read so far)
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

pid_t find_process(const std::string& needle, const std::string& arg) {
  DIR* proc = opendir("/proc");
  if (!proc) return 0;
  pid_t found = 0;
  while (struct dirent* e = readdir(proc)) {
    pid_t pid = pid_t(atoi(e->d_name));
    if (pid <= 0) continue;
    std::string cmdline = read_proc_file("/proc/" + std::string(e->d_name) + "/cmdline");
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
  std::string stat = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  stat = stat.substr(0, stat.find('\n'));
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
