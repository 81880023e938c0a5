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
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cache/data_cache.h"
#include "cache/metadata_cache.h"
#include "fs/folder_prefetch.h"
#include "fs/read_ahead.h"
#include "cache/upload_spool.h"
#include "core/posix_attrs.h"
#include "fs/inode_table.h"
#include "fs/metadata_source.h"
#include "fs/path_locks.h"
#include "net/link_fetcher.h"
#include "remote/remote.h"

namespace dlfs {

// The block size files report (st_blksize), which tools size their buffers by, and the largest
// write the kernel sends in one request (libfuse's buffer holds at most 1 MiB of data).
inline constexpr unsigned kIoBlockSize = 1 << 20;
inline constexpr unsigned kMaxWrite = 1 << 20;
// The size a link item shows while its server has not told it (no_open): see make_attr.
inline constexpr uint64_t kUnknownLinkSize = 1ull << 40;

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
  // Memory (bounded whatever the dataset's size): the nodes whose items stay unpacked (see
  // InodeTable), and the listings' items kept in memory (see MetadataSource).
  size_t hot_items = InodeTable::kDefaultHotItems;
  size_t memory_items = MetadataSource::kDefaultMemoryItems;
  // Items' bytes kept on local disk (a remote platform's: the embedded one's are local files
  // already). Null: every read of a cold page asks the remote.
  DataCache* data_cache = nullptr;
  // -o prefetch=N: a folder's files opened in listing order are fetched into the data cache
  // ahead of the readers, N at once (fs/folder_prefetch.h); 0: off. Only with a data cache.
  unsigned prefetch = 8;
  // The mount's live counters as JSON (Metrics::to_json), answered as the root's user.dl.metrics
  // for `dlfs status`; unset: ENODATA.
  std::function<std::string()> metrics_json;

  // Writing (fs/filesystem_write.cpp). Without a spool the mount answers EROFS to writes.
  UploadSpool* spool = nullptr;
  unsigned upload_workers = 4;       // -o upload_workers=N
  // -o upload_batch=N: a worker sends up to N small files queued together in one remote call
  // (on the platform: one sync and commit; over HTTP: one request). 1: one file per call.
  unsigned upload_batch = unsigned(kBatchFiles);
  // -o max_pending=N: a new file (or an edit's copy) waits while this many uploads are queued
  // for a worker and uploads are landing (0: never waits). See Filesystem::throttle_new_pending.
  unsigned max_pending = 0;
  bool sync_upload = false;          // -o sync_upload: every close waits for its upload
  unsigned max_attempts = 8;         // transient failures retried this often, then failed
  int64_t retry_base_ms = 500;       // backoff: base * 2^attempt (jittered), capped
  int64_t retry_max_ms = 30000;
  // After an upload, preprocessPhase is polled after this long, then after twice, four and
  // eight times as long (and every eight times from then on)...
  int64_t preprocess_poll_ms = 500;
  unsigned preprocess_polls = 40;    // ...at most this many times (~2.5 minutes)
  std::string user = "dev@local";    // uploader (creator / updatedBy)
  // A link whose size/ETag/Last-Modified preprocessing recorded is revalidated at open (a HEAD)
  // at most this often per URL (fs/filesystem_links.cpp); < 0: never.
  int64_t link_revalidate_ms = 30000;
  // Modes, owners and times kept on the platform (core/posix_attrs.h): chmod, chown and
  // utimensat change them. Off (-o no_posix_attrs): they answer EPERM, never a silent success.
  bool posix_attrs = true;
  // Access times as relatime keeps them: a read open (a folder's listing) sets its atime when it
  // is older than its mtime or ctime, or a day old (a patch sent in the background); off
  // (-o noatime): never. The patches are held while the mount is busy (fs/filesystem_access.cpp):
  // sent once no read, open or close came for access_quiet_ms, at most access_hold_ms after the
  // first was held, and at unmount.
  bool atime = true;
  int64_t access_quiet_ms = 1000;
  int64_t access_hold_ms = 30000;
  // -o no_open (the default): the kernel sends no open and no release for an existing file
  // (fuse_adapter answers ENOSYS to the first open), so that a warm open and read cost no request.
  // Its writes and truncates come with fh 0 and go through the node's implicit writer
  // (fs/filesystem_implicit.cpp), let go once no write came for implicit_idle_ms, or, past
  // max_implicit_writers open (each holds its spool file's descriptor), the least recently
  // written first, or at a flush while the kernel still sends them (the first is answered ENOSYS
  // unless closes_needed: sync_upload, durable_close).
  bool no_open = false;
  int64_t implicit_idle_ms = 1000;
  size_t max_implicit_writers = 256;
  // Reads with no open (no_open) pin the version a read from the start found, with a descriptor
  // of its bytes where they are in a local file: this many nodes at most, the oldest let go.
  size_t max_read_pins = 1024;
};

// Who makes a new file or folder and its permission bits (the umask applied), from the FUSE
// request; unset: the mount's uid=/gid= and 0644/0755.
struct NewNode {
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<uint32_t> mode;
};

// What a setattr changes (unset: unchanged), and who asks (unset: trusted, as the kernel with
// default_permissions has checked).
struct AttrChange {
  std::optional<uint64_t> size;
  std::optional<uint32_t> mode;  // permission bits
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<int64_t> atime_ns, mtime_ns;
  std::optional<uid_t> caller;
  bool changes_attrs() const { return mode || uid || gid || atime_ns || mtime_ns; }
};

// True for the synthetic id of a file not uploaded yet ("spool-<n>").
bool is_spool_id(std::string_view id);
// /.thumbnails and /.dataloop: the platform's, never made by a mount.
bool is_reserved(const std::string& path);
// EROFS with the reason when the mount takes no writes (read-only, or no spool).
Status ensure_writable(const FsOptions& o);

// A file (or, made while the server was away, a folder) this mount has changed and the platform
// does not have as it is here yet — or one still open after it was uploaded or removed. Its
// bytes are in a spool file; every field is guarded by Filesystem::write_mu_.
struct PendingFile {
  uint64_t spool_id = 0;
  Ino ino = 0;             // its node's number: the same from create through upload
  bool dir = false;        // a folder to make on the platform (no bytes)
  std::string path;        // where it is in the namespace (its last place once removed)
  std::string base_id;     // the platform's item its bytes go to: the item edited, or the one its
                           // first upload made; "" before (its uploads are then create-only)
  std::string replace_id;  // a new file's: the platform's item at `path` its first upload replaces
                           // (it was renamed over that item before it was ever uploaded)
  Item item;               // as shown (a new file: a synthetic item with id "spool-<n>")
  Ino parent_ino = 0;      // the folder it was created in (to drop the kernel's entry later)
  uint64_t size = 0;
  int64_t mtime_ns = 0;    // its content's time (or what utimensat set since)
  int64_t ctime_ns = 0;    // its last change of content or attributes
  UploadState state = UploadState::kWriting;
  std::string error;
  uint32_t attempts = 0;
  uint64_t generation = 1;  // bumped by every change
  uint64_t flushed = 0;     // the generation made durable and queued
  uint64_t uploaded = 0;    // the generation the platform has
  int handles = 0;          // open file handles, readers and writers
  int writers = 0;          // of which open for writing
  bool queued = false;
  bool removed = false;     // unlinked or renamed over: gone from the namespace and the journal;
                            // its bytes live for the open handles (nlink 0) until the last close
  bool overwrite = false;   // retried after a conflict: its upload replaces what is at its path
  bool verify_place = false;  // resumed from the journal: check its base item is at `path` first
  bool released = false;      // uploaded and closed: forgotten, the platform's item is the file
  bool landing = false;       // an upload's landing is under way: only it may release the file
  // Never uploaded as far as this mount knows, but a try may have made its item (its answer was
  // lost, or the mount stopped): before it is unlinked or renamed, the platform is asked.
  bool maybe_on_platform = false;
  // A copy of a file removed while the kernel may have held descriptors of it (no_open), made
  // for one that writes: out of the namespace, the journal and the platform from the start.
  bool private_copy = false;
  // Its spool file's inode may be the platform's stored binary too (an upload took it by hard
  // link, Remote::links_from): before anything writes it again, unfreeze() gives the spool file
  // an inode of its own, and bumps file_epoch (readers' descriptors on the old one reopen).
  bool frozen = false;
  uint64_t file_epoch = 0;
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
  bool noflush = false;     // opened for reading only: a close has nothing to flush (no request)
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
  std::atomic<uint64_t> data_cache_errors{0};  // fetches into the data cache that failed (then read directly)
  std::atomic<uint64_t> flushes{0};
  // Uploads (of files and folders) the platform took, tries that failed, and files given up on
  // (failed for good, shown in user.dl.uploads until retried or discarded).
  std::atomic<uint64_t> uploads_landed{0}, upload_failures{0}, uploads_given_up{0};
};

// How many pending files are in each state (UploadState), and the spool's bytes.
struct UploadTally {
  uint64_t writing = 0, pending = 0, uploading = 0, failed = 0;
  uint64_t spool_bytes = 0;
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
  // fh 0 is a descriptor the kernel opened without asking (no_open): reads read what the node
  // shows now (its pending file's bytes, else its item); writes, truncates (options().no_open)
  // and flushes go through the node's implicit writer.
  // Fills `out` from `offset` (short only at the end).
  Result<size_t> read(Ino ino, uint64_t fh, uint64_t offset, std::span<char> out);
  // An open descriptor (a spool file, a stored binary), closed with its last holder.
  struct SpoolFd {
    int fd = -1;
    ~SpoolFd();
  };
  // A read of up to buf.size() bytes for the kernel. Where they are in a local file: `size`
  // bytes of `fd` from `offset` (clipped at the file's end), for the kernel to take by splice
  // with no copy through this process, and buf untouched. No fd: the bytes are elsewhere, and
  // read() put `size` of them in buf.
  struct LocalRead {
    std::shared_ptr<SpoolFd> fd;
    uint64_t offset = 0;
    size_t size = 0;
  };
  Result<LocalRead> read_local(Ino ino, uint64_t fh, uint64_t offset, std::span<char> buf);
  void release(uint64_t fh);

  // Writing (fs/filesystem_write.cpp).
  Result<std::pair<Entry, OpenResult>> create(Ino parent, std::string_view name, int flags, const NewNode& as = {});
  Result<size_t> write(Ino ino, uint64_t fh, uint64_t offset, std::span<const char> data);
  Status flush(Ino ino, uint64_t fh);
  // Waits until the file's upload is done (or answers its failure).
  Status fsync(Ino ino, uint64_t fh);
  // Waits for every pending upload under the folder (the root: all of them).
  Status fsyncdir(Ino ino);
  // fh may be 0. A size truncates; modes, owners and times are kept (fs/filesystem_attrs.cpp).
  Result<Entry> setattr(Ino ino, uint64_t fh, const AttrChange& change);
  Result<Entry> mkdir(Ino parent, std::string_view name, const NewNode& as = {});
  // `ln -s URL name`: makes a link item (an http or https URL; another scheme EPERM). The entry
  // answered is a symlink's, with no timeouts: the kernel insists that a symlink reply be one,
  // and must look the name up again to see the regular file the link item is.
  // `ln -s PATH name`: a symlink item, spooled and uploaded as a new file is
  // (fs/filesystem_symlinks.cpp).
  Result<Entry> symlink(std::string_view target, Ino parent, std::string_view name, const NewNode& as = {});
  // A symlink's target (EINVAL for anything else).
  Result<std::string> readlink(Ino ino);
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
  // Whether anything can be written through this mount (false: -o ro, or no spool).
  bool can_write() const { return options_.spool && !options_.read_only; }
  // Whether the kernel must go on sending a FLUSH at every close. Without opens (no_open) every
  // writer is let go once idle, so a close need not be seen — a warm read is then no request at
  // all — unless it waits for its upload (sync_upload) or syncs (durable_close).
  bool closes_needed() const {
    return !options_.no_open || options_.sync_upload || (options_.spool && options_.spool->durable_close());
  }
  // Access times queued together go to the platform in one call (Remote::patch_many), at most
  // this many; at most kAccessHoldCap are held while the mount is busy.
  static constexpr size_t kAccessBatch = 256;
  static constexpr size_t kAccessHoldCap = 20000;
  const FsCounters& counters() const { return counters_; }
  const SourceCounters& source_counters() const { return source_.counters(); }
  const InodeTable& inodes() const { return inodes_; }
  // Counters as one JSON object (for -o stats=FILE).
  json stats_json() const;
  json data_cache_json() const;  // null without a data cache
  // For metrics (fs/mount_metrics.h): counts only, no remote call (unlike upload_status()).
  UploadTally upload_tally();
  FolderPrefetchStats prefetch_stats() const;  // zeros when prefetch is off

 private:
  Filesystem(Remote& remote, MetadataCache* cache, LinkFetcher* links, FsOptions options,
             const Item& root, int64_t fetched_ms);

  struct DirHandle {
    Ino ino;
    NodeKind kind;
    std::shared_ptr<const PackedItems> items;  // snapshot taken at opendir
    int64_t fetched_ms = 0;
    uint64_t asked = 0;  // InodeTable::mark() before the listing was asked
  };
  struct FileHandle {
    std::shared_ptr<const Item> item;
    std::shared_ptr<const std::string> thumbnail;  // for thumbnail files
    std::shared_ptr<PendingFile> pending;          // opened for writing, or reading a pending file
    std::shared_ptr<SpoolFd> fd;
    bool writable = false;
    uint64_t epoch = 0;  // the pending file's file_epoch when fd was opened
    bool remote_reads = false;  // no local file for it (none, or the data cache failed): read the remote
    std::shared_ptr<ReadAhead> read_ahead = nullptr;  // a large remote item read sequentially
  };
  struct Task {
    std::shared_ptr<PendingFile> file;  // an upload, or (null) a poll of the preprocessing awaited
    std::string item_id;
    std::string path;
    std::chrono::steady_clock::time_point ready;
    json access_patch;  // set: an access time to send (item_id's), not a poll
    bool folder_times = false;  // the changed time of folder `path` to send, not a poll
  };

  Result<Node> node(Ino ino) const;
  struct stat make_attr(Ino ino, NodeKind kind, const Item& item, const std::string* thumbnail);
  Entry make_entry(Ino ino, NodeKind kind, const Item& item, const std::string* thumbnail);
  Result<Entry> lookup_thumbnail(const Node& parent, std::string_view name);
  // A link's target size, cached in memory; nullopt if the server does not tell it.
  std::optional<uint64_t> link_size(const Item& item, bool fetch);
  // Records how a fetch of a link target went: a failure is logged once per URL and reason (a
  // failing read is retried by the kernel and by every reader) and kept for user.dl.link.error;
  // a success forgets it.
  void note_link_result(const Item& item, const Status& result);
  std::optional<std::string> link_error(const std::string& url);
  // At open of a link item with recorded validators: a HEAD at most once per
  // link_revalidate_ms; a changed target sets `changed` (new size kept, the kernel's cache of
  // `ino` dropped), a gone one answers EIO (fs/filesystem_links.cpp).
  Status revalidate_link(Ino ino, const Item& item, bool& changed);
  Result<size_t> read_item(const Item& item, uint64_t offset, std::span<char> out);
  // The handle a read of (ino, fh) at `offset` reads through, with a descriptor of its local
  // file where there is one (opened at the first read and kept with the handle, or for fh 0 in
  // the node's read pin).
  Result<FileHandle> read_handle(Ino ino, uint64_t fh, uint64_t offset);
  // A descriptor of the bytes of a platform item in a local file: its stored binary
  // (Remote::open_local), else the data cache's copy (fetched now on a miss, unless not
  // `fetch`); or null. Null where there is none; an error where fetching it into the data cache
  // failed on the server (answered as the read's).
  Result<std::shared_ptr<SpoolFd>> open_local(const std::shared_ptr<const Item>& item, bool fetch = true);
  // no_open: before a file of the namespace is removed (unlinked, renamed over) — the platform's
  // item `id`, or the pending file `p` — its node's descriptors (the kernel may hold some
  // without the mount knowing) keep its bytes: a read pin with a descriptor of its local file,
  // marked kept. Nothing where no local file holds them (no stored binary, not in the data cache).
  // Answers the node pinned (to drop_read_pin if the removal fails), if any.
  std::optional<Ino> keep_for_descriptors(const std::string& id);
  void keep_for_descriptors(const std::shared_ptr<PendingFile>& p);
  void drop_read_pin(Ino ino);
  // The kept bytes of a removed node (keep_for_descriptors), if any.
  std::shared_ptr<SpoolFd> kept_bytes(Ino ino);
  // ETIMEDOUT where a read of the item timed out in the last kTimeoutMemoryMs (the kernel's
  // retry comes at once: it is not waited for twice); ok otherwise.
  static constexpr int64_t kTimeoutMemoryMs = 250;
  Status timed_out_just_now(const Item& item);
  void note_timeout(const Item& item);
  // read() past the handle's lookup (read_handle).
  Result<size_t> read_through(Ino ino, const FileHandle& handle, uint64_t fh, uint64_t offset, std::span<char> out);
  // The handle's read-ahead of a large remote item (made at its first read), or null. With fh 0
  // (-o ro: no opens), the inode's (see ro_read_aheads_).
  std::shared_ptr<ReadAhead> read_ahead_of(Ino ino, uint64_t fh, const FileHandle& handle);
  // Dataset-aware prefetch (fs/filesystem_prefetch.cpp): a folder's listing and opens told to
  // prefetch_, and its fetch of files into the data cache.
  void prefetch_listed(const Item& dir, const PackedItems& items);
  void prefetch_opened(const Item& item);
  FolderPrefetch::Fetched prefetch_files(const std::string& folder, std::span<const std::string_view> names);
  // After a listing refetch: refresh known nodes and tell the kernel what went stale.
  void apply_listing(Ino dir_ino, const Listing& listing, uint64_t asked);
  // What a node shows now (its pending file's state, or the node's item) when a platform answer
  // about it may be older than what the mount set since; nullptr: `answered` (no copy made).
  std::shared_ptr<const Item> current_item(Ino ino, const Item& answered);

  // Writing helpers (fs/filesystem_write.cpp).
  std::shared_ptr<PendingFile> pending_at(const std::string& path);
  std::shared_ptr<PendingFile> pending_of(Ino ino);  // by node, removed ones too
  // The pending file of an existing item, made (its bytes fetched into the spool unless
  // `truncate`) if there is none. Takes the item's path lock.
  Result<std::shared_ptr<PendingFile>> materialize(Ino ino, bool truncate);
  // A removed file's kept bytes (keep_for_descriptors) copied for a descriptor that writes it:
  // a pending file out of the namespace (removed once its first handle holds the spool file).
  Result<std::shared_ptr<PendingFile>> private_copy(Ino ino, const std::string& path, const Item& item,
                                                    const SpoolFd& kept, bool truncate);
  // Backpressure before a new pending file (FsOptions::max_pending). Takes write_mu_: call it
  // holding no lock.
  void throttle_new_pending();
  // A new file's pending entry (a synthetic item "spool-<n>" at `path`), not shown yet.
  std::shared_ptr<PendingFile> new_pending(uint64_t spool_id, const std::string& path, Ino parent,
                                           const PosixAttrs* attrs);
  // Gives it its node and its place among the pending files (queued for upload if `queue`);
  // answers the item shown.
  Item publish_pending(const std::shared_ptr<PendingFile>& p, bool queue);
  // A removed pending file's spool file (its name gone) opened again through a descriptor of it
  // that a handle or a kept read pin holds; -1 (errno ENOENT) with none.
  int reopen_removed(const std::shared_ptr<PendingFile>& p, bool writable);
  // A writer's handle unfreezes the file first.
  Result<uint64_t> add_file_handle(const std::shared_ptr<PendingFile>& p, const Item& shown, bool writable);
  // Gives a frozen pending file's spool file an inode of its own (UploadSpool::unshare). The
  // caller counts itself a writer first: no upload freezes the file again meanwhile.
  Status unfreeze(const std::shared_ptr<PendingFile>& p);
  // A read handle's descriptor, opened again when its pending file was unfrozen since.
  Status reopen_if_unfrozen(uint64_t fh, FileHandle& handle);
  // open(O_TRUNC) of a pending file, through the handle just opened.
  Status truncate_open_file(const std::shared_ptr<PendingFile>& p, uint64_t fh);
  Item shown_item(const PendingFile& p) const;  // call with write_mu_ held
  std::string mount_path(const std::string& path) const;  // a dataset path as the mount shows it
  std::vector<std::shared_ptr<PendingFile>> failed_at_locked(std::string_view which) const;
  // `closing`: a FLUSH (a close(2)) — its handle is let go by the RELEASE that follows, and the
  // upload waits a moment for it when it could take the spool file by link (writers == 0).
  Status commit_and_queue(const std::shared_ptr<PendingFile>& p, bool closing = false);
  Status wait_uploaded(const std::shared_ptr<PendingFile>& p, uint64_t generation);
  void enqueue_locked(const std::shared_ptr<PendingFile>& p, std::chrono::milliseconds delay);
  void push_task_locked(Task task);  // wakes one worker
  void push_ready_locked(Task task);  // onto ready_tasks_, counted in ready_uploads_ (no wake)
  // Takes p out of the namespace and the journal (write_mu_ held): unlinked or renamed over.
  void remove_pending_locked(const std::shared_ptr<PendingFile>& p);
  // Forgets p once nothing needs it (write_mu_ held): no handle open, and removed or uploaded.
  void release_pending_locked(const std::shared_ptr<PendingFile>& p);
  // Removes the spool entries release_pending_locked() let go. Called without write_mu_.
  void drop_released_spool();
  // ... and waits for those other threads are removing: called before a platform item is deleted
  // or moved, so that a crash right after cannot leave a landed file's entry behind to be
  // uploaded again by the next mount over what was deleted or moved.
  void settle_spool_drops();
  void upload_worker();
  void run_upload(const std::shared_ptr<PendingFile>& p);
  // The remote calls of one upload (path lock held): answers the platform's item.
  Result<Item> upload_to_platform(const std::shared_ptr<PendingFile>& p, const std::string& path);
  // What one upload of a file sends (path lock held; not for folders, nor a resumed file whose
  // place is to be verified first).
  struct UploadPlan {
    std::string file;  // its spool file (or /proc/self/fd/N of `source`)
    std::shared_ptr<SpoolFd> source;  // set: the spool file's inode, frozen, offered for a link
    std::string path;
    UploadOptions options;
    std::string token;  // names this spool's upload in the item
    json posix;         // {"system":{"posix":…}} or null: what an overwrite sends as metadata
    uint64_t expect = 0;
    bool create_only = false;
  };
  UploadPlan plan_upload(const std::shared_ptr<PendingFile>& p, const std::string& path);
  // The platform's answer to a plan, checked (a skip that is this file's own, a conflict, the size).
  Result<Item> settle_upload(const std::shared_ptr<PendingFile>& p, UploadPlan& plan, Result<UploadResult> answer);
  // Several small files in one remote call (fs/filesystem_upload_batch.cpp). batchable_locked:
  // whether a queued upload may go in a batch (write_mu_ held).
  bool batchable_locked(const PendingFile& p) const;
  // (a batch's files: at most kBatchFileMax bytes each and kBatchBytes together, core/requests.h)
  void run_upload_batch(std::vector<std::shared_ptr<PendingFile>> files);
  void landed(const std::shared_ptr<PendingFile>& p, uint64_t gen, Item item);
  // A metadata patch set before the first upload and sent after it landed failed: kept with the
  // file (and journaled), sent again by send_late_patch from the upload queue.
  void keep_late_patch(const std::shared_ptr<PendingFile>& p, json patch, const Status& failure);
  void send_late_patch(const std::shared_ptr<PendingFile>& p, json patch);
  // The journal keeps only the patch still to send, once the platform has the one sent (write_mu_ held).
  void journal_patch_sent_locked(const std::shared_ptr<PendingFile>& p);
  void settle_after_patch_locked(const std::shared_ptr<PendingFile>& p);
  // The wait before try `attempts + 1` of an upload: exponential from retry_base_ms, at most
  // retry_max_ms, with jitter.
  int64_t retry_delay_ms(uint32_t attempts) const;
  void upload_failed(const std::shared_ptr<PendingFile>& p, uint64_t gen, const Status& failure);
  // Preprocessing of uploaded items, learned by polling them together (fs/filesystem_preprocess_poll.cpp):
  // an item whose upload landed with its phase pending is awaited (write_mu_ held); one poll
  // task at a time asks the platform after the awaited items that are due, by id, in one query.
  void await_preprocess_locked(const Item& item);
  void run_poll();
  void learned(const Item& item);
  Result<Item> item_at(const std::string& path);  // pending or remote
  void unlinked(const std::string& id);  // the platform's item is deleted or replaced
  // A read open of a platform item, or a listing of a folder: its access time, as relatime keeps
  // it (fs/filesystem_access.cpp).
  void accessed(const Item& item);
  void note_busy();  // a read, an open or a close: access times wait (fs/filesystem_access.cpp)
  // Moves the held access times to the ready tasks if due (or `now`); else answers when they are.
  std::optional<std::chrono::steady_clock::time_point> release_held_access_locked(bool now);
  // This mount changes the item. `only_with_times`: a held access that carries no mtime or ctime
  // (recorded after a folder's change, while its time was on its way) stays: it puts nothing back.
  void drop_held_access(const std::string& id, bool only_with_times = false);
  // A read found the item's bytes replaced on the platform (ESTALE): its new state is learned.
  void version_gone(const Item& item);
  void run_access_patches(std::vector<Task> tasks);
  void run_folder_times(Task task);
  Result<Entry> make_link_entry(const std::string& path, std::string_view url);
  Result<Entry> make_symlink_item(const std::string& path, Ino parent, std::string_view target, const NewNode& as);

  // Namespace helpers (fs/filesystem_namespace.cpp).
  // The dataset path of a child of folder `parent`, checked (a dataset folder, a valid name).
  Result<std::string> child_path(Ino parent, std::string_view name);
  // Resolves each (folder, name) to its path and locks them all (as subtrees if asked), then
  // checks they still resolve the same: a folder above may have been renamed meanwhile.
  struct Locked {
    PathLocks::Guard guard;
    std::vector<std::string> paths;
  };
  Result<Locked> lock_children(std::vector<std::pair<Ino, std::string_view>> children, bool subtree);
  // Locks the path of node `ino` (its path may change until it is held); answers it in `path`.
  Result<PathLocks::Guard> lock_node(Ino ino, std::string& path);
  // The platform's item of whatever is at `path` now (a pending file's base or the item it
  // replaces, or the remote item), "" for none.
  std::string remote_id_at_locked(const std::shared_ptr<PendingFile>& p, const Item* remote) const;
  // For a pending file that may be on the platform unknown to it (maybe_on_platform): finds its
  // item at its path (the upload's token tells) and makes it its base. Path lock held.
  Status settle_uncertain_upload(const std::shared_ptr<PendingFile>& p);
  // Remote calls of namespace operations, retried on transient errors a few times, reading an
  // answer that says the earlier try did it (ENOENT to a delete, the item already there to a
  // move, a folder already there to a mkdir) as success.
  Status remote_remove(const std::string& id);
  Result<Item> remote_move(const std::string& id, const std::string& to, const std::string& replace_id);
  Result<Item> remote_make_dir(const std::string& path);
  Result<Item> remote_patch(const std::string& id, const json& patch);

  Result<Item> patch_item(Ino ino, const json& patch);

  // POSIX attributes (fs/filesystem_attrs.cpp).
  int64_t now_ns() const { return options_.clock->now_ms() * 1000000; }
  // What a new file or folder keeps: its mode, owner and group.
  PosixAttrs new_node_attrs(const NewNode& as, bool dir, const Item& parent) const;
  Status rename_entry(Ino parent, std::string_view name, Ino new_parent, std::string_view new_name, unsigned flags);
  // A name in folder `dir` (a dataset path) came or went: its mtime and ctime are now.
  void folder_changed(const std::string& dir);
  std::optional<int64_t> folder_changed_ns(const std::string& dir);
  // Access times set by this mount and not yet learned back from the platform, by item id.
  std::optional<int64_t> shown_atime(const std::string& id);
  // setattr's truncation (a size).
  Status truncate_node(Ino ino, const Node& n, std::shared_ptr<PendingFile> p, std::shared_ptr<SpoolFd> fd,
                       uint64_t size);
  // setattr's modes, owners and times: kept with a pending file, patched on the platform's item.
  Status change_attrs(Ino ino, const Node& n, const AttrChange& change);
  // `asked`: InodeTable::mark() taken before (opendir's); 0 for none (no node refreshed then).
  // (Shared with the listing's cache when nothing is pending in the folder.)
  Result<std::shared_ptr<const PackedItems>> merged_listing(const Item& dir, int64_t* fetched_ms, Ino ino,
                                                                 uint64_t asked = 0);

  Remote& remote_;
  LinkFetcher* links_;
  FsOptions options_;
  MetadataSource source_;
  InodeTable inodes_;
  std::atomic<Invalidator*> invalidator_{nullptr};  // set by the adapter around its loop
  FsCounters counters_;

  // Fetches ahead of sequential readers of large remote items (made at the first: an embedded
  // mount never starts its threads). Before files_: its handles' read-aheads go first.
  std::once_flag read_ahead_made_;
  std::unique_ptr<ReadAheadPool> read_ahead_pool_;

  std::mutex handles_mu_;
  uint64_t next_fh_ = 1;
  std::unordered_map<uint64_t, DirHandle> dirs_;
  std::unordered_map<uint64_t, FileHandle> files_;
  // The writer of fh-0 writes and truncates of a node (no_open), made at the first (or a create's
  // handle, adopted) and let go after FsOptions::implicit_idle_ms without a write (the sweeper),
  // past max_implicit_writers (the least recently written), at a sync, unmount or forget, and at
  // the node's flush while the kernel sends them (fs/filesystem_implicit.cpp).
  // Lock order: an ImplicitWriter's mu, then implicit_mu_ (never the other way); mu is held
  // through a write or truncate and through the close, so that no close takes the handle from
  // under a write.
  struct ImplicitWriter {
    std::mutex mu;
    std::atomic<uint64_t> fh{0};  // its handle in files_ (0: being made); read unlocked by reads
    bool closed = false; // let go: a write that finds it so makes a new one
    std::atomic<int64_t> used_ms{0};  // steady_now_ms() of its last write (read unlocked by the cap)
  };
  std::mutex implicit_mu_;
  std::unordered_map<Ino, std::shared_ptr<ImplicitWriter>> implicit_;
  std::atomic<size_t> implicit_count_{0};  // implicit_.size(), read by every fh-0 read unlocked
  std::condition_variable implicit_cv_;
  bool implicit_stopping_ = false;  // (implicit_mu_)
  std::thread implicit_sweeper_;    // started with the first implicit writer
  Result<std::pair<Entry, OpenResult>> create_file(Ino parent, std::string_view name, int flags, const NewNode& as);
  // The node's ImplicitWriter, made if it has none (its fh then 0), and the sweeper started.
  std::shared_ptr<ImplicitWriter> implicit_slot(Ino ino);
  // A handle made by create (no_open) becomes the node's implicit writer; released if the node
  // has one already (the same pending file's) or the handle cannot write.
  void adopt_implicit_writer(Ino ino, uint64_t fh);
  // Runs `op` with the node's implicit writer's fh (made now if there is none: open(ino, O_WRONLY
  // [| O_TRUNC if `truncating`])), its mu held.
  Status with_implicit_writer(Ino ino, bool truncating, const std::function<Status(uint64_t fh)>& op);
  // The node's implicit writer's handle, if it has one open (for fh-0 reads: its descriptor).
  std::optional<FileHandle> implicit_handle(Ino ino);
  // Why an implicit writer is let go. A removed file's (unlinked or renamed over: its bytes live
  // only in the writer's descriptor) goes only when no descriptor can be left: the kernel forgot
  // the node, or the mount stops.
  enum class WriterClose {
    kFlush,   // a close of one of the node's descriptors (waits for the upload under sync_upload)
    kIdle,    // no write for implicit_idle_ms (the sweeper)
    kSync,    // a wait for every upload, an fsync of a folder
    kGone,    // the kernel forgot the node, or the mount stops
  };
  // kIdle: only if not written since `idle_before_ms` (steady_now_ms()).
  Status close_implicit_writer(Ino ino, WriterClose why, int64_t idle_before_ms = 0);
  // Past FsOptions::max_implicit_writers: the least recently written let go, down to 3/4 of it.
  void cap_implicit_writers();
  void sweep_implicit_writers();
  // Every implicit writer of a file at or under the dataset path `under` let go (its writes
  // promised and queued).
  void close_implicit_writers(WriterClose why, const std::string& under = "/");
  void stop_implicit_sweeper();
  // A read at offset 0 with fh 0 stands for the open the kernel did not send: the access time,
  // the folder prefetch and a link's revalidation happen there.
  Status opened_by_read(Ino ino);

  // Reads with fh 0 (no_open: the kernel opens without asking) by inode: the version of the
  // item the node's last read from offset 0 found (the nearest the mount sees of an open), and a
  // descriptor of its bytes where they are in a local file. Later reads read that version even
  // once the platform's item changed (as an open descriptor keeps reading what it opened: on the
  // embedded platform its stored binary, through a server ESTALE), until the next read from
  // offset 0 finds another, or an upload of this mount lands on the node. A pin `kept` holds a
  // removed file's bytes for its descriptors (keep_for_descriptors): read whatever the offset,
  // and copied for a descriptor that writes (materialize).
  struct ReadPin {
    std::shared_ptr<const Item> item;
    std::shared_ptr<SpoolFd> fd;  // null: not in a local file (read from the remote)
    bool kept = false;
  };
  std::unordered_map<Ino, ReadPin> read_pins_;  // (guarded by handles_mu_; bounded)
  void pin_locked(Ino ino, ReadPin pin);  // (handles_mu_ held)
  // Reads with fh 0 of large remote items: their read-aheads by inode (guarded by handles_mu_;
  // bounded, idle ones dropped: see read_ahead_of).
  struct RoReadAhead {
    std::shared_ptr<const Item> item;
    std::shared_ptr<ReadAhead> ahead;
    int64_t used_ms = 0;
  };
  std::unordered_map<Ino, RoReadAhead> ro_read_aheads_;
  std::atomic<bool> no_local_files_{false};     // the remote has none: do not ask again

  // The ordering rule and lock order: fs/filesystem_namespace.cpp. Path locks come first, then
  // write_mu_.
  PathLocks path_locks_;
  std::mutex write_mu_;  // guards pending_, by_ino_, the tasks, stopping_ and every PendingFile
  // Uploads offer their spool files to the platform's storage by hard link (links_from): set
  // at the first start_uploads(). unfreeze_mu_ orders unfreezes (before write_mu_).
  bool link_uploads_ = false;
  std::mutex unfreeze_mu_;
  std::condition_variable write_cv_;  // a state changed (uploads done, tasks queued)
  std::unordered_map<std::string, std::shared_ptr<PendingFile>> pending_;  // by path (not removed ones)
  std::unordered_map<Ino, std::shared_ptr<PendingFile>> by_ino_;           // every pending file, by node
  // Spool entries of released pending files, removed by drop_released_spool() once write_mu_ is
  // let go (a journal commit and an unlink, the slowest steps of a landing: every lookup and
  // write waits for write_mu_), and how many such removals are under way.
  std::vector<uint64_t> spool_drops_;
  std::vector<std::pair<uint64_t, Item>> cache_keeps_;  // of those, kept in the data cache first
  size_t spool_dropping_ = 0;
  // Tasks ready now, in order, and the ones waiting for their time (retries, preprocessing
  // polls): a worker's pick is O(log n) however many polls wait (a copy of 100,000 files leaves
  // as many polls queued). Workers sleep on work_cv_, so that a queued task wakes one of them
  // and not every waiter of write_cv_.
  std::deque<Task> ready_tasks_;
  size_t ready_uploads_ = 0;  // uploads among ready_tasks_ (what max_pending bounds)
  std::multimap<std::chrono::steady_clock::time_point, Task> delayed_tasks_;
  // Access times held while the mount is busy, by item id (the newest kept), since held_since_;
  // and those released and not sent yet (what wait_uploads waits for).
  std::unordered_map<std::string, Task> held_access_;
  std::chrono::steady_clock::time_point held_since_{};
  size_t access_in_flight_ = 0;
  std::atomic<int64_t> busy_ms_{0};  // steady clock ms of the last read, open or close (note_busy)
  struct AwaitedPreprocess {
    std::string path;  // where it landed
    unsigned polls = 0;
    std::chrono::steady_clock::time_point due;
  };
  std::map<std::string, AwaitedPreprocess> awaited_;  // by item id (write_mu_)
  bool poll_queued_ = false;  // a poll task is queued or running (write_mu_)
  std::condition_variable work_cv_;
  bool stopping_ = false;
  bool resumed_ = false;
  std::chrono::steady_clock::time_point last_landed_{};  // the last upload's landing
  std::vector<std::thread> workers_;

  std::mutex links_mu_;
  std::unordered_map<std::string, std::optional<uint64_t>> link_sizes_;  // by url
  std::unordered_map<std::string, std::string> link_errors_;  // by url: the last fetch's failure
  struct LinkCheck {
    int64_t checked_ms = 0;
    std::optional<uint64_t> size;  // what the target answered (overrides the recorded size)
    std::string etag, last_modified;
    Status failure;  // the last revalidation's failure, answered until the next one
    bool gone = false;  // the failure is the target's 404 (remembered as long as a success)
  };
  std::unordered_map<std::string, LinkCheck> link_checks_;  // by url

  // The dataset's quotas, asked at most every 2 s (statfs, creates): room_left() is what new
  // files may still take, the files pending their first upload counted.
  std::optional<QuotaInfo> quota_now();
  std::optional<uint64_t> room_left(bool exact);
  void quota_stale();  // the next quota_now() asks the remote
  // This mount made (+1) or removed (-1) an item: the cached counts follow until the next ask,
  // so that a file that just landed is not counted neither pending nor on the platform.
  void quota_counted(int64_t delta);
  // When a name in a folder last came or went through this mount (ns), by the folder's path: its
  // mtime and ctime until the platform's own say later (fs/filesystem_attrs.cpp). Bounded.
  std::mutex folder_times_mu_;
  std::unordered_map<std::string, int64_t> folder_changed_ns_;
  std::unordered_set<std::string> folder_times_due_;  // folders with a run_folder_times task queued
  std::mutex folder_patch_mu_;                        // see run_folder_times
  std::mutex atimes_mu_;
  std::unordered_map<std::string, int64_t> atimes_;  // shown_atime()'s
  std::mutex quota_mu_;
  std::optional<QuotaInfo> quota_;
  int64_t quota_at_ms_ = 0;  // 0: ask again (quota_stale)

  // Items whose read timed out just now (id -> when, ms): the kernel at once tries a failed
  // readahead again, which would wait out the whole timeout a second time.
  std::mutex timeouts_mu_;
  std::unordered_map<std::string, int64_t> read_timeouts_;

  // Last: its threads use everything above, and are stopped (joined) first.
  std::unique_ptr<FolderPrefetch> prefetch_;
};

}  // namespace dlfs
