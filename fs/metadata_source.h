// Where the filesystem core gets listings and items, and how fresh they are. Three levels:
// an in-memory copy of recent listings (what a burst of lookups after a readdir needs), the
// LMDB MetadataCache (survives remounts), then the Remote. An entry younger than the TTL is
// served without a remote call; an older one is refetched (whole folders, in pages with full
// items — never a request per entry). When the remote fails with anything but ENOENT/ENOTDIR,
// a stale entry is served rather than an error (with a warning): a lookup while the server is
// away is answered from the parent folder's listing of any age, so names in a folder this mount
// listed or made stay decidable offline. While the remote says its server is away
// (Remote::server_away), such answers are given without asking it at all.
//
// What the mount itself changes (it made, moved, removed or re-uploaded an item) is applied to
// the listing in memory in place (learned, removed, made_dir): no refetch after each upload, and
// an offline mount still knows the names it made.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cache/metadata_cache.h"
#include "core/clock.h"
#include "fs/listing_writer.h"
#include "remote/remote.h"

namespace dlfs {

// A folder's listing: its items packed (a listing of 100,000 is ~55 MB so), unpacked as used.
struct Listing {
  std::shared_ptr<const PackedItems> items;
  int64_t fetched_ms = 0;
  bool refetched = false;      // this call went to the remote
  std::vector<Item> removed;   // on a refetch: items of the previous listing that are gone
};

struct FetchedItem {
  Item item;
  int64_t fetched_ms = 0;
};

// Counts of what the source did, for the mount's stats (and the tests).
struct SourceCounters {
  std::atomic<uint64_t> remote_list_pages{0}, remote_gets{0}, remote_thumbnails{0};
  std::atomic<uint64_t> listing_memory_hits{0}, listing_cache_hits{0}, listing_fetches{0};
  std::atomic<uint64_t> item_cache_hits{0}, negative_hits{0}, stale_served{0};
};

class MetadataSource {
 public:
  // ttl_ms < 0: entries never expire. `cache` may be null (memory and remote only).
  // At most `memory_items` items (listed, or changed by the mount since) are kept in memory, the
  // least recently used folders' listings going first; one folder's listing is kept whatever
  // its size, but the items the mount changes in it beyond the bound are not (only their names).
  static constexpr size_t kDefaultMemoryItems = 8192;
  MetadataSource(Remote& remote, MetadataCache* cache, const Clock& clock, int64_t ttl_ms,
                 size_t page_size = 1000, size_t memory_items = kDefaultMemoryItems);
  ~MetadataSource();  // stores the listings still queued for the cache

  // Returns once the listings fetched so far are in the cache (they are stored in the
  // background: see ListingWriter).
  void flush_cache_writes();
  // For tests: while held, fetched listings wait to be stored.
  void hold_cache_writes(bool hold);
  // How many range walks a large folder's listing is fetched with (fs/listing_fetch.h).
  static constexpr size_t kDefaultListingStreams = 3;
  void set_listing_streams(size_t streams) { listing_streams_ = std::max<size_t>(streams, 1); }
  // For tests: called in every change between the cache's entries going and the epochs' bump.
  void set_change_hook_for_tests(std::function<void()> hook) { change_hook_ = std::move(hook); }

  // The visible items directly in `dir` (hidden ones and /.dataloop left out).
  Result<Listing> listing(const std::string& dir);
  // The item at `path`; ENOENT if there is none or it is hidden.
  Result<FetchedItem> item(const std::string& path);
  // The item's thumbnail JPEG; ENOENT when it has none.
  Result<std::string> thumbnail(const Item& item);

  // Drop what is known of `path`, its parent's listing and (a folder) its own listing, in memory
  // and in the cache: the next look asks the remote (after a change whose outcome is unknown).
  void forget(const std::string& path);
  // Marks `path` (and its parent's listing) stale in the persistent cache only: the platform
  // changed it in a way the mount already shows, and a remount must ask again. Marked, not
  // dropped: while the server is away, a lookup of it is still answered (with dir_ttl=inf,
  // where nothing is stale, dropped).
  void age_cached(const std::string& path);
  // The mount learned an item's new state (it uploaded, made, moved or patched it): the item
  // replaces what its parent's listing in memory had under its name.
  void learned(const Item& item);
  // The item at `path` is gone (deleted, or moved away): out of its parent's listing in memory,
  // and (a folder) every listing kept of it or below it.
  void removed(const std::string& path);
  // The mount made this folder: it is known empty.
  void made_dir(const Item& dir);
  // A folder the mount made while the server was away (not on the platform yet): its listing is
  // known empty, and nothing of it is cached beyond this process.
  void known_empty(const std::string& dir);

  bool is_fresh(int64_t fetched_ms) const;
  // How many folders the listing of `dir` in memory (of any age, with the mount's changes) holds;
  // nothing when there is none. (A folder's link count: 2 and one per subfolder.)
  std::optional<size_t> known_subfolders(const std::string& dir);
  const SourceCounters& counters() const { return counters_; }
  // What the listings in memory count against memory_items (items, changes, listings).
  size_t items_in_memory() const;
  const Clock& clock() const { return clock_; }

 private:
  // Read and changed only under mu_.
  struct MemListing {
    std::shared_ptr<const PackedItems> items;
    std::unordered_map<std::string_view, size_t> by_name;  // views into *items
    // What the mount changed since the fetch, by name: the item now, or nullopt (gone). Folded
    // into `items` by the next listing() (a copy per readdir, not per change).
    std::unordered_map<std::string, std::optional<Item>> changed;
    // Names the mount made or changed here whose items were not kept, the listing being over
    // memory_items alone (a copy of 100,000 files into one folder): a lookup of one asks the
    // cache, a lookup of any other name is still answered here, and the next listing() refetches.
    std::unordered_set<std::string> present;
    int64_t fetched_ms = 0;
    uint64_t last_used = 0;
    size_t dirs = 0;  // folders among `items`
  };
  // A name looked up in a listing kept in memory: nullopt if there is no listing of `dir` (or
  // only a stale one and `fresh_only`); else the item, or nullopt inside for "not there".
  struct MemLookup {
    std::optional<Item> item;
    int64_t fetched_ms = 0;
  };
  std::optional<MemLookup> memory_lookup(const std::string& dir, const std::string& name, bool fresh_only);
  // The listing of `dir` kept in memory, with the mount's changes folded in; null if none.
  std::shared_ptr<const PackedItems> memory_items(const std::string& dir, int64_t* fetched_ms);
  void index_locked(MemListing& mem);
  // Drops the least recently used listings until at most memory_items_ items are kept.
  void evict_locked();
  // Records a change of `name` in a listing (counted against memory_items_).
  void change_locked(MemListing& mem, const std::string& name, std::optional<Item> now);
  void drop_locked(std::unordered_map<std::string, std::shared_ptr<MemListing>>::iterator it);
  // Stores a listing unless `dir` changed (an epoch bump) since `epoch` was read before fetching
  // and the changes are not all known (see InFlight); answers the listing either way.
  std::shared_ptr<const PackedItems> remember(const std::string& dir, PackedItems items, int64_t fetched_ms,
                                              std::optional<uint64_t> epoch = std::nullopt);
  // Change epochs, hashed by path into a few buckets (bounded memory): forget() bumps the bucket
  // of a path and of its parent. A fetch reads its bucket before asking the remote and keeps
  // the answer only if the bucket did not move meanwhile, so an answer that raced with an
  // upload never shadows the upload's result.
  uint64_t epoch_of(const std::string& path) const;
  void bump_epoch(const std::string& path);
  // Every visible item of `dir`, packed page by page (the Items of one page at a time).
  Result<PackedItems> fetch_all(const std::string& dir);
  // The item at `path` (or ENOENT) as this mount knows it, of any age; nullopt if it does not know.
  std::optional<Result<FetchedItem>> known_item(const std::string& path, const std::optional<CachedItem>& cached);
  std::shared_ptr<std::mutex> fetch_lock(const std::string& dir);

  Remote& remote_;
  MetadataCache* cache_;
  const Clock& clock_;
  int64_t ttl_ms_;
  size_t page_size_;
  size_t memory_items_;
  size_t listing_streams_ = kDefaultListingStreams;
  SourceCounters counters_;

  mutable std::mutex mu_;  // guards memory_, memory_count_, use_clock_, fetch_locks_, epochs_
  std::array<uint64_t, 64> epochs_{};
  std::unordered_map<std::string, std::shared_ptr<MemListing>> memory_;
  size_t memory_count_ = 0;  // items and changes of the listings in memory_
  uint64_t use_clock_ = 0;
  // One refetch per folder at a time: concurrent readers of a stale folder wait for it.
  std::unordered_map<std::string, std::shared_ptr<std::mutex>> fetch_locks_;
  std::function<void()> change_hook_;
  // The mount's changes to a folder made while its listing is being read (one reader per folder
  // at a time: fetch_lock), by name, in order. An answer that raced with them (its epoch moved)
  // is kept with them replayed on top, rather than dropped: a folder busy with uploads landing
  // would otherwise keep no listing at all, and a lookup in it while the server is away would
  // have nothing to answer from. Under mu_.
  struct InFlight {
    std::vector<std::pair<std::string, std::optional<Item>>> changes;
    bool unknown = false;  // a change whose outcome is not known (forget), or the folder dropped
  };
  std::unordered_map<std::string, InFlight> inflight_;
  // Registers `dir`'s reading and answers its epoch (both under mu_: no change falls between).
  uint64_t watch_changes(const std::string& dir);
  void unwatch_changes(const std::string& dir);
  void record_change_locked(const std::string& dir, const std::string& name, std::optional<Item> now);
  void mark_unknown_locked(const std::string& path, bool below);
  // Last: it asks epoch_of() until it is gone, so it goes first.
  std::unique_ptr<ListingWriter> writer_;
};

// True for names the mount never shows: the platform's own folder at the dataset root.
bool is_platform_private(const Item& item);

}  // namespace dlfs
