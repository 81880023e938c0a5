// What `dlfs status` shows of a mount's activity: its live counters (the root's user.dl.metrics,
// Metrics::to_json) summed up, and the rates between two readings (`--watch`, like top).
#pragma once

#include <string>

#include "core/json_util.h"
#include "core/result.h"

namespace dlfs::cli {

// The value of xattr `name` of the mount's root (the mount's answers to status and sync), read
// with a buffer grown until it fits; errno as getxattr(2) says.
Result<std::string> read_root_xattr(const std::string& mnt, const char* name);

// The mount's counters as it answers them; ENODATA from a mount that keeps none.
Result<json> read_mount_metrics(const std::string& mnt);

// The figures status shows, from one reading.
struct Activity {
  double ops = 0;            // FUSE requests answered
  double op_seconds = 0;     // their time, summed
  double read_bytes = 0;     // bytes read through the mount
  double write_bytes = 0;    // bytes written
  double cache_hits = 0;     // data cache reads served from local disk
  double cache_misses = 0;   // ... that went to the platform
  double remote_calls = 0;   // calls to the platform (or dlfsd)
  double remote_seconds = 0; // their time, summed
  double remote_errors = 0;
};
Activity activity_of(const json& metrics);

// "12,345 requests (80.1 µs each), 1.2 GB read, 0 B written; data cache 97.0% hits (...);
// 1,234 remote calls (5.2 ms each, 0 failed)" — totals, or with `before` the rates over `seconds`.
std::string describe_activity(const Activity& now, const Activity* before = nullptr, double seconds = 0);

}  // namespace dlfs::cli
