// A gate a test arms so that the next thread passing it is held there until the test releases
// it: an operation caught mid-way (an upload between its plan and the platform, a listing
// between its question and its answer). Every wait is bounded (10 s).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace dlfs::test {

class Gate {
 public:
  void arm() {
    std::lock_guard lock(mu_);
    armed_ = true;
  }
  // Held here (up to 10 s) if armed; passes at once otherwise.
  void pass() {
    std::unique_lock lock(mu_);
    if (!armed_) return;
    armed_ = false;
    held_ = true;
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return released_; });
  }
  // True once a thread is held (false after 10 s without one).
  bool wait_held() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return held_; });
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, held_ = false, released_ = false;
};

}  // namespace dlfs::test
