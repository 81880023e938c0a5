#include "platform/group_commit.h"

#include <algorithm>
#include <exception>

#include "platform/catalog.h"

namespace dlfs {

Status GroupCommit::run(const Catalog& catalog, const Work& work, bool sync_store_first) {
  Pending me{&work, sync_store_first, {}, false};
  std::unique_lock lock(mu_);
  queue_.push_back(&me);
  cv_.wait(lock, [&] { return me.done || !leading_; });
  if (me.done) return me.status;

  // Lead: the batch is everything queued so far (this caller's work included).
  leading_ = true;
  std::vector<Pending*> batch;
  batch.swap(queue_);
  const bool sync = sync_store_ && std::any_of(batch.begin(), batch.end(), [](Pending* p) { return p->sync_store_first; });
  lock.unlock();
  // (begun after every member stored its bytes: they queued after storing them)
  const Status synced = sync ? sync_store_() : Status();
  Status committed = [&]() -> Status {
    DLFS_ASSIGN(LmdbTxn txn, catalog.write());
    for (Pending* p : batch) {
      if (p->sync_store_first && !synced) {
        p->status = synced;
        continue;
      }
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
