// The filesystem core: everything a FUSE request needs, with no libfuse type in sight. The
// adapter (fs/fuse_adapter.cpp) unpacks a request, calls one method here and replies; errors
// come back as Status/Result carrying the errno to reply with.
//
// Threading: every method may be called from many threads at once (fuse_session_loop_mt).
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cache/metadata_cache.h"
#include "cache/upload_spool.h"
#include "fs/inode_table.h"
#include "fs/metadata_source.h"
#include "remote/link_fetcher.h"
#include "remote/remote.h"

namespace dlfs {

struct FsOptions {
  std::string root = "/";  // the remote folder shown at the mount's root
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t dir_ttl_ms = 30000;  // < 0: listings and items never expire
  double attr_timeout = 5;     // seconds the kernel may keep attributes
  double entry_timeout = 5;    // seconds the kernel may keep a name -> inode
  bool read_only = false;
  size_t page_size = 1000;
  const Clock* clock = &SystemClock::instance();

  // Writing (fs/filesystem_write.cpp). Without a spool the mount answers EROFS to writes.
  UploadSpool* spool = nullptr;
  unsigned upload_workers = 4;       // -o upload_workers=N
  bool sync_upload = false;          // -o sync_upload: every close waits for its upload
  unsigned max_attempts = 8;         // transient failures retried this often, then failed
  int64_t retry_base_ms = 500;       // backoff: base * 2^attempt (jittered), capped
  int64_t retry_max_ms = 30000;
  int64_t preprocess_poll_ms = 500;  // after an upload, poll preprocessPhase this often...
  unsigned preprocess_polls = 40;    // ...at most this many times
  std::string user = "dev@local";    // uploader (creator / updatedBy)
};

// True for the synthetic id of a file not uploaded yet ("spool-<n>").
bool is_spool_id(std::string_view id);

// One file being written: its spool entry and how it is shown until the platform has it.
struct PendingFile {
  uint64_t spool_id = 0;
  std::string path;
  std::string item_id;  // the existing item edited, or (after a first upload) the new one
  Item item;            // as shown (a new file: a synthetic item with id "spool-<n>")
  Ino parent_ino = 0;   // the folder it was created in (to drop the kernel's entry later)
  uint64_t size = 0;
  int64_t mtime_ms = 0;
  UploadState state = UploadState::kWriting;
  std::string error;
  uint32_t attempts = 0;
  uint64_t generation = 1;  // bumped by every change
  uint64_t flushed = 0;     // the generation made durable and queued
  uint64_t uploaded = 0;    // the generation the platform has
  int handles = 0;
  bool queued = false;
  bool removed = false;     // unlinked: drop whatever the upload makes
  // Metadata patched before the item was on the platform: it goes with the upload, and is sent
  // again once the upload lands, in case the upload had already left (merging twice is harmless).
  json late_patch;
};

// What a lookup (or a readdirplus entry) hands the kernel.
struct Entry {
  Ino ino = 0;
  struct stat attr {};
  double attr_timeout = 0;
  double entry_timeout = 0;
};

struct OpenResult {
  uint64_t fh = 0;
  bool keep_cache = false;  // the item is unchanged since the last open: keep the kernel's pages
  bool direct_io = false;   // size unknown (a link whose server does not tell): read to EOF
};

struct DirEntry {
  std::string_view name;
  Entry entry;  // for "." and "..", ino is 0 (no lookup counted) and only attr is set
  off_t next_offset;
};

// Told when the core learns that what the kernel cached is stale. Implementations must not
// call back into the kernel synchronously from inside a request (see fs/fuse_adapter.cpp).
class Invalidator {
 public:
  virtual ~Invalidator() = default;
  virtual void inode_changed(Ino ino) = 0;
  virtual void entry_gone(Ino parent, const std::string& name) = 0;
};

struct FsCounters {
  std::atomic<uint64_t> lookups{0}, getattrs{0}, readdirs{0}, opens{0}, reads{0}, bytes_read{0};
  std::atomic<uint64_t> remote_reads{0}, link_reads{0}, link_heads{0}, xattr_gets{0};
};

class Filesystem {
 public:
  // Fetches the root folder item; fails (ENOENT/ENOTDIR) if options.root is not a folder.
  // `cache`, `links` and `invalidator` may be null.
  static Result<std::unique_ptr<Filesystem>> create(Remote& remote, MetadataCache* cache,
                                                    LinkFetcher* links, FsOptions options);

  void set_invalidator(Invalidator* invalidator) { invalidator_.store(invalidator); }

  Result<Entry> lookup(Ino parent, std::string_view name);
  void forget(Ino ino, uint64_t nlookup);
  Result<Entry> getattr(Ino ino);  // Entry.entry_timeout unused

  Result<uint64_t> opendir(Ino ino);
  // Calls `add` for each entry from `offset` until it answers false (the reply buffer is full).
  // With `plus`, each entry `add` accepts (but . and ..) counts one lookup.
  Status readdir(Ino ino, uint64_t fh, off_t offset, bool plus,
                 const std::function<bool(const DirEntry&)>& add);
  void releasedir(uint64_t fh);

  Result<OpenResult> open(Ino ino, int flags);
  ~Filesystem();
  // Fills `out` from `offset` (short only at the end). fh 0 (no open: the kernel skipped it)
  // reads the node's current item.
  Result<size_t> read(Ino ino, uint64_t fh, uint64_t offset, std::span<char> out);
  void release(uint64_t fh);

  // Writing (fs/filesystem_write.cpp).
  Result<std::pair<Entry, OpenResult>> create(Ino parent, std::string_view name, int flags);
  Result<size_t> write(Ino ino, uint64_t fh, uint64_t offset, std::span<const char> data);
  Status flush(Ino ino, uint64_t fh);
  // Waits until the file's upload is done (or answers its failure).
  Status fsync(Ino ino, uint64_t fh);
  // Waits for every pending upload under the folder (the root: all of them).
  Status fsyncdir(Ino ino);
  // fh may be 0. Mode and owner changes are accepted and ignored (the platform has none).
  Result<Entry> setattr(Ino ino, uint64_t fh, std::optional<uint64_t> size, std::optional<int64_t> mtime_ms);
  Result<Entry> mkdir(Ino parent, std::string_view name);
  Status rmdir(Ino parent, std::string_view name);
  Status unlink(Ino parent, std::string_view name);
  // flags: RENAME_NOREPLACE honoured; RENAME_EXCHANGE answers EINVAL.
  Status rename(Ino parent, std::string_view name, Ino new_parent, std::string_view new_name, unsigned flags);
  Status setxattr(Ino ino, std::string_view name, std::string_view value, int flags);
  Status removexattr(Ino ino, std::string_view name);

  // Loads the journal's records of this dataset (pending ones queued, failed ones shown); once.
  void resume_journal();
  // Starts the upload workers (resuming the journal first if not done yet).
  void start_uploads();
  // Waits up to `timeout` for every queued upload; answers how many are still pending.
  size_t wait_uploads(std::chrono::milliseconds timeout);
  // Stops the workers (what is pending stays in the journal for the next mount).
  void stop_uploads();
  // {"pending": n, "uploading": n, "failed": [{"path", "error"}], ...}: user.dl.uploads on the root.
  // Paths are the mount's (relative to its root folder, with a leading /).
  json upload_status();
  // What `dlfs status --retry/--discard` asks through setxattr user.dl.retry / user.dl.discard on
  // the root: `which` is a mount path (a file, or a folder for everything under it) or "*".
  // Retry queues failed uploads again from their first attempt; discard drops failed ones from
  // the spool (their bytes are lost: only on the user's word). ENOENT if nothing failed there.
  Result<size_t> retry_failed(std::string_view which);
  Result<size_t> discard_failed(std::string_view which);

  Result<struct statvfs> statfs();
  Result<std::string> getxattr(Ino ino, std::string_view name);
  // NUL-terminated names, concatenated (the listxattr format).
  Result<std::string> listxattr(Ino ino);

  const FsOptions& options() const { return options_; }
  const FsCounters& counters() const { return counters_; }
  const SourceCounters& source_counters() const { return source_.counters(); }
  const InodeTable& inodes() const { return inodes_; }
  // Counters as one JSON object (for -o stats=FILE).
  json stats_json() const;

 private:
  Filesystem(Remote& remote, MetadataCache* cache, LinkFetcher* links, FsOptions options,
             const Item& root, int64_t fetched_ms);

  struct DirHandle {
    Ino ino;
    NodeKind kind;
    std::shared_ptr<const std::vector<Item>> items;  // snapshot taken at opendir
    int64_t fetched_ms = 0;
  };
  struct SpoolFd {
    int fd = -1;
    ~SpoolFd();
  };
  struct FileHandle {
    std::shared_ptr<const Item> item;
    std::shared_ptr<const std::string> thumbnail;  // for thumbnail files
    std::shared_ptr<PendingFile> pending;          // opened for writing, or reading a pending file
    std::shared_ptr<SpoolFd> fd;
    bool writable = false;
  };
  struct Task {
    std::shared_ptr<PendingFile> file;  // an upload, or (null) a preprocess poll of item_id
    std::string item_id;
    unsigned polls = 0;
    std::chrono::steady_clock::time_point ready;
  };

  Result<Node> node(Ino ino) const;
  struct stat make_attr(Ino ino, NodeKind kind, const Item& item, const std::string* thumbnail);
  Entry make_entry(Ino ino, NodeKind kind, const Item& item, const std::string* thumbnail);
  Result<Entry> lookup_thumbnail(const Node& parent, std::string_view name);
  // A link's target size, cached in memory; nullopt if the server does not tell it.
  std::optional<uint64_t> link_size(const Item& item, bool fetch);
  Result<size_t> read_item(const Item& item, uint64_t offset, std::span<char> out);
  // After a listing refetch: refresh known nodes and tell the kernel what went stale.
  void apply_listing(Ino dir_ino, const Listing& listing);

  // Writing helpers (fs/filesystem_write.cpp).
  std::shared_ptr<PendingFile> pending_at(const std::string& path);
  // The pending file of an existing item, made (its bytes fetched into the spool unless
  // `truncate`) if there is none.
  Result<std::shared_ptr<PendingFile>> materialize(const Item& item, bool truncate);
  Result<uint64_t> add_file_handle(const std::shared_ptr<PendingFile>& p, const Item& shown, bool writable);
  Item shown_item(const PendingFile& p) const;  // call with write_mu_ held
  std::string mount_path(const std::string& path) const;  // a dataset path as the mount shows it
  std::vector<std::shared_ptr<PendingFile>> failed_at_locked(std::string_view which) const;
  Status commit_and_queue(const std::shared_ptr<PendingFile>& p);
  Status wait_uploaded(const std::shared_ptr<PendingFile>& p, uint64_t generation);
  void enqueue_locked(const std::shared_ptr<PendingFile>& p, std::chrono::milliseconds delay);
  void drop_pending_locked(const std::shared_ptr<PendingFile>& p);
  void upload_worker();
  void run_upload(const std::shared_ptr<PendingFile>& p);
  void run_poll(Task task);
  void learned(const Item& item);
  Result<Item> item_at(const std::string& path);  // pending or remote
  Result<Item> patch_item(Ino ino, const json& patch);
  Result<std::vector<Item>> merged_listing(const Item& dir, int64_t* fetched_ms, Ino ino);

  Remote& remote_;
  LinkFetcher* links_;
  FsOptions options_;
  MetadataSource source_;
  InodeTable inodes_;
  std::atomic<Invalidator*> invalidator_{nullptr};  // set by the adapter around its loop
  FsCounters counters_;

  std::mutex handles_mu_;
  uint64_t next_fh_ = 1;
  std::unordered_map<uint64_t, DirHandle> dirs_;
  std::unordered_map<uint64_t, FileHandle> files_;

  std::mutex write_mu_;  // guards pending_, tasks_, stopping_ and every PendingFile
  std::condition_variable write_cv_;  // a state changed (uploads done, tasks queued)
  std::unordered_map<std::string, std::shared_ptr<PendingFile>> pending_;  // by path
  std::deque<Task> tasks_;
  bool stopping_ = false;
  bool resumed_ = false;
  std::vector<std::thread> workers_;

  std::mutex links_mu_;
  std::unordered_map<std::string, std::optional<uint64_t>> link_sizes_;  // by url

  // Items whose read timed out just now (id -> when, ms): the kernel at once tries a failed
  // readahead again, which would wait out the whole timeout a second time.
  std::mutex timeouts_mu_;
  std::unordered_map<std::string, int64_t> read_timeouts_;
};

}  // namespace dlfs
