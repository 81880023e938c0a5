// A remote whose uploads pass a Gate (support/gate.h) before reaching the inner remote: an
// upload caught after the core planned it (measured, frozen, offered) and before the platform
// has it. Records each upload's resume key.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "remote/forwarding_remote.h"
#include "support/gate.h"

namespace dlfs::test {

class HeldUploadRemote : public ForwardingRemote {
 public:
  using ForwardingRemote::ForwardingRemote;
  Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                              const UploadOptions& options) override {
    gate.pass();
    {
      std::lock_guard lock(mu);
      resume_keys.push_back(options.resume_key);
    }
    return ForwardingRemote::upload(local_file, remote_path, options);
  }
  Gate gate;
  std::mutex mu;
  std::vector<std::string> resume_keys;
};

}  // namespace dlfs::test
