#include "process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dlfs::test {
namespace {

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// Reaps pid without blocking longer than `timeout`; answers the wait status or -1.
int reap(pid_t pid, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() >= end) return -2;
    struct timespec ts{0, 5 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
}

int exit_code_of(int status) {
  if (status < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

CommandResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) return result;
  pid_t pid = fork();
  if (pid < 0) return result;
  if (pid == 0) {
    setpgid(0, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    // The test's other fds stay behind: an inherited file open on a mount would keep that mount
    // busy for the child's lifetime (a restarted server, a daemon).
    closefrom(3);
    auto args = c_argv(argv);
    execvp(args[0], args.data());
    _exit(127);
  }
  setpgid(pid, pid);
  close(out_pipe[1]);
  close(err_pipe[1]);
  auto end = std::chrono::steady_clock::now() + timeout;
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    int r = poll(fds, 2, int(std::min<long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, size_t(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  if (result.timed_out) kill(-pid, SIGKILL);
  int status = reap(pid, result.timed_out ? std::chrono::seconds(5) : std::max(
      std::chrono::milliseconds(1000),
      std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now())));
  if (status == -2) {  // closed its pipes but did not exit
    kill(-pid, SIGKILL);
    result.timed_out = true;
    status = reap(pid, std::chrono::seconds(5));
  }
  result.exit_code = result.timed_out ? -1 : exit_code_of(status);
  return result;
}

CommandResult sh(const std::string& script, std::chrono::milliseconds timeout) {
  return run({"/bin/sh", "-c", script}, timeout);
}

Child::Child(const std::vector<std::string>& argv) : Child(argv, -1, -1) {}

Child::Child(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd) {
  // A server started from the test's main thread dies with the test, even one that crashed (an
  // ASan abort skips every destructor: dlfsd processes were left running). Not from another
  // thread: the signal comes when the forking *thread* ends.
  const pid_t parent = getpid();
  const bool main_thread = gettid() == parent;
  pid_ = fork();
  if (pid_ == 0) {
    if (main_thread && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)) _exit(127);
    setpgid(0, 0);
    if (stdout_fd >= 0) dup2(stdout_fd, 1);
    if (stderr_fd >= 0) dup2(stderr_fd, 2);
    closefrom(3);  // as in run()
    auto args = c_argv(argv);
    execvp(args[0], args.data());
    _exit(127);
  }
  if (pid_ > 0) setpgid(pid_, pid_);
}

Child::~Child() { kill_now(); }

Child::Child(Child&& other) noexcept : pid_(other.pid_), status_(other.status_) { other.pid_ = -1; }

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    kill_now();
    pid_ = other.pid_;
    status_ = other.status_;
    other.pid_ = -1;
  }
  return *this;
}

int Child::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_code_of(status_);
  int status = reap(pid_, timeout);
  if (status == -2) return -1;
  status_ = status;
  pid_ = -1;
  return exit_code_of(status_);
}

bool Child::running() {
  if (pid_ <= 0) return false;
  int status = reap(pid_, std::chrono::milliseconds(0));
  if (status == -2) return true;
  status_ = status;
  pid_ = -1;
  return false;
}

void Child::kill_now() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  status_ = reap(pid_, std::chrono::seconds(5));
  pid_ = -1;
}

}  // namespace dlfs::test
