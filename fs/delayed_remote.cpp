#include "fs/delayed_remote.h"

namespace dlfs {

void DelayedRemote::abort_waits() {
  {
    std::lock_guard lock(mu_);
    aborted_ = true;
  }
  cv_.notify_all();
}

Result<size_t> DelayedRemote::read(const Item& item, uint64_t offset, std::span<char> out) {
  {
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, delay_, [&] { return aborted_; }))
      return Status(EIO, "read aborted: the mount is shutting down");
  }
  return inner_.read(item, offset, out);
}

}  // namespace dlfs
