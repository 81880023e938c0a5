// The upload spool (DESIGN.md, "write"): every file being written through the mount lives in a
// spool file under <dir>/files/, described by a journal record in an LMDB environment at
// <dir>/journal/. A record names the dataset, the remote path, the item being edited (if any),
// the upload state, attempts, the last error and the size. After a crash the records and files
// are still there: pending() lists what to resume.
//
// The promise is the local disk's: once close_file()/update() return, the file and its record
// survive a crash or SIGKILL of the process (written, in the kernel's page cache; no fsync); once
// sync() returns they survive a power loss too. A record create() made is kept in memory until
// there is something to promise (its close, an update, a sync): a file being written when the
// process dies was promised nothing, and the next open drops its spool file. A background sync of the journal
// every journal_sync_period bounds what a power loss can take. durable_close makes every close
// a sync (as before this promise was written). Where each record's bytes go is also kept as an
// xattr of its spool file, so that a journal a power loss left unreadable is rebuilt from the files.
//
// The spool is bounded: reserve() of bytes past max_bytes waits up to full_wait for others to
// be released, then answers ENOSPC. Nothing is removed but by remove() (the uploader calls it
// once the platform has the bytes).
//
// Thread-safe. One UploadSpool per directory per process (LMDB forbids opening an environment
// twice in a process); several processes may share a directory (LMDB's locking arbitrates,
// ids are reserved from the journal in blocks, byte accounting is per process, and the files of
// records not journaled yet are dropped only by an open that finds no other process there).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/lmdb.h"
#include "core/result.h"

namespace dlfs {

enum class UploadState {
  kWriting,    // open for writing (after a crash: treated as pending, nothing is dropped)
  kPending,    // closed, queued for upload
  kUploading,  // an upload is in flight
  kUploaded,   // the platform has the bytes (the record goes away right after)
  kFailed,     // a permanent failure: kept until retried or discarded
};
std::string_view to_string(UploadState state);
Result<UploadState> parse_upload_state(std::string_view text);

struct SpoolRecord {
  uint64_t id = 0;        // names the spool file
  std::string dataset;    // dataset id
  std::string path;       // remote path
  std::string item_id;    // the platform's item the bytes go to (edited, or made by an earlier upload); "" for a new file
  std::string replace_id; // a new file's: the platform's item at `path` its first upload replaces (a rename over it)
  bool dir = false;       // a folder made while the server was away (no spool bytes)
  // A new file's metadata set before its first upload (an Item patch: {"metadata":{"user":…},
  // "description":…}): it goes with the upload. Null for none.
  nlohmann::json patch;
  UploadState state = UploadState::kWriting;
  uint32_t attempts = 0;
  std::string last_error;
  uint64_t size = 0;
  int64_t updated_ms = 0;
};

// The largest file a dataset holds: the largest object of the object stores behind it (S3's 5 TiB).
inline constexpr uint64_t kMaxFileBytes = 5ull << 40;

struct SpoolOptions {
  std::string dir;                                   // created 0700 if missing
  uint64_t max_bytes = 4ull << 30;                   // bound on the spool files' total size
  std::chrono::milliseconds full_wait{2000};         // how long reserve() waits for room
  const Clock* clock = &SystemClock::instance();
  bool durable_close = false;                        // close_file() and create() sync
  // The background journal sync's period (ext4 commits its own journal every 5 s); 0: none.
  std::chrono::milliseconds journal_sync_period{1000};
  // Called after each fsync done, with what was synced (a spool file, the files' folder, or
  // the journal's folder): the seam through which tests see what a promise cost.
  std::function<void(const std::string&)> on_sync;
};

class UploadSpool {
 public:
  static Result<std::unique_ptr<UploadSpool>> open(const SpoolOptions& options);
  ~UploadSpool();

  // A new record (state kWriting) and its empty spool file. The record is journaled at the
  // first close_file(), update() or sync() naming it (with durable_close: at once, and synced).
  // `dir`: a folder to make (its spool file stays empty). `promised` false: bytes the caller
  // copies in itself (an edited item's old bytes) — nothing of it survives a crash until its
  // first close_file(), update() or sync(), so that a crash mid-copy never sends a part of
  // an item back as the whole.
  Result<SpoolRecord> create(std::string_view dataset, std::string_view path, std::string_view item_id,
                             bool dir = false, const nlohmann::json& patch = nullptr, bool promised = true);
  // The spool file of a record.
  std::string file_path(uint64_t id) const;

  std::optional<SpoolRecord> get(uint64_t id) const;
  // Records of one dataset ("" for all), by id.
  std::vector<SpoolRecord> list(std::string_view dataset = {}) const;
  // Records of a dataset to resume after a (re)start: writing, pending and uploading ones.
  std::vector<SpoolRecord> pending(std::string_view dataset) const;

  // Writes the record. The size is taken from the record only via resize().
  Status update(const SpoolRecord& record);
  // Makes a record created not promised survive a SIGKILL from now on, as a promised one does
  // (its xattr written; resumed as far as its file is written): once its copied-in bytes are
  // whole.
  Status promise(uint64_t id);
  // SpoolOptions::durable_close: each close_file() syncs (closes must then be seen).
  bool durable_close() const { return options_.durable_close; }
  // Marks the record pending with its file's current size (with durable_close: synced first).
  Status close_file(uint64_t id);
  // Makes the spool files of `ids` and every record written so far survive a power loss: an
  // fsync of each file and of the files' folder, then one journal sync, shared by concurrent
  // callers (group commit). A file removed meanwhile is skipped (it was uploaded).
  Status sync(const std::vector<uint64_t>& ids);

  // Accounts for the spool file of `id` growing to `new_size` (or shrinking). Past max_bytes,
  // waits up to full_wait for room, then ENOSPC; a size past kMaxFileBytes is EFBIG at once.
  Status resize(uint64_t id, uint64_t new_size);

  // Gives the spool file of `id` an inode of its own with the same bytes (and record xattr),
  // durable before it takes the file's name: the old inode was hard-linked by the platform's
  // storage (an upload, UploadOptions::linkable) and is never written again. Descriptors open on
  // the old inode keep it. ENOENT if the file was removed.
  Status unshare(uint64_t id);

  // Removes the record and its file, releasing its bytes.
  Status remove(uint64_t id);

  // A random id of this spool, made once and kept with its journal: with a record's id, it names
  // an upload so that an upload whose answer was lost is recognized as this spool's own.
  const std::string& instance_id() const { return instance_id_; }
  std::string upload_token(uint64_t id) const { return instance_id_ + "-" + std::to_string(id); }

  uint64_t used_bytes() const;
  // Journal commits so far (tests count what a promise costs through it).
  uint64_t journal_commits() const;
  uint64_t max_bytes() const { return options_.max_bytes; }
  const std::string& dir() const { return options_.dir; }

 private:
  explicit UploadSpool(SpoolOptions options) : options_(std::move(options)) {}
  Status open_journal();
  // A journal that cannot be read (a power loss before its pages reached the disk) is moved
  // aside and rebuilt from the records kept as xattrs of the spool files.
  Status rebuild_journal(const Status& why);
  Result<std::vector<SpoolRecord>> read_records() const;
  Status put_locked(const SpoolRecord& record);
  // Takes <dir>/users.lock shared; alone there first, drops the spool files no record names.
  Status join_users(const std::vector<SpoolRecord>& records, bool rebuilt);
  // Keeps what a rebuild needs of the record as its spool file's xattr, when that changed.
  void keep_record_xattr(const SpoolRecord& record);
  Status sync_journal();
  void synced(const std::string& what) const;
  void journal_syncer();

  SpoolOptions options_;
  std::string instance_id_;
  std::unique_ptr<LmdbEnv> env_;
  MDB_dbi records_ = 0, meta_ = 0;

  // Group commit: commits_ counts journal commits (under mu_); a sync covers those counted when
  // it began. Lock order: sync_mu_, then mu_.
  std::mutex sync_mu_;
  std::atomic<uint64_t> synced_commits_{0};  // written under sync_mu_ (the syncer peeks at it)
  uint64_t commits_ = 0;         // under mu_
  bool xattrs_ = true;           // the spool's disk keeps user xattrs (under mu_)
  bool stopping_ = false;        // under mu_
  std::condition_variable stop_cv_;
  std::thread syncer_;

  mutable std::mutex mu_;
  std::condition_variable room_cv_;
  std::unordered_map<uint64_t, uint64_t> sizes_;  // by record id
  std::unordered_map<uint64_t, std::string> xattr_texts_;  // each record's xattr as last written
  uint64_t used_ = 0;
  // Records create() made that are not journaled yet, by id.
  std::unordered_map<uint64_t, SpoolRecord> unjournaled_;
  // Ids are handed out from a block reserved in the journal (one commit per kIdBlock creates,
  // and processes sharing the journal never hand out the same id).
  uint64_t next_id_ = 0, reserved_end_ = 0;
  int users_fd_ = -1;  // <dir>/users.lock, flock'ed shared while open
};

}  // namespace dlfs
