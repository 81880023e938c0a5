// The mount's client-side metadata cache: one LMDB environment per mounted dataset, at
// <cache_dir>/<key>/, holding folder listings, items by path and thumbnails by item id. It is on
// disk, so it survives remounts; it is bounded (least recently used entries are evicted); a
// corrupt or older-format environment is discarded and recreated empty, never trusted.
//
// Freshness is the caller's decision: every entry carries the time it was fetched (from the
// injected Clock), and the cache never expires anything by age.
//
// Thread-safe: any number of threads may call one MetadataCache at once, and several processes
// (two mounts of one dataset) may open the same key at once; LMDB's own locking arbitrates.
// Within one process, instances opened on the same directory share one LMDB environment (LMDB
// forbids opening one environment twice in a process), with the first opener's map size.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/item.h"
#include "core/packed_items.h"
#include "core/result.h"

namespace dlfs {

// Bump when the on-disk layout of any value changes: an environment of another version is
// discarded on open.
inline constexpr uint32_t kCacheFormatVersion = 2;  // 2: items packed (core/item_pack.h)

// A filesystem-safe environment name for one dataset of one source (store dir or server URL):
// "<dataset_id>-<8 hex digits of a hash of source>". Characters of dataset_id outside
// [A-Za-z0-9._] are replaced by '_' (and then the raw id is hashed too, so keys stay distinct).
std::string cache_key(std::string_view source, std::string_view dataset_id);
// The dataset id part of a key made by cache_key ("" if the key does not have that shape).
std::string dataset_id_of_key(std::string_view key);
// Creates `dir` (and missing parents) with mode 0700, and tightens it to 0700 if it exists with
// looser permissions.
Status ensure_private_dir(const std::string& dir);

struct CacheOptions {
  std::string dir;  // the cache dir (the caller picks it, e.g. $XDG_CACHE_HOME/dlfs)
  std::string key;  // the environment's directory name under `dir`, e.g. from cache_key()
  uint64_t max_bytes = 1ull << 30;
  const Clock* clock = &SystemClock::instance();
  // LMDB map size; 0 picks 2 * max_bytes + 64 MiB. Only tests set it (to provoke MDB_MAP_FULL).
  uint64_t map_bytes = 0;
};

struct CachedListing {
  PackedItems items;
  int64_t fetched_ms;
};

struct CachedItem {
  Item item;
  int64_t fetched_ms;
};

struct CacheStats {
  uint64_t listings, items, thumbnails;
  uint64_t bytes_used;  // bytes in LMDB pages holding live data (what max_bytes bounds)
  uint64_t max_bytes;
};

class MetadataCache {
 public:
  // Creates <dir>/<key> (mode 0700) and opens its environment, discarding it first if it is
  // corrupt or of another format version. Fails only if the directory or a fresh environment
  // cannot be made; the mount then runs without a cache.
  static Result<std::unique_ptr<MetadataCache>> open(const CacheOptions& options);
  ~MetadataCache();  // persists pending access stamps
  MetadataCache(const MetadataCache&) = delete;
  MetadataCache& operator=(const MetadataCache&) = delete;

  // Stores the complete listing of `dir`, then each item by its path (in several transactions),
  // all with one stamp. A listing too large for the cache (over max_bytes / 4) is not stored
  // (EFBIG) but its items still are.
  // `fetched_ms`: the listing's age (unset: now).
  Status put_listing(std::string_view dir, const PackedItems& items, std::optional<int64_t> fetched_ms = std::nullopt);
  Status put_listing(std::string_view dir, const std::vector<Item>& items);
  std::optional<CachedListing> get_listing(std::string_view dir);
  // Keyed by item.filename. Does not update the parent folder's listing: a caller that learns
  // of a new, moved or deleted item calls forget_item / forget_listing.
  Status put_item(const Item& item);
  // An item the mount changed: its record replaced and its parent's listing (which lacks the
  // change) dropped, in one transaction.
  Status put_changed_item(const Item& item);
  std::optional<CachedItem> get_item(std::string_view path);
  // Drops the item, its parent folder's listing and, for a folder, its own listing and every
  // item and listing cached below it (a folder moved or removed).
  Status forget_item(std::string_view path);
  Status forget_listing(std::string_view dir);
  // Marks the item and its parent folder's listing stale (fetched at time 0), keeping them: a
  // mount online asks again, one whose server is away still answers from them.
  Status age_item(std::string_view path);
  Status put_thumbnail(std::string_view item_id, std::string_view jpeg);
  std::optional<std::string> get_thumbnail(std::string_view item_id);
  Status forget_thumbnail(std::string_view item_id);

  CacheStats stats();
  // Empties the cache (the environment stays).
  Status clear();
  // Writes the access stamps gathered by gets (also done by every put and on destruction).
  Status flush_access();

  // The environment's directory, <dir>/<key>.
  const std::string& path() const;

 private:
  struct Impl;
  explicit MetadataCache(std::unique_ptr<Impl> impl);
  Status put_item(const Item& item, bool forget_parent_listing);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dlfs
