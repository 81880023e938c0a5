#include "tools/dlfs/progress.h"

#include <cstdio>

#include <unistd.h>

#include "core/clock.h"
#include "tools/dlfs/cli.h"

namespace dlfs::cli {

Progress::Progress(std::string verb, uint64_t total_files, uint64_t total_bytes)
    : verb_(std::move(verb)),
      total_files_(total_files),
      total_bytes_(total_bytes),
      start_ms_(SystemClock::instance().now_ms()),
      tty_(isatty(STDERR_FILENO)) {
  if (!tty_) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::milliseconds(200));
      draw();
    }
  });
}

Progress::~Progress() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  fprintf(stderr, "\r\033[K");
}

double Progress::elapsed_seconds() const { return double(SystemClock::instance().now_ms() - start_ms_) / 1000.0; }

void Progress::draw() {
  uint64_t files = files_, bytes = bytes_;
  double secs = std::max(0.001, elapsed_seconds());
  int width = 24;
  int filled = total_bytes_ ? int(double(bytes) / double(total_bytes_) * width)
                            : (total_files_ ? int(double(files) / double(total_files_) * width) : width);
  std::string bar(size_t(std::min(filled, width)), '#');
  bar.resize(size_t(width), '.');
  fprintf(stderr, "\r\033[K%s [%s] %llu/%llu files  %s/%s  %s/s", verb_.c_str(), bar.c_str(),
          (unsigned long long)files, (unsigned long long)total_files_, human_bytes(bytes).c_str(),
          human_bytes(total_bytes_).c_str(), human_bytes(uint64_t(double(bytes) / secs)).c_str());
  fflush(stderr);
}

}  // namespace dlfs::cli
