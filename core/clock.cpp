#include "core/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace dlfs {

int64_t SystemClock::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const SystemClock& SystemClock::instance() {
  static SystemClock clock;
  return clock;
}

std::string format_iso8601(int64_t epoch_ms) {
  int64_t secs = epoch_ms / 1000;
  int64_t ms = epoch_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  time_t t = time_t(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[96];  // room for any int the format could print
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms));
  return buf;
}

Result<int64_t> parse_iso8601(std::string_view text) {
  // Accepts "YYYY-MM-DDTHH:MM:SS[.fff]Z" (what the API sends).
  int y, mo, d, h, mi, s;
  int consumed = 0;
  std::string str(text);
  if (sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) != 6)
    return Status(EINVAL, "not an ISO-8601 time: '" + str + "'");
  int ms = 0;
  size_t i = size_t(consumed);
  if (i < str.size() && str[i] == '.') {
    ++i;
    int digits = 0;
    while (i < str.size() && str[i] >= '0' && str[i] <= '9') {
      if (digits < 3) ms = ms * 10 + (str[i] - '0');
      ++digits;
      ++i;
    }
    for (; digits < 3; ++digits) ms *= 10;
  }
  if (i >= str.size() || str[i] != 'Z' || i + 1 != str.size())
    return Status(EINVAL, "not an ISO-8601 UTC time: '" + str + "'");
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return int64_t(timegm(&tm)) * 1000 + ms;
}

}  // namespace dlfs
