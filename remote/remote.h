// The mount's whole view of one dataset. Designed for HTTP (API.md): a folder listing answers
// full items with their metadata in pages (never a round trip per entry), reads are ranged,
// uploads stream from a local file. Implementations: LocalRemote (the embedded platform),
// HttpRemote (dlfsd or a compatible gate), FakeRemote (in memory, for tests).
//
// Every method may be called from many threads at once.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/item.h"
#include "core/requests.h"
#include "core/result.h"
#include "platform/driver.h"

namespace dlfs {

// Errors that a later try may cure (an unreachable or failing server), as opposed to answers
// that stay the same (a bad name, a missing item, no permission, no room).
inline bool is_transient_remote_error(int err) {
  switch (err) {
    case 0: case EINVAL: case ENAMETOOLONG: case EDQUOT: case EACCES: case EPERM: case EEXIST: case ENOENT:
    case ENOTDIR: case EISDIR: case ENOTEMPTY: case EROFS: case EFBIG: case ENOSPC: case EBUSY:
      return false;
    default:
      return true;
  }
}

class Remote {
 public:
  virtual ~Remote() = default;

  // The dataset this remote is bound to (as of opening).
  virtual const Dataset& dataset() const = 0;
  // The server is known not to answer (its last request failed at the transport and no probe
  // has had an answer since): whoever has a local answer gives it instead of waiting on a call.
  virtual bool server_away() const { return false; }

  // One page of the visible (non-hidden) files and folders directly in `dir`, sorted by id,
  // starting after the id `after` ("" for the first page). ENOENT if `dir` does not exist,
  // ENOTDIR if it is a file. The first page's `total` counts the whole folder.
  Result<ItemPage> list(std::string_view dir, std::string_view after, size_t page_size) {
    return list_range(dir, after, {}, page_size);
  }
  // As list(), of the ids in (after, until] only ("" for no end): one of several walks of a
  // large folder at once (fs/metadata_source.cpp). `total` counts the range from `after` on.
  virtual Result<ItemPage> list_range(std::string_view dir, std::string_view after, std::string_view until,
                                      size_t page_size) = 0;
  // The id at `offset` (from 0) of list()'s order, "" past the end: where such walks split. By
  // default one DQL query of a page of one item (the platform finds it by binary search).
  virtual Result<std::string> listing_id_at(std::string_view dir, uint64_t offset);
  // The item at a path (hidden ones included). ENOENT if there is none.
  virtual Result<Item> get(std::string_view path) = 0;
  virtual Result<Item> get_by_id(std::string_view id) = 0;
  // DQL query (API.md), one page.
  virtual Result<ItemPage> query(const json& dql) = 0;

  // Reads up to out.size() bytes of the item's stored binary from `offset`; answers the count
  // (0 at or past the end). For a link item that is the link's JSON, not the target.
  virtual Result<size_t> read(const Item& item, uint64_t offset, std::span<char> out) = 0;
  // Reads many items' whole bytes into `sink` (core/requests.h), in order: a folder's next small
  // files fetched ahead of their readers. dlfsd answers them in one request (POST
  // /items/streams); by default (and on a server without it) each is read() in turn. A remote
  // that does not answer (ETIMEDOUT, EIO) fails the rest of the items at once.
  virtual void read_items(std::span<const Item> items, ItemBytesSink& sink);
  // A read-only descriptor of a local file holding the item's stored binary (the caller closes
  // it), when the remote keeps it so: the embedded platform's own storage. Its bytes never change
  // while open (an update stores a new file). ENOTSUP: this remote never has one (no need to ask
  // again); another error: not for this item. read() always works.
  virtual Result<int> open_local(const Item& item) {
    (void)item;
    return Status(ENOTSUP, "no local file");
  }
  // The item's thumbnail (JPEG bytes); ENOENT when the platform has none and cannot make one.
  virtual Result<std::string> thumbnail(const Item& item) = 0;

  // Uploads a local file to `remote_path` (missing parent folders are made).
  virtual Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                                      const UploadOptions& options) = 0;
  // Many files at once (a batch: on the platform, one sync and one commit for all; over HTTP,
  // one request where the server takes batches). One answer per file, in order, each as
  // upload()'s would be. `owned` files are never moved by a remote in another process.
  virtual std::vector<Result<UploadResult>> upload_files(std::span<const FileUpload> files) {
    std::vector<Result<UploadResult>> out;
    out.reserve(files.size());
    for (const FileUpload& f : files) out.push_back(upload(f.local_file, f.remote_path, f.options));
    return out;
  }
  // Whether an upload of a file in `dir` marked UploadOptions::linkable is taken by a hard link
  // (the embedded platform's own storage, on dir's filesystem). Its uploader must then never
  // write that file in place again: it copies it to a new inode first.
  virtual bool links_from(const std::string& dir) {
    (void)dir;
    return false;
  }
  // Partial update (merge rules in API.md). `system` allows metadata.system changes.
  virtual Result<Item> patch(std::string_view id, const json& patch, bool system = false) = 0;
  // Many patches at once (on the platform: one commit for all; elsewhere one call each). One
  // answer per patch, in order, each as patch()'s would be. No moves.
  virtual std::vector<Result<Item>> patch_many(std::span<const ItemPatch> patches) {
    std::vector<Result<Item>> out;
    out.reserve(patches.size());
    for (const ItemPatch& p : patches) out.push_back(patch(p.id, p.patch, p.system));
    return out;
  }
  // Moves/renames an item (a folder with everything in it). EEXIST if the target exists, unless
  // it is the item `replace_id` (a file moved over a file, a folder over an empty folder): then
  // it is deleted in the same transaction. Moving an item to where it is succeeds (so a retry of
  // a move whose answer was lost does too).
  virtual Result<Item> move(std::string_view id, std::string_view new_path, std::string_view replace_id = {}) = 0;
  // Deletes an item (a folder with everything in it). ENOENT if there is no such item.
  virtual Status remove(std::string_view id) = 0;
  // Makes a folder (and missing parents). EEXIST if something exists at the path.
  virtual Result<Item> make_dir(std::string_view path) = 0;
  // The dataset's quotas of items and what it holds, as of now (core/requests.h).
  virtual Result<QuotaInfo> quota() = 0;
};

// Dataset-level operations, and the way to get a Remote for one dataset.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual Result<std::vector<Dataset>> list_datasets() = 0;
  // `driver_id`: a storage driver that keeps the dataset's binaries in a bucket ("" for none).
  virtual Result<Dataset> create_dataset(std::string_view name, std::string_view driver_id = {}) = 0;
  // By name or id. ENOENT if there is none.
  virtual Result<Dataset> find_dataset(std::string_view name_or_id) = 0;
  virtual Status delete_dataset(std::string_view name_or_id) = 0;
  virtual Result<std::unique_ptr<Remote>> open(std::string_view name_or_id) = 0;
  // Who the client is (creator of what it makes).
  virtual std::string user() const = 0;

  // Storage drivers (platform/driver.h), made from the API's Driver body (credentials too).
  virtual Result<Driver> create_driver(const json& body) = 0;
  virtual Result<std::vector<Driver>> list_drivers() = 0;
  // Syncs the dataset with its driver's bucket and waits until done (on a server: its sync
  // command, polled); `progress` gets the percent and the report so far. Answers the report
  // (SyncReport::to_json: listed, added, updated, removed, unchanged, skipped).
  using SyncProgress = std::function<void(int percent, const json& report)>;
  virtual Result<json> sync_dataset(std::string_view name_or_id, const SyncProgress& progress = {}) = 0;
  // Clones items of a dataset (Platform::clone_items's rules) and waits until done (on a server:
  // its clone command, polled). `request` is the API's body (CloneRequest::from_api: "name" of a
  // new dataset or cloneDatasetParams.targetDatasetId, "filter", ...). Answers the report
  // (CloneReport::to_json: datasetId, matched, cloned, existing, failed).
  virtual Result<json> clone_dataset(std::string_view name_or_id, const json& request,
                                     const SyncProgress& progress = {}) = 0;
  // Watched upstream sync (platform/sync_watch.h): synced again every `seconds` by the server
  // that watches (dlfsd); 0 stops it.
  virtual Status set_sync_interval(std::string_view name_or_id, uint64_t seconds) = 0;
  // CSV bulk import (platform/csv_import.h): the rows of the local file `csv_file` become items of
  // a folder named after it (its name less .csv) under `to`, and waits until done (on a server:
  // the file is sent, then its command polled). Answers the report (CsvImportReport::to_json:
  // folder, rows, created, unchanged, failed, errors [{line, reason}], warnings); rows that
  // failed are in the report, not an error.
  virtual Result<json> import_csv(std::string_view name_or_id, const std::string& csv_file, std::string_view to,
                                  const SyncProgress& progress = {}) = 0;

  // Quotas of items (core/requests.h). `items` 0 removes the quota. An empty name sets the
  // store's quota (the embedded store only: dlfsd's is in its config).
  virtual Result<QuotaInfo> quota(std::string_view name_or_id) = 0;
  virtual Status set_quota(std::string_view name_or_id, uint64_t items) = 0;
};

}  // namespace dlfs
