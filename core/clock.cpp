#include "core/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace dlfs {

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

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
  // Accepts "YYYY-MM-DDTHH:MM:SS[.fff]Z" (what the API sends). Read by position, not sscanf and
  // timegm: a listing of 100,000 items reads 200,000 of them.
  auto bad = [&] { return Status(EINVAL, "not an ISO-8601 UTC time: '" + std::string(text) + "'"); };
  auto number = [&](size_t at, size_t len, int& out) {
    if (text.size() < at + len) return false;
    out = 0;
    for (size_t i = at; i < at + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, s;
  if (!number(0, 4, y) || !number(5, 2, mo) || !number(8, 2, d) || !number(11, 2, h) || !number(14, 2, mi) ||
      !number(17, 2, s) || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':')
    return bad();
  int ms = 0;
  size_t i = 19;
  if (i < text.size() && text[i] == '.') {
    ++i;
    int digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (digits < 3) ms = ms * 10 + (text[i] - '0');
      ++digits;
      ++i;
    }
    for (; digits < 3; ++digits) ms *= 10;
  }
  if (i >= text.size() || text[i] != 'Z' || i + 1 != text.size()) return bad();
  using namespace std::chrono;
  year_month_day date{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
  if (!date.ok() || h > 23 || mi > 59 || s > 60) return bad();
  int64_t days = sys_days(date).time_since_epoch().count();
  return ((days * 24 + h) * 60 + mi) * int64_t(60000) + int64_t(s) * 1000 + ms;
}

}  // namespace dlfs
