#include "core/lmdb.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>

namespace dlfs {

Status lmdb_status(int rc, const std::string& what) {
  if (rc == 0) return {};
  int err = EIO;
  if (rc == MDB_MAP_FULL) err = ENOSPC;
  else if (rc == ENOENT || rc == EACCES || rc == ENOSPC || rc == ENOMEM || rc == EAGAIN) err = rc;
  return Status(err, what, mdb_strerror(rc));
}

Result<std::unique_ptr<LmdbEnv>> LmdbEnv::open(const Options& options) {
  std::unique_ptr<LmdbEnv> env(new LmdbEnv());
  DLFS_TRY(lmdb_status(mdb_env_create(&env->env_), "cannot create an LMDB environment"));
  mdb_env_set_mapsize(env->env_, options.map_size);
  mdb_env_set_maxdbs(env->env_, MDB_dbi(options.databases.size() + 1));
  mdb_env_set_maxreaders(env->env_, options.max_readers);
  unsigned flags = MDB_NOTLS;
  if (!options.durable) flags |= MDB_NOSYNC;
  int rc = mdb_env_open(env->env_, options.dir.c_str(), flags, 0600);
  if (rc != 0) {
    Status s = lmdb_status(rc, "cannot open the database in " + options.dir);
    mdb_env_close(env->env_);
    env->env_ = nullptr;
    return s;
  }
  MDB_txn* txn = nullptr;
  DLFS_TRY(lmdb_status(mdb_txn_begin(env->env_, nullptr, 0, &txn), "cannot begin a transaction"));
  for (const auto& name : options.databases) {
    MDB_dbi dbi;
    rc = mdb_dbi_open(txn, name.c_str(), MDB_CREATE, &dbi);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return lmdb_status(rc, "cannot open database '" + name + "' in " + options.dir);
    }
    env->dbis_.emplace_back(name, dbi);
  }
  DLFS_TRY(lmdb_status(mdb_txn_commit(txn), "cannot commit the database setup in " + options.dir));
  return env;
}

namespace {

std::mutex& shared_envs_mu() {
  static std::mutex mu;
  return mu;
}

std::map<std::string, std::weak_ptr<LmdbEnv>>& shared_envs() {
  static std::map<std::string, std::weak_ptr<LmdbEnv>> envs;
  return envs;
}

}  // namespace

Result<std::shared_ptr<LmdbEnv>> LmdbEnv::open_shared(const Options& options) {
  std::error_code ec;
  std::string key = std::filesystem::weakly_canonical(options.dir, ec).string();
  if (ec) key = options.dir;
  // A forked child inherits the registry but must never use its parent's handles.
  key = std::to_string(getpid()) + ":" + key;
  std::lock_guard lock(shared_envs_mu());
  if (auto live = shared_envs()[key].lock()) {
    for (const auto& name : options.databases) {
      bool found = false;
      for (const auto& [n, d] : live->dbis_) found = found || n == name;
      if (!found)
        return Status(EINVAL, "database '" + name + "' was not opened with the environment in " + options.dir);
    }
    return live;
  }
  DLFS_ASSIGN(std::unique_ptr<LmdbEnv> env, open(options));
  // Closed under the registry's lock, so that a new open of the same directory never overlaps
  // the close of the old handle.
  std::shared_ptr<LmdbEnv> shared(env.release(), [](LmdbEnv* e) {
    std::lock_guard lock(shared_envs_mu());
    delete e;
  });
  shared_envs()[key] = shared;
  return shared;
}

LmdbEnv::~LmdbEnv() {
  if (env_) mdb_env_close(env_);
}

Status LmdbEnv::sync() { return lmdb_status(mdb_env_sync(env_, 1), "cannot sync the database"); }

MDB_dbi LmdbEnv::dbi(std::string_view name) const {
  for (const auto& [n, d] : dbis_)
    if (n == name) return d;
  return 0;  // the unnamed main database; asking for an unknown name is a programming error
}

Result<LmdbTxn> LmdbTxn::begin(const LmdbEnv& env, bool write) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env.env(), nullptr, write ? 0 : MDB_RDONLY, &txn);
  if (rc == MDB_MAP_RESIZED) {
    // Another process grew the map: adopt its size and try again.
    mdb_env_set_mapsize(env.env(), 0);
    rc = mdb_txn_begin(env.env(), nullptr, write ? 0 : MDB_RDONLY, &txn);
  }
  DLFS_TRY(lmdb_status(rc, "cannot begin a transaction"));
  return LmdbTxn(txn);
}

Result<LmdbTxn> LmdbTxn::begin_nested(LmdbTxn& parent) {
  MDB_txn* txn = nullptr;
  DLFS_TRY(lmdb_status(mdb_txn_begin(mdb_txn_env(parent.txn_), parent.txn_, 0, &txn), "cannot begin a nested transaction"));
  return LmdbTxn(txn);
}

LmdbTxn::LmdbTxn(LmdbTxn&& other) noexcept : txn_(other.txn_) { other.txn_ = nullptr; }

LmdbTxn& LmdbTxn::operator=(LmdbTxn&& other) noexcept {
  if (this != &other) {
    abort();
    txn_ = other.txn_;
    other.txn_ = nullptr;
  }
  return *this;
}

LmdbTxn::~LmdbTxn() { abort(); }

Status LmdbTxn::commit() {
  if (!txn_) return Status(EIO, "transaction already ended");
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  return lmdb_status(rc, "cannot commit");
}

void LmdbTxn::abort() {
  if (txn_) mdb_txn_abort(txn_);
  txn_ = nullptr;
}

static MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
static std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

Result<std::optional<std::string_view>> LmdbTxn::get(MDB_dbi dbi, std::string_view key) const {
  MDB_val k = val(key), v;
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  DLFS_TRY(lmdb_status(rc, "cannot read the database"));
  return std::optional<std::string_view>(view(v));
}

Status LmdbTxn::put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = val(key), v = val(value);
  return lmdb_status(mdb_put(txn_, dbi, &k, &v, 0), "cannot write the database");
}

Result<bool> LmdbTxn::del(MDB_dbi dbi, std::string_view key) {
  MDB_val k = val(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  DLFS_TRY(lmdb_status(rc, "cannot delete from the database"));
  return true;
}

Status LmdbTxn::scan(MDB_dbi dbi, std::string_view prefix,
                     const std::function<bool(std::string_view, std::string_view)>& fn,
                     std::string_view start) const {
  MDB_cursor* cursor = nullptr;
  DLFS_TRY(lmdb_status(mdb_cursor_open(txn_, dbi, &cursor), "cannot open a cursor"));
  std::string_view from = start.empty() || start < prefix ? prefix : start;
  MDB_val k = val(from), v;
  int rc = from.empty() ? mdb_cursor_get(cursor, &k, &v, MDB_FIRST) : mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    std::string_view key = view(k);
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!fn(key, view(v))) break;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "cannot scan the database");
  return {};
}

Status LmdbTxn::drop_all(MDB_dbi dbi) { return lmdb_status(mdb_drop(txn_, dbi, 0), "cannot empty a database"); }

}  // namespace dlfs
