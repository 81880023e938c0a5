// The ids of a folder's children in id order, kept for the next page. The API pages a folder in
// id order with a cursor (the last id seen), and the paths index is in name order: without this,
// every page walked the whole folder and sorted its ids again — 100 pages of a folder of 100,000
// entries did it 100 times. Kept per catalogue snapshot (LMDB's transaction id: two read
// transactions with one id see the same data, in any process), so a change of the catalogue
// between two pages is never hidden: the next page sorts again.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/lmdb.h"
#include "platform/catalog.h"

namespace dlfs {

class FolderIds {
 public:
  using Ids = std::vector<std::string>;
  enum class Hidden { kAll, kVisible, kHiddenOnly };

  explicit FolderIds(size_t folders = 8) : max_(folders) {}

  // The ids of `dir`'s children (those `hidden` admits) in id order, as `txn` sees them. Kept
  // only for a read transaction (a write transaction's id is the one its commit would take, and
  // another write may commit under that id instead).
  Result<std::shared_ptr<const Ids>> of(const Catalog& catalog, const LmdbTxn& txn, std::string_view ds,
                                        std::string_view dir, Hidden hidden, bool read_txn = true);
  // How many times a folder's ids were gathered and sorted (tests).
  uint64_t sorts() const;

 private:
  static Result<std::shared_ptr<Ids>> gather(const Catalog& catalog, const LmdbTxn& txn, std::string_view ds,
                                             std::string_view dir, Hidden hidden);

  struct Entry {
    uint64_t snapshot = 0;
    std::string ds, dir;
    Hidden hidden = Hidden::kAll;
    std::shared_ptr<const Ids> ids;
  };
  mutable std::mutex mu_;
  std::list<Entry> entries_;  // most recently used first
  size_t max_;
  uint64_t sorts_ = 0;
};

}  // namespace dlfs
