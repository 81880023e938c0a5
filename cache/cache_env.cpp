#include "cache/cache_env.h"
#include "cache/cache_admin.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include <spdlog/spdlog.h>

namespace dlfs {
namespace cache_env {
namespace {

// Registry of this process's environments. Recursive: an Env's deleter takes it, and the last
// reference may be dropped while it is held.
std::recursive_mutex& registry_mu() {
  static std::recursive_mutex mu;
  return mu;
}

std::map<std::string, std::weak_ptr<Env>>& registry() {
  static std::map<std::string, std::weak_ptr<Env>> envs;
  return envs;
}

std::shared_ptr<Env> new_env() {
  return std::shared_ptr<Env>(new Env, [](Env* e) {
    std::lock_guard lock(registry_mu());  // an open of the same dir must not interleave the close
    if (e->env && e->pid == getpid()) {     // (a forked child leaves its parent's handle alone)
      mdb_env_sync(e->env, 1);              // the env runs MDB_NOSYNC: flush once at the end
      mdb_env_close(e->env);
    }
    delete e;
  });
}

bool same_file(const Env& e) {
  struct stat st;
  return ::stat((e.dir + "/data.mdb").c_str(), &st) == 0 && st.st_dev == e.dev && st.st_ino == e.ino;
}

// The live env of this process for `dir` if it is still the directory's env. Call with
// registry_mu held.
std::shared_ptr<Env> live_env(const std::string& dir, bool* broken = nullptr) {
  auto it = registry().find(dir);
  if (it == registry().end()) return nullptr;
  auto e = it->second.lock();
  if (!e || e->pid != getpid() || !same_file(*e)) return nullptr;
  if (broken) *broken = e->broken;
  return e->broken ? nullptr : e;
}

int get_text(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string& out) {
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == 0) out.assign(static_cast<const char*>(v.mv_data), v.mv_size);
  return rc;
}

int put_text(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
  return mdb_put(txn, dbi, &k, &v, 0);
}

// Opens (and for a writer, initializes) the environment in `dir`. Answers 0, an errno, an MDB_*
// code, or kWrongFormat (explained in `detail`).
int open_env(const std::string& dir, uint64_t map_bytes, uint64_t max_bytes, bool inspect,
             std::shared_ptr<Env>& out, std::string& detail) {
  auto e = new_env();
  e->dir = dir;
  int rc = mdb_env_create(&e->env);
  if (rc) {
    e->env = nullptr;
    return rc;
  }
  mdb_env_set_maxdbs(e->env, 8);
  mdb_env_set_maxreaders(e->env, 512);  // MDB_NOTLS: one slot per concurrent read
  if (!inspect) mdb_env_set_mapsize(e->env, size_t(map_bytes));
  // MDB_NOSYNC: a cache may lose its last writes in an OS crash; damage found later is
  // detected (checksums, MDB_CORRUPTED) and the env discarded.
  unsigned flags = MDB_NOTLS | MDB_NOSYNC | MDB_NORDAHEAD | (inspect ? MDB_RDONLY : 0);
  if ((rc = mdb_env_open(e->env, dir.c_str(), flags, 0600))) return rc;
  if (!inspect) {
    int dead = 0;
    mdb_reader_check(e->env, &dead);  // slots left by crashed processes pin old pages
  }
  MDB_txn* txn = nullptr;
  if ((rc = mdb_txn_begin(e->env, nullptr, inspect ? MDB_RDONLY : 0, &txn))) return rc;
  std::pair<const char*, MDB_dbi*> dbs[] = {{"meta", &e->meta},     {"listings", &e->listings},
                                            {"items", &e->items},   {"thumbs", &e->thumbs},
                                            {"access", &e->access}, {"lru", &e->lru}};
  for (auto& [name, dbi] : dbs) {
    if ((rc = mdb_dbi_open(txn, name, inspect ? 0 : MDB_CREATE, dbi))) {
      mdb_txn_abort(txn);
      detail = std::string("no '") + name + "' database";
      return rc == MDB_NOTFOUND ? kWrongFormat : rc;
    }
  }
  const std::string want = std::to_string(kCacheFormatVersion);
  std::string version;
  rc = get_text(txn, e->meta, "version", version);
  if (rc == MDB_NOTFOUND) {
    MDB_stat st[3];
    mdb_stat(txn, e->listings, &st[0]);
    mdb_stat(txn, e->items, &st[1]);
    mdb_stat(txn, e->thumbs, &st[2]);
    bool empty = st[0].ms_entries + st[1].ms_entries + st[2].ms_entries == 0;
    // A fresh env gets our version; data without a version is not ours to trust.
    version = empty && !inspect ? want : "none";
    rc = empty && !inspect ? put_text(txn, e->meta, "version", want) : 0;
  }
  if (rc == 0 && version != want) {
    detail = "format version " + version + ", expected " + want;
    rc = kWrongFormat;
  }
  if (rc == 0 && !inspect) rc = put_text(txn, e->meta, "max_bytes", std::to_string(max_bytes));
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  if ((rc = mdb_txn_commit(txn))) return rc;  // (even read-only: an abort would close the DBIs)
  int fd = -1;
  struct stat st;
  if (mdb_env_get_fd(e->env, &fd) == 0 && fstat(fd, &st) == 0) {
    e->dev = st.st_dev;
    e->ino = st.st_ino;
  }
  out = std::move(e);
  return 0;
}

void discard_files(const std::string& dir) {
  for (const char* name : {"/data.mdb", "/lock.mdb", "/corrupt"}) ::unlink((dir + name).c_str());
}

// Serializes opening and repairing an env across processes, so that two mounts starting at once
// don't both discard it (one would then run on files the other unlinked). Held only while
// opening; concurrent use afterwards is LMDB's business.
class OpenLock {
 public:
  explicit OpenLock(const std::string& dir) {
    fd_ = ::open((dir + "/open.lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~OpenLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
  }
  OpenLock(const OpenLock&) = delete;
  OpenLock& operator=(const OpenLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace

void Env::mark_broken(int rc) {
  if (broken.exchange(true)) return;
  spdlog::warn("cache {}: {}; the cache is disabled and will be recreated on the next mount", dir,
               describe(rc));
  int fd = ::open((dir + "/corrupt").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
}

bool is_corruption(int rc) {
  return rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_PANIC || rc == MDB_INVALID ||
         rc == MDB_VERSION_MISMATCH || rc == MDB_INCOMPATIBLE || rc == kWrongFormat;
}

std::string describe(int rc) {
  return rc == kWrongFormat ? "not a dlfs cache of format version " + std::to_string(kCacheFormatVersion)
                            : std::string(mdb_strerror(rc));
}

Result<std::shared_ptr<Env>> acquire(const std::string& dir, uint64_t map_bytes, uint64_t max_bytes) {
  std::lock_guard lock(registry_mu());
  auto& envs = registry();
  for (auto it = envs.begin(); it != envs.end();) it = it->second.expired() ? envs.erase(it) : std::next(it);
  bool live_broken = false;
  if (auto e = live_env(dir, &live_broken)) return e;
  OpenLock open_lock(dir);
  struct stat st;
  // A broken env still open here must not be opened a second time in this process: its files go.
  if (live_broken || ::stat((dir + "/corrupt").c_str(), &st) == 0) {
    spdlog::warn("cache {}: marked corrupt; recreating it empty", dir);
    discard_files(dir);
  }
  std::shared_ptr<Env> e;
  std::string detail;
  int rc = open_env(dir, map_bytes, max_bytes, false, e, detail);
  if (is_corruption(rc)) {
    spdlog::warn("cache {}: {}; discarding it and starting empty", dir,
                 rc == kWrongFormat ? detail : describe(rc));
    discard_files(dir);
    rc = open_env(dir, map_bytes, max_bytes, false, e, detail);
  }
  if (rc)
    return Status(rc > 0 ? rc : EIO, "cannot open the cache in " + dir, rc == kWrongFormat ? detail : describe(rc));
  envs[dir] = e;
  return e;
}

uint64_t used_bytes(MDB_txn* txn, const Env& e) {
  uint64_t total = 0;
  for (MDB_dbi dbi : {MDB_dbi(1) /* LMDB's main DB */, e.meta, e.listings, e.items, e.thumbs, e.access, e.lru}) {
    MDB_stat st;
    if (mdb_stat(txn, dbi, &st) == 0)
      total += uint64_t(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
  }
  return total;
}

}  // namespace cache_env

using namespace cache_env;

Result<CacheStats> inspect_cache_env(const std::string& env_dir) {
  // Held throughout: a temporary handle must not coexist with another open of the same env.
  std::lock_guard lock(cache_env::registry_mu());
  std::shared_ptr<Env> e = cache_env::live_env(env_dir);
  std::string detail;
  if (!e) {
    if (int rc = cache_env::open_env(env_dir, 0, 0, true, e, detail))
      return Status(rc > 0 ? rc : EIO, "not a readable cache", rc == kWrongFormat ? detail : describe(rc));
  }
  CacheStats out{0, 0, 0, 0, 0};
  Txn txn;
  if (int rc = txn.begin(*e, false)) return Status(EIO, "cannot read the cache", describe(rc));
  MDB_stat st;
  if (mdb_stat(txn, e->listings, &st) == 0) out.listings = st.ms_entries;
  if (mdb_stat(txn, e->items, &st) == 0) out.items = st.ms_entries;
  if (mdb_stat(txn, e->thumbs, &st) == 0) out.thumbnails = st.ms_entries;
  out.bytes_used = used_bytes(txn, *e);
  std::string max;
  if (cache_env::get_text(txn, e->meta, "max_bytes", max) == 0) out.max_bytes = std::strtoull(max.c_str(), nullptr, 10);
  return out;
}


}  // namespace dlfs
