// Running commands in tests with a bound on every wait: a command that outlives its timeout is
// killed (its whole process group), so no test can hang on a child.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace dlfs::test {

struct CommandResult {
  int exit_code = -1;  // -1 when killed or not started
  bool timed_out = false;
  std::string out;  // stdout
  std::string err;  // stderr
  bool ok() const { return exit_code == 0 && !timed_out; }
};

// Runs argv (no shell) and waits at most `timeout`.
CommandResult run(const std::vector<std::string>& argv,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));
// Runs a /bin/sh -c script.
CommandResult sh(const std::string& script,
                 std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A child started in the background in its own process group.
class Child {
 public:
  Child() = default;
  explicit Child(const std::vector<std::string>& argv);
  // The same, with the child's stdout and stderr on these fds (-1: inherited); the fds are the
  // caller's to close.
  Child(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd);
  ~Child();  // kills and reaps it if still running
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;

  pid_t pid() const { return pid_; }
  // Waits at most `timeout` for it to exit; answers its exit code, or -1 (still running/killed).
  int wait(std::chrono::milliseconds timeout);
  bool running();
  void kill_now();

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// Polls `done` every 20 ms until it answers true or `timeout` passes.
template <typename F>
bool wait_until(F done, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    struct timespec ts{0, 20 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return done();
}

}  // namespace dlfs::test
