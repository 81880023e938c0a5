// The LMDB environment layer under MetadataCache: opens, shares (one handle per directory and
// process), repairs and discards the environments <cache_dir>/<key>/. Internal to cache/.
#pragma once

#include <lmdb.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "cache/metadata_cache.h"
#include "core/result.h"

namespace dlfs {

namespace cache_env {

inline constexpr int kWrongFormat = -1;  // not a cache of this format version (never an MDB_* code)
inline constexpr char kListing = 'L', kItem = 'I', kThumb = 'T';  // entry kinds

// One open LMDB environment, shared by every MetadataCache of this process on the same
// directory: LMDB forbids opening an environment twice in one process (closing the second
// handle would drop the first one's fcntl locks).
struct Env {
  MDB_env* env = nullptr;
  MDB_dbi meta = 0, listings = 0, items = 0, thumbs = 0, access = 0, lru = 0;
  std::string dir;
  dev_t dev = 0;  // data.mdb's identity: a removed and recreated directory is another env
  ino_t ino = 0;
  pid_t pid = getpid();  // a forked child must not use its parent's handle
  // Held shared by every transaction, exclusively to adopt a map that another process grew
  // (mdb_env_set_mapsize needs no transaction active in this process).
  std::shared_mutex resize_mu;
  std::atomic<bool> broken{false};

  MDB_dbi dbi(char kind) const { return kind == kListing ? listings : kind == kItem ? items : thumbs; }
  // Disables this env and leaves a marker so that the next open discards it.
  void mark_broken(int rc);
};

// MDB_* codes (and kWrongFormat) meaning the environment cannot be trusted.
bool is_corruption(int rc);
// mdb_strerror, or our own text for kWrongFormat.
std::string describe(int rc);

// This process's environment in `dir` (an existing directory), opened when not open yet; a
// corrupt or other-format one is discarded with a warning and recreated empty.
Result<std::shared_ptr<Env>> acquire(const std::string& dir, uint64_t map_bytes, uint64_t max_bytes);

// Bytes in the pages of all databases (what max_bytes bounds).
uint64_t used_bytes(MDB_txn* txn, const Env& env);

// A transaction holding the env's resize lock shared; aborted unless committed. Never hold two
// at once in one thread (a write would wait on itself).
class Txn {
 public:
  Txn() = default;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() {
    if (txn_) mdb_txn_abort(txn_);
  }
  int begin(Env& env, bool write) {
    for (int attempt = 0;; ++attempt) {
      lock_ = std::shared_lock(env.resize_mu);
      txn_ = nullptr;
      int rc = mdb_txn_begin(env.env, nullptr, write ? 0 : MDB_RDONLY, &txn_);
      if (rc == 0) return 0;
      txn_ = nullptr;
      lock_.unlock();
      if (rc != MDB_MAP_RESIZED || attempt > 0) return rc;
      std::unique_lock exclusive(env.resize_mu);
      mdb_env_set_mapsize(env.env, 0);  // adopt the size another process grew the map to
    }
  }
  int commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    return rc;
  }
  operator MDB_txn*() const { return txn_; }

 private:
  std::shared_lock<std::shared_mutex> lock_;  // declared first: released after the abort
  MDB_txn* txn_ = nullptr;
};

}  // namespace cache_env
}  // namespace dlfs
