// A thin RAII layer over LMDB: an environment with named databases, and transactions that
// answer Result/Status. LMDB gives many readers and one writer at a time, across threads
// (the environment is opened with MDB_NOTLS) and across processes (its lock file).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <lmdb.h>

#include "core/result.h"

namespace dlfs {

Status lmdb_status(int rc, const std::string& what);

class LmdbEnv {
 public:
  struct Options {
    std::string dir;
    std::vector<std::string> databases;  // named databases to open (created if missing)
    size_t map_size = size_t(64) << 30;  // address space reserved; the file grows as needed
    unsigned max_readers = 512;
    bool durable = true;  // fsync on every commit
  };
  // Opens an environment the caller alone uses in this process.
  static Result<std::unique_ptr<LmdbEnv>> open(const Options& options);
  // Opens, or shares, this process's one handle on the environment in options.dir. LMDB must
  // never have one environment open twice in a process: closing the second handle would drop
  // the first one's locks. Every database named must be among those of the first opener.
  static Result<std::shared_ptr<LmdbEnv>> open_shared(const Options& options);
  ~LmdbEnv();
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;

  MDB_env* env() const { return env_; }
  // Makes every commit so far durable (for an environment opened with durable = false).
  Status sync();
  // The handle of a database named in Options::databases.
  MDB_dbi dbi(std::string_view name) const;

 private:
  LmdbEnv() = default;
  MDB_env* env_ = nullptr;
  std::vector<std::pair<std::string, MDB_dbi>> dbis_;
};

class LmdbTxn {
 public:
  static Result<LmdbTxn> begin(const LmdbEnv& env, bool write);
  // A write transaction inside `parent`: its commit merges into the parent, its abort undoes
  // only its own writes.
  static Result<LmdbTxn> begin_nested(LmdbTxn& parent);
  LmdbTxn(LmdbTxn&& other) noexcept;
  LmdbTxn& operator=(LmdbTxn&& other) noexcept;
  ~LmdbTxn();  // aborts if not committed

  Status commit();
  void abort();

  // The value's bytes stay valid until the transaction ends.
  Result<std::optional<std::string_view>> get(MDB_dbi dbi, std::string_view key) const;
  Status put(MDB_dbi dbi, std::string_view key, std::string_view value);
  // True if the key existed.
  Result<bool> del(MDB_dbi dbi, std::string_view key);
  // Calls fn(key, value) for every key starting with `prefix`, from `start` (>= prefix) on, in
  // key order, until fn answers false.
  Status scan(MDB_dbi dbi, std::string_view prefix,
              const std::function<bool(std::string_view key, std::string_view value)>& fn,
              std::string_view start = {}) const;
  Status drop_all(MDB_dbi dbi);  // empties a database

  MDB_txn* raw() const { return txn_; }

 private:
  explicit LmdbTxn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_ = nullptr;
};

}  // namespace dlfs
