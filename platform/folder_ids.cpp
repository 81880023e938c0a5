#include "platform/folder_ids.h"

#include <algorithm>

#include <lmdb.h>

namespace dlfs {

Result<std::shared_ptr<FolderIds::Ids>> FolderIds::gather(const Catalog& catalog, const LmdbTxn& txn,
                                                        std::string_view ds, std::string_view dir, Hidden hidden) {
  auto ids = std::make_shared<Ids>();
  DLFS_TRY(catalog.children(txn, ds, dir, [&](const PathEntry& e) {
    if (hidden == Hidden::kAll || e.hidden == (hidden == Hidden::kHiddenOnly)) ids->push_back(e.id);
    return true;
  }));
  std::sort(ids->begin(), ids->end());
  return ids;
}

Result<std::shared_ptr<const FolderIds::Ids>> FolderIds::of(const Catalog& catalog, const LmdbTxn& txn,
                                                           std::string_view ds, std::string_view dir, Hidden hidden,
                                                           bool read_txn) {
  uint64_t snapshot = mdb_txn_id(txn.raw());
  auto same = [&](const Entry& e) { return e.snapshot == snapshot && e.hidden == hidden && e.ds == ds && e.dir == dir; };
  if (read_txn) {
    std::lock_guard lock(mu_);
    auto it = std::find_if(entries_.begin(), entries_.end(), same);
    if (it != entries_.end()) {
      entries_.splice(entries_.begin(), entries_, it);
      return it->ids;
    }
  }
  // (Gathered outside the lock: another folder's pages need not wait for this one.)
  DLFS_ASSIGN(auto ids, gather(catalog, txn, ds, dir, hidden));
  std::lock_guard lock(mu_);
  ++sorts_;
  if (!read_txn) return std::shared_ptr<const Ids>(std::move(ids));
  // Entries of other snapshots of the same folder are of no more use.
  entries_.remove_if([&](const Entry& e) { return e.hidden == hidden && e.ds == ds && e.dir == dir; });
  entries_.push_front(Entry{snapshot, std::string(ds), std::string(dir), hidden, ids});
  while (entries_.size() > max_) entries_.pop_back();
  return std::shared_ptr<const Ids>(std::move(ids));
}

uint64_t FolderIds::sorts() const {
  std::lock_guard lock(mu_);
  return sorts_;
}

}  // namespace dlfs
