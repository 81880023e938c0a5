#include "tools/dlfs/mount_activity.h"

#include <sys/xattr.h>

#include <cerrno>
#include <cstdio>

#include "tools/dlfs/cli.h"

namespace dlfs::cli {

Result<std::string> read_root_xattr(const std::string& mnt, const char* name) {
  std::string buf(64 << 10, '\0');
  for (int tries = 0; tries < 4; ++tries) {
    ssize_t n = ::getxattr(mnt.c_str(), name, buf.data(), buf.size());
    if (n >= 0) {
      buf.resize(size_t(n));
      return buf;
    }
    if (errno != ERANGE) return Status(errno, mnt + ": reading " + name);
    buf.resize(buf.size() * 4);
  }
  return Status(E2BIG, mnt + ": " + name + " is too large");
}

Result<json> read_mount_metrics(const std::string& mnt) {
  DLFS_ASSIGN(std::string text, read_root_xattr(mnt, "user.dl.metrics"));
  auto parsed = parse_json(text);
  if (!parsed || !parsed->is_object()) return Status(EIO, mnt + ": the mount answered unreadable counters");
  return *parsed;
}

namespace {

// The family's samples summed: their values, or a histogram's counts and sums.
void sum_of(const json& metrics, const char* family, double* value, double* sum = nullptr) {
  auto it = metrics.find(family);
  if (it == metrics.end() || !it->is_object()) return;
  for (const json& s : it->value("samples", json::array())) {
    if (!s.is_object()) continue;
    if (s.contains("count")) {
      *value += s.value("count", 0.0);
      if (sum) *sum += s.value("sum", 0.0);
    } else {
      *value += s.value("value", 0.0);
    }
  }
}

std::string count_text(double n) {
  std::string digits = std::to_string(uint64_t(n < 0 ? 0 : n + 0.5));
  for (int i = int(digits.size()) - 3; i > 0; i -= 3) digits.insert(size_t(i), ",");
  return digits;
}

std::string each_text(double seconds, double n) {
  if (n <= 0) return "-";
  double s = seconds / n;
  char buf[32];
  if (s < 1e-3) snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  else if (s < 1) snprintf(buf, sizeof buf, "%.1f ms", s * 1e3);
  else snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

}  // namespace

Activity activity_of(const json& metrics) {
  Activity a;
  sum_of(metrics, "dlfs_fuse_request_duration_seconds", &a.ops, &a.op_seconds);
  sum_of(metrics, "dlfs_fuse_read_bytes_total", &a.read_bytes);
  sum_of(metrics, "dlfs_fuse_write_bytes_total", &a.write_bytes);
  sum_of(metrics, "dlfs_data_cache_hits_total", &a.cache_hits);
  sum_of(metrics, "dlfs_data_cache_misses_total", &a.cache_misses);
  sum_of(metrics, "dlfs_remote_call_duration_seconds", &a.remote_calls, &a.remote_seconds);
  sum_of(metrics, "dlfs_remote_errors_total", &a.remote_errors);
  return a;
}

std::string describe_activity(const Activity& now, const Activity* before, double seconds) {
  Activity d = now;
  if (before) {
    d.ops -= before->ops;
    d.op_seconds -= before->op_seconds;
    d.read_bytes -= before->read_bytes;
    d.write_bytes -= before->write_bytes;
    d.cache_hits -= before->cache_hits;
    d.cache_misses -= before->cache_misses;
    d.remote_calls -= before->remote_calls;
    d.remote_seconds -= before->remote_seconds;
    d.remote_errors -= before->remote_errors;
  }
  const bool rate = before && seconds > 0;
  auto per = [&](double v) { return rate ? v / seconds : v; };
  std::string hit_rate = "-";
  if (double looked = d.cache_hits + d.cache_misses; looked > 0) {
    char buf[16];
    snprintf(buf, sizeof buf, "%.1f%%", 100 * d.cache_hits / looked);
    hit_rate = buf;
  }
  std::string out = count_text(per(d.ops)) + (rate ? " requests/s" : " requests") + " (" +
                    each_text(d.op_seconds, d.ops) + " each), " + human_bytes(uint64_t(per(d.read_bytes))) +
                    (rate ? "/s" : "") + " read, " + human_bytes(uint64_t(per(d.write_bytes))) + (rate ? "/s" : "") +
                    " written; data cache " + hit_rate + " hits (" + count_text(d.cache_hits) + " of " +
                    count_text(d.cache_hits + d.cache_misses) + "); " + count_text(per(d.remote_calls)) +
                    (rate ? " remote calls/s" : " remote calls") + " (" + each_text(d.remote_seconds, d.remote_calls) +
                    " each, " + count_text(d.remote_errors) + " failed)";
  return out;
}

}  // namespace dlfs::cli
