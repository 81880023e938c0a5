// Object stores: the buckets behind a dataset's storage driver (a local folder, S3, Azure Blob).
// Items of a driver's dataset keep their bytes there, under the driver's path prefix, and the
// platform indexes what is already there (imports, sync). Keys are the store's own object names
// ("photos/a.jpg"), never starting with '/'.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace dlfs {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // changes when the object's bytes change ("" when the store has none)
  int64_t modified_ms = 0;
};

// What a store tells of changes to its objects (ObjectStore::watch_changes).
class ObjectChanges {
 public:
  virtual ~ObjectChanges() = default;
  // Whether an object under the watched prefix may have changed (been written, replaced, removed
  // or moved) since the last call — the first: since the watch was made. Never blocks. An error
  // when the watch can no longer see every change (then it is of no more use).
  virtual Result<bool> take() = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // ENOENT when there is no such object.
  virtual Result<ObjectInfo> head(std::string_view key) = 0;
  // Up to out.size() bytes from `offset`; 0 at or past the end.
  virtual Result<size_t> read(std::string_view key, uint64_t offset, std::span<char> out) = 0;
  // Writes (or replaces) the object; it is whole and durable in the store when this returns.
  virtual Result<ObjectInfo> put_file(std::string_view key, const std::string& local_path) = 0;
  virtual Result<ObjectInfo> put_bytes(std::string_view key, std::string_view bytes) = 0;
  // Copies object `from` to `to` in the store itself (no byte passes through this machine),
  // replacing what `to` held; whole and durable when this returns. ENOENT without `from`.
  virtual Result<ObjectInfo> copy(std::string_view from, std::string_view to) = 0;
  // Removing an object that is not there is not an error.
  virtual Status remove(std::string_view key) = 0;
  // Every object whose key starts with `prefix`, in key order; `fn` answers false to stop.
  virtual Status list(std::string_view prefix, const std::function<bool(const ObjectInfo&)>& fn) = 0;
  // A URL that lets whoever holds it GET the object (ranges too) for `valid_s` seconds, without
  // credentials (S3 SigV4 query signing, an Azure service SAS): readers fetch the bytes from the
  // bucket itself. ENOTSUP where the store cannot make one (a local folder; credentials that are
  // not the store's to hand out, such as a SAS token).
  virtual Result<std::string> presigned_read_url(std::string_view /*key*/, int64_t /*valid_s*/) {
    return Status(ENOTSUP, "this store does not make presigned URLs");
  }
  // Change notifications for the objects under `prefix` ("" for all; a folder's, "cams"), where
  // the store offers them (a local folder: inotify), leaving out the keys `skip` answers true for
  // (folders' keys too, "cams/.dataloop"); ENOTSUP where it does not (S3, Azure and GCS offer
  // none on the APIs used here: their notices go to queues this platform does not read).
  virtual Result<std::unique_ptr<ObjectChanges>> watch_changes(std::string_view /*prefix*/,
                                                               std::function<bool(std::string_view key)> /*skip*/) {
    return Status(ENOTSUP, "this store sends no change notifications");
  }
  // A local file holding the object's bytes, when the store has one ("" otherwise).
  virtual std::string local_path(std::string_view /*key*/) const { return {}; }
};

// A folder of this machine as a bucket (an NFS share, a disk of files): keys are relative paths
// below `root`. Writes go to a temp file in the same folder, fsynced and renamed.
Result<std::unique_ptr<ObjectStore>> open_local_folder_store(const std::string& root);

// Object keys are relative paths: no empty, "." or ".." part, no leading '/', no NUL.
Status check_object_key(std::string_view key);

}  // namespace dlfs
