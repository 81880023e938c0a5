#include "cache/data_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <vector>

#include <spdlog/spdlog.h>

#include "cache/metadata_cache.h"
#include "core/file_io.h"
#include "core/ids.h"

namespace dlfs {
namespace {

constexpr int64_t kStampEveryMs = 5 * 60 * 1000;  // a hit rewrites the file's mtime this often at most
constexpr size_t kFetchChunk = 4 << 20;

std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    out.emplace_back(e->d_name);
  }
  ::closedir(d);
  return out;
}

int64_t mtime_ms(const struct stat& st) { return int64_t(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000; }

// A file's last use, as its mtime (the clock's: the index compares it with in-memory uses).
void stamp_use(int fd, int64_t ms) {
  struct timespec times[2];
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = ms / 1000;
  times[1].tv_nsec = (ms % 1000) * 1000000;
  ::futimens(fd, times);
}

// Calls `f` with the path of every kept file of one space (<space_dir>/<xx>/<name>) and a
// function that stats it (in its open folder: no walk of the whole path); f answers whether the
// file is kept.
using StatFn = std::function<bool(struct stat&)>;
void for_each_kept(const std::string& space_dir, const std::function<void(std::string path, const StatFn&)>& f) {
  for (const std::string& shard : entries_of(space_dir)) {
    if (shard.size() != 2) continue;  // (stats.json)
    std::string hdir = space_dir + "/" + shard;
    DIR* d = ::opendir(hdir.c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      f(hdir + "/" + e->d_name, [&](struct stat& st) {
        return ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
      });
    }
    ::closedir(d);
  }
}

// The counters summed in a space's stats.json (an object, empty when there is none yet).
json read_stats(int fd) {
  std::string text(4096, '\0');
  auto n = pread_full(fd, 0, std::span<char>(text.data(), text.size()));
  text.resize(n ? *n : 0);
  json stats = json::parse(text, nullptr, false);
  return stats.is_object() ? stats : json::object();
}

uint64_t count_of(const json& stats, const char* name) {
  auto it = stats.find(name);
  return it != stats.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

}  // namespace

DataCacheOptions mount_data_cache(const std::string& cache_dir, std::string_view source, std::string_view dataset_id,
                                  uint64_t max_bytes) {
  DataCacheOptions o;
  o.dir = cache_dir + "/data";
  o.space = cache_key(source, dataset_id);
  o.max_bytes = max_bytes;
  o.max_file_bytes = std::min<uint64_t>(max_bytes / 8, 16ull << 20);
  return o;
}

DataCache::DataCache(DataCacheOptions options) : options_(std::move(options)) {
  max_file_ = options_.max_file_bytes ? options_.max_file_bytes : options_.max_bytes / 8;
}

DataCache::~DataCache() { flush_stats(); }

void DataCache::flush_stats() {
  std::lock_guard lock(stats_mu_);
  uint64_t now[4] = {counters_.hits.load(), counters_.misses.load(), counters_.fills.load(),
                     counters_.fill_bytes.load()};
  uint64_t delta[4];
  bool any = false;
  for (int i = 0; i < 4; ++i) {
    delta[i] = now[i] - flushed_[i];
    any |= delta[i] != 0;
  }
  flushed_ms_ = options_.clock->now_ms();
  if (!any) return;
  std::string path = options_.dir + "/" + options_.space + "/stats.json";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  ::flock(fd, LOCK_EX);
  json stats = read_stats(fd);
  static const char* names[4] = {"hits", "misses", "fills", "fill_bytes"};
  for (int i = 0; i < 4; ++i) stats[names[i]] = count_of(stats, names[i]) + delta[i];
  std::string out = stats.dump();
  if (pwrite_all(fd, 0, out.data(), out.size()) && ::ftruncate(fd, off_t(out.size())) == 0)
    std::copy(now, now + 4, flushed_);
  ::close(fd);  // (drops the lock)
}

void DataCache::flush_stats_every_while() {
  constexpr int64_t kFlushMs = 30'000;
  if (options_.clock->now_ms() - flushed_ms_.load(std::memory_order_relaxed) >= kFlushMs) flush_stats();
}

Result<std::unique_ptr<DataCache>> DataCache::open(DataCacheOptions options) {
  if (options.dir.empty() || options.space.empty()) return Status(EINVAL, "the data cache needs a folder and a space");
  DLFS_TRY(ensure_private_dir(options.dir));
  DLFS_TRY(ensure_private_dir(options.dir + "/tmp"));
  DLFS_TRY(ensure_private_dir(options.dir + "/" + options.space));
  std::unique_ptr<DataCache> cache(new DataCache(std::move(options)));
  cache->scan();
  cache->scanned_ms_ = cache->options_.clock->now_ms();
  return cache;
}

std::string DataCache::path_of(const Item& item) const {
  // The version of the bytes: the platform's etag where the item has one (it changes with the
  // bytes only), else its updatedAt (which changes with its metadata too: a needless fetch, never
  // a stale answer).
  std::string version = item.id;
  version.push_back('\0');
  std::string etag = item.etag();
  version += etag.empty() ? "t" + std::to_string(item.updated_ms) : "e" + etag;
  version.push_back('\0');
  version += std::to_string(item.size());
  std::string name = sha256_hex(version, 32);
  return options_.dir + "/" + options_.space + "/" + name.substr(0, 2) + "/" + name;
}

void DataCache::scan() {
  std::unordered_map<std::string, Entry> index;
  uint64_t total = 0;
  // Temp files are <pid>.<n>: those of a process that is gone were left by a crash.
  std::string tmp = options_.dir + "/tmp";
  for (const std::string& name : entries_of(tmp)) {
    pid_t pid = pid_t(std::strtol(name.c_str(), nullptr, 10));
    if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) ::unlink((tmp + "/" + name).c_str());
  }
  // A file the index knows is not looked at again: a name is one version of one item's bytes,
  // never rewritten, so its size is known; only its mtime (another mount's use) may be newer, and
  // make_room looks at that before evicting it. (Stat'ing every file made the rescans during a
  // cold epoch ~7% of the mount's CPU.)
  for (const std::string& space : entries_of(options_.dir)) {
    if (space == "tmp") continue;
    for_each_kept(options_.dir + "/" + space, [&](std::string path, const StatFn& stat_it) {
      Entry e;
      bool known = false;
      {
        std::lock_guard lock(mu_);
        if (auto it = index_.find(path); it != index_.end()) {
          e = it->second;
          known = true;
        }
      }
      struct stat st;
      if (!known) {
        if (!stat_it(st)) return;
        e.size = uint64_t(st.st_size);
        e.used_ms = e.stamped_ms = mtime_ms(st);
      }
      total += e.size;
      index.emplace(std::move(path), e);
    });
  }
  std::lock_guard lock(mu_);
  // What this process used since its look above is newer.
  for (auto& [path, e] : index)
    if (auto it = index_.find(path); it != index_.end()) e.used_ms = std::max(e.used_ms, it->second.used_ms);
  index_ = std::move(index);
  total_ = total;
}

std::pair<uint64_t, uint64_t> DataCache::usage() const {
  std::lock_guard lock(mu_);
  return {index_.size(), total_};
}

int DataCache::open_kept(const std::string& path, uint64_t size, bool count) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd >= 0 && (::fstat(fd, &st) != 0 || uint64_t(st.st_size) != size)) {
    // Not this version's bytes (cut short by a crash before its data reached the disk): drop it.
    ::close(fd);
    fd = -1;
    ::unlink(path.c_str());
  }
  int64_t now = options_.clock->now_ms();
  bool stamp = false;
  bool prefetch_hit = false;
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(path);
    if (fd < 0) {
      if (it != index_.end()) {
        total_ -= it->second.size;
        index_.erase(it);
      }
    } else if (it == index_.end()) {  // another mount's file
      index_.emplace(path, Entry{size, now, now});
      total_ += size;
    } else {
      it->second.used_ms = now;
      if (count && it->second.prefetched) {
        it->second.prefetched = false;
        prefetch_hit = true;
      }
      if (now - it->second.stamped_ms >= kStampEveryMs) {
        it->second.stamped_ms = now;
        stamp = true;
      }
    }
  }
  if (stamp) stamp_use(fd, now);
  if (fd >= 0 && count) ++counters_.hits;
  if (fd >= 0 && prefetch_hit) ++counters_.prefetch_hits;
  return fd;
}

int DataCache::lookup(const Item& item) {
  if (!keeps(item.size())) return -1;
  return open_kept(path_of(item), item.size(), true);
}

Status DataCache::adopt(const Item& item, const std::string& file) {
  uint64_t size = item.size();
  if (!keeps(size)) return Status(EFBIG, "too large for the data cache");
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return Status(errno, "cannot stat " + file, std::strerror(errno));
  if (uint64_t(st.st_size) != size) return Status(ESTALE, file + " is not the item's size");
  std::string path = path_of(item);
  make_room(size);
  if (!room_on_disk(size)) return Status(ENOSPC, "the data cache's filesystem is nearly full");
  std::string tmp =
      options_.dir + "/tmp/" + std::to_string(::getpid()) + "." + std::to_string(tmp_counter_.fetch_add(1));
  if (::link(file.c_str(), tmp.c_str()) != 0) return Status(errno, "cannot link " + file + " into the data cache");
  std::string shard = path.substr(0, path.rfind('/'));
  if ((::mkdir(shard.c_str(), 0700) != 0 && errno != EEXIST) || ::rename(tmp.c_str(), path.c_str()) != 0) {
    Status failed(errno, "cannot keep " + path, std::strerror(errno));
    ::unlink(tmp.c_str());
    return failed;
  }
  int64_t now = options_.clock->now_ms();
  std::lock_guard lock(mu_);
  auto [it, added] = index_.emplace(path, Entry{size, now, now});
  if (!added) total_ -= it->second.size;
  it->second = Entry{size, now, now};
  total_ += size;
  return {};
}

Result<int> DataCache::get(const Item& item, const ReadFn& read) {
  uint64_t size = item.size();
  if (!keeps(size)) return Status(EFBIG, "too large for the data cache");
  flush_stats_every_while();
  std::string path = path_of(item);
  int fd = open_kept(path, size, true);
  if (fd >= 0) return fd;
  return fill(item, path, read, false);
}

Result<bool> DataCache::prefetch(const Item& item, const ReadFn& read) {
  uint64_t size = item.size();
  if (!keeps(size)) return false;
  flush_stats_every_while();
  std::string path = path_of(item);
  int kept = open_kept(path, size, false);  // (another mount's too: the index may not know it yet)
  if (kept >= 0) {
    ::close(kept);
    return false;
  }
  DLFS_ASSIGN(int fd, fill(item, path, read, true));
  if (fd < 0) return false;  // kept meanwhile, or another thread is fetching it
  ::close(fd);
  return true;
}

Result<int> DataCache::fill(const Item& item, const std::string& path, const ReadFn& read, bool ahead) {
  uint64_t size = item.size();
  std::shared_ptr<Fill> fill;
  bool mine = false;
  {
    std::unique_lock lock(mu_);
    auto it = fills_.find(path);
    if (it == fills_.end()) {
      fill = std::make_shared<Fill>();
      fills_.emplace(path, fill);
      mine = true;
    } else {
      if (ahead) return -1;
      fill = it->second;
      fill->done_cv.wait(lock, [&] { return fill->done; });
    }
  }
  if (!mine) {  // another thread fetched it: open our own descriptor
    if (!fill->fd) return fill->fd.status();
    int fd = open_kept(path, size, false);
    if (fd >= 0) return fd;
    return Status(ENOENT, "the data cache lost the file just fetched");
  }
  // (Kept just now by a fill that ended between our look and taking the slot: not fetched twice.
  // This process's fills are in the index; another mount's in that instant is fetched again.)
  bool indexed;
  {
    std::lock_guard lock(mu_);
    indexed = index_.count(path) > 0;
  }
  int kept = indexed ? open_kept(path, size, false) : -1;
  Result<int> got = kept;
  if (kept < 0) {
    ++(ahead ? counters_.prefetches : counters_.misses);
    got = fetch(item, path, read, ahead);
  } else if (ahead) {
    ::close(kept);
    got = -1;  // (not brought by this prefetch)
  } else {
    ++counters_.hits;
  }
  end_fill(path, *fill, got);
  return got;
}

void DataCache::end_fill(const std::string& path, Fill& fill, const Result<int>& got) {
  {
    std::lock_guard lock(mu_);
    fill.fd = got ? Result<int>(0) : Result<int>(got.status());
    fill.done = true;
    fills_.erase(path);
  }
  fill.done_cv.notify_all();  // (after unlocking: a woken reader does not block on mu_ at once)
}

bool DataCache::room_on_disk(uint64_t incoming) const {
  struct statvfs vs;
  if (::statvfs(options_.dir.c_str(), &vs) != 0) return true;
  double total = double(vs.f_blocks) * double(vs.f_frsize);
  double avail = double(vs.f_bavail) * double(vs.f_frsize);
  return avail - double(incoming) >= options_.min_free * total;
}

Result<int> DataCache::fetch(const Item& item, const std::string& path, const ReadFn& read, bool ahead) {
  uint64_t size = item.size();
  std::string tmp;
  DLFS_ASSIGN(int fd, start_fetch(size, tmp));
  std::vector<char> buf(std::min<uint64_t>(std::max<uint64_t>(size, 1), kFetchChunk));
  uint64_t done = 0;
  while (done < size) {
    size_t want = size_t(std::min<uint64_t>(buf.size(), size - done));
    Result<size_t> n = read(done, std::span<char>(buf.data(), want));
    if (!n) return drop_fetch(fd, tmp, n.status());
    if (*n == 0) break;
    if (Status w = pwrite_all(fd, done, buf.data(), *n); !w) return drop_fetch(fd, tmp, w.wrap("writing the data cache"));
    done += *n;
  }
  return keep_fetch(item, path, fd, tmp, done, ahead);
}

Result<int> DataCache::start_fetch(uint64_t size, std::string& tmp) {
  make_room(size);
  if (!room_on_disk(size)) return Status(ENOSPC, "the data cache's filesystem is nearly full");
  tmp = options_.dir + "/tmp/" + std::to_string(::getpid()) + "." + std::to_string(tmp_counter_.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status(errno, "cannot make a data cache file " + tmp, std::strerror(errno));
  return fd;
}

Status DataCache::drop_fetch(int fd, const std::string& tmp, Status why) {
  ::close(fd);
  ::unlink(tmp.c_str());
  return why;
}

Result<int> DataCache::keep_fetch(const Item& item, const std::string& path, int fd, const std::string& tmp,
                                  uint64_t fetched, bool ahead) {
  uint64_t size = item.size();
  // (Fewer bytes than the item's size: it changed under the fetch. More are never asked for: a
  // read past the end is a request the remote may refuse. Bytes of a newer version of the same
  // size or longer are what a direct read would have answered too.)
  if (fetched != size)
    return drop_fetch(fd, tmp, Status(ESTALE, "the item's bytes (" + std::to_string(fetched) + ") are not its size (" +
                                                  std::to_string(size) + "): changed meanwhile"));
  // (The shard folder is made when the rename finds it missing: once each, not once a file.)
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    if (err == ENOENT) {
      std::string shard = path.substr(0, path.rfind('/'));
      if (::mkdir(shard.c_str(), 0700) != 0 && errno != EEXIST)
        return drop_fetch(fd, tmp, Status(errno, "cannot make " + shard, std::strerror(errno)));
      err = ::rename(tmp.c_str(), path.c_str()) == 0 ? 0 : errno;
    }
    if (err != 0) return drop_fetch(fd, tmp, Status(err, "cannot keep " + path, std::strerror(err)));
  }
  int64_t now = options_.clock->now_ms();
  stamp_use(fd, now);
  {
    std::lock_guard lock(mu_);
    auto [it, added] = index_.emplace(path, Entry{size, now, now});
    if (!added) total_ -= it->second.size;
    it->second = Entry{size, now, now, ahead};
    total_ += size;
  }
  ++counters_.fills;
  counters_.fill_bytes += size;
  if (ahead) return fd;  // (prefetch() closes it: no read-only descriptor wanted)
  // (The temp file was made O_RDWR: hand out a read-only descriptor like a hit's.)
  int ro = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ::close(fd);
  if (ro < 0) return Status(errno, "cannot open " + path, std::strerror(errno));
  return ro;
}

void DataCache::make_room(uint64_t incoming) {
  // Other mounts' files count too: this index is rescanned when it may be off by more than a
  // twentieth of the bound (what this mount filled since), or is half a minute old.
  constexpr int64_t kRescanMs = 30'000;
  int64_t now = options_.clock->now_ms();
  {
    std::lock_guard lock(mu_);
    filled_since_scan_ += incoming;
    bool fresh = filled_since_scan_ < options_.max_bytes / 20 && now - scanned_ms_ < kRescanMs;
    if (fresh && total_ + incoming <= options_.max_bytes) return;
  }
  std::lock_guard evicting(evict_mu_);
  scan();
  {
    std::lock_guard lock(mu_);
    filled_since_scan_ = 0;
    scanned_ms_ = now;
  }
  std::vector<std::pair<int64_t, std::string>> by_age;
  uint64_t target = options_.max_bytes / 10 * 9;
  uint64_t total;
  {
    std::lock_guard lock(mu_);
    total = total_;
    if (total + incoming <= options_.max_bytes) return;
    by_age.reserve(index_.size());
    for (const auto& [path, e] : index_) by_age.emplace_back(e.used_ms, path);
  }
  std::sort(by_age.begin(), by_age.end());
  for (const auto& [used, path] : by_age) {
    if (total + incoming <= target) break;
    // Used by another mount since this one looked (its mtime, stamped on a hit): not the least
    // recently used after all.
    struct stat st;
    bool gone = ::stat(path.c_str(), &st) != 0;
    uint64_t size = 0;
    {
      std::lock_guard lock(mu_);
      auto it = index_.find(path);
      if (it == index_.end()) continue;
      if (!gone && mtime_ms(st) > std::max(used, it->second.used_ms)) {
        it->second.used_ms = it->second.stamped_ms = mtime_ms(st);
        continue;
      }
      size = it->second.size;
      total_ -= size;
      index_.erase(it);
    }
    // (Readers holding it open keep reading it: the inode lives until they close.)
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) spdlog::debug("data cache: cannot evict {}", path);
    total -= std::min(total, size);
    ++counters_.evictions;
    counters_.evicted_bytes += size;
  }
}

std::vector<DataSpaceInfo> list_data_spaces(const std::string& dir) {
  std::vector<DataSpaceInfo> out;
  for (const std::string& space : entries_of(dir)) {
    if (space == "tmp") continue;
    std::string sdir = dir + "/" + space;
    struct stat st;
    if (::stat(sdir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    DataSpaceInfo info;
    info.key = space;
    for_each_kept(sdir, [&](std::string, const StatFn& stat_it) {
      struct stat kept;
      if (!stat_it(kept)) return;
      ++info.files;
      info.bytes += uint64_t(kept.st_size);
    });
    int fd = ::open((sdir + "/stats.json").c_str(), O_RDONLY | O_CLOEXEC);
    json stats = fd >= 0 ? read_stats(fd) : json::object();
    if (fd >= 0) ::close(fd);
    info.hits = count_of(stats, "hits");
    info.misses = count_of(stats, "misses");
    info.fills = count_of(stats, "fills");
    info.fill_bytes = count_of(stats, "fill_bytes");
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  return out;
}

Result<size_t> clear_data_spaces(const std::string& dir, std::string_view dataset_id) {
  size_t removed = 0;
  for (const DataSpaceInfo& space : list_data_spaces(dir)) {
    if (!dataset_id.empty() && dataset_id_of_key(space.key) != dataset_id && space.key != dataset_id) continue;
    std::error_code ec;
    std::filesystem::remove_all(dir + "/" + space.key, ec);
    if (ec) return Status(ec.value(), "cannot remove the data cache " + dir + "/" + space.key, ec.message());
    ++removed;
  }
  return removed;
}

}  // namespace dlfs
