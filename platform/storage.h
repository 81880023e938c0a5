// Storage drivers: where item binaries live. The platform stores bytes durably through a driver
// first and only then commits the item to the catalogue, so a crash never leaves an item
// without its bytes. Drivers: LocalStorage (the store's own folder); S3/Azure come later.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/group_sync.h"
#include "core/result.h"

namespace dlfs {

struct StoredBlob {
  std::string key;  // the driver's name for the bytes
  uint64_t size = 0;
  std::string etag = {};  // a bucket's version of the object (drivers), kept in metadata.system.etag
};

// A small binary kept in its catalogue key itself, "inline:<bytes>": a CSV import's link JSONs,
// so that 100,000 link rows cost no file and no fsync each. Nothing to store or delete.
std::string inline_blob_key(std::string_view bytes);
// The bytes of an inline key; nullopt for any other key.
std::optional<std::string_view> parse_inline_blob_key(std::string_view key);

// When a put's bytes must be durable: when it returns, or once the caller's later sync() has
// returned (before the catalogue commit that names them: the commit's group syncs once for all).
enum class Durable { kNow, kAtSync };

// How a put takes a local file: copied; moved in (the caller gives the file away); or linked in
// (the caller promises never to write the file's bytes again, and breaks the link by copying
// before it would: the mount's spool file of an upload, fs/filesystem_upload.cpp).
enum class Take { kCopy, kMove, kLink };

class Storage {
 public:
  virtual ~Storage() = default;
  // Copies a local file into storage.
  virtual Result<StoredBlob> put_file(const std::string& local_path, Durable durable) = 0;
  // As put_file, for a file the caller gives away (dlfsd's upload temp file): moved in where it
  // can be (it is gone from `local_path` after a success), else copied.
  virtual Result<StoredBlob> adopt_file(const std::string& local_path, Durable durable) {
    return put_file(local_path, durable);
  }
  // As put_file, for a file whose bytes never change again: hard-linked in where it can be (the
  // same inode, no second copy; `local_path` may be /proc/self/fd/N, the inode of a descriptor),
  // else copied.
  virtual Result<StoredBlob> link_file(const std::string& local_path, Durable durable) {
    return put_file(local_path, durable);
  }
  // Whether link_file of a file in `dir` links it rather than copies it.
  virtual bool links_from(const std::string& dir) const {
    (void)dir;
    return false;
  }
  virtual Result<StoredBlob> put_bytes(std::string_view bytes, Durable durable) = 0;
  // Makes every put made before this call durable (those made with Durable::kAtSync).
  virtual Status sync() = 0;
  // Reads up to out.size() bytes from `offset`; 0 at or past the end.
  virtual Result<size_t> read(std::string_view key, uint64_t offset, std::span<char> out) = 0;
  // A local file holding the bytes, when the driver has one (lets readers use pread directly).
  virtual std::string local_path(std::string_view key) const = 0;
  // A read-only descriptor of the stored bytes (the caller closes it), where they are in a local
  // file: a reader then reads, or splices to the kernel, without a call per read. ENOTSUP where
  // they are not. A blob's bytes never change (an update stores a new one), so an open
  // descriptor reads one version to the end, as an open file on a local disk does.
  virtual Result<int> open_read(std::string_view key) {
    (void)key;
    return Status(ENOTSUP, "this storage keeps no local files");
  }
  virtual Status remove(std::string_view key) = 0;
};

// Binaries as files under <dir>/blobs/<xx>/<key>, written to <dir>/tmp first and renamed, so no
// partial file is ever visible under blobs/; then made durable by a sync shared with the
// other uploads under way (core/group_sync.h).
class LocalStorage : public Storage {
 public:
  // `sync_fn`: the filesystem sync's seam for tests (default syncfs(2)).
  static Result<std::unique_ptr<LocalStorage>> open(const std::string& dir, GroupSync::SyncFn sync_fn = {});

  Result<StoredBlob> put_file(const std::string& local_path, Durable durable) override;
  // Renamed into blobs/ when on the same filesystem: no second copy, and no temp file made and
  // deleted per upload (on ext4, each deleted inode slows the next allocations for a while).
  Result<StoredBlob> adopt_file(const std::string& local_path, Durable durable) override;
  // A hard link when on the same filesystem (and the inode still has a name): the bytes are
  // written to the disk once, and made durable by the same sync as a copy's.
  Result<StoredBlob> link_file(const std::string& local_path, Durable durable) override;
  bool links_from(const std::string& dir) const override;
  Result<StoredBlob> put_bytes(std::string_view bytes, Durable durable) override;
  Status sync() override { return group_sync_->sync(); }
  Result<size_t> read(std::string_view key, uint64_t offset, std::span<char> out) override;
  std::string local_path(std::string_view key) const override;
  Result<int> open_read(std::string_view key) override;
  Status remove(std::string_view key) override;

 private:
  LocalStorage(std::string dir, std::unique_ptr<GroupSync> group_sync)
      : dir_(std::move(dir)), group_sync_(std::move(group_sync)) {}
  // Writes through `fill` (which writes into the open fd) to a temp file, then publishes it.
  template <typename Fill>
  Result<StoredBlob> put(Fill&& fill, Durable durable);
  // Gives `source`'s inode a new key by `place_at(final_path)` (a rename or a link: no copy;
  // answers 0, or -1 with errno); where it cannot (EXDEV, or with `copy_on_any` any error), the
  // bytes are copied from the file opened before. Durable as put's.
  template <typename Place>
  Result<StoredBlob> place(const std::string& source, Durable durable, Place&& place_at, bool copy_on_any);
  // Removes temp files left by processes that are gone (a crash mid-upload).
  void clean_stale_temps();
  std::string dir_;
  std::unique_ptr<GroupSync> group_sync_;
};

}  // namespace dlfs
