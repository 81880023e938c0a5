// The filesystem core: everything a FUSE request needs, with no libfuse type in sight. The
// adapter (fs/fuse_adapter.cpp) unpacks a request, calls one method here and replies; errors
// come back as Status/Result carrying the errno to reply with.
//
// Threading: every method may be called from many threads at once (fuse_session_loop_mt).
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "cache/metadata_cache.h"
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
  // Fills `out` from `offset` (short only at the end). fh 0 (no open: the kernel skipped it)
  // reads the node's current item.
  Result<size_t> read(Ino ino, uint64_t fh, uint64_t offset, std::span<char> out);
  void release(uint64_t fh);

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
  struct FileHandle {
    std::shared_ptr<const Item> item;
    std::shared_ptr<const std::string> thumbnail;  // for thumbnail files
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

  std::mutex links_mu_;
  std::unordered_map<std::string, std::optional<uint64_t>> link_sizes_;  // by url
};

}  // namespace dlfs
