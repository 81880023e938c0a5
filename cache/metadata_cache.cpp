#include "cache/metadata_cache.h"

#include "cache/cache_env.h"

#include <lmdb.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/item_pack.h"
#include "core/paths.h"

// On-disk layout (one LMDB environment, named databases):
//   meta      "version" -> kCacheFormatVersion as decimal text; "max_bytes" -> decimal text
//   listings  dir path  -> record whose payload is u32 count, then per item u32 length, u8 flags
//                          (1: a folder) and the packed item (core/item_pack.h)
//   items     item path -> record whose payload is the packed item
//   thumbs    item id   -> record whose payload is the JPEG bytes
//   access    kind + key                    -> u64 big-endian last-access ms
//   lru       u64 big-endian ms + kind + key -> "" (so a cursor walks entries oldest first)
// A record is: magic u8, kind u8, fetched_ms i64 LE, key length u32 LE, checksum u32 LE (over
// key and payload), the original key, the payload. Keys longer than LMDB's 511-byte limit are
// shortened with a hash; the original key inside the record tells a collision from a hit.

namespace dlfs {

using namespace cache_env;

namespace {

constexpr int64_t kTouchIntervalMs = 60'000;  // an entry's access stamp moves at most this often
constexpr size_t kMaxPendingTouches = 100'000;
constexpr size_t kMaxDirectKey = 400;
constexpr uint8_t kRecordMagic = 0xD1;
constexpr size_t kHeaderBytes = 18;

uint64_t fnv1a64(std::string_view data, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string hex(uint64_t v, int digits) {
  static const char* d = "0123456789abcdef";
  std::string out(size_t(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) out[size_t(i)] = d[v & 15];
  return out;
}

std::string be64(int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v = int64_t(uint64_t(v) >> 8)) out[size_t(i)] = char(v & 0xff);
  return out;
}

int64_t from_be64(const void* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<const unsigned char*>(p)[i];
  return int64_t(v);
}

template <typename T>
void put_le(char* out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out[i] = char((uint64_t(v) >> (8 * i)) & 0xff);
}

template <typename T>
T get_le(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t(static_cast<unsigned char>(p[i])) << (8 * i);
  return T(v);
}

// The LMDB key for a path or id: itself, or a prefix plus a hash when too long for LMDB.
std::string db_key(std::string_view key) {
  if (key.size() <= kMaxDirectKey) return std::string(key);
  return std::string(key.substr(0, 300)) + '\0' + hex(fnv1a64(key), 16);  // paths never hold NUL
}

MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

uint32_t checksum(std::string_view key, std::string_view payload) {
  uint64_t h = fnv1a64(payload, fnv1a64(key));
  return uint32_t(h ^ (h >> 32));
}

size_t record_size(std::string_view key, size_t payload) { return kHeaderBytes + key.size() + payload; }

// A record's header and key, its payload being in place already (after them).
void write_header(char* out, char kind, int64_t ms, std::string_view key, std::string_view payload) {
  out[0] = char(kRecordMagic);
  out[1] = kind;
  put_le<int64_t>(out + 2, ms);
  put_le<uint32_t>(out + 10, uint32_t(key.size()));
  put_le<uint32_t>(out + 14, checksum(key, payload));
  std::memcpy(out + kHeaderBytes, key.data(), key.size());
}

bool read_record(std::string_view rec, char kind, std::string_view key, int64_t& ms, std::string_view& payload) {
  if (rec.size() < kHeaderBytes || uint8_t(rec[0]) != kRecordMagic || rec[1] != kind) return false;
  uint32_t key_len = get_le<uint32_t>(rec.data() + 10);
  if (key_len != key.size() || rec.size() - kHeaderBytes < key_len) return false;
  if (rec.substr(kHeaderBytes, key_len) != key) return false;
  payload = rec.substr(kHeaderBytes + key_len);
  if (checksum(key, payload) != get_le<uint32_t>(rec.data() + 14)) return false;
  ms = get_le<int64_t>(rec.data() + 2);
  return true;
}

Status check_key(std::string_view key) {
  if (key.empty() || key == "." || key == ".." || key.size() > kMaxNameBytes ||
      key.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos)
    return Status(EINVAL, "invalid cache key '" + std::string(key) + "'");
  return {};
}

}  // namespace

struct MetadataCache::Impl {
  std::shared_ptr<Env> env;
  std::string path;
  uint64_t max_bytes = 0;
  const Clock* clock = nullptr;
  std::mutex touch_mu;
  std::unordered_map<std::string, int64_t> touches;  // kind + db key -> access time to record

  Status error(int rc, const char* what) {
    if (is_corruption(rc)) env->mark_broken(rc);
    int err = rc == MDB_MAP_FULL ? ENOSPC : rc > 0 ? rc : EIO;
    return Status(err, std::string("cache: cannot ") + what, describe(rc));
  }

  uint64_t used_bytes(MDB_txn* txn) { return cache_env::used_bytes(txn, *env); }

  // Moves an entry's access stamp to `ms` (old: its current stamp, or -1).
  int set_access(MDB_txn* txn, const std::string& akey, int64_t ms, int64_t old) {
    int rc;
    if (old >= 0) {
      std::string old_lkey = be64(old) + akey;
      MDB_val lk = val(old_lkey);
      if ((rc = mdb_del(txn, env->lru, &lk, nullptr)) && rc != MDB_NOTFOUND) return rc;
    }
    std::string lkey = be64(ms) + akey, stamp = be64(ms);
    MDB_val lk = val(lkey), empty{0, nullptr}, ak = val(akey), av = val(stamp);
    if ((rc = mdb_put(txn, env->lru, &lk, &empty, 0))) return rc;
    return mdb_put(txn, env->access, &ak, &av, 0);
  }

  int64_t get_access(MDB_txn* txn, const std::string& akey, int* rc_out = nullptr) {
    MDB_val k = val(akey), v;
    int rc = mdb_get(txn, env->access, &k, &v);
    if (rc_out) *rc_out = rc == MDB_NOTFOUND ? 0 : rc;
    return rc == 0 && v.mv_size == 8 ? from_be64(v.mv_data) : -1;
  }

  int put_entry(MDB_txn* txn, char kind, std::string_view key, int64_t ms, std::string_view payload) {
    return put_entry_with(txn, kind, key, ms, payload.size(), [&](char* out) {
      if (!payload.empty()) std::memcpy(out, payload.data(), payload.size());
    });
  }

  // A record whose `size` bytes of payload `fill` writes in place (a listing of 100,000 items
  // is not assembled in memory first).
  template <typename Fill>
  int put_entry_with(MDB_txn* txn, char kind, std::string_view key, int64_t ms, size_t size, Fill&& fill) {
    std::string k = db_key(key), akey = kind + k;
    MDB_val kv = val(k), v{record_size(key, size), nullptr};
    int rc = mdb_put(txn, env->dbi(kind), &kv, &v, MDB_RESERVE);  // write straight into the map
    if (rc) return rc;
    char* out = static_cast<char*>(v.mv_data);
    fill(out + kHeaderBytes + key.size());
    write_header(out, kind, ms, key, std::string_view(out + kHeaderBytes + key.size(), size));
    int64_t old = get_access(txn, akey, &rc);
    return rc ? rc : set_access(txn, akey, ms, old);
  }

  int erase_entry(MDB_txn* txn, char kind, std::string_view key) { return erase_db_key(txn, kind, db_key(key)); }

  // Rewrites an entry's fetched stamp (not covered by the checksum), if there is one.
  int restamp(MDB_txn* txn, char kind, std::string_view key, int64_t ms) {
    std::string k = db_key(key);
    MDB_val kv = val(k), v;
    int rc = mdb_get(txn, env->dbi(kind), &kv, &v);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc) return rc;
    std::string rec(view(v));
    if (rec.size() < kHeaderBytes) return 0;  // (a bad record: read() drops it)
    put_le<int64_t>(rec.data() + 2, ms);
    MDB_val nv = val(rec);
    return mdb_put(txn, env->dbi(kind), &kv, &nv, 0);
  }

  // Erases every entry of `kind` whose path is below `dir`. Keys are paths (sorted), so they sit
  // together from dir + "/" on; a shortened long key keeps its first 300 bytes, so a prefix that
  // long is cut to match (erasing a few more than needed is harmless in a cache).
  int erase_below(MDB_txn* txn, char kind, std::string_view dir) {
    std::string prefix = std::string(dir) + (dir.ends_with('/') ? "" : "/");
    if (prefix.size() > 300) prefix.resize(300);
    std::vector<std::string> doomed;
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, env->dbi(kind), &cur);
    if (rc) return rc;
    MDB_val k = val(prefix), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && view(k).starts_with(prefix);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
      doomed.emplace_back(view(k));
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) return rc;
    for (const auto& key : doomed)
      if ((rc = erase_db_key(txn, kind, key))) return rc;
    return 0;
  }

  int erase_db_key(MDB_txn* txn, char kind, const std::string& k) {
    std::string akey = kind + k;
    MDB_val kv = val(k);
    int rc = mdb_del(txn, env->dbi(kind), &kv, nullptr);
    if (rc && rc != MDB_NOTFOUND) return rc;
    int64_t old = get_access(txn, akey, &rc);
    if (rc || old < 0) return rc;
    std::string lkey = be64(old) + akey;
    MDB_val lk = val(lkey), ak = val(akey);
    if ((rc = mdb_del(txn, env->lru, &lk, nullptr)) && rc != MDB_NOTFOUND) return rc;
    rc = mdb_del(txn, env->access, &ak, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
  }

  // Evicts least recently used entries until the live pages fit in `target` bytes.
  int evict_to(MDB_txn* txn, uint64_t target) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, env->lru, &cur);
    size_t evicted = 0;
    while (rc == 0 && used_bytes(txn) > target) {
      MDB_val k, v;
      if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST))) break;
      std::string lkey(view(k));  // copy: the delete below invalidates k
      if ((rc = mdb_cursor_del(cur, 0))) break;
      if (lkey.size() < 10) continue;
      std::string akey = lkey.substr(8);
      MDB_val dk = val(std::string_view(akey).substr(1)), ak = val(akey);
      char kind = akey[0];
      if (kind == kListing || kind == kItem || kind == kThumb)
        if ((rc = mdb_del(txn, env->dbi(kind), &dk, nullptr)) && rc != MDB_NOTFOUND) break;
      if ((rc = mdb_del(txn, env->access, &ak, nullptr)) && rc != MDB_NOTFOUND) break;
      rc = 0;
      ++evicted;
    }
    if (cur) mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) rc = 0;  // nothing left to evict
    if (evicted) spdlog::debug("cache {}: evicted {} entries", path, evicted);
    return rc;
  }

  int apply_touches(MDB_txn* txn, const std::unordered_map<std::string, int64_t>& pending) {
    for (const auto& [akey, ms] : pending) {
      int rc;
      int64_t old = get_access(txn, akey, &rc);
      if (rc) return rc;
      if (old >= ms) continue;
      if (old < 0) {  // no stamp: only (re)create one for an entry that still exists
        MDB_val dk = val(std::string_view(akey).substr(1)), v;
        if ((rc = mdb_get(txn, env->dbi(akey[0]), &dk, &v)) == MDB_NOTFOUND) continue;
        if (rc) return rc;
      }
      if ((rc = set_access(txn, akey, ms, old))) return rc;
    }
    return 0;
  }

  std::unordered_map<std::string, int64_t> take_touches() {
    std::lock_guard lock(touch_mu);
    return std::exchange(touches, {});
  }

  // Runs fn in a write transaction, then evicts down to 90% of max_bytes if over it, and
  // commits. On MDB_MAP_FULL: clears stale readers, frees half the space, and retries.
  template <typename Fn>
  Status write(const char* what, Fn&& fn) {
    if (env->broken) return Status(EIO, "cache: disabled after finding it corrupt");
    auto pending = take_touches();
    int rc = 0;
    for (int attempt = 0; attempt < 3; ++attempt) {
      {
        Txn txn;
        rc = txn.begin(*env, true);
        if (rc == 0) rc = apply_touches(txn, pending);
        if (rc == 0) rc = fn(txn);
        if (rc == 0 && used_bytes(txn) > max_bytes) rc = evict_to(txn, max_bytes / 10 * 9);
        if (rc == 0) rc = txn.commit();
      }
      if (rc != MDB_MAP_FULL) break;
      make_room();
    }
    return rc ? error(rc, what) : Status();
  }

  void make_room() {
    int dead = 0, rc;
    mdb_reader_check(env->env, &dead);
    {
      Txn txn;
      if (!(rc = txn.begin(*env, true)) && !(rc = evict_to(txn, used_bytes(txn) / 2))) rc = txn.commit();
    }
    if (rc == 0) return;
    spdlog::warn("cache {}: map full and eviction failed ({}); emptying it", path, mdb_strerror(rc));
    Txn txn;
    if ((rc = txn.begin(*env, true))) return;
    for (MDB_dbi dbi : {env->listings, env->items, env->thumbs, env->access, env->lru})
      if ((rc = mdb_drop(txn, dbi, 0))) return;
    txn.commit();
  }

  // Looks one entry up and hands its payload to decode (inside the read transaction: the
  // payload points into the map). A value that fails to decode is deleted and is a miss.
  template <typename Decode>
  std::optional<int64_t> read(char kind, std::string_view key, Decode&& decode) {
    if (key.empty() || env->broken) return std::nullopt;
    std::string k = db_key(key);
    int64_t fetched = 0, access = -1;
    bool bad = false;
    {
      Txn txn;
      int rc = txn.begin(*env, false);
      MDB_val kv = val(k), v;
      if (rc == 0) rc = mdb_get(txn, env->dbi(kind), &kv, &v);
      if (rc) {
        if (rc != MDB_NOTFOUND) error(rc, "read");
        return std::nullopt;
      }
      std::string_view payload;
      bad = !read_record(view(v), kind, key, fetched, payload) || !decode(payload);
      if (!bad) access = get_access(txn, kind + k);
    }
    if (bad) {
      spdlog::warn("cache {}: dropping an undecodable entry for '{}'", path, key);
      write("drop a bad entry", [&](MDB_txn* txn) { return erase_entry(txn, kind, key); });
      return std::nullopt;
    }
    int64_t now = clock->now_ms();
    if (now - access >= kTouchIntervalMs) {
      std::lock_guard lock(touch_mu);
      if (touches.size() < kMaxPendingTouches) touches[kind + k] = now;
    }
    return fetched;
  }
};

namespace {

constexpr uint8_t kFolderFlag = 1;
// A listing's items are stored in transactions of this many (see put_listing).
constexpr size_t kItemsPerWrite = 2048;

std::optional<Item> decode_item(std::string_view bytes) {
  auto item = unpack_item(bytes);
  if (!item) return std::nullopt;
  return std::move(item).value();
}

}  // namespace

std::string cache_key(std::string_view source, std::string_view dataset_id) {
  std::string id;
  bool changed = dataset_id.size() > 200 || dataset_id.empty();
  for (char c : dataset_id.substr(0, 200)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
    id += ok ? c : '_';
    changed |= !ok;
  }
  if (id.empty()) id = "_";
  uint64_t h = fnv1a64(source);
  if (changed) h = fnv1a64(dataset_id, fnv1a64(std::string_view("\0", 1), h));
  return id + "-" + hex(uint32_t(h ^ (h >> 32)), 8);
}

std::string dataset_id_of_key(std::string_view key) {
  if (key.size() < 10 || key[key.size() - 9] != '-') return {};
  for (char c : key.substr(key.size() - 8))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  return std::string(key.substr(0, key.size() - 9));
}

Status ensure_private_dir(const std::string& dir) {
  if (dir.empty()) return Status(EINVAL, "empty cache directory");
  for (size_t pos = 1; pos <= dir.size(); ++pos) {  // mkdir -p, every new part 0700
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return Status(errno, "cannot create the cache directory " + part, std::strerror(errno));
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status(errno, "cannot stat " + dir, std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return Status(ENOTDIR, dir + " is not a directory");
  if ((st.st_mode & 07777) != 0700 && ::chmod(dir.c_str(), 0700) != 0)
    return Status(errno, "cannot make " + dir + " private (mode 0700)", std::strerror(errno));
  return {};
}

MetadataCache::MetadataCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetadataCache::~MetadataCache() {
  Status s = flush_access();
  if (!s) spdlog::debug("cache {}: {}", impl_->path, s.to_string());
}

Result<std::unique_ptr<MetadataCache>> MetadataCache::open(const CacheOptions& options) {
  DLFS_TRY(check_key(options.key));
  if (options.max_bytes == 0) return Status(EINVAL, "cache: max_bytes must be positive");
  DLFS_TRY(ensure_private_dir(options.dir));
  std::string path = options.dir + (options.dir.back() == '/' ? "" : "/") + options.key;
  DLFS_TRY(ensure_private_dir(path));
  // One registry entry per directory, however it is spelled.
  if (char* real = ::realpath(path.c_str(), nullptr)) {
    path = real;
    std::free(real);
  }
  uint64_t map_bytes = options.map_bytes ? options.map_bytes : 2 * options.max_bytes + (64ull << 20);
  auto impl = std::make_unique<Impl>();
  DLFS_ASSIGN(impl->env, cache_env::acquire(path, map_bytes, options.max_bytes));
  impl->path = path;
  impl->max_bytes = options.max_bytes;
  impl->clock = options.clock ? options.clock : &SystemClock::instance();
  return std::unique_ptr<MetadataCache>(new MetadataCache(std::move(impl)));
}

const std::string& MetadataCache::path() const { return impl_->path; }

Status MetadataCache::put_listing(std::string_view dir, const std::vector<Item>& items) {
  return put_listing(dir, PackedItems(items));
}

Status MetadataCache::put_listing(std::string_view dir, const PackedItems& items, std::optional<int64_t> fetched_ms) {
  if (dir.empty()) return Status(EINVAL, "cache: empty folder path");
  int64_t now = fetched_ms.value_or(impl_->clock->now_ms());
  uint64_t limit = impl_->max_bytes / 4;
  // The listing's record: u32 count, then per item u32 length, u8 flags and its packed bytes,
  // written in place (not assembled in memory first).
  size_t bytes = 4;
  for (size_t i = 0; i < items.size(); ++i) bytes += 5 + items.packed(i).size();
  bool fits = record_size(dir, bytes) <= limit;
  DLFS_TRY(impl_->write("store a listing", [&](MDB_txn* txn) {
    if (!fits) return impl_->erase_entry(txn, kListing, dir);
    return impl_->put_entry_with(txn, kListing, dir, now, bytes, [&](char* out) {
      put_le<uint32_t>(out, uint32_t(items.size()));
      out += 4;
      for (size_t i = 0; i < items.size(); ++i) {
        std::string_view packed = items.packed(i);
        put_le<uint32_t>(out, uint32_t(packed.size() + 1));
        out[4] = char(items.is_dir(i) ? kFolderFlag : 0);
        std::memcpy(out + 5, packed.data(), packed.size());
        out += 5 + packed.size();
      }
    });
  }));
  // Then each item's own record, in path order and in transactions of kItemsPerWrite. LMDB keeps
  // the buffers of a transaction's dirty pages for the next one and never frees them: one
  // transaction of 100,000 items left ~60 MB of anonymous memory held for the mount's life. In
  // path order, each transaction adds to the end of the keys the one before wrote, so it does not
  // read back (map in) the pages the others wrote. (A crash between two leaves items without a
  // record of their own: they are asked again, as any item not cached.)
  std::vector<std::pair<std::string_view, std::string_view>> order;  // (path, packed item)
  order.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    std::string_view packed = items.packed(i), path = packed_item_filename(packed);
    if (!path.empty() && record_size(path, packed.size()) <= limit) order.emplace_back(path, packed);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t from = 0; from < order.size(); from += kItemsPerWrite) {
    size_t to = std::min(order.size(), from + kItemsPerWrite);
    DLFS_TRY(impl_->write("store a listing's items", [&](MDB_txn* txn) {
      int rc = 0;
      for (size_t k = from; k < to && rc == 0; ++k) rc = impl_->put_entry(txn, kItem, order[k].first, now, order[k].second);
      return rc;
    }));
  }
  if (!fits) return Status(EFBIG, "cache: the listing of " + std::string(dir) + " is too large to cache");
  return {};
}

std::optional<CachedListing> MetadataCache::get_listing(std::string_view dir) {
  CachedListing out;
  auto stamp = impl_->read(kListing, dir, [&](std::string_view p) {
    if (p.size() < 4) return false;
    uint32_t count = get_le<uint32_t>(p.data());
    if (count > p.size() / 5) return false;
    out.items.reserve(count);
    for (size_t at = 4; count-- > 0;) {
      if (p.size() - at < 4) return false;
      size_t len = get_le<uint32_t>(p.data() + at);
      if (len < 1 || p.size() - at - 4 < len) return false;
      uint8_t flags = uint8_t(p[at + 4]);
      // (the record's checksum vouches for the bytes: they are kept packed, not decoded)
      if (!out.items.add_packed(std::string(p.substr(at + 5, len - 1)), flags & kFolderFlag)) return false;
      at += 4 + len;
    }
    return true;
  });
  if (!stamp) return std::nullopt;
  out.fetched_ms = *stamp;
  return out;
}

Status MetadataCache::put_item(const Item& item) { return put_item(item, false); }

Status MetadataCache::put_changed_item(const Item& item) { return put_item(item, true); }

Status MetadataCache::put_item(const Item& item, bool forget_parent_listing) {
  if (item.filename.empty()) return Status(EINVAL, "cache: item without a path");
  std::string payload = pack_item(item), parent = parent_path(item.filename);
  bool fits = record_size(item.filename, payload.size()) <= impl_->max_bytes / 4;
  int64_t now = impl_->clock->now_ms();
  DLFS_TRY(impl_->write("store an item", [&](MDB_txn* txn) {
    int rc = forget_parent_listing && !parent.empty() ? impl_->erase_entry(txn, kListing, parent) : 0;
    if (rc == 0) rc = fits ? impl_->put_entry(txn, kItem, item.filename, now, payload) : impl_->erase_entry(txn, kItem, item.filename);
    return rc;
  }));
  if (!fits) return Status(EFBIG, "cache: item " + item.filename + " is too large to cache");
  return {};
}

std::optional<CachedItem> MetadataCache::get_item(std::string_view path) {
  std::optional<Item> item;
  auto stamp = impl_->read(kItem, path, [&](std::string_view p) { return (item = decode_item(p)).has_value(); });
  if (!stamp) return std::nullopt;
  return CachedItem{std::move(*item), *stamp};
}

Status MetadataCache::forget_item(std::string_view path) {
  if (path.empty()) return Status(EINVAL, "cache: empty path");
  std::string parent = parent_path(path);
  return impl_->write("forget an item", [&](MDB_txn* txn) {
    int rc = impl_->erase_entry(txn, kItem, path);
    if (rc == 0 && !parent.empty()) rc = impl_->erase_entry(txn, kListing, parent);
    if (rc == 0) rc = impl_->erase_entry(txn, kListing, path);
    // A folder moved or removed: what was cached below it must not answer for the path later
    // (after a remount, before any listing of its parent is in memory).
    if (rc == 0) rc = impl_->erase_below(txn, kItem, path);
    return rc ? rc : impl_->erase_below(txn, kListing, path);
  });
}

Status MetadataCache::age_item(std::string_view path) {
  if (path.empty()) return Status(EINVAL, "cache: empty path");
  std::string parent = parent_path(path);
  return impl_->write("age an item", [&](MDB_txn* txn) {
    int rc = impl_->restamp(txn, kItem, path, 0);
    return rc == 0 && !parent.empty() ? impl_->restamp(txn, kListing, parent, 0) : rc;
  });
}

Status MetadataCache::forget_listing(std::string_view dir) {
  if (dir.empty()) return Status(EINVAL, "cache: empty folder path");
  return impl_->write("forget a listing", [&](MDB_txn* txn) { return impl_->erase_entry(txn, kListing, dir); });
}

Status MetadataCache::put_thumbnail(std::string_view item_id, std::string_view jpeg) {
  if (item_id.empty()) return Status(EINVAL, "cache: empty item id");
  if (record_size(item_id, jpeg.size()) > impl_->max_bytes / 4)
    return Status(EFBIG, "cache: thumbnail of " + std::string(item_id) + " is too large to cache");
  int64_t now = impl_->clock->now_ms();
  return impl_->write("store a thumbnail",
                      [&](MDB_txn* txn) { return impl_->put_entry(txn, kThumb, item_id, now, jpeg); });
}

std::optional<std::string> MetadataCache::get_thumbnail(std::string_view item_id) {
  std::string out;
  auto stamp = impl_->read(kThumb, item_id, [&](std::string_view p) {
    out.assign(p);
    return true;
  });
  if (!stamp) return std::nullopt;
  return out;
}

Status MetadataCache::forget_thumbnail(std::string_view item_id) {
  if (item_id.empty()) return Status(EINVAL, "cache: empty item id");
  return impl_->write("forget a thumbnail",
                      [&](MDB_txn* txn) { return impl_->erase_entry(txn, kThumb, item_id); });
}

CacheStats MetadataCache::stats() {
  CacheStats out{0, 0, 0, 0, impl_->max_bytes};
  if (impl_->env->broken) return out;
  Txn txn;
  if (int rc = txn.begin(*impl_->env, false)) {
    impl_->error(rc, "read");
    return out;
  }
  MDB_stat st;
  if (mdb_stat(txn, impl_->env->listings, &st) == 0) out.listings = st.ms_entries;
  if (mdb_stat(txn, impl_->env->items, &st) == 0) out.items = st.ms_entries;
  if (mdb_stat(txn, impl_->env->thumbs, &st) == 0) out.thumbnails = st.ms_entries;
  out.bytes_used = impl_->used_bytes(txn);
  return out;
}

Status MetadataCache::clear() {
  impl_->take_touches();
  return impl_->write("clear", [&](MDB_txn* txn) {
    Env& e = *impl_->env;
    for (MDB_dbi dbi : {e.listings, e.items, e.thumbs, e.access, e.lru})
      if (int rc = mdb_drop(txn, dbi, 0)) return rc;
    return 0;
  });
}

Status MetadataCache::flush_access() {
  {
    std::lock_guard lock(impl_->touch_mu);
    if (impl_->touches.empty()) return {};
  }
  return impl_->write("record access times", [](MDB_txn*) { return 0; });
}

}  // namespace dlfs
