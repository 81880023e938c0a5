#include "cache/upload_spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cache/metadata_cache.h"
#include "core/file_io.h"
#include "core/ids.h"

namespace dlfs {
namespace {

using nlohmann::json;

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
  DLFS_TRY(ensure_private_dir(options.dir + "/journal"));
  DLFS_TRY(ensure_private_dir(options.dir + "/files"));
  LmdbEnv::Options env_options;
  env_options.dir = options.dir + "/journal";
  env_options.databases = {"records", "meta"};
  env_options.map_size = size_t(1) << 30;
  env_options.durable = true;
  DLFS_ASSIGN(spool->env_, LmdbEnv::open(env_options));
  spool->records_ = spool->env_->dbi("records");
  spool->meta_ = spool->env_->dbi("meta");
  {
    DLFS_ASSIGN(auto txn, LmdbTxn::begin(*spool->env_, true));
    DLFS_ASSIGN(auto known, txn.get(spool->meta_, "instance"));
    if (known) {
      spool->instance_id_ = std::string(*known);
    } else {
      spool->instance_id_ = new_id();
      DLFS_TRY(txn.put(spool->meta_, "instance", spool->instance_id_));
      DLFS_TRY(txn.commit());
    }
  }
  // Account for what is already there (a previous run's files).
  for (const SpoolRecord& r : spool->list()) {
    struct stat st {};
    uint64_t size = ::stat(spool->file_path(r.id).c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
    spool->sizes_[r.id] = size;
    spool->used_ += size;
  }
  return spool;
}

UploadSpool::~UploadSpool() = default;

std::string UploadSpool::file_path(uint64_t id) const { return options_.dir + "/files/" + key_of(id); }

Status UploadSpool::put_locked(const SpoolRecord& record) {
  DLFS_ASSIGN(auto txn, LmdbTxn::begin(*env_, true));
  DLFS_TRY(txn.put(records_, key_of(record.id), to_text(record)));
  return txn.commit();
}

Result<SpoolRecord> UploadSpool::create(std::string_view dataset, std::string_view path,
                                        std::string_view item_id, bool dir) {
  SpoolRecord r;
  r.dir = dir;
  r.dataset = dataset;
  r.path = path;
  r.item_id = item_id;
  r.updated_ms = options_.clock->now_ms();
  std::lock_guard lock(mu_);
  DLFS_ASSIGN(auto txn, LmdbTxn::begin(*env_, true));
  DLFS_ASSIGN(auto next, txn.get(meta_, "next_id"));
  r.id = next ? std::stoull(std::string(*next)) : 1;
  DLFS_TRY(txn.put(meta_, "next_id", std::to_string(r.id + 1)));
  std::string file = file_path(r.id);
  int fd = ::open(file.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return Status(errno, "cannot create spool file " + file);
  ::close(fd);
  DLFS_TRY(txn.put(records_, key_of(r.id), to_text(r)));
  DLFS_TRY(txn.commit());
  DLFS_TRY(fsync_dir(options_.dir + "/files"));
  sizes_[r.id] = 0;
  return r;
}

std::optional<SpoolRecord> UploadSpool::get(uint64_t id) const {
  auto txn = LmdbTxn::begin(*env_, false);
  if (!txn) return std::nullopt;
  auto v = txn->get(records_, key_of(id));
  if (!v || !*v) return std::nullopt;
  return from_text(**v);
}

std::vector<SpoolRecord> UploadSpool::list(std::string_view dataset) const {
  std::vector<SpoolRecord> out;
  auto txn = LmdbTxn::begin(*env_, false);
  if (!txn) return out;
  auto s = txn->scan(records_, "", [&](std::string_view key, std::string_view value) {
    auto r = from_text(value);
    if (!r) spdlog::warn("upload spool: unreadable journal record {}", key);
    else if (dataset.empty() || r->dataset == dataset) out.push_back(std::move(*r));
    return true;
  });
  if (!s) spdlog::warn("upload spool: {}", s.to_string());
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

Status UploadSpool::close_file(uint64_t id) {
  std::string file = file_path(id);
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(errno, "cannot open spool file " + file);
  struct stat st {};
  int rc = ::fsync(fd);
  int err = errno;
  ::fstat(fd, &st);
  ::close(fd);
  if (rc != 0) return Status(err, "cannot fsync spool file " + file);
  auto r = get(id);
  if (!r) return Status(ENOENT, "no journal record " + key_of(id));
  r->state = UploadState::kPending;
  r->size = uint64_t(st.st_size);
  return update(*r);
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
  DLFS_ASSIGN(auto txn, LmdbTxn::begin(*env_, true));
  DLFS_TRY(txn.del(records_, key_of(id)));
  DLFS_TRY(txn.commit());
  std::error_code ec;
  std::filesystem::remove(file_path(id), ec);
  if (auto it = sizes_.find(id); it != sizes_.end()) {
    used_ -= it->second;
    sizes_.erase(it);
  }
  room_cv_.notify_all();
  return {};
}

uint64_t UploadSpool::used_bytes() const {
  std::lock_guard lock(mu_);
  return used_;
}

}  // namespace dlfs
