#include "fs/path_locks.h"

#include "core/paths.h"

namespace dlfs {
namespace {

bool conflict(const PathLock& a, const PathLock& b) {
  if (a.path == b.path) return true;
  return (a.subtree && is_same_or_under(b.path, a.path)) || (b.subtree && is_same_or_under(a.path, b.path));
}

}  // namespace

PathLocks::Guard& PathLocks::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = other.owner_;
    id_ = other.id_;
    other.owner_ = nullptr;
  }
  return *this;
}

void PathLocks::Guard::release() {
  if (owner_) owner_->release(id_);
  owner_ = nullptr;
}

bool PathLocks::conflicts_locked(const std::vector<PathLock>& locks) const {
  for (const Held& h : held_)
    for (const PathLock& mine : locks)
      for (const PathLock& theirs : h.locks)
        if (conflict(mine, theirs)) return true;
  return false;
}

PathLocks::Guard PathLocks::lock(std::vector<PathLock> locks) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !conflicts_locked(locks); });
  uint64_t id = next_id_++;
  held_.push_back(Held{id, std::move(locks)});
  return Guard(this, id);
}

void PathLocks::release(uint64_t id) {
  {
    std::lock_guard lock(mu_);
    held_.remove_if([&](const Held& h) { return h.id == id; });
  }
  cv_.notify_all();
}

size_t PathLocks::held() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

}  // namespace dlfs
