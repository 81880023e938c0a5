#include "support/chaos_remote.h"

#include <thread>

namespace dlfs::test {

double ChaosRemote::uniform() {
  std::lock_guard lock(mu_);
  return std::uniform_real_distribution<double>(0, 1)(rng_);
}

void ChaosRemote::delay() {
  ++counters_.calls;
  late();
}

void ChaosRemote::late() {
  if (!enabled_ || options_.max_delay_us <= 0) return;
  auto us = int64_t(uniform() * options_.max_delay_us);
  std::this_thread::sleep_for(std::chrono::microseconds(us));
}

ChaosRemote::Fate ChaosRemote::fate() {
  static thread_local int in_a_row = 0;
  if (!enabled_ || in_a_row >= options_.max_failures_in_a_row) {
    in_a_row = 0;
    return Fate::kThrough;
  }
  double x = uniform();
  if (x < options_.fail_before) {
    ++in_a_row;
    ++counters_.refused;
    return Fate::kRefused;
  }
  if (x < options_.fail_before + options_.lost_answer) {
    ++in_a_row;
    ++counters_.lost;
    return Fate::kLost;
  }
  in_a_row = 0;
  return Fate::kThrough;
}

}  // namespace dlfs::test
