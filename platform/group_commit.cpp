#include "platform/group_commit.h"

#include <exception>

#include "platform/catalog.h"

namespace dlfs {

Status GroupCommit::run(const Catalog& catalog, const Work& work) {
  Pending me{&work, {}, false};
  std::unique_lock lock(mu_);
  queue_.push_back(&me);
  cv_.wait(lock, [&] { return me.done || !leading_; });
  if (me.done) return me.status;

  // Lead: the batch is everything queued so far (this caller's work included).
  leading_ = true;
  std::vector<Pending*> batch;
  batch.swap(queue_);
  lock.unlock();
  Status committed = [&]() -> Status {
    DLFS_ASSIGN(LmdbTxn txn, catalog.write());
    for (Pending* p : batch) {
      auto child = LmdbTxn::begin_nested(txn);
      if (!child) {
        p->status = child.status();
        continue;
      }
      try {
        p->status = (*p->work)(*child);
      } catch (const std::exception& e) {
        p->status = Status(EIO, "internal error in a catalogue write", e.what());
      }
      if (p->status) p->status = child->commit();
    }
    return txn.commit();
  }();
  lock.lock();
  for (Pending* p : batch) {
    if (p->status && !committed) p->status = committed;
    p->done = true;
  }
  leading_ = false;
  cv_.notify_all();
  return me.status;
}

}  // namespace dlfs
