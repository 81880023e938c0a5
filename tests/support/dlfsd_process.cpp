#include "support/dlfsd_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>

namespace dlfs::test {
namespace {

const std::string kDlfsd = std::string(DLFS_BIN_DIR) + "/dlfsd";

// Reads the first line of fd within `timeout`; "" on timeout or EOF.
std::string read_first_line(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  auto end = std::chrono::steady_clock::now() + timeout;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    struct pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, int(std::min<long>(left.count(), 200)));
    if (r < 0 && errno != EINTR) return "";
    if (r <= 0) continue;
    char c;
    ssize_t n = ::read(fd, &c, 1);  // one byte at a time: nothing past the line is taken
    if (n <= 0) return "";
    line += c;
  }
  line.pop_back();
  return line;
}

}  // namespace

DlfsdProcess::DlfsdProcess(DlfsdOptions options) : options_(std::move(options)) {
  if (options_.store.empty()) {
    temp_ = std::make_unique<TempDir>("dlfsd-test");
    store_ = temp_->sub("store");
    log_path_ = temp_->sub("dlfsd.log");
  } else {
    store_ = options_.store;
    log_path_ = store_ + ".dlfsd-test.log";
  }
  CommandResult minted = run({kDlfsd, "token", "--store", store_, "--email", options_.email}, std::chrono::seconds(30));
  if (!minted.ok() || minted.out.empty()) {
    error_ = "dlfsd token failed: " + minted.err;
    return;
  }
  token_ = minted.out.substr(0, minted.out.find('\n'));
  start(0);
}

DlfsdProcess::~DlfsdProcess() {
  child_.kill_now();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

bool DlfsdProcess::start(int port) {
  error_.clear();
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    error_ = std::string("pipe: ") + strerror(errno);
    return false;
  }
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  std::vector<std::string> argv = {kDlfsd, "--store", store_, "--listen", "127.0.0.1:" + std::to_string(port)};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  child_ = Child(argv, out[1], log_fd);
  ::close(out[1]);
  if (log_fd >= 0) ::close(log_fd);
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  stdout_fd_ = out[0];  // kept open: a later write by dlfsd must not meet a closed pipe
  std::string line = read_first_line(stdout_fd_, options_.start_timeout);
  const std::string prefix = "listening on 127.0.0.1:";
  if (!line.starts_with(prefix)) {
    error_ = "dlfsd did not start (first line '" + line + "'); its log:\n" + log();
    child_.kill_now();
    port_ = 0;
    return false;
  }
  port_ = std::atoi(line.c_str() + prefix.size());
  exit_code_ = -1;
  return port_ > 0;
}

std::string DlfsdProcess::log() const { return read_file(log_path_); }

int DlfsdProcess::stop(std::chrono::milliseconds timeout) {
  if (child_.pid() > 0) {
    ::kill(child_.pid(), SIGTERM);
    exit_code_ = child_.wait(timeout);
    if (child_.running()) {
      child_.kill_now();
      exit_code_ = -1;
    }
  }
  return exit_code_;
}

void DlfsdProcess::kill() {
  if (child_.pid() <= 0) return;
  ::kill(child_.pid(), SIGKILL);
  child_.wait(std::chrono::seconds(10));
  exit_code_ = -1;
}

void DlfsdProcess::pause() {
  if (child_.pid() > 0) ::kill(child_.pid(), SIGSTOP);
}

void DlfsdProcess::resume() {
  if (child_.pid() > 0) ::kill(child_.pid(), SIGCONT);
}

bool DlfsdProcess::restart() {
  stop();
  return start(port_) && ok();
}

}  // namespace dlfs::test
