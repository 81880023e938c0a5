#include "fs/fuse_metrics.h"

namespace dlfs {

const char* fuse_op_name(FuseOp op) {
  static constexpr const char* kNames[kFuseOps] = {
      "lookup", "forget", "getattr", "opendir", "readdir", "readdirplus", "releasedir", "open", "read", "release",
      "statfs", "getxattr", "listxattr", "create", "write", "flush", "fsync", "fsyncdir", "setattr", "mknod", "link",
      "mkdir", "symlink", "readlink", "rmdir", "unlink", "rename", "setxattr", "removexattr"};
  return size_t(op) < kFuseOps ? kNames[size_t(op)] : "unknown";
}

FuseMetrics::FuseMetrics(Metrics& metrics) {
  auto& reg = metrics.registry();
  auto& requests = prometheus::BuildCounter()
                       .Name("dlfs_fuse_requests_total")
                       .Help("FUSE requests answered, by operation")
                       .Register(reg);
  auto& latency = prometheus::BuildHistogram()
                      .Name("dlfs_fuse_request_duration_seconds")
                      .Help("Time from a FUSE request's arrival to its reply, by operation")
                      .Register(reg);
  auto& errors = prometheus::BuildCounter()
                     .Name("dlfs_fuse_errors_total")
                     .Help("FUSE requests answered with an error (ENOENT of a lookup included), by operation")
                     .Register(reg);
  for (size_t i = 0; i < kFuseOps; ++i) {
    prometheus::Labels labels{{"op", fuse_op_name(FuseOp(i))}};
    requests_[i] = &requests.Add(labels);
    latency_[i] = &latency.Add(labels, latency_buckets());
    errors_[i] = &errors.Add(labels);
  }
  read_bytes_ = &prometheus::BuildCounter()
                     .Name("dlfs_fuse_read_bytes_total")
                     .Help("Bytes answered to FUSE reads")
                     .Register(reg)
                     .Add({});
  write_bytes_ = &prometheus::BuildCounter()
                      .Name("dlfs_fuse_write_bytes_total")
                      .Help("Bytes taken by FUSE writes")
                      .Register(reg)
                      .Add({});
}

}  // namespace dlfs
