// A Remote that forwards everything to another but refuses the first N uploads with a transient
// error (EIO): a platform that refuses uploads for a while, then accepts. Only for tests
// (-o debug_upload_failures=N).
#pragma once

#include <atomic>

#include "remote/forwarding_remote.h"

namespace dlfs {

class UploadFaultRemote : public ForwardingRemote {
 public:
  UploadFaultRemote(Remote& inner, uint64_t failures) : ForwardingRemote(inner), left_(failures) {}
  uint64_t refused() const { return refused_.load(); }

  Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                              const UploadOptions& options) override {
    uint64_t left = left_.load();
    while (left > 0 && !left_.compare_exchange_weak(left, left - 1)) {
    }
    if (left > 0) {
      ++refused_;
      return Status(EIO, "upload refused (debug_upload_failures)");
    }
    return inner_.upload(local_file, remote_path, options);
  }

 private:
  std::atomic<uint64_t> left_;
  std::atomic<uint64_t> refused_{0};
};

}  // namespace dlfs
