// The data cache (-o data_cache=DIR, data_cache_size=SIZE): items' bytes, fetched from a remote
// platform, kept as local files so that a second read — after a remount too — costs no remote
// call and is handed to the kernel by descriptor.
//
// Layout: <dir>/<space>/<xx>/<name>, one file per item version. <space> is the mount's
// cache_key (source + dataset), <name> a SHA-256 of the item's id, updatedAt and size: a changed
// item has a new name, so a stale copy is never served (it ages out). A file is written under
// <dir>/tmp/ and renamed into place whole, so a name never shows partial bytes; a copy whose size
// is not the item's is dropped, not served.
//
// Bounded: least recently used files go when the total passes max_bytes (down to 90%), and
// nothing is kept that would leave the filesystem under min_free of its size. Use is remembered
// across remounts by the files' mtimes (set on a hit at most every few minutes).
//
// Shared: several mounts (processes) may use one dir. Each keeps its own index; before it
// evicts it rescans the dir, so the bound counts everyone's files; a file evicted under another
// mount stays readable through that mount's open descriptors, and its next open is a miss.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/item.h"
#include "core/requests.h"
#include "core/result.h"

namespace dlfs {

struct DataCacheOptions {
  std::string dir;    // e.g. <cache dir>/data
  std::string space;  // this mount's folder in it (cache_key(source, dataset))
  uint64_t max_bytes = 4ull << 30;
  uint64_t max_file_bytes = 0;  // larger items are not kept; 0: max_bytes / 8
  double min_free = 0.05;       // fraction of the filesystem left free
  const Clock* clock = &SystemClock::instance();
};

// What a mount of `source` (a server's API URL, or a store's canonical path) and dataset opens:
// <cache_dir>/data, the space cache_key(source, dataset_id), items up to min(max_bytes / 8,
// 16 MiB) fetched whole (a larger one is read in ranges as asked: a `head` of a video must not
// fetch all of it). `dlfs cache warm` fills the same.
DataCacheOptions mount_data_cache(const std::string& cache_dir, std::string_view source, std::string_view dataset_id,
                                  uint64_t max_bytes);

struct DataCacheCounters {
  std::atomic<uint64_t> hits{0}, misses{0}, fills{0}, fill_bytes{0}, evictions{0}, evicted_bytes{0};
  std::atomic<uint64_t> prefetches{0};  // fills made ahead of any read (prefetch()), not misses
  std::atomic<uint64_t> prefetch_hits{0};  // hits on a file a prefetch brought, its first read's only
};

class DataCache {
 public:
  static Result<std::unique_ptr<DataCache>> open(DataCacheOptions options);
  ~DataCache();

  // Whether an item of this many bytes is kept at all.
  bool keeps(uint64_t size) const { return size <= max_file_; }

  // Reads `out.size()` bytes of the item from `offset` into `out`; answers the count (0 at the
  // end). What fill() calls to fetch an item.
  using ReadFn = std::function<Result<size_t>(uint64_t offset, std::span<char> out)>;

  // A read-only descriptor of this version of the item's bytes (the caller closes it): from the
  // cache (a hit), else fetched whole with `read` and kept (a miss). Many threads asking for one
  // item at once fetch it once. Errors: the fetch's, EFBIG for an item too large to keep,
  // ENOSPC when keeping it would leave too little free space, ESTALE when the remote's bytes
  // were not the item's size (the item changed meanwhile). The caller then reads the remote.
  Result<int> get(const Item& item, const ReadFn& read);
  // Only a hit (counted as one): the descriptor, or -1 (not counted as a miss).
  int lookup(const Item& item);
  // Keeps `file` (a spool file whose upload made this version of the item, never written again)
  // as the item's bytes, by a hard link: what a mount wrote is read back without a fetch, and
  // stays readable for descriptors of it after it is removed. EXDEV where the file is on another
  // filesystem, ESTALE where its size is not the item's.
  Status adopt(const Item& item, const std::string& file);
  // Fetches the item whole ahead of any read (a folder's next files, fs/folder_prefetch.h):
  // answers true when it brought bytes, false when they are kept already, being fetched by
  // another thread, or the item is not kept at all. Counts neither a hit nor a miss.
  Result<bool> prefetch(const Item& item, const ReadFn& read);
  // Many items ahead of any read (a folder's next files): those neither kept nor being fetched
  // are read with `read_many` (Remote::read_items: one request for all where the server takes
  // it), each kept as soon as its bytes are in. One answer per item, in order, as prefetch()'s.
  using ReadManyFn = std::function<void(std::span<const Item> items, ItemBytesSink& sink)>;
  std::vector<Result<bool>> prefetch_many(std::span<const Item> items, const ReadManyFn& read_many);

  const DataCacheCounters& counters() const { return counters_; }
  // Adds this process's counts since the last call to <dir>/<space>/stats.json (for `dlfs cache
  // stat`; under an flock, several mounts add to it). Called at least every 30 s while reads
  // come, and at destruction.
  void flush_stats();
  // Files and bytes this mount's index holds.
  std::pair<uint64_t, uint64_t> usage() const;
  // Where an item's bytes are kept (whether or not they are).
  std::string path_of(const Item& item) const;

 private:
  struct Entry {
    uint64_t size = 0;
    int64_t used_ms = 0;     // last use (in memory)
    int64_t stamped_ms = 0;  // last use written to the file's mtime
    bool prefetched = false;  // brought by this process's prefetch() and not read since
  };
  struct Fill {
    bool done = false;
    Result<int> fd = Status(EAGAIN, "not done");
    // Its own: a fill's end wakes only the readers waiting for that item (one shared variable
    // woke every waiting reader at every fill's end: ~6 wasted thread switches a file).
    std::condition_variable done_cv;
  };

  explicit DataCache(DataCacheOptions options);
  // (Re)builds the index from the files under dir (all spaces), sweeping temp files of
  // processes no longer running.
  void scan();
  int open_kept(const std::string& path, uint64_t size, bool count);
  // A miss: fetches the item once however many threads ask (they wait for the first), or with
  // `ahead` (a prefetch) answers -1 at once when another thread is fetching it.
  Result<int> fill(const Item& item, const std::string& path, const ReadFn& read, bool ahead);
  Result<int> fetch(const Item& item, const std::string& path, const ReadFn& read, bool ahead);
  // fetch()'s steps: a temp file for `size` bytes (room made first); the temp file kept as the
  // item's bytes when `fetched` is its size (else dropped: ESTALE); a temp file dropped.
  Result<int> start_fetch(uint64_t size, std::string& tmp);
  Result<int> keep_fetch(const Item& item, const std::string& path, int fd, const std::string& tmp, uint64_t fetched,
                         bool ahead);
  static Status drop_fetch(int fd, const std::string& tmp, Status why);
  // A fill's end: its waiters learn `got` (an error, or that the file is kept).
  void end_fill(const std::string& path, Fill& fill, const Result<int>& got);
  // Evicts least recently used files until `incoming` more bytes fit.
  void make_room(uint64_t incoming);
  bool room_on_disk(uint64_t incoming) const;

  void flush_stats_every_while();

  DataCacheOptions options_;
  uint64_t max_file_ = 0;
  std::mutex stats_mu_;
  uint64_t flushed_[4] = {0, 0, 0, 0};  // hits, misses, fills, fill_bytes as of the last flush
  std::atomic<int64_t> flushed_ms_{0};
  DataCacheCounters counters_;
  std::atomic<uint64_t> tmp_counter_{0};

  mutable std::mutex mu_;  // guards index_, total_, fills_
  std::unordered_map<std::string, Entry> index_;  // by path
  uint64_t total_ = 0;
  uint64_t filled_since_scan_ = 0;
  int64_t scanned_ms_ = 0;
  std::map<std::string, std::shared_ptr<Fill>> fills_;  // by path: fetches under way
  std::mutex evict_mu_;  // one eviction (rescan) at a time
};

// A data cache folder's spaces, for `dlfs cache stat` and `dlfs cache clear`.
struct DataSpaceInfo {
  std::string key;         // the space (cache_key(source, dataset))
  uint64_t files = 0, bytes = 0;
  uint64_t hits = 0, misses = 0, fills = 0, fill_bytes = 0;  // summed over every mount, from stats.json
};
std::vector<DataSpaceInfo> list_data_spaces(const std::string& dir);
// Removes the spaces of one dataset (by dataset_id_of_key or the whole key), or all when
// dataset_id is empty; answers how many were removed. Readers holding files open keep reading.
Result<size_t> clear_data_spaces(const std::string& dir, std::string_view dataset_id);

}  // namespace dlfs
