// Time: a Clock seam (so tests can move time), and the API's time format — ISO-8601 UTC with
// milliseconds, "2024-01-01T00:00:00.000Z".
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace dlfs {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t now_ms() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t now_ms() const override;
  static const SystemClock& instance();
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1704067200000) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(); }
  void advance_ms(int64_t ms) { now_ += ms; }
  void set_ms(int64_t ms) { now_ = ms; }

 private:
  std::atomic<int64_t> now_;
};

// Milliseconds of the monotonic clock (std::chrono::steady_clock): for intervals and deadlines
// within a process, never a date.
int64_t steady_now_ms();

std::string format_iso8601(int64_t epoch_ms);
Result<int64_t> parse_iso8601(std::string_view text);

}  // namespace dlfs
