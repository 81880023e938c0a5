// A progress line for long jobs: redrawn in place on a terminal (stderr), silent otherwise.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace dlfs::cli {

class Progress {
 public:
  Progress(std::string verb, uint64_t total_files, uint64_t total_bytes);
  ~Progress();  // stops the redraw thread and clears the line

  void add(uint64_t files, uint64_t bytes) {
    files_ += files;
    bytes_ += bytes;
  }
  double elapsed_seconds() const;

 private:
  void draw();
  std::string verb_;
  uint64_t total_files_, total_bytes_;
  std::atomic<uint64_t> files_{0}, bytes_{0};
  int64_t start_ms_;
  bool tty_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dlfs::cli
