#include "fs/metadata_source.h"

#include <algorithm>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "core/item_pack.h"
#include "core/paths.h"
#include "fs/listing_fetch.h"

namespace dlfs {

bool is_platform_private(const Item& item) {
  return item.hidden || item.filename == "/.dataloop" || is_same_or_under(item.filename, "/.dataloop");
}

MetadataSource::MetadataSource(Remote& remote, MetadataCache* cache, const Clock& clock,
                               int64_t ttl_ms, size_t page_size, size_t memory_items)
    : remote_(remote), cache_(cache), clock_(clock), ttl_ms_(ttl_ms), page_size_(page_size),
      memory_items_(memory_items) {
  if (cache_)
    writer_ = std::make_unique<ListingWriter>(
        *cache_, [this](const std::string& dir, uint64_t epoch) { return epoch_of(dir) == epoch; });
}

MetadataSource::~MetadataSource() = default;

void MetadataSource::flush_cache_writes() {
  if (writer_) writer_->flush();
}

void MetadataSource::hold_cache_writes(bool hold) {
  if (writer_) writer_->hold(hold);
}

bool MetadataSource::is_fresh(int64_t fetched_ms) const {
  return ttl_ms_ < 0 || clock_.now_ms() - fetched_ms < ttl_ms_;
}

void MetadataSource::index_locked(MemListing& mem) {
  mem.by_name.clear();
  mem.dirs = 0;
  mem.by_name.reserve(mem.items->size());
  for (size_t i = 0; i < mem.items->size(); ++i) {
    mem.by_name.emplace(mem.items->name(i), i);
    mem.dirs += mem.items->is_dir(i);
  }
}

std::optional<size_t> MetadataSource::known_subfolders(const std::string& dir) {
  std::lock_guard lock(mu_);
  auto it = memory_.find(dir);
  if (it == memory_.end()) return std::nullopt;
  const MemListing& mem = *it->second;
  if (!mem.present.empty()) return std::nullopt;
  size_t dirs = mem.dirs;
  for (const auto& [name, now] : mem.changed) {
    if (auto was = mem.by_name.find(name); was != mem.by_name.end() && mem.items->is_dir(was->second)) --dirs;
    if (now && now->is_dir()) ++dirs;
  }
  return dirs;
}

namespace {
// What a listing in memory counts against the bound: its items, its changes, and itself (so
// that many empty folders are bounded too).
size_t weight(size_t items, size_t changes) { return items + changes + 1; }
}  // namespace

void MetadataSource::drop_locked(std::unordered_map<std::string, std::shared_ptr<MemListing>>::iterator it) {
  memory_count_ -= weight(it->second->items->size(), it->second->changed.size());
  memory_.erase(it);
}

size_t MetadataSource::items_in_memory() const {
  std::lock_guard lock(mu_);
  return memory_count_;
}

void MetadataSource::evict_locked() {
  // The least recently used listing first (a linear scan: each eviction frees a whole listing,
  // so they are rare next to the changes and listings that cause them).
  while (memory_count_ > memory_items_ && memory_.size() > 1) {
    auto victim = std::min_element(memory_.begin(), memory_.end(), [](auto& a, auto& b) {
      return a.second->last_used < b.second->last_used;
    });
    drop_locked(victim);
  }
}

void MetadataSource::change_locked(MemListing& mem, const std::string& name, std::optional<Item> now) {
  mem.last_used = ++use_clock_;  // (the folder being written to is the last to go)
  if (now && memory_count_ >= memory_items_) {
    evict_locked();
    if (memory_count_ >= memory_items_) {  // this listing is over the bound alone
      if (auto it = mem.changed.find(name); it != mem.changed.end()) {
        mem.changed.erase(it);
        --memory_count_;
      }
      mem.present.insert(name);
      return;
    }
  }
  mem.present.erase(name);
  auto [it, inserted] = mem.changed.insert_or_assign(name, std::move(now));
  if (!inserted) return;
  ++memory_count_;
  evict_locked();
}

std::optional<MetadataSource::MemLookup> MetadataSource::memory_lookup(const std::string& dir, const std::string& name,
                                                                      bool fresh_only) {
  std::lock_guard lock(mu_);
  auto it = memory_.find(dir);
  if (it == memory_.end()) return std::nullopt;
  MemListing& mem = *it->second;
  if (fresh_only && !is_fresh(mem.fetched_ms)) return std::nullopt;
  mem.last_used = ++use_clock_;
  MemLookup out{std::nullopt, mem.fetched_ms};
  if (mem.present.count(name)) return std::nullopt;  // there, its item not kept: ask the cache
  if (auto c = mem.changed.find(name); c != mem.changed.end()) {
    out.item = c->second;
  } else if (auto at = mem.by_name.find(name); at != mem.by_name.end()) {
    auto item = mem.items->item(at->second);
    if (!item) return std::nullopt;  // (not unpacked: as if not kept, the cache is asked)
    out.item = std::move(item).value();
  }
  return out;
}

std::shared_ptr<const PackedItems> MetadataSource::memory_items(const std::string& dir, int64_t* fetched_ms) {
  std::lock_guard lock(mu_);
  auto it = memory_.find(dir);
  if (it == memory_.end()) return nullptr;
  MemListing& mem = *it->second;
  mem.last_used = ++use_clock_;
  if (!mem.present.empty()) return nullptr;  // some items not kept: refetched whole
  if (!mem.changed.empty()) {
    // The unchanged entries as they are packed, and the changed ones packed, in id order.
    PackedItems now_packed;
    for (auto& [name, now] : mem.changed)
      if (now) now_packed.add(*now);
    std::vector<std::pair<const PackedItems*, size_t>> order;
    order.reserve(mem.items->size() + now_packed.size());
    for (size_t i = 0; i < mem.items->size(); ++i)
      if (!mem.changed.count(std::string(mem.items->name(i)))) order.emplace_back(mem.items.get(), i);
    for (size_t i = 0; i < now_packed.size(); ++i) order.emplace_back(&now_packed, i);
    std::sort(order.begin(), order.end(),
              [](const auto& a, const auto& b) { return a.first->id(a.second) < b.first->id(b.second); });
    PackedItems items;
    items.reserve(order.size());
    for (auto [from, i] : order) items.add_from(*from, i);
    memory_count_ -= weight(mem.items->size(), mem.changed.size());
    memory_count_ += weight(items.size(), 0);
    mem.items = std::make_shared<const PackedItems>(std::move(items));
    mem.changed.clear();
    index_locked(mem);
  }
  *fetched_ms = mem.fetched_ms;
  return mem.items;
}

uint64_t MetadataSource::epoch_of(const std::string& path) const {
  std::lock_guard lock(mu_);
  return epochs_[std::hash<std::string>{}(path) % epochs_.size()];
}

void MetadataSource::bump_epoch(const std::string& path) {
  ++epochs_[std::hash<std::string>{}(path) % epochs_.size()];  // mu_ held
}

std::shared_ptr<const PackedItems> MetadataSource::remember(const std::string& dir, PackedItems items, int64_t fetched_ms,
                                                            std::optional<uint64_t> epoch) {
  auto mem = std::make_shared<MemListing>();
  mem->items = std::make_shared<const PackedItems>(std::move(items));
  mem->fetched_ms = fetched_ms;
  std::lock_guard lock(mu_);
  const InFlight* replay = nullptr;
  if (epoch && epochs_[std::hash<std::string>{}(dir) % epochs_.size()] != *epoch) {  // raced a change
    auto f = inflight_.find(dir);
    if (f == inflight_.end() || f->second.unknown) return mem->items;
    replay = &f->second;  // (the bucket's other paths, or changes of this folder all known)
  }
  index_locked(*mem);
  mem->last_used = ++use_clock_;
  if (auto old = memory_.find(dir); old != memory_.end()) drop_locked(old);
  memory_count_ += weight(mem->items->size(), 0);
  memory_.emplace(dir, mem);
  if (replay)
    for (const auto& [name, now] : replay->changes) change_locked(*mem, name, now);
  evict_locked();
  return mem->items;
}

uint64_t MetadataSource::watch_changes(const std::string& dir) {
  std::lock_guard lock(mu_);
  inflight_[dir] = InFlight{};
  return epochs_[std::hash<std::string>{}(dir) % epochs_.size()];
}

void MetadataSource::unwatch_changes(const std::string& dir) {
  std::lock_guard lock(mu_);
  inflight_.erase(dir);
}

void MetadataSource::record_change_locked(const std::string& dir, const std::string& name, std::optional<Item> now) {
  // (bounded: a folder copied into while its listing is read; past this many the answer goes)
  constexpr size_t kMaxRecorded = 10000;
  auto f = inflight_.find(dir);
  if (f == inflight_.end() || f->second.unknown) return;
  if (f->second.changes.size() >= kMaxRecorded) {
    f->second.unknown = true;
    f->second.changes.clear();
    return;
  }
  f->second.changes.emplace_back(name, std::move(now));
}

void MetadataSource::mark_unknown_locked(const std::string& path, bool below) {
  for (auto& [dir, f] : inflight_)
    if (dir == path || (below && is_same_or_under(dir, path))) f.unknown = true;
}

std::shared_ptr<std::mutex> MetadataSource::fetch_lock(const std::string& dir) {
  std::lock_guard lock(mu_);
  auto& m = fetch_locks_[dir];
  if (!m) m = std::make_shared<std::mutex>();
  if (fetch_locks_.size() > 4096) {  // drop locks nobody holds
    for (auto it = fetch_locks_.begin(); it != fetch_locks_.end();)
      it = it->second.use_count() == 1 && it->first != dir ? fetch_locks_.erase(it) : std::next(it);
  }
  return m;
}

Result<PackedItems> MetadataSource::fetch_all(const std::string& dir) {
  ListingFetch how;
  how.page_size = page_size_;
  how.streams = listing_streams_;
  how.keep = [](const Item& item) { return !is_platform_private(item); };
  how.pages = &counters_.remote_list_pages;
  return fetch_listing(remote_, dir, how);
}

Result<Listing> MetadataSource::listing(const std::string& dir) {
  int64_t at = 0;
  if (auto items = memory_items(dir, &at); items && is_fresh(at)) {
    ++counters_.listing_memory_hits;
    return Listing{items, at, false, {}};
  }
  auto lock_holder = fetch_lock(dir);
  std::lock_guard fetching(*lock_holder);
  // Another thread may have refetched while we waited.
  auto mem = memory_items(dir, &at);
  if (mem && is_fresh(at)) {
    ++counters_.listing_memory_hits;
    return Listing{mem, at, false, {}};
  }
  // The epoch is read before the cache: a listing read from the cache while the mount learns
  // an item of `dir` would otherwise go into memory without it (and answer its absence) — or,
  // now, with it replayed.
  uint64_t epoch = watch_changes(dir);
  struct Unwatch {
    MetadataSource& source;
    const std::string& dir;
    ~Unwatch() { source.unwatch_changes(dir); }
  } unwatch{*this, dir};
  std::optional<CachedListing> cached;
  if (cache_) cached = cache_->get_listing(dir);
  if (cached && is_fresh(cached->fetched_ms)) {
    ++counters_.listing_cache_hits;
    int64_t cached_at = cached->fetched_ms;
    return Listing{remember(dir, std::move(cached->items), cached_at, epoch), cached_at, false, {}};
  }

  // What the mount has, of any age (mem or cached: one of them is there).
  auto serve_stale = [&] {
    ++counters_.stale_served;
    if (mem) return Listing{mem, at, false, {}};
    int64_t cached_at = cached->fetched_ms;
    return Listing{remember(dir, std::move(cached->items), cached_at, epoch), cached_at, false, {}};
  };
  if ((mem || cached) && remote_.server_away()) return serve_stale();  // not waited on
  ++counters_.listing_fetches;
  epoch = epoch_of(dir);
  auto fetched = fetch_all(dir);
  if (!fetched) {
    int err = fetched.err();
    if (err == ENOENT || err == ENOTDIR) {
      if (cache_) (void)cache_->forget_listing(dir);
      return fetched.status();
    }
    // Offline or failing remote: a stale listing beats an error.
    if (!mem && !cached) return fetched.status();
    spdlog::warn("listing {}: {}; serving the cached listing", dir, fetched.status().to_string());
    return serve_stale();
  }

  Listing out;
  out.refetched = true;
  out.fetched_ms = clock_.now_ms();
  const PackedItems* previous = mem ? mem.get() : cached ? &cached->items : nullptr;
  if (previous) {
    std::unordered_set<std::string_view> now_ids;
    now_ids.reserve(fetched->size());
    for (size_t i = 0; i < fetched->size(); ++i) now_ids.insert(fetched->id(i));
    for (size_t i = 0; i < previous->size(); ++i)
      if (!now_ids.count(previous->id(i)))
        if (auto old = previous->item(i)) out.removed.push_back(std::move(old).value());
  }
  // An answer that raced with a change is still this call's answer, but is not kept (and so
  // does not count as fresh for the next caller), nor stored.
  out.items = remember(dir, std::move(fetched).value(), out.fetched_ms, epoch);
  if (writer_ && epoch_of(dir) == epoch) writer_->store(dir, out.items, epoch, out.fetched_ms);
  // Kept with the mount's changes made meanwhile replayed: the answer has them too.
  if (int64_t kept_at = 0; auto now = memory_items(dir, &kept_at)) {
    if (kept_at == out.fetched_ms) out.items = std::move(now);
  }
  return out;
}

Result<FetchedItem> MetadataSource::item(const std::string& path) {
  if (path == "/.dataloop" || is_same_or_under(path, "/.dataloop"))
    return Status(ENOENT, "no such file: " + path);
  auto no_such = [&] {
    ++counters_.negative_hits;
    return Status(ENOENT, "no such file: " + path);
  };
  std::string dir = parent_path(path), name = base_name(path);
  // A fresh listing of the parent answers presence and absence alike.
  if (auto mem = memory_lookup(dir, name, true)) {
    if (!mem->item) return no_such();
    return FetchedItem{std::move(*mem->item), mem->fetched_ms};
  }
  std::optional<CachedItem> cached;
  if (cache_) cached = cache_->get_item(path);
  if (cached && is_fresh(cached->fetched_ms)) {
    ++counters_.item_cache_hits;
    if (is_platform_private(cached->item)) return Status(ENOENT, "no such file: " + path);
    return FetchedItem{std::move(cached->item), cached->fetched_ms};
  }
  // A server known away is not waited on where the mount knows an answer.
  if (remote_.server_away())
    if (auto known = known_item(path, cached)) {
      ++counters_.stale_served;
      return std::move(*known);
    }
  ++counters_.remote_gets;
  uint64_t epoch = epoch_of(path);
  auto got = remote_.get(path);
  if (!got) {
    if (got.err() == ENOENT) {
      if (cache_ && cached) (void)cache_->forget_item(path);
      return got.status();
    }
    auto known = known_item(path, cached);
    if (!known) return got.status();
    ++counters_.stale_served;
    spdlog::debug("item {}: {}; answering from what the mount knows", path, got.status().to_string());
    return std::move(*known);
  }
  if (is_platform_private(*got)) return Status(ENOENT, "no such file: " + path);
  if (cache_ && epoch_of(path) == epoch) {
    Status s = cache_->put_item(*got);
    if (!s) spdlog::warn("cache: storing item {}: {}", path, s.to_string());
    if (epoch_of(path) != epoch) (void)cache_->forget_item(path);  // changed while storing
  }
  return FetchedItem{std::move(got).value(), clock_.now_ms()};
}

std::optional<Result<FetchedItem>> MetadataSource::known_item(const std::string& path,
                                                             const std::optional<CachedItem>& cached) {
  // What this mount knows, of any age: the parent's listing in memory (which has the mount's own
  // changes), the item cached, the parent's listing cached.
  std::string dir = parent_path(path), name = base_name(path);
  std::optional<FetchedItem> stale;
  bool absent = false;
  if (auto mem = memory_lookup(dir, name, false)) {
    if (mem->item) stale = FetchedItem{std::move(*mem->item), mem->fetched_ms};
    else absent = true;
  } else if (cached) {
    stale = FetchedItem{cached->item, cached->fetched_ms};
  } else if (auto listing = cache_ ? cache_->get_listing(dir) : std::nullopt) {
    absent = true;
    for (size_t i = 0; i < listing->items.size() && absent; ++i) {
      if (listing->items.name(i) != name) continue;
      absent = false;
      auto item = listing->items.item(i);
      if (!item) return std::nullopt;
      stale = FetchedItem{std::move(item).value(), listing->fetched_ms};
    }
  }
  if (!stale && !absent) return std::nullopt;
  if (absent || is_platform_private(stale->item)) return Result<FetchedItem>(Status(ENOENT, "no such file: " + path));
  return Result<FetchedItem>(std::move(*stale));
}

// Order of a change: the cache's old entries go, then the epochs are bumped, then the cache's
// entries go again. A listing read from the cache between the first two is taken under the old
// epoch and not kept; one read after the bump finds the cache without the old entry (bumping
// first let a listing read from the cache just after the bump go into memory without the
// change). A listing the writer stored after the first went and checked before the bump (its
// checks all passed) goes with the second; one it stores after the second sees the bump in its
// last check and takes itself out.

void MetadataSource::forget(const std::string& path) {
  if (cache_) (void)cache_->forget_item(path);
  if (change_hook_) change_hook_();
  {
    std::lock_guard lock(mu_);
    for (const std::string& dir : {parent_path(path), path}) {
      bump_epoch(dir);
      mark_unknown_locked(dir, false);
      if (auto it = memory_.find(dir); it != memory_.end()) drop_locked(it);
    }
  }
  if (cache_) (void)cache_->forget_item(path);
}

void MetadataSource::age_cached(const std::string& path) {
  if (!cache_) return;
  if (ttl_ms_ < 0) (void)cache_->forget_item(path);
  else (void)cache_->age_item(path);
}

void MetadataSource::learned(const Item& item) {
  std::string dir = parent_path(item.filename);
  // The cached listing of the parent would miss it: the one in memory has it.
  if (cache_) (void)cache_->forget_listing(dir);
  if (change_hook_) change_hook_();
  {
    std::lock_guard lock(mu_);
    bump_epoch(dir);
    bump_epoch(item.filename);
    record_change_locked(dir, item.name, is_platform_private(item) ? std::nullopt : std::optional<Item>(item));
    if (auto it = memory_.find(dir); it != memory_.end()) {
      auto mem = it->second;  // (held while the change evicts others; this one was just used)
      if (is_platform_private(item)) change_locked(*mem, item.name, std::nullopt);
      else change_locked(*mem, item.name, item);
    }
  }
  if (!cache_) return;
  if (item.hidden) (void)cache_->forget_listing(dir);
  else (void)cache_->put_changed_item(item);
}

void MetadataSource::removed(const std::string& path) {
  if (cache_) (void)cache_->forget_item(path);  // its parent's listing and its own go too
  if (change_hook_) change_hook_();
  {
    std::lock_guard lock(mu_);
    bump_epoch(parent_path(path));
    bump_epoch(path);
    record_change_locked(parent_path(path), base_name(path), std::nullopt);
    mark_unknown_locked(path, true);  // (its listings are dropped below)
    if (auto it = memory_.find(parent_path(path)); it != memory_.end()) {
      auto mem = it->second;
      change_locked(*mem, base_name(path), std::nullopt);
    }
    for (auto it = memory_.begin(); it != memory_.end();) {
      if (is_same_or_under(it->first, path)) {
        bump_epoch(it->first);
        auto gone = it++;
        drop_locked(gone);
      } else {
        ++it;
      }
    }
  }
  if (cache_) (void)cache_->forget_item(path);
}

void MetadataSource::made_dir(const Item& dir) {
  learned(dir);
  known_empty(dir.filename);
}

void MetadataSource::known_empty(const std::string& dir) { remember(dir, PackedItems(), clock_.now_ms()); }

Result<std::string> MetadataSource::thumbnail(const Item& item) {
  // Keyed by the thumbnail's own id when known, so a new thumbnail is never shadowed by an old.
  auto tid = item.system().find("thumbnailId");
  std::string key = tid != item.system().end() && tid->is_string() ? tid->get<std::string>() : item.id;
  if (cache_)
    if (auto jpeg = cache_->get_thumbnail(key)) return std::move(*jpeg);
  ++counters_.remote_thumbnails;
  DLFS_ASSIGN(std::string jpeg, remote_.thumbnail(item));
  if (cache_) {
    Status s = cache_->put_thumbnail(key, jpeg);
    if (!s) spdlog::warn("cache: storing thumbnail of {}: {}", item.filename, s.to_string());
  }
  return jpeg;
}

}  // namespace dlfs
