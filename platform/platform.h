// The embedded platform: one store directory holding a catalogue (LMDB) and the binaries, with
// many datasets. Every operation is safe from many threads, and from several processes opening
// the same store (LMDB serializes writers; binaries are published before catalogue commits).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/item.h"
#include "core/requests.h"
#include "core/result.h"
#include "net/link_fetcher.h"
#include "net/link_policy.h"
#include "platform/folder_ids.h"
#include "platform/storage.h"

namespace dlfs {

class DqlQuery;
struct DqlListing;

class Catalog;
class CommandContext;
class Commands;
class GroupCommit;
class ObjectStore;
struct Command;
struct Driver;
class LmdbTxn;
class Preprocessor;
class SyncWatcher;

struct PlatformOptions {
  std::string store_dir;
  const Clock* clock = &SystemClock::instance();
  // Opens a storage driver's bucket (platform/driver.h's open_driver_store when unset).
  std::function<Result<std::unique_ptr<ObjectStore>>(const Driver&)> open_store = nullptr;
  // How the platform fetches link targets (preprocessing, imports): the same guard as a mount's
  // (net/link_policy.h). file:// is never fetched by the platform, whatever allow_file says.
  LinkPolicy link_policy = {};
  // Fetches link targets (a libcurl one with link_policy when unset; tests give fakes).
  std::shared_ptr<LinkFetcher> link_fetcher = nullptr;
  // Makes the store's filesystem durable (syncfs(2) when unset): the seam through which tests
  // see that uploads' bytes are synced, and before their commit.
  std::function<int(int fd)> sync_store = nullptr;
  // Objects a sync joins with the catalogue at a time (its memory); tests make it small.
  size_t sync_chunk = 1000;
};

// A dataset's quota of items from its record (0: none). Quotas: QuotaInfo (core/requests.h),
// counted in the catalogue with the items; what would go past one is refused with EDQUOT.
uint64_t dataset_items_quota(const Dataset& ds);
// A driver's dataset's sync interval in seconds (0: not watched; platform/sync_watch.h).
uint64_t dataset_sync_interval(const Dataset& ds);

// What a sync with a storage driver did (Platform::sync_dataset).
struct SyncReport {
  uint64_t listed = 0;     // objects under the driver's prefix
  uint64_t added = 0;      // new items for new objects
  uint64_t updated = 0;    // items whose object changed (re-preprocessed)
  uint64_t removed = 0;    // items whose object is gone
  uint64_t unchanged = 0;
  std::vector<std::string> skipped;  // objects that make no item (a bad name), with why: the first 1,000
  uint64_t skipped_more = 0;         // ... and how many more
  json to_json() const;
};

// What a CSV bulk import did (Platform::import_csv; platform/csv_import.cpp).
struct CsvImportReport {
  std::string folder;  // where the rows' items are
  uint64_t rows = 0, created = 0, updated = 0, unchanged = 0, failed = 0;
  // The failed rows (line of the CSV file, why), the first kMaxErrors of them.
  static constexpr size_t kMaxErrors = 1000;
  std::vector<std::pair<uint64_t, std::string>> errors;
  std::vector<std::string> warnings;  // columns ignored, errors left out
  void fail(uint64_t line, std::string why);
  json to_json() const;
};

// A clone of a dataset's items (Platform::clone_items; platform/platform_clone.cpp), as dtlpy asks
// for one: POST /datasets/{id}/clone {"name", "filter", "cloneDatasetParams": {"withMetadata",
// "targetDirectory", "targetDatasetId"}}.
struct CloneRequest {
  std::string name;               // the new dataset to make, when target_dataset_id is empty
  std::string target_dataset_id;  // or the dataset to clone into
  std::string target_dir = "/";   // the folder of the target the items go under, with their paths
  json filter = nullptr;          // a DQL filter of the items to clone (null: every item)
  bool with_metadata = true;      // the items' user metadata and description go too
  static Result<CloneRequest> from_api(const json& body);
  json to_json() const;
};

// What a clone did.
struct CloneReport {
  std::string dataset_id;  // the target
  uint64_t matched = 0;    // items of the source the filter matched (folders too)
  uint64_t cloned = 0;     // made in the target
  uint64_t existing = 0;   // something was at the path in the target already: left as it was
  std::vector<std::string> failed;  // items changed again and again while cloned (the first 1,000)
  json to_json() const;
};

// What a bulk query did (API: "update" / "delete" in a DQL body).
struct QueryOutcome {
  ItemPage page;          // the page of matches (after the update, for an update)
  uint64_t affected = 0;  // items updated or deleted
};

// A page of a folder listing as the catalogue holds its items (Platform::listing_records).
struct RecordPage {
  std::vector<std::string> records;  // each MessagePack of item_to_json(item), in id order
  uint64_t total = 0;
  bool has_next = false;
  size_t page_size = 0;  // the query's
};

// Where the preprocessing of a set of items stands (Platform::wait_preprocessed).
struct PreprocessTally {
  size_t total = 0, pending = 0, done = 0, failed = 0;
};

class Platform {
 public:
  static Result<std::unique_ptr<Platform>> open(const PlatformOptions& options);
  ~Platform();

  // Datasets.
  // `system`: merged into the new dataset's metadata.system (a clone's clonedFrom).
  Result<Dataset> create_dataset(std::string_view name, std::string_view creator, std::string_view driver = {},
                                 const json& system = nullptr);
  Result<std::vector<Dataset>> list_datasets();
  Result<Dataset> get_dataset(std::string_view id);
  // By name or id.
  Result<Dataset> find_dataset(std::string_view name_or_id);
  Status delete_dataset(std::string_view id);
  // A read-only dataset's writes are refused by dlfsd (403); the platform itself does not check.
  Status set_dataset_readonly(std::string_view id, bool readonly);

  // Storage drivers (platform/driver.h): a dataset created with one keeps its binaries in the
  // driver's bucket.
  Result<Driver> create_driver(const json& body, std::string_view creator);
  Result<std::vector<Driver>> list_drivers();
  Result<Driver> get_driver(std::string_view id);
  // The driver's bucket, opened on first use and kept (and the driver, when asked).
  Result<std::shared_ptr<ObjectStore>> driver_store(std::string_view driver_id, Driver* driver = nullptr);
  // Indexes objects already in the dataset's bucket as items (API: POST /datasets/{id}/imports,
  // [{"filename", "storageId": "bucket:key"}]); an item already at a filename is pointed at the
  // object. All or nothing: every object is looked at before any item is made.
  Result<std::vector<Item>> import_items(std::string_view dataset_id, const json& body, std::string_view user);
  // Makes the dataset's items match its bucket: new objects become items, changed ones are
  // preprocessed again, items whose object is gone go. `progress` is called as it goes.
  Result<SyncReport> sync_dataset(std::string_view dataset_id, std::string_view user,
                                  const std::function<void(const SyncReport&, int percent)>& progress = {});
  // The same as a Command (API: POST /datasets/{id}/sync), running in the background.
  Result<Command> start_sync(std::string_view dataset_id, std::string_view user);
  // The commands a stopped server left (platform/commands.h): syncs run again, the others failed
  // saying why. Called by the process that serves the store (dlfsd) once open.
  Status recover_commands();
  Commands& commands() { return *commands_; }
  // Watched upstream sync (platform/sync_watch.h): the dataset's interval (0: not watched; EINVAL
  // for a dataset without a driver), and the watcher, started by the process that serves the
  // store (dlfsd) and stopped with the platform.
  Status set_sync_interval(std::string_view dataset_id, uint64_t seconds);
  void watch_syncs(std::chrono::milliseconds tick = std::chrono::seconds(1));
  // Whether this process starts the watched dataset's sync now: its interval has passed since the
  // last one any process started, or (`changed_at_ms` > 0) its bucket changed at that time and no
  // sync started since (metadata.system.watchedSyncMs, claimed in a write transaction, so the
  // watchers of several processes serving one store — dlfsd, embedded mounts — take turns).
  Result<bool> claim_watched_sync(std::string_view dataset_id, int64_t changed_at_ms = 0);
  const Clock& clock() const { return *options_.clock; }
  // CSV bulk import (platform/csv_rows.h): each row of the file becomes an item of `folder`
  // (made if missing) — a link item, or one holding the row's image_bytes or the bytes fetched
  // from its URL through the link guard. Each item is committed whole; a row whose item is there
  // already the same is unchanged, so a re-run completes an interrupted import. Bad rows are
  // reported with their line; the error answered is about the file or the dataset. `progress`
  // is called as it goes and answers false to stop.
  Result<CsvImportReport> import_csv(std::string_view dataset_id, const std::string& csv_file, std::string_view folder,
                                     std::string_view user,
                                     const std::function<bool(const CsvImportReport&, int percent)>& progress = {});
  // The same as a Command (API: POST /datasets/{id}/imports/csv); `remove_file`: the file is the
  // command's (a request body) and goes when it ends.
  Result<Command> start_csv_import(std::string_view dataset_id, std::string csv_file, std::string folder,
                                   std::string_view user, bool remove_file);

  // Cloning (platform/platform_clone.cpp), by the seed's rules: items of the platform's storage
  // into a dataset of it; items in a driver's bucket into a clone of a dataset of the same driver,
  // which holds the same objects (no bytes copied: an internal binary is hard-linked, an object
  // shared) and is not indexed to the bucket (no sync, no import; its moves leave objects alone;
  // its uploads go to new objects under /.dataloop/clones/). An object goes only with the last
  // item that holds it. The target is made (or checked) first: EXDEV across storages, EEXIST for
  // a name taken; then the items go in batches, each all or nothing, past the quota EDQUOT. A
  // clone run again skips what is there: a command a restart cut short is run again.
  Result<Dataset> clone_target(std::string_view source_id, CloneRequest& request, std::string_view user);
  Result<CloneReport> clone_items(std::string_view source_id, const CloneRequest& request, std::string_view user,
                                  const std::function<void(const CloneReport&, int percent)>& progress = {});
  // Both, the second as a Command (API: POST /datasets/{id}/clone); its spec's returnedModelId is
  // the target's id.
  Result<Command> start_clone(std::string_view source_id, CloneRequest request, std::string_view user);

  // Reads.
  Result<Item> get_item(std::string_view id);
  Result<Item> get_item_by_path(std::string_view dataset_id, std::string_view path);
  // The children of a folder in id order, after the id `after` (and up to `until`, when given);
  // hidden ones only if asked.
  Result<ItemPage> list_dir(std::string_view dataset_id, std::string_view dir, std::string_view after,
                            size_t page_size, bool include_hidden = false, std::string_view until = {});
  // A DQL query (API.md), with bulk update/delete when the body asks for them.
  Result<QueryOutcome> query(std::string_view dataset_id, const json& body, std::string_view user = "dev@local");
  // The same page for a query that is a folder listing (what mounts page with), with the items'
  // records as stored, not decoded (dlfsd sends them on as they are); nullopt for another query.
  Result<std::optional<RecordPage>> listing_records(std::string_view dataset_id, const json& body);
  Result<size_t> read(const Item& item, uint64_t offset, std::span<char> out);
  // A read-only descriptor of the item's stored binary where it is a local file of the store
  // (Storage::open_read); ENODATA where it is not (inline, in a driver's bucket).
  Result<int> open_binary(const Item& item);
  // One version of an item and its bytes: the catalogue's item and its binary's key as one
  // snapshot saw them, the binary opened where it is a local file of the store (`fd`, closed
  // with the object). A reader of several ranges (dlfsd's stream route) reads them all from one
  // version, whatever uploads replace the item meanwhile (a binary's bytes never change: an
  // update stores a new one).
  struct ItemBinary {
    Item item;
    std::string key;
    int fd = -1;
    ItemBinary() = default;
    ItemBinary(const ItemBinary&) = delete;
    ItemBinary& operator=(const ItemBinary&) = delete;
    ~ItemBinary();
  };
  Result<std::unique_ptr<ItemBinary>> open_item_binary(std::string_view id);
  Result<size_t> read_binary(const ItemBinary& binary, uint64_t offset, std::span<char> out);
  // A URL that reads the binary straight from its driver's bucket for `valid_s` seconds, without
  // credentials (ObjectStore::presigned_read_url). ENOTSUP for the platform's own storage and for
  // stores that make none.
  Result<std::string> presigned_read_url(const ItemBinary& binary, int64_t valid_s);
  // The item's thumbnail bytes (ENOENT when it has none).
  Result<std::string> thumbnail(const Item& item);

  // Writes.
  Result<UploadResult> upload_file(std::string_view dataset_id, const std::string& local_file,
                                   std::string_view remote_path, const UploadOptions& options);
  // As upload_file, for a file the caller gives away (dlfsd's upload temp file, under the store):
  // moved into the platform's storage rather than copied. Gone after a success; still there
  // (the caller's to remove) after a failure or a skip.
  Result<UploadResult> upload_owned_file(std::string_view dataset_id, const std::string& local_file,
                                         std::string_view remote_path, const UploadOptions& options);
  Result<UploadResult> upload_bytes(std::string_view dataset_id, std::string_view bytes,
                                    std::string_view remote_path, const UploadOptions& options);
  // Many files at once: their bytes stored, one store sync and one catalogue commit for them all
  // (each in a nested transaction of its own: one refused does not undo the others). One answer
  // per upload, in order; each as upload_file's (or upload_owned_file's) would be.
  std::vector<Result<UploadResult>> upload_files(std::string_view dataset_id, std::span<const FileUpload> uploads);
  // Whether the platform's own storage takes a file of `dir` by hard link (Take::kLink).
  bool storage_links_from(const std::string& dir) const;
  Result<Item> make_dir(std::string_view dataset_id, std::string_view path, std::string_view user);
  // Many patches of items of `dataset_id` in one catalogue commit (a group commit's: each in a
  // nested transaction of its own, so one refused undoes only itself). Moves are refused
  // (EINVAL: patch_item makes them). One answer per patch, in order, each as patch_item's.
  std::vector<Result<Item>> patch_items(std::string_view dataset_id, std::span<const ItemPatch> patches,
                                        std::string_view user);
  // A `filename` in the patch moves the item; `replace_id` as in move_item.
  Result<Item> patch_item(std::string_view id, const json& patch, bool system, std::string_view user,
                          std::string_view replace_id = {});
  // `replace_id`: the item that may be at `new_path` and goes in the same transaction (a file
  // replaced by a file, an empty folder by a folder); anything else there is EEXIST.
  // An item whose binary is an object in a driver's bucket moves with its object, a folder with
  // the objects of the files below it (platform_move.cpp): where the driver may delete objects;
  // EXDEV elsewhere.
  Result<Item> move_item(std::string_view id, std::string_view new_path, std::string_view user,
                         std::string_view replace_id = {});
  Status delete_item(std::string_view id);

  // Quotas (QuotaInfo). A quota below what is there already refuses only what comes next.
  Result<QuotaInfo> quota(std::string_view dataset_id);
  Status set_dataset_quota(std::string_view dataset_id, uint64_t items);
  Status set_store_quota(uint64_t items);

  // Preprocessing (platform/preprocess.h). Every file item created or overwritten is queued with
  // its upload; workers run only where started: the mount and dlfsd call start_preprocessing()
  // once open, the CLI while it waits. Several processes may run workers on one store.
  Status start_preprocessing(unsigned workers = 0);  // 0: one per core
  void stop_preprocessing();
  // Queues again the (non-hidden) file items at or below `path`, phase pending; answers their ids.
  Result<std::vector<std::string>> requeue_preprocessing(std::string_view dataset_id, std::string_view path);
  // Waits until none of `ids` is pending (a deleted item counts as done) or `timeout` passes;
  // `progress` is called after every look.
  Result<PreprocessTally> wait_preprocessed(const std::vector<std::string>& ids, std::chrono::milliseconds timeout,
                                            const std::function<void(const PreprocessTally&)>& progress = {});
  // Preprocesses one item now, in this thread; answers the item with its results.
  Result<Item> preprocess_now(std::string_view id);
  Preprocessor& preprocessor() { return *preprocessor_; }
  // Jobs in the preprocessing queue, every process's (claimed ones included); no scan.
  Result<uint64_t> preprocess_queue_length();

  // The catalogue's size from the datasets' records (their items_count): no scan of the items.
  struct CatalogSize {
    uint64_t datasets = 0;
    uint64_t items = 0;  // file items, as Dataset::items_count counts them
  };
  Result<CatalogSize> catalog_size();

  const std::string& store_dir() const { return options_.store_dir; }
  // How many times a folder's children were gathered and sorted for a listing (tests).
  uint64_t folder_id_sorts() const { return folder_ids_.sorts(); }
  // The fetcher of link targets (PlatformOptions::link_fetcher) and its policy.
  LinkFetcher& link_fetcher();
  const LinkPolicy& link_policy() const { return options_.link_policy; }

 private:
  explicit Platform(PlatformOptions options);
  // `put(dataset, path)` stores the bytes and answers where; `system` is merged into the
  // item's metadata.system (a synced object's etag).
  using PutBlob = std::function<Result<struct StoredBlob>(const Dataset&, const std::string& path)>;
  Result<UploadResult> upload(std::string_view dataset_id, std::string_view remote_path,
                              const UploadOptions& options, const PutBlob& put, const json* system = nullptr);
  // An upload's steps (platform_write.cpp): checked and its bytes stored; committed (inside a
  // catalogue transaction); the binaries it no longer needs dropped.
  // Many uploads in one catalogue commit (each in a nested transaction: one refused does not undo
  // the others), one answer each in order; each as upload()'s.
  struct BlobUpload {
    std::string remote_path;
    const UploadOptions* options;
    PutBlob put;
    const json* system = nullptr;
  };
  std::vector<Result<UploadResult>> upload_many(std::string_view dataset_id, std::span<const BlobUpload> uploads);
  struct StagedUpload;
  void stage_upload(std::string_view dataset_id, std::string_view remote_path, const PutBlob& put, StagedUpload& up);
  Status commit_staged(LmdbTxn& txn, std::string_view dataset_id, StagedUpload& up);
  void finish_upload(StagedUpload& up);
  // Binaries by catalogue key: the platform's storage, or a driver's bucket ("@driver/key").
  Result<size_t> read_blob(std::string_view key, uint64_t offset, std::span<char> out);
  // The catalogue's key of the item's stored binary (EISDIR for a folder, ENOENT for none).
  Result<std::string> blob_key_of(const Item& item);
  // Stores an upload's bytes where the dataset keeps them: in a bucket, durable when this returns;
  // in the platform's storage, once storage_->sync() has run (the upload's group commit does).
  // `take`: how the platform's storage takes the file (a bucket always reads it).
  Result<struct StoredBlob> put_blob(const Dataset& ds, std::string_view path, const std::string* file,
                                     std::string_view bytes, Take take = Take::kCopy);
  // Forgets a binary no item refers to: the platform's own are deleted, a bucket's object only
  // where its driver allows external deletes or the platform made it (under /.dataloop).
  void drop_blob(std::string_view key);
  // Stores a file the platform makes for a dataset (a thumbnail) at `path` (under /.dataloop): in
  // its driver's bucket, durable when this returns; else in the platform's storage, durable once
  // storage_->sync() has run.
  Result<struct StoredBlob> put_generated(std::string_view dataset_id, std::string_view path, std::string_view bytes);
  // Makes `path` and any missing parents as folders; answers the folder at `path`.
  Result<Item> ensure_dir(LmdbTxn& txn, const Dataset& ds, std::string_view path, std::string_view user,
                          int64_t now);
  // Deletes an item (a folder with everything below it) inside `txn`; the storage keys to
  // remove once committed are appended to `blob_keys`; answers how many file items went.
  Result<uint64_t> erase_tree(LmdbTxn& txn, const Item& item, std::vector<std::string>& blob_keys);
  // A move of a bucket's object that goes with its item's move (platform_move.cpp).
  struct ObjectMove;
  // A patch with no move, of the item `id` (of `dataset_id` unless empty: ENOENT otherwise).
  Result<Item> patch_in_txn(LmdbTxn& txn, std::string_view dataset_id, std::string_view id, const json& patch,
                            bool system, std::string_view user);
  Result<Item> apply_patch(LmdbTxn& txn, Item item, const json& patch, bool system, std::string_view user,
                           std::string_view replace_id, std::vector<std::string>& blob_keys,
                           const ObjectMove* object_move = nullptr);
  // `replace_id` and `blob_keys` as in move_item / erase_tree; `object_move` the object copied
  // for this move (a file in a bucket moves only with it, or where its key stays the same).
  Result<Item> move_in_txn(LmdbTxn& txn, Item item, std::string_view new_path, std::string_view user,
                           std::string_view replace_id, std::vector<std::string>& blob_keys,
                           const ObjectMove* object_move = nullptr);
  // Runs `change` (a move of item `id` to `new_path`, if any) in a write transaction, with the
  // item's object copied to its new key first when it has one, and the binaries it frees dropped.
  using MoveInTxn = std::function<Result<Item>(LmdbTxn&, std::vector<std::string>& blob_keys, const ObjectMove*)>;
  Result<Item> write_moving(std::string_view id, std::optional<std::string_view> new_path, const MoveInTxn& change);
  Result<std::optional<ObjectMove>> object_move_for(std::string_view id, std::string_view new_path);
  // Whether a file whose binary is `blob_key` may be at `path` in this transaction (EXDEV, EBUSY).
  Status check_object_stays(LmdbTxn& txn, const Item& file, std::string_view path, const ObjectMove* object_move);
  // Erases `target` (found at a path something moves or uploads to) if it is `replace_id` and
  // may be replaced by an item of type `by` (a folder only when empty); EEXIST otherwise.
  Status replace_in_txn(LmdbTxn& txn, const Item& target, std::string_view replace_id, ItemType by,
                        std::vector<std::string>& blob_keys);
  Status add_to_count(LmdbTxn& txn, std::string_view dataset_id, int64_t delta);
  // Sets metadata.system.<key> of a dataset's record to `value` (0 takes it out).
  Status set_dataset_count(std::string_view dataset_id, const std::string& key, uint64_t value);
  // A clone's job (platform_clone.cpp); one batch of it.
  std::function<Result<json>(CommandContext&)> clone_job(std::string source_id, CloneRequest request, std::string user);
  struct CloneBatch;
  Status clone_batch(CloneBatch& batch, const Dataset& target, const CloneRequest& request, std::string_view user,
                     CloneReport& report);
  // Whether an object of a driver's bucket is held by any item, in any dataset of the driver.
  Result<bool> object_held(const LmdbTxn& txn, std::string_view driver_id, std::string_view blob_key);
  // A sync of the dataset as a command's job.
  std::function<Result<json>(CommandContext&)> sync_job(std::string dataset_id, std::string user);
  // EDQUOT (saying which quota, and how to raise it) when `items` more would not fit.
  Status check_room(LmdbTxn& txn, const Dataset& ds, uint64_t items);
  // The item an upload makes or overwrites at `path`, written inside `txn` (upload(), and the CSV
  // import's batches). `old_key` and `replaced_keys` get the binaries to drop once committed.
  Result<UploadResult> put_upload_in_txn(LmdbTxn& txn, std::string_view dataset_id, const std::string& path,
                                         const UploadOptions& options, const struct StoredBlob& blob,
                                         const std::optional<json>& shebang, const json* system,
                                         std::string& old_key, std::vector<std::string>& replaced_keys);
  friend class CsvImporter;  // platform/csv_import.cpp
  void remove_blobs(const std::vector<std::string>& keys);
  friend class Preprocessor;
  Result<std::string> thumbnail_on_demand(const Item& item);  // platform/preprocess.cpp

  PlatformOptions options_;
  std::once_flag link_fetcher_made_;  // made at first use: opening a store stays cheap
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<GroupCommit> commits_;  // uploads share catalogue commits
  std::unique_ptr<Storage> storage_;
  FolderIds folder_ids_;  // a folder's ids in id order, for the pages after the first
  // A folder listing's matches: ids[first, end) (no ids: a path that cannot be a folder's).
  struct ListingRange {
    std::shared_ptr<const FolderIds::Ids> ids;
    uint64_t first = 0, end = 0, total = 0;
  };
  Result<ListingRange> listing_range(const LmdbTxn& txn, std::string_view dataset_id, const DqlQuery& q,
                                     const DqlListing& listing);
  std::mutex stores_mu_;
  std::map<std::string, std::shared_ptr<ObjectStore>, std::less<>> stores_;  // by driver id, opened on use
  std::unique_ptr<Commands> commands_;          // its threads use the above: stop before them
  std::unique_ptr<Preprocessor> preprocessor_;  // its workers stop before the commands'
  std::unique_ptr<SyncWatcher> watcher_;        // declared last: stops first, starting no more
};

// Whether a dataset is a clone of a driver's dataset (metadata.system.clonedFrom): it holds objects
// of the bucket, but is not indexed to it.
bool is_bucket_clone(const Dataset& ds);

// Whether a file item counts in Dataset::items_count.
bool counts_as_dataset_item(const Item& item);
// Whether an item at `path` is hidden: under /.dataloop, where the platform keeps what it makes.
bool is_hidden_path(std::string_view path);

}  // namespace dlfs

