// Request and answer shapes shared by the platform, the remotes and the mount.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/item.h"
#include "core/result.h"

namespace dlfs {

// What an upload does when an item already exists at the path (API: ?mode=skip|overwrite).
enum class UploadMode { kSkip, kOverwrite };

struct UploadOptions {
  UploadMode mode = UploadMode::kSkip;
  // The item's metadata object as the client gives it, e.g. {"user": {...}}; null for none.
  // Only "user" (and other non-system keys) are taken; "system" is the platform's.
  json metadata;
  std::optional<std::string> description;
  std::string user = "dev@local";  // who uploads (creator / updatedBy)
  // With kSkip (create-only): the id of a file item that may sit at the path and is replaced —
  // deleted in the same transaction as the new item is made (API: ?replace=<id>). Any other item
  // there makes the upload skip, as without it. A rename over a file not uploaded yet needs this.
  std::string replace_id;
  // The local file's bytes are never written again (its uploader copies it first if it would):
  // the embedded platform may hard-link it into its storage instead of copying it (Take::kLink).
  bool linkable = false;
  // Names this upload across its tries and restarts (the mount's spool record): a server taking
  // large files in parts resumes the session of the same key and bytes instead of starting over.
  std::string resume_key;
};

// Batches of small files (dlfs upload, the mount's upload workers): at most kBatchFiles files,
// of at most kBatchFileMax bytes each and kBatchBytes in all (a batch is one request to dlfsd,
// resent whole when its answer is lost).
inline constexpr size_t kBatchFiles = 32;
inline constexpr uint64_t kBatchFileMax = 1 << 20;
inline constexpr uint64_t kBatchBytes = 8 << 20;

// One file of a batch upload (Remote::upload_files, Platform::upload_files).
struct FileUpload {
  std::string local_file;
  std::string remote_path;
  UploadOptions options;
  bool owned = false;  // the file is the uploader's to give away (moved into the store, not copied)
};

// One partial update of many sent at once (Remote::patch_many): no move (no "filename").
struct ItemPatch {
  std::string id;
  json patch;
  bool system = false;
};

// Where Remote::read_items hands many items' bytes: each item's, whole, in pieces from offset 0
// (bytes()), then its end (done(): OK once all its bytes came, else why not). Items come in the
// order asked; done() is called once for each. A piece may come again from an earlier offset (a
// fallback that reads the item over): the sink writes at the offset it is given.
class ItemBytesSink {
 public:
  virtual ~ItemBytesSink() = default;
  // An error stops this item (its done() follows with that error); the others go on.
  virtual Status bytes(size_t index, uint64_t offset, std::string_view piece) = 0;
  virtual void done(size_t index, Status status) = 0;
};

// API header x-item-op.
enum class UploadOp { kCreated, kOverwritten, kSkipped };
std::string_view to_string(UploadOp op);

struct UploadResult {
  Item item;
  UploadOp op = UploadOp::kCreated;
};

// One page of a folder listing or a query, sorted by id; `next_after` is the last id of the page
// (pass it back as the keyset cursor) and is empty when there is no next page.
struct ItemPage {
  std::vector<Item> items;
  // Exact count of the matches. Over HTTP the cursor is part of the query, so a page after the
  // first counts the matches from its cursor on; the first page's is the whole count.
  uint64_t total = 0;
  std::string next_after;
  bool has_next() const { return !next_after.empty(); }
};

// The quotas of items (data points, the seed's word): one per dataset (its
// metadata.system.itemsQuota) and one for the whole store. 0 means none. (API: GET
// /datasets/{id}/quota answers to_json.)
struct QuotaInfo {
  uint64_t dataset_items = 0, dataset_quota = 0;
  uint64_t store_items = 0, store_quota = 0;
  // Items that may still be added: the smaller room of the quotas set; nullopt when none is.
  std::optional<uint64_t> room() const;
  json to_json() const;  // {"items", "itemsQuota", "storeItems", "storeItemsQuota", "room"}
  static Result<QuotaInfo> from_json(const json& doc);
};

}  // namespace dlfs
