// Group commit for the catalogue. A durable LMDB commit costs two fsyncs, and writers are
// serialized, so uploads running in parallel would each wait for everyone's fsyncs in turn.
// Instead, callers queue their work; the first caller that finds no commit under way leads: it
// takes everything queued, runs each piece in a nested transaction (a failure undoes only its
// own writes), commits once for all, and wakes the others with their outcome.
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
  // Runs `work` inside a write transaction that is durably committed when this returns ok.
  // `work`'s own failure is answered as it is (its writes undone); a failed commit is answered
  // to every piece of its group.
  Status run(const Catalog& catalog, const Work& work);

 private:
  struct Pending {
    const Work* work;
    Status status;
    bool done = false;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending*> queue_;
  bool leading_ = false;
};

}  // namespace dlfs
