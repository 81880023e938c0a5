#include "core/group_sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dlfs {

Result<std::unique_ptr<GroupSync>> GroupSync::open(const std::string& dir, SyncFn sync_fn) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status(errno, "cannot open " + dir, strerror(errno));
  if (!sync_fn) sync_fn = [](int f) { return ::syncfs(f); };
  return std::unique_ptr<GroupSync>(new GroupSync(fd, std::move(sync_fn)));
}

GroupSync::~GroupSync() { ::close(fd_); }

Status GroupSync::sync() {
  std::unique_lock lock(mu_);
  // The first sync to begin after now: the one under way may have missed what the caller wrote.
  const uint64_t need = started_ + 1;
  while (ended_ < need) {
    if (started_ > ended_) {  // one under way: the next is ours (or another waiter's, for us too)
      cv_.wait(lock);
      continue;
    }
    const uint64_t mine = ++started_;
    lock.unlock();
    Status s;
    if (sync_fn_(fd_) != 0) s = Status(errno, "cannot sync the filesystem", strerror(errno));
    lock.lock();
    ended_ = mine;
    last_status_ = s;
    cv_.notify_all();
  }
  // The status of sync number ended_ ≥ need: a later sync than ours may have failed where ours
  // did not; answering its error is conservative (the caller's write is retried, not lost).
  return last_status_;
}

uint64_t GroupSync::syncs() const {
  std::lock_guard lock(mu_);
  return ended_;
}

}  // namespace dlfs
