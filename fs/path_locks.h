// Locks on paths of the mount's namespace: the means of the filesystem core's ordering rule
// (fs/filesystem_namespace.cpp). A caller locks every path it will touch in one call, so that no
// two callers can each hold part of what the other waits for (no lock order to keep among paths).
// A lock is of one path, or of a whole subtree (a folder and everything below it: renames and
// rmdir of folders). Two locks conflict when they are of the same path, or one is a subtree that
// holds the other's path.
//
// Not re-entrant: a thread holding a guard must not lock again before releasing it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <vector>

namespace dlfs {

struct PathLock {
  std::string path;
  bool subtree = false;
};

class PathLocks {
 public:
  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& other) noexcept : owner_(other.owner_), id_(other.id_) { other.owner_ = nullptr; }
    Guard& operator=(Guard&& other) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { release(); }
    void release();
    bool held() const { return owner_ != nullptr; }

   private:
    friend class PathLocks;
    Guard(PathLocks* owner, uint64_t id) : owner_(owner), id_(id) {}
    PathLocks* owner_ = nullptr;
    uint64_t id_ = 0;
  };

  // Blocks until none of `locks` conflicts with a lock held by another guard, then holds them all.
  Guard lock(std::vector<PathLock> locks);
  Guard lock(std::string path) { return lock({PathLock{std::move(path), false}}); }

  // How many guards are held now (tests).
  size_t held() const;

 private:
  struct Held {
    uint64_t id;
    std::vector<PathLock> locks;
  };
  bool conflicts_locked(const std::vector<PathLock>& locks) const;
  void release(uint64_t id);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::list<Held> held_;
  uint64_t next_id_ = 1;
};

}  // namespace dlfs
