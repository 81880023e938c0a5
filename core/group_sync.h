// Group durability for the files written to one filesystem. A writer that needs "what I wrote
// is on the disk" would pay an fsync of its file and one of its folder: two device flushes per
// file, which the disk serves one after another (an upload of 100 KB spent 2/3 of its time
// there). Instead each writer calls sync(): the first one that finds no sync under way leads and
// runs one syncfs(2) — every dirty page, inode and folder block of the filesystem written, then
// one flush — and writers arriving meanwhile wait for the next one (a sync that began before
// they called may have missed what they wrote), which one of them leads. Concurrent writers
// share a flush; a writer alone pays one, not two.
//
// syncfs reports the filesystem's write errors since the descriptor was opened, or since its
// last report (Linux ≥ 5.8): a failed sync is answered to every writer it was to cover.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/result.h"

namespace dlfs {

class GroupSync {
 public:
  // Makes the file system's dirty state durable; answers 0 or -1 with errno (syncfs's contract).
  using SyncFn = std::function<int(int fd)>;
  // For the filesystem holding `dir` (kept open). `sync_fn` is the seam tests use; default syncfs(2).
  static Result<std::unique_ptr<GroupSync>> open(const std::string& dir, SyncFn sync_fn = {});
  ~GroupSync();
  GroupSync(const GroupSync&) = delete;
  GroupSync& operator=(const GroupSync&) = delete;

  // Returns once a sync that began after this call has ended: everything written to the
  // filesystem before the call is durable (if that sync failed, its error).
  Status sync();
  // Syncs run so far.
  uint64_t syncs() const;

 private:
  GroupSync(int fd, SyncFn sync_fn) : fd_(fd), sync_fn_(std::move(sync_fn)) {}

  int fd_;
  SyncFn sync_fn_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t started_ = 0;  // syncs begun (the one under way, if any, is number started_)
  uint64_t ended_ = 0;    // syncs ended (started_ == ended_: none under way)
  Status last_status_;    // of sync number ended_
};

}  // namespace dlfs
