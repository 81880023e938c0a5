// The FUSE adapter's metrics (mount.dlfs -o metrics): requests by op with their latency, the
// errors answered, and the bytes read and written. Every op's counter and histogram is made
// once, here, and found by index: a request costs a clock read, two atomic adds and the
// histogram's (uncontended, per op) lock — no lookup by label.
#pragma once

#include <array>
#include <cstdint>

#include "metrics/metrics.h"

namespace dlfs {

enum class FuseOp : uint8_t {
  kLookup, kForget, kGetattr, kOpendir, kReaddir, kReaddirplus, kReleasedir, kOpen, kRead, kRelease,
  kStatfs, kGetxattr, kListxattr, kCreate, kWrite, kFlush, kFsync, kFsyncdir, kSetattr, kMknod, kLink,
  kMkdir, kSymlink, kReadlink, kRmdir, kUnlink, kRename, kSetxattr, kRemovexattr,
  kCount
};
inline constexpr size_t kFuseOps = size_t(FuseOp::kCount);

// "lookup", "readdirplus", ... (the label value, and what logs call the op).
const char* fuse_op_name(FuseOp op);

class FuseMetrics {
 public:
  // Registers dlfs_fuse_requests_total{op}, dlfs_fuse_request_duration_seconds{op},
  // dlfs_fuse_errors_total{op}, dlfs_fuse_read_bytes_total and dlfs_fuse_write_bytes_total.
  explicit FuseMetrics(Metrics& metrics);

  void request(FuseOp op, double seconds) {
    requests_[size_t(op)]->Increment();
    latency_[size_t(op)]->Observe(seconds);
  }
  void error(FuseOp op) { errors_[size_t(op)]->Increment(); }
  void read_bytes(uint64_t n) { read_bytes_->Increment(double(n)); }
  void write_bytes(uint64_t n) { write_bytes_->Increment(double(n)); }

 private:
  std::array<prometheus::Counter*, kFuseOps> requests_{};
  std::array<prometheus::Histogram*, kFuseOps> latency_{};
  std::array<prometheus::Counter*, kFuseOps> errors_{};
  prometheus::Counter* read_bytes_ = nullptr;
  prometheus::Counter* write_bytes_ = nullptr;
};

}  // namespace dlfs
