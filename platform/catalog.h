// The platform's catalogue in LMDB: datasets, items, and the indexes that make the common
// operations one index walk each.
//
//   meta           "format"                      -> format version
//                  "items_quota"                 -> the store's quota of items (absent: none)
//   datasets       dataset id                    -> Dataset (msgpack of the API JSON)
//   dataset_names  name                          -> dataset id
//   items          dataset id + item id          -> Item (msgpack of the API JSON); id order
//   item_datasets  item id                       -> dataset id (GET /items/{id} has no dataset)
//   paths          dataset id + dir + NUL + name -> item id + type + hidden flag (a dir over 230
//                                                   bytes: "#" + its SHA-256, see catalog.cpp)
//   blobs          item id                       -> storage key of the item's binary
//   jobs           item id                       -> preprocessing job (platform/preprocess_queue.h)
//   drivers        driver id                     -> Driver (msgpack of its JSON, credentials too)
//
// Ids are fixed-width (24 hex), so "dataset id + …" keys need no separator. Names never hold
// NUL, so "dir NUL name" keys group a folder's children together: listing "/a" scans the prefix
// "<ds>/a\0", and everything below "/a" lies under "<ds>/a\0" and "<ds>/a/".
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/item.h"
#include "core/lmdb.h"

namespace dlfs {

// 2: the children of a folder whose path is long are keyed by its hash (format 1 stores are
// rewritten when opened). 3: items are indexed by the bucket object they hold (format 2 stores
// get the index when opened).
inline constexpr int kCatalogFormat = 3;
// Blob keys up to this long are in the external_blobs index in key order (LMDB keys end at 511
// bytes); longer ones (object keys may have 1,024) by their hash.
inline constexpr size_t kMaxOrderedBlobKey = 400;

// One entry of the paths index.
struct PathEntry {
  std::string id;
  ItemType type = ItemType::kFile;
  bool hidden = false;
  std::string name;  // the child's name (from the key)
};

class Catalog {
 public:
  // Opens (creating if needed) the catalogue in `dir`. Refuses a catalogue of a newer format.
  static Result<std::unique_ptr<Catalog>> open(const std::string& dir);

  Result<LmdbTxn> read() const { return LmdbTxn::begin(*env_, false); }
  Result<LmdbTxn> write() const { return LmdbTxn::begin(*env_, true); }

  // Datasets.
  Result<std::optional<Dataset>> dataset(const LmdbTxn& txn, std::string_view id) const;
  Result<std::optional<std::string>> dataset_id_by_name(const LmdbTxn& txn, std::string_view name) const;
  Result<std::vector<Dataset>> datasets(const LmdbTxn& txn) const;
  Status put_dataset(LmdbTxn& txn, const Dataset& ds) const;
  Status erase_dataset_record(LmdbTxn& txn, const Dataset& ds) const;

  // Items.
  Result<std::optional<Item>> item(const LmdbTxn& txn, std::string_view id) const;
  // The item's record as stored: MessagePack of item_to_json(item) — the API's document without
  // its links — copied out of the transaction, not decoded.
  Result<std::optional<std::string>> item_record(const LmdbTxn& txn, std::string_view id) const;
  Result<std::optional<PathEntry>> entry_at(const LmdbTxn& txn, std::string_view ds, std::string_view path) const;
  Result<std::optional<Item>> item_at(const LmdbTxn& txn, std::string_view ds, std::string_view path) const;
  // Writes an item and its index entries. `previous` is the stored version when the item
  // existed (its old path entry is removed if the path changed).
  Status put_item(LmdbTxn& txn, const Item& item, const Item* previous = nullptr) const;
  Status erase_item(LmdbTxn& txn, const Item& item) const;
  // The children of folder `dir`, in name order.
  Status children(const LmdbTxn& txn, std::string_view ds, std::string_view dir,
                  const std::function<bool(const PathEntry&)>& fn) const;
  // Every item below folder `dir` (not `dir` itself), at any depth.
  Status descendants(const LmdbTxn& txn, std::string_view ds, std::string_view dir,
                     const std::function<bool(const PathEntry&)>& fn) const;
  // Every item below folder `dir`, loaded. Collected before anything is answered, so the caller
  // may change the index while it goes through them.
  Result<std::vector<Item>> descendant_items(const LmdbTxn& txn, std::string_view ds, std::string_view dir) const;
  // Every item of a dataset in id order, starting after `after_id`.
  Status scan_items(const LmdbTxn& txn, std::string_view ds, std::string_view after_id,
                    const std::function<bool(const Item&)>& fn) const;

  // Binaries.
  Result<std::optional<std::string>> blob_key(const LmdbTxn& txn, std::string_view item_id) const;
  Status put_blob_key(LmdbTxn& txn, std::string_view item_id, std::string_view key) const;
  Status erase_blob_key(LmdbTxn& txn, std::string_view item_id) const;
  // The items of dataset `ds` holding an object of a storage driver's bucket (blob key
  // "@<driver>/<object key>", platform/driver.h), by blob key: kept with the blob keys, for a sync
  // to join a bucket's listing with (in key order) without loading the dataset.
  // Every (blob key, item id) whose blob key starts with `prefix`, in blob key order, from the
  // first blob key after `after` (or from the start when ""), until fn answers false. Keys too
  // long for an LMDB key (a few hundred bytes) are not in this order: see long_external_items.
  Status external_items(const LmdbTxn& txn, std::string_view ds, std::string_view prefix, std::string_view after,
                        const std::function<bool(std::string_view blob_key, std::string_view item_id)>& fn) const;
  // Those whose blob key is too long to be ordered (indexed by its hash), in no order.
  Status long_external_items(const LmdbTxn& txn, std::string_view ds,
                             const std::function<bool(std::string_view blob_key, std::string_view item_id)>& fn) const;
  // The items of `ds` holding blob `key`.
  Result<std::vector<std::string>> items_holding(const LmdbTxn& txn, std::string_view ds, std::string_view key) const;

  // Storage drivers (platform/driver.h).
  Result<std::optional<json>> driver(const LmdbTxn& txn, std::string_view id) const;
  Result<std::vector<json>> drivers(const LmdbTxn& txn) const;
  Status put_driver(LmdbTxn& txn, std::string_view id, const json& driver) const;

  // Commands (platform/commands.h), kept across restarts.
  Result<std::vector<json>> commands(const LmdbTxn& txn) const;
  Status put_command(LmdbTxn& txn, std::string_view id, const json& command) const;
  Status erase_command(LmdbTxn& txn, std::string_view id) const;

  // The store's quota of items (file items of every dataset); 0 for none.
  Result<uint64_t> store_items_quota(const LmdbTxn& txn) const;
  Status put_store_items_quota(LmdbTxn& txn, uint64_t quota) const;

  // The preprocessing queue's database (platform/preprocess_queue.h reads and writes it).
  MDB_dbi jobs_dbi() const { return jobs_; }

  const LmdbEnv& env() const { return *env_; }

 private:
  // The item's stored record, as the transaction maps it (nullopt: no such item).
  Result<std::optional<std::string_view>> record_of(const LmdbTxn& txn, std::string_view id) const;
  Status hash_long_dirs(LmdbTxn& txn) const;  // format 1 to 2
  Status index_external_blobs(LmdbTxn& txn) const;  // format 2 to 3
  // The index entry of (blob key, item) in dataset `ds`, or nothing for a key of the platform's.
  Status index_blob(LmdbTxn& txn, std::string_view ds, std::string_view item_id, std::string_view key, bool add) const;

  std::shared_ptr<LmdbEnv> env_;  // shared with other Catalogs of this process on the same store
  MDB_dbi meta_ = 0, datasets_ = 0, dataset_names_ = 0, items_ = 0, item_datasets_ = 0, paths_ = 0, blobs_ = 0,
          jobs_ = 0, drivers_ = 0, commands_ = 0, external_blobs_ = 0;
  // A table of msgpack'd JSON records by id (drivers, commands): all of them; one put.
  Result<std::vector<json>> records(const LmdbTxn& txn, MDB_dbi dbi) const;
  Status put_record(LmdbTxn& txn, MDB_dbi dbi, std::string_view id, const json& doc) const;
};

std::string encode_item(const Item& item);
Result<Item> decode_item(std::string_view bytes);

}  // namespace dlfs
