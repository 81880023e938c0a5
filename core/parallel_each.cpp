#include "core/parallel_each.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace dlfs {

Status parallel_each(size_t count, unsigned parallel, const std::function<Status(size_t index)>& task) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first;
  auto worker = [&] {
    for (size_t i = next++; i < count && !failed; i = next++) {
      Status s = task(i);
      if (s) continue;
      std::lock_guard lock(mu);
      if (!failed.exchange(true)) first = std::move(s);
    }
  };
  size_t workers = std::min<size_t>(std::max(1u, parallel), count);
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < workers; ++t) {
    try {
      helpers.emplace_back(worker);
    } catch (const std::system_error&) {
      break;  // no thread to be had: fewer at once
    }
  }
  worker();
  for (std::thread& t : helpers) t.join();
  return first;
}

}  // namespace dlfs
