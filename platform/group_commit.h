// Group commit for the catalogue. A durable LMDB commit costs two fsyncs, and writers are
// serialized, so uploads running in parallel would each wait for everyone's fsyncs in turn.
// Instead, callers queue their work; the first caller that finds no commit under way leads: it
// takes everything queued, runs each piece in a nested transaction (a failure undoes only its
// own writes), commits once for all, and wakes the others with their outcome. Uploads whose bytes
// the store has not made durable yet (Durable::kAtSync) ask for a store sync first: the leader
// runs one for the whole group before any of its writes, so a commit never names bytes a power
// loss could take.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

#include "core/lmdb.h"

namespace dlfs {

class Catalog;

class GroupCommit {
 public:
  using Work = std::function<Status(LmdbTxn&)>;
  // `sync_store`: makes the bytes stored before it was called durable (Storage::sync).
  explicit GroupCommit(std::function<Status()> sync_store = {}) : sync_store_(std::move(sync_store)) {}
  // Runs `work` inside a write transaction that is durably committed when this returns ok.
  // `work`'s own failure is answered as it is (its writes undone); a failed commit is answered
  // to every piece of its group. `sync_store_first`: the store is synced before `work` runs (its
  // failure is answered, and `work` does not run).
  Status run(const Catalog& catalog, const Work& work, bool sync_store_first = false);

 private:
  struct Pending {
    const Work* work;
    bool sync_store_first;
    Status status;
    bool done = false;
  };
  std::function<Status()> sync_store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending*> queue_;
  bool leading_ = false;
};

}  // namespace dlfs
