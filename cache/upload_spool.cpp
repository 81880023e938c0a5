#include "cache/upload_spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <unordered_set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cache/metadata_cache.h"
#include "core/file_io.h"
#include "core/ids.h"

namespace dlfs {
namespace {

using nlohmann::json;

// The record kept with its spool file (rebuild_journal reads it back).
constexpr const char* kRecordXattr = "user.dlfs.record";
// The spool's instance id, kept on its files folder.
constexpr const char* kInstanceXattr = "user.dlfs.instance";
// Ids reserved from the journal at a time.
constexpr uint64_t kIdBlock = 64;

std::string key_of(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, id);
  return buf;
}

std::string to_text(const SpoolRecord& r) {
  json doc{{"id", r.id},         {"dataset", r.dataset},       {"path", r.path},
           {"item_id", r.item_id}, {"state", to_string(r.state)}, {"attempts", r.attempts},
           {"last_error", r.last_error}, {"size", r.size},     {"updated_ms", r.updated_ms}};
  if (!r.replace_id.empty()) doc["replace_id"] = r.replace_id;
  if (r.dir) doc["dir"] = true;
  if (r.patch.is_object() && !r.patch.empty()) doc["patch"] = r.patch;
  return doc.dump();
}

// What a journal rebuild needs of a record (kept as its spool file's xattr): where the bytes go.
// Not its state, attempts or size, which change at every close and try: the xattr is rewritten
// only when this text changes (a setxattr per file, not one per commit). A rebuilt record is
// pending (a failure is tried once more) and takes its size from its file.
std::string rebuild_text(const SpoolRecord& r) {
  SpoolRecord kept;
  kept.id = r.id;
  kept.dataset = r.dataset;
  kept.path = r.path;
  kept.item_id = r.item_id;
  kept.replace_id = r.replace_id;
  kept.dir = r.dir;
  kept.patch = r.patch;
  kept.state = UploadState::kPending;
  return to_text(kept);
}

std::optional<SpoolRecord> from_text(std::string_view text) {
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  SpoolRecord r;
  try {
    r.id = doc.at("id").get<uint64_t>();
    r.dataset = doc.at("dataset").get<std::string>();
    r.path = doc.at("path").get<std::string>();
    r.item_id = doc.value("item_id", "");
    r.replace_id = doc.value("replace_id", "");
    r.dir = doc.value("dir", false);
    if (auto patch = doc.find("patch"); patch != doc.end() && patch->is_object()) r.patch = *patch;
    auto state = parse_upload_state(doc.at("state").get<std::string>());
    if (!state) return std::nullopt;
    r.state = *state;
    r.attempts = doc.value("attempts", 0u);
    r.last_error = doc.value("last_error", "");
    r.size = doc.value("size", uint64_t(0));
    r.updated_ms = doc.value("updated_ms", int64_t(0));
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return r;
}


// The record a spool file's xattr keeps (rebuild_text), pending, with the file's size.
std::optional<SpoolRecord> record_of_file(const std::string& file) {
  std::string text(64 * 1024, '\0');
  ssize_t n = ::getxattr(file.c_str(), kRecordXattr, text.data(), text.size());
  auto r = n > 0 ? from_text(std::string_view(text.data(), size_t(n))) : std::nullopt;
  if (!r) return std::nullopt;
  struct stat st {};
  r->size = ::stat(file.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
  return r;
}

}  // namespace

std::string_view to_string(UploadState state) {
  switch (state) {
    case UploadState::kWriting: return "writing";
    case UploadState::kPending: return "pending";
    case UploadState::kUploading: return "uploading";
    case UploadState::kUploaded: return "uploaded";
    case UploadState::kFailed: return "failed";
  }
  return "pending";
}

Result<UploadState> parse_upload_state(std::string_view text) {
  for (auto s : {UploadState::kWriting, UploadState::kPending, UploadState::kUploading,
                 UploadState::kUploaded, UploadState::kFailed})
    if (to_string(s) == text) return s;
  return Status(EINVAL, "unknown upload state '" + std::string(text) + "'");
}

Result<std::unique_ptr<UploadSpool>> UploadSpool::open(const SpoolOptions& options) {
  std::unique_ptr<UploadSpool> spool(new UploadSpool(options));
  DLFS_TRY(ensure_private_dir(options.dir));
  DLFS_TRY(ensure_private_dir(options.dir + "/files"));
  DLFS_TRY(ensure_private_dir(options.dir + "/unshare"));
  Status opened = spool->open_journal();
  Result<std::vector<SpoolRecord>> records = opened ? spool->read_records() : Result<std::vector<SpoolRecord>>(opened);
  bool rebuilt = false;
  if (!records) {
    if (records.err() != EIO) return records.status();  // not a torn journal (EACCES, ENOSPC, ...)
    DLFS_TRY(spool->rebuild_journal(records.status()));
    rebuilt = true;
    records = spool->read_records();
    if (!records) return records.status();
  }
  // Account for what is already there (a previous run's files). A record whose file is gone
  // was removed (its upload landed) by a remove() whose journal commit a power loss undid: the
  // file's unlink reached the disk, the commit did not. It goes now.
  for (const SpoolRecord& r : *records) {
    struct stat st {};
    if (::stat(spool->file_path(r.id).c_str(), &st) != 0 && errno == ENOENT) {
      spdlog::warn("upload spool: record {} ({}) has no spool file; it was uploaded and is dropped", r.id, r.path);
      DLFS_TRY(spool->remove(r.id));
      continue;
    }
    spool->sizes_[r.id] = uint64_t(st.st_size);
    spool->used_ += uint64_t(st.st_size);
  }
  DLFS_TRY(spool->join_users(*records, rebuilt));
  if (options.journal_sync_period.count() > 0) spool->syncer_ = std::thread([s = spool.get()] { s->journal_syncer(); });
  return spool;
}

Status UploadSpool::open_journal() {
  env_.reset();
  DLFS_TRY(ensure_private_dir(options_.dir + "/journal"));
  LmdbEnv::Options env_options;
  env_options.dir = options_.dir + "/journal";
  env_options.databases = {"records", "meta"};
  env_options.map_size = size_t(1) << 30;
  env_options.durable = false;  // synced by sync(), the background syncer and durable_close
  DLFS_ASSIGN(env_, LmdbEnv::open(env_options));
  records_ = env_->dbi("records");
  meta_ = env_->dbi("meta");
  DLFS_ASSIGN(auto txn, LmdbTxn::begin(*env_, true));
  DLFS_ASSIGN(auto known, txn.get(meta_, "instance"));
  std::string files = options_.dir + "/files";
  if (known) {
    instance_id_ = std::string(*known);
  } else {  // a journal rebuilt after a power loss keeps the instance (uploads' tokens name it)
    char kept[64];
    ssize_t n = ::getxattr(files.c_str(), kInstanceXattr, kept, sizeof kept);
    instance_id_ = n > 0 ? std::string(kept, size_t(n)) : new_id();
    DLFS_TRY(txn.put(meta_, "instance", instance_id_));
    DLFS_TRY(txn.commit());
  }
  (void)::setxattr(files.c_str(), kInstanceXattr, instance_id_.data(), instance_id_.size(), 0);
  return {};
}

Status UploadSpool::rebuild_journal(const Status& why) {
  std::string aside = options_.dir + "/journal.unreadable-" + std::to_string(options_.clock->now_ms());
  spdlog::error("upload spool: the journal in {} cannot be read ({}); it is moved to {} and rebuilt from the "
                "spool files",
                options_.dir, why.to_string(), aside);
  env_.reset();
  std::error_code ec;
  std::filesystem::rename(options_.dir + "/journal", aside, ec);
  if (ec) return Status(ec.value(), "cannot move the unreadable journal of " + options_.dir + " aside");
  DLFS_TRY(open_journal());
  // Every spool file that kept its record comes back; ids continue after the largest.
  std::map<uint64_t, SpoolRecord> found;
  uint64_t last = 0;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir + "/files", ec)) {
    std::string file = entry.path().string();
    uint64_t id = std::strtoull(entry.path().filename().c_str(), nullptr, 16);
    last = std::max(last, id);
    auto r = record_of_file(file);
    if (!r || r->id != id) {
      spdlog::error("upload spool: {} has no readable record; it stays in {} (not uploaded)", file, options_.dir + "/files");
      continue;
    }
    found[id] = std::move(*r);
  }
  DLFS_ASSIGN(auto txn, LmdbTxn::begin(*env_, true));
  for (const auto& [id, r] : found) DLFS_TRY(txn.put(records_, key_of(id), to_text(r)));
  DLFS_TRY(txn.put(meta_, "next_id", std::to_string(last + 1)));
  DLFS_TRY(txn.commit());
  spdlog::warn("upload spool: {} records rebuilt in {}", found.size(), options_.dir);
  return env_->sync();
}

Status UploadSpool::join_users(const std::vector<SpoolRecord>& records, bool rebuilt) {
  std::string lock_path = options_.dir + "/users.lock";
  users_fd_ = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (users_fd_ < 0) return Status(errno, "cannot open " + lock_path, strerror(errno));
  if (::flock(users_fd_, LOCK_EX | LOCK_NB) == 0) {
    // Alone: a spool file no record names belonged to a process that died before journaling
    // it. Its xattr says where its bytes go (a file closed, or being written): resumed. Without
    // one, nothing was promised of it (a create that never answered, an edit's copy not closed
    // yet): dropped. After a rebuild such files are kept, as the rebuild said. Ids continue past
    // every file found.
    std::unordered_set<uint64_t> named;
    for (const SpoolRecord& r : records) named.insert(r.id);
    uint64_t last = 0;
    std::error_code ec;
    std::vector<SpoolRecord> found;
    for (const auto& entry : std::filesystem::directory_iterator(options_.dir + "/files", ec)) {
      uint64_t id = std::strtoull(entry.path().filename().c_str(), nullptr, 16);
      last = std::max(last, id);
      if (rebuilt || named.count(id)) continue;
      auto r = record_of_file(entry.path().string());
      if (r && r->id == id) {
        found.push_back(std::move(*r));
        continue;
      }
      // (its process died inside create(), before it was answered: nothing was promised)
      spdlog::warn("upload spool: {} names no upload; it is dropped", entry.path().string());
      std::filesystem::remove(entry.path(), ec);
    }
    for (const SpoolRecord& r : records) last = std::max(last, r.id);
    // (copies a process died making: their spool files still have their bytes)
    for (const auto& entry : std::filesystem::directory_iterator(options_.dir + "/unshare", ec))
      std::filesystem::remove(entry.path(), ec);
    DLFS_ASSIGN(auto txn, LmdbTxn::begin(*env_, true));
    for (const SpoolRecord& r : found) {
      DLFS_TRY(txn.put(records_, key_of(r.id), to_text(r)));
      sizes_[r.id] = r.size;
      used_ += r.size;
      xattr_texts_[r.id] = rebuild_text(r);
    }
    if (!found.empty()) {
      ++commits_;
      spdlog::info("upload spool: {} files not journaled when their mount stopped are resumed from their spool "
                   "files",
                   found.size());
    }
    DLFS_ASSIGN(auto next, txn.get(meta_, "next_id"));
    uint64_t stored = next ? std::stoull(std::string(*next)) : 1;
    if (stored <= last) {
      DLFS_TRY(txn.put(meta_, "next_id", std::to_string(last + 1)));
      ++commits_;
    }
    DLFS_TRY(txn.commit());
  }
  // (from exclusive to shared; another process's open may slip in between: it is not alone. A
  // disk without flock (some network filesystems) only loses the cleanup of stray files.)
  if (::flock(users_fd_, LOCK_SH) != 0)
    spdlog::warn("upload spool: cannot lock {} ({}); files of a stopped mount left there are kept", lock_path,
                 strerror(errno));
  return {};
}

UploadSpool::~UploadSpool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  if (env_) {  // a clean stop leaves every record journaled, and the journal durable
    std::lock_guard lock(mu_);
    if (!unjournaled_.empty())
      if (auto txn = LmdbTxn::begin(*env_, true)) {
        for (const auto& [id, r] : unjournaled_) (void)txn->put(records_, key_of(id), to_text(r));
        if (txn->commit()) ++commits_;
      }
  }
  if (env_) (void)sync_journal();
  if (users_fd_ >= 0) ::close(users_fd_);
}

void UploadSpool::journal_syncer() {
  std::unique_lock lock(mu_);
  while (!stop_cv_.wait_for(lock, options_.journal_sync_period, [&] { return stopping_; })) {
    if (commits_ == synced_commits_) continue;  // a stale read is harmless: the next round sees it
    lock.unlock();
    if (Status s = sync_journal(); !s) spdlog::warn("upload spool: {}", s.to_string());
    lock.lock();
  }
}

Status UploadSpool::sync_journal() {
  uint64_t ticket;
  {
    std::lock_guard lock(mu_);
    ticket = commits_;
  }
  std::lock_guard sync_lock(sync_mu_);
  if (synced_commits_ >= ticket) return {};  // a sync that began after our commits covered them
  uint64_t upto;
  {
    std::lock_guard lock(mu_);
    upto = commits_;
  }
  DLFS_TRY(env_->sync());
  synced_commits_ = upto;
  synced(options_.dir + "/journal");
  return {};
}

void UploadSpool::synced(const std::string& what) const {
  if (options_.on_sync) options_.on_sync(what);
}

Status UploadSpool::sync(const std::vector<uint64_t>& ids) {
  {
    std::lock_guard lock(mu_);
    for (uint64_t id : ids)
      if (auto it = unjournaled_.find(id); it != unjournaled_.end()) DLFS_TRY(put_locked(it->second));
  }
  for (uint64_t id : ids) {
    std::string file = file_path(id);
    Status s = fsync_file(file);
    if (!s && s.err() != ENOENT) return s;
    if (s) synced(file);
  }
  DLFS_TRY(fsync_dir(options_.dir + "/files"));  // the new files' names
  synced(options_.dir + "/files");
  return sync_journal();
}


std::string UploadSpool::file_path(uint64_t id) const { return options_.dir + "/files/" + key_of(id); }

Status UploadSpool::put_locked(const SpoolRecord& record) {
  std::string text = to_text(record);
  DLFS_ASSIGN(auto txn, LmdbTxn::begin(*env_, true));
  DLFS_TRY(txn.put(records_, key_of(record.id), text));
  DLFS_TRY(txn.commit());
  ++commits_;
  keep_record_xattr(record);
  unjournaled_.erase(record.id);  // (last: `record` may be the one kept there)
  return {};
}

void UploadSpool::keep_record_xattr(const SpoolRecord& record) {
  if (!xattrs_) return;
  std::string text = rebuild_text(record);
  std::string& kept = xattr_texts_[record.id];
  if (kept == text) return;
  if (::setxattr(file_path(record.id).c_str(), kRecordXattr, text.data(), text.size(), 0) == 0 || errno == ENOENT) {
    kept = std::move(text);
    return;
  }
  xattrs_ = false;  // once: a disk without user xattrs (tmpfs before Linux 6.6)
  spdlog::warn("upload spool: {} keeps no xattrs ({}); a journal lost in a power loss could not be rebuilt",
               options_.dir, strerror(errno));
}

Result<SpoolRecord> UploadSpool::create(std::string_view dataset, std::string_view path,
                                        std::string_view item_id, bool dir, const nlohmann::json& patch,
                                        bool promised) {
  SpoolRecord r;
  r.dir = dir;
  r.patch = patch;
  r.dataset = dataset;
  r.path = path;
  r.item_id = item_id;
  r.updated_ms = options_.clock->now_ms();
  std::unique_lock lock(mu_);
  if (next_id_ == reserved_end_) {
    DLFS_ASSIGN(auto txn, LmdbTxn::begin(*env_, true));
    DLFS_ASSIGN(auto next, txn.get(meta_, "next_id"));
    uint64_t first = next ? std::stoull(std::string(*next)) : 1;
    DLFS_TRY(txn.put(meta_, "next_id", std::to_string(first + kIdBlock)));
    DLFS_TRY(txn.commit());
    ++commits_;
    next_id_ = first;
    reserved_end_ = first + kIdBlock;
  }
  r.id = next_id_++;
  std::string file = file_path(r.id);
  int fd = ::open(file.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return Status(errno, "cannot create spool file " + file);
  ::close(fd);
  sizes_[r.id] = 0;
  if (!promised) {  // (no xattr: the next open drops its file)
    unjournaled_[r.id] = r;
    return r;
  }
  if (!options_.durable_close) {
    // Journaled later (at a sync, a rename, a failure); a SIGKILL meanwhile finds it by its xattr.
    keep_record_xattr(r);
    if (xattrs_) {
      unjournaled_[r.id] = r;
      return r;
    }
    DLFS_TRY(put_locked(r));  // a disk without xattrs: the journal keeps that promise (unsynced)
    return r;
  }
  DLFS_TRY(put_locked(r));
  DLFS_TRY(fsync_dir(options_.dir + "/files"));
  synced(options_.dir + "/files");
  lock.unlock();
  DLFS_TRY(sync_journal());
  return r;
}

std::optional<SpoolRecord> UploadSpool::get(uint64_t id) const {
  {
    std::lock_guard lock(mu_);
    if (auto it = unjournaled_.find(id); it != unjournaled_.end()) return it->second;
  }
  auto txn = LmdbTxn::begin(*env_, false);
  if (!txn) return std::nullopt;
  auto v = txn->get(records_, key_of(id));
  if (!v || !*v) return std::nullopt;
  return from_text(**v);
}

Result<std::vector<SpoolRecord>> UploadSpool::read_records() const {
  std::vector<SpoolRecord> out;
  DLFS_ASSIGN(auto txn, LmdbTxn::begin(*env_, false));
  DLFS_TRY(txn.scan(records_, "", [&](std::string_view key, std::string_view value) {
    auto r = from_text(value);
    if (!r) spdlog::warn("upload spool: unreadable journal record {}", key);
    else out.push_back(std::move(*r));
    return true;
  }));
  return out;
}

std::vector<SpoolRecord> UploadSpool::list(std::string_view dataset) const {
  std::unique_lock lock(mu_);  // (a record journaled meanwhile would be seen twice or not at all)
  auto all = read_records();
  if (!all) {
    spdlog::warn("upload spool: {}", all.status().to_string());
    return {};
  }
  for (const auto& [id, r] : unjournaled_) all->push_back(r);
  lock.unlock();
  std::sort(all->begin(), all->end(), [](const SpoolRecord& a, const SpoolRecord& b) { return a.id < b.id; });
  std::vector<SpoolRecord> out;
  for (auto& r : *all)
    if (dataset.empty() || r.dataset == dataset) out.push_back(std::move(r));
  return out;
}

std::vector<SpoolRecord> UploadSpool::pending(std::string_view dataset) const {
  std::vector<SpoolRecord> out;
  for (auto& r : list(dataset))
    if (r.state == UploadState::kWriting || r.state == UploadState::kPending ||
        r.state == UploadState::kUploading)
      out.push_back(std::move(r));
  return out;
}

Status UploadSpool::update(const SpoolRecord& record) {
  SpoolRecord r = record;
  r.updated_ms = options_.clock->now_ms();
  std::lock_guard lock(mu_);
  return put_locked(r);
}

Status UploadSpool::promise(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = unjournaled_.find(id);
  if (it == unjournaled_.end()) return {};  // journaled: promised already
  keep_record_xattr(it->second);
  if (xattrs_) return {};
  return put_locked(it->second);  // a disk without xattrs: the journal keeps it (unsynced)
}

Status UploadSpool::close_file(uint64_t id) {
  std::string file = file_path(id);
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return Status(errno, "cannot stat spool file " + file);
  if (options_.durable_close) {
    DLFS_TRY(fsync_file(file));
    synced(file);
    bool fresh;  // (created not promised: its name was not synced either)
    {
      std::lock_guard lock(mu_);
      fresh = unjournaled_.count(id) > 0;
    }
    if (fresh) {
      DLFS_TRY(fsync_dir(options_.dir + "/files"));
      synced(options_.dir + "/files");
    }
  }
  {
    // Not journaled yet: what a SIGKILL must not lose (where the bytes go) is the spool file's
    // xattr already, and the next open resumes a file it finds so; the state is kept here.
    std::lock_guard lock(mu_);
    if (auto it = unjournaled_.find(id); it != unjournaled_.end() && xattrs_ && !options_.durable_close) {
      it->second.state = UploadState::kPending;
      it->second.size = uint64_t(st.st_size);
      it->second.updated_ms = options_.clock->now_ms();
      keep_record_xattr(it->second);  // (a record created not promised has none yet)
      if (xattrs_) return {};
    }
  }
  auto r = get(id);
  if (!r) return Status(ENOENT, "no journal record " + key_of(id));
  r->state = UploadState::kPending;
  r->size = uint64_t(st.st_size);
  DLFS_TRY(update(*r));
  return options_.durable_close ? sync_journal() : Status();
}

Status UploadSpool::resize(uint64_t id, uint64_t new_size) {
  std::unique_lock lock(mu_);
  uint64_t& cur = sizes_[id];
  if (new_size <= cur) {
    used_ -= cur - new_size;
    cur = new_size;
    room_cv_.notify_all();
    return {};
  }
  // Past the largest file a dataset can hold: EFBIG at once ("File too large", as POSIX says for a
  // length past the largest file), not a wait and ENOSPC.
  if (new_size > kMaxFileBytes)
    return Status(EFBIG, "a file of " + std::to_string(new_size) + " bytes is larger than a dataset can hold (" +
                             std::to_string(kMaxFileBytes) + " bytes)");
  auto fits = [&] { return new_size <= sizes_[id] || used_ + (new_size - sizes_[id]) <= options_.max_bytes; };
  if (!fits() && !room_cv_.wait_for(lock, options_.full_wait, fits))
    return Status(ENOSPC, "the upload spool is full (" + std::to_string(options_.max_bytes) +
                              " bytes, -o spool_size=); wait for uploads or raise it");
  uint64_t& now = sizes_[id];
  if (new_size > now) {
    used_ += new_size - now;
    now = new_size;
  }
  return {};
}

Status UploadSpool::remove(uint64_t id) {
  std::lock_guard lock(mu_);
  // The file first: a file left without its record would be resumed by the next open (from its
  // xattr), a record left without its file is dropped.
  std::error_code ec;
  std::filesystem::remove(file_path(id), ec);
  if (unjournaled_.erase(id) == 0) {
    DLFS_ASSIGN(auto txn, LmdbTxn::begin(*env_, true));
    DLFS_TRY(txn.del(records_, key_of(id)));
    DLFS_TRY(txn.commit());
    ++commits_;
  }
  xattr_texts_.erase(id);
  if (auto it = sizes_.find(id); it != sizes_.end()) {
    used_ -= it->second;
    sizes_.erase(it);
  }
  room_cv_.notify_all();
  return {};
}

Status UploadSpool::unshare(uint64_t id) {
  std::string file = file_path(id);
  std::string temp = options_.dir + "/unshare/" + key_of(id);
  int in = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Status(errno, "cannot open spool file " + file, strerror(errno));
  int out = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    Status s(errno, "cannot create " + temp, strerror(errno));
    ::close(in);
    return s;
  }
  // The copy is durable before it takes the name: the bytes it replaces may have been synced
  // (a power loss must not leave less than was promised).
  Status s = copy_fd(in, out).status();
  ::close(in);
  if (s && ::fdatasync(out) != 0) s = Status(errno, "cannot sync " + temp, strerror(errno));
  if (s) {
    // Under mu_: the record's xattr is written under it (it goes on the copy, and any later one
    // lands on the copy), and remove() deletes the file under it (a file removed meanwhile is
    // not brought back).
    std::lock_guard lock(mu_);
    if (::access(file.c_str(), F_OK) != 0) {
      s = Status(ENOENT, "spool file " + file + " was removed");
    } else {
      auto text = xattr_texts_.find(id);
      if (xattrs_ && text != xattr_texts_.end() && !text->second.empty())
        (void)::fsetxattr(out, kRecordXattr, text->second.data(), text->second.size(), 0);
      if (::fsync(out) != 0 || ::rename(temp.c_str(), file.c_str()) != 0)
        s = Status(errno, "cannot replace spool file " + file, strerror(errno));
    }
  }
  ::close(out);
  if (!s) ::unlink(temp.c_str());
  return s;
}

uint64_t UploadSpool::journal_commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

uint64_t UploadSpool::used_bytes() const {
  std::lock_guard lock(mu_);
  return used_;
}

}  // namespace dlfs
