// The filesystem core's upload side: background workers taking queued spool entries to the
// remote (retries with exponential backoff and jitter for transient errors; permanent failures
// kept as failed), the refresh after an upload (and a bounded poll of preprocessing), resume
// of the journal on mount, and the xattr writes.
#include <sys/stat.h>
#include <sys/xattr.h>

#include <utility>

#include <algorithm>
#include <random>

#include <spdlog/spdlog.h>

#include "core/paths.h"
#include "fs/filesystem.h"
#include "fs/xattr_map.h"

namespace dlfs {

namespace {

bool is_transient_error(int err) {
  switch (err) {
    case EINVAL: case ENAMETOOLONG: case EDQUOT: case EACCES: case EPERM: case EEXIST:
    case ENOTDIR: case EISDIR: case EROFS: case EFBIG: case ENOSPC:
      return false;
    default:
      return true;
  }
}

bool phase_pending(const Item& item) {
  auto it = item.system().find("preprocessPhase");
  std::string phase = it != item.system().end() && it->is_string() ? it->get<std::string>() : "";
  return phase == "pending" || phase == "running";
}

}  // namespace

void Filesystem::enqueue_locked(const std::shared_ptr<PendingFile>& p, std::chrono::milliseconds delay) {
  p->queued = true;
  tasks_.push_back(Task{p, {}, 0, std::chrono::steady_clock::now() + delay});
  write_cv_.notify_all();
}

void Filesystem::start_uploads() {
  if (!options_.spool || options_.read_only || !workers_.empty()) return;
  resume_journal();
  {
    std::lock_guard lock(write_mu_);
    stopping_ = false;
  }
  for (unsigned i = 0; i < std::max(1u, options_.upload_workers); ++i)
    workers_.emplace_back([this] { upload_worker(); });
}

void Filesystem::resume_journal() {
  if (!options_.spool || options_.read_only) return;
  {
    std::lock_guard lock(write_mu_);
    if (resumed_) return;
    resumed_ = true;
    for (const SpoolRecord& rec : options_.spool->pending(remote_.dataset().id)) {
      if (pending_.count(rec.path)) continue;
      auto p = std::make_shared<PendingFile>();
      p->spool_id = rec.id;
      p->path = rec.path;
      p->item_id = rec.item_id;
      p->size = rec.size;
      struct stat st {};
      if (::stat(options_.spool->file_path(rec.id).c_str(), &st) == 0) p->size = uint64_t(st.st_size);
      p->mtime_ms = rec.updated_ms;
      p->item.id = rec.item_id.empty() ? "spool-" + std::to_string(rec.id) : rec.item_id;
      p->item.dataset_id = rec.dataset;
      p->item.set_path(rec.path);
      p->item.created_ms = p->item.updated_ms = rec.updated_ms;
      p->flushed = p->generation;
      p->state = UploadState::kPending;
      pending_[p->path] = p;
      enqueue_locked(p, std::chrono::milliseconds(0));
      spdlog::info("resuming the upload of {} ({} bytes)", rec.path, p->size);
    }
    // Failed ones are shown (with their reason) but not retried.
    for (const SpoolRecord& rec : options_.spool->list(remote_.dataset().id)) {
      if (rec.state != UploadState::kFailed || pending_.count(rec.path)) continue;
      auto p = std::make_shared<PendingFile>();
      p->spool_id = rec.id;
      p->path = rec.path;
      p->item_id = rec.item_id;
      p->size = rec.size;
      p->item.id = rec.item_id.empty() ? "spool-" + std::to_string(rec.id) : rec.item_id;
      p->item.set_path(rec.path);
      p->state = UploadState::kFailed;
      p->error = rec.last_error;
      p->flushed = p->generation;
      pending_[p->path] = p;
    }
  }
}

size_t Filesystem::wait_uploads(std::chrono::milliseconds timeout) {
  std::unique_lock lock(write_mu_);
  auto left = [&] {
    size_t n = 0;
    for (auto& [path, p] : pending_)
      if (p->state != UploadState::kFailed && p->flushed > p->uploaded) ++n;
    return n;
  };
  write_cv_.wait_for(lock, timeout, [&] { return left() == 0; });
  return left();
}

void Filesystem::stop_uploads() {
  {
    std::lock_guard lock(write_mu_);
    stopping_ = true;
  }
  write_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void Filesystem::upload_worker() {
  std::unique_lock lock(write_mu_);
  for (;;) {
    if (stopping_) return;
    auto now = std::chrono::steady_clock::now();
    auto ready = std::find_if(tasks_.begin(), tasks_.end(), [&](const Task& t) { return t.ready <= now; });
    if (ready == tasks_.end()) {
      auto next = std::min_element(tasks_.begin(), tasks_.end(),
                                   [](const Task& a, const Task& b) { return a.ready < b.ready; });
      if (next == tasks_.end()) {
        write_cv_.wait(lock);
      } else {
        auto when = next->ready;  // a copy: the task may be taken while this thread waits
        write_cv_.wait_until(lock, when);
      }
      continue;
    }
    Task task = std::move(*ready);
    tasks_.erase(ready);
    lock.unlock();
    if (task.file) run_upload(task.file);
    else run_poll(std::move(task));
    lock.lock();
  }
}

void Filesystem::run_upload(const std::shared_ptr<PendingFile>& p) {
  UploadSpool& spool = *options_.spool;
  uint64_t gen;
  std::string path;
  UploadOptions uo;
  uo.mode = UploadMode::kOverwrite;
  uo.user = options_.user;
  {
    std::lock_guard lock(write_mu_);
    p->queued = false;
    if (p->removed) {
      if (p->handles == 0) (void)spool.remove(p->spool_id);
      return;
    }
    p->state = UploadState::kUploading;
    ++p->attempts;
    gen = p->flushed;
    path = p->path;
    if (p->item_id.empty() && p->item.metadata.contains("user")) uo.metadata = {{"user", p->item.user()}};
    if (p->item.description) uo.description = p->item.description;
  }
  if (auto rec = spool.get(p->spool_id)) {
    rec->state = UploadState::kUploading;
    rec->attempts = p->attempts;
    rec->path = path;
    (void)spool.update(*rec);
  }
  uint64_t expect = 0;
  {
    struct stat st {};
    if (::stat(spool.file_path(p->spool_id).c_str(), &st) == 0) expect = uint64_t(st.st_size);
  }
  auto up = remote_.upload(spool.file_path(p->spool_id), path, uo);
  Status failure;
  if (!up) failure = up.status();
  else if (up->item.size() != expect)
    failure = Status(EIO, "size check failed: the platform has " + std::to_string(up->item.size()) +
                              " bytes, the spool " + std::to_string(expect));

  // Known to the metadata source and the inode before the spool entry goes: a lookup, getattr
  // or open never falls in between (and sees the old item's size).
  if (failure.is_ok()) learned(up->item);
  std::unique_lock lock(write_mu_);
  if (failure.is_ok()) {
    Item item = up->item;
    bool was_new = is_spool_id(p->item.id);
    p->item_id = item.id;
    p->attempts = 0;
    p->error.clear();
    p->uploaded = std::max(p->uploaded, gen);
    std::string remove_id;
    if (p->removed) {
      remove_id = item.id;
      if (p->handles == 0) (void)spool.remove(p->spool_id);
    } else if (p->flushed > p->uploaded) {
      p->state = UploadState::kPending;  // changed while uploading: once more
      enqueue_locked(p, std::chrono::milliseconds(0));
    } else if (p->generation > p->uploaded) {
      p->state = UploadState::kWriting;  // still being written: the next close queues it
    } else {
      p->state = UploadState::kUploaded;
      p->item = item;
      if (p->handles == 0) {
        pending_.erase(p->path);
        (void)spool.remove(p->spool_id);
      } else if (auto rec = spool.get(p->spool_id)) {
        rec->state = UploadState::kUploaded;
        (void)spool.update(*rec);
      }
    }
    Ino parent_ino = p->parent_ino;
    json late_patch = std::exchange(p->late_patch, json());
    write_cv_.notify_all();
    if (phase_pending(item) && !p->removed && options_.preprocess_polls > 0)
      tasks_.push_back(Task{nullptr, item.id, 0,
                            std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.preprocess_poll_ms)});
    lock.unlock();
    if (!remove_id.empty()) {
      Status s = remote_.remove(remove_id);
      if (!s) spdlog::warn("removing {} (unlinked while uploading): {}", path, s.to_string());
      source_.forget(path);
      return;
    }
    if (late_patch.is_object() && !late_patch.empty()) {
      auto patched = remote_.patch(item.id, late_patch);
      if (patched) {
        item = std::move(*patched);
        std::lock_guard relock(write_mu_);
        p->item.metadata = item.metadata;
        p->item.description = item.description;
      } else {
        spdlog::warn("metadata set on {} while it uploaded could not be applied: {}", path, patched.status().to_string());
      }
    }
    learned(item);
    Invalidator* inv = invalidator_.load();
    if (inv) {
      if (auto ino = inodes_.find(NodeKind::kItem, item.id)) inv->inode_changed(*ino);
      if (was_new && parent_ino) inv->entry_gone(parent_ino, item.name);
    }
    spdlog::debug("uploaded {} ({} bytes)", path, expect);
    return;
  }
  // Failed.
  if (p->removed) {
    p->error = failure.to_string();
    if (p->handles == 0) (void)spool.remove(p->spool_id);
    write_cv_.notify_all();
    return;
  }
  if (p->generation > gen) {
    // The file changed while this upload read it (so a size check failing is expected): the
    // newer bytes go up once committed, at once, and this try does not count.
    spdlog::debug("upload of {} raced a change ({}); once more", path, failure.to_string());
    if (p->flushed > gen) {
      p->state = UploadState::kPending;
      enqueue_locked(p, std::chrono::milliseconds(0));
    } else {
      p->state = UploadState::kWriting;  // the next close queues it
    }
    write_cv_.notify_all();
    return;
  }
  bool retry = is_transient_error(failure.err()) && p->attempts < options_.max_attempts && !stopping_;
  p->error = failure.to_string();
  bool give_up = false;
  if (retry) {
    // (attempts can be 0 here: a close while the upload ran resets the count)
    int64_t delay = options_.retry_base_ms << std::min<uint32_t>(std::max<uint32_t>(p->attempts, 1) - 1, 20);
    delay = std::min(delay, options_.retry_max_ms);
    static thread_local std::mt19937_64 rng(std::random_device{}());
    delay = delay / 2 + int64_t(rng() % uint64_t(delay / 2 + 1));  // jitter: [delay/2, delay]
    p->state = UploadState::kPending;
    spdlog::warn("upload of {} failed (attempt {}): {}; retrying in {} ms", path, p->attempts,
                 failure.to_string(), delay);
    enqueue_locked(p, std::chrono::milliseconds(delay));
  } else {
    give_up = true;
    spdlog::error("upload of {} failed: {}", path, failure.to_string());
  }
  uint32_t attempts = p->attempts;
  std::string error = p->error;
  if (!give_up) write_cv_.notify_all();
  lock.unlock();
  // The journal first: whoever is told of a failure (fsync, `dlfs status`) must find it there.
  if (auto rec = spool.get(p->spool_id)) {
    rec->state = give_up ? UploadState::kFailed : UploadState::kPending;
    rec->attempts = attempts;
    rec->last_error = error;
    (void)spool.update(*rec);
  }
  if (give_up) {
    lock.lock();
    p->state = UploadState::kFailed;
    write_cv_.notify_all();
  }
}

void Filesystem::run_poll(Task task) {
  auto got = remote_.get_by_id(task.item_id);
  if (!got) return;
  if (phase_pending(*got) && ++task.polls < options_.preprocess_polls) {
    task.ready = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.preprocess_poll_ms);
    std::lock_guard lock(write_mu_);
    if (!stopping_) tasks_.push_back(std::move(task));
    write_cv_.notify_all();
    return;
  }
  {
    std::lock_guard lock(write_mu_);
    if (auto it = pending_.find(got->filename); it != pending_.end()) return;  // rewritten since
  }
  learned(*got);
  Invalidator* inv = invalidator_.load();
  if (auto ino = inodes_.find(NodeKind::kItem, got->id); ino && inv) inv->inode_changed(*ino);
}

std::string Filesystem::mount_path(const std::string& path) const {
  if (options_.root == "/") return path;
  return path.size() > options_.root.size() ? path.substr(options_.root.size()) : "/";
}

std::vector<std::shared_ptr<PendingFile>> Filesystem::failed_at_locked(std::string_view which) const {
  std::string target = options_.root;
  if (which != "*") {
    auto under = normalize_path(options_.root + "/" + std::string(which));
    if (!under) return {};
    target = *under;
  }
  std::vector<std::shared_ptr<PendingFile>> out;
  for (auto& [path, p] : pending_)
    if (p->state == UploadState::kFailed && is_same_or_under(path, target)) out.push_back(p);
  return out;
}

Result<size_t> Filesystem::retry_failed(std::string_view which) {
  if (!options_.spool) return Status(EROFS, "this mount does not write");
  std::vector<std::shared_ptr<PendingFile>> again;
  {
    std::lock_guard lock(write_mu_);
    again = failed_at_locked(which);
    for (auto& p : again) {
      p->state = UploadState::kPending;
      p->attempts = 0;
      p->error.clear();
    }
  }
  if (again.empty()) return Status(ENOENT, "no failed upload at " + std::string(which));
  // The journal first, so that a crash right after still has them queued.
  for (auto& p : again) {
    if (auto rec = options_.spool->get(p->spool_id)) {
      rec->state = UploadState::kPending;
      rec->attempts = 0;
      rec->last_error.clear();
      (void)options_.spool->update(*rec);
    }
  }
  std::lock_guard lock(write_mu_);
  for (auto& p : again)
    if (!p->removed && !p->queued) enqueue_locked(p, std::chrono::milliseconds(0));
  spdlog::info("retrying {} failed upload(s) at {}", again.size(), which);
  return again.size();
}

Result<size_t> Filesystem::discard_failed(std::string_view which) {
  if (!options_.spool) return Status(EROFS, "this mount does not write");
  std::vector<std::shared_ptr<PendingFile>> gone;
  {
    std::lock_guard lock(write_mu_);
    gone = failed_at_locked(which);
    for (auto& p : gone) drop_pending_locked(p);
  }
  if (gone.empty()) return Status(ENOENT, "no failed upload at " + std::string(which));
  Invalidator* inv = invalidator_.load();
  for (auto& p : gone) {
    spdlog::warn("discarded the failed upload of {} ({}) on the user's request", p->path, p->error);
    source_.forget(p->path);
    if (inv && p->parent_ino) inv->entry_gone(p->parent_ino, base_name(p->path));
  }
  return gone.size();
}

json Filesystem::upload_status() {
  std::lock_guard lock(write_mu_);
  json out{{"pending", 0}, {"uploading", 0}, {"writing", 0}, {"failed", json::array()},
           {"spool_bytes", options_.spool ? options_.spool->used_bytes() : 0}};
  for (auto& [path, p] : pending_) {
    switch (p->state) {
      case UploadState::kFailed: out["failed"].push_back({{"path", mount_path(path)}, {"error", p->error}}); break;
      case UploadState::kUploading: out["uploading"] = out["uploading"].get<int>() + 1; break;
      case UploadState::kWriting: out["writing"] = out["writing"].get<int>() + 1; break;
      case UploadState::kPending: out["pending"] = out["pending"].get<int>() + 1; break;
      case UploadState::kUploaded: break;
    }
  }
  return out;
}

Result<Item> Filesystem::patch_item(Ino ino, const json& patch) {
  DLFS_ASSIGN(Node n, node(ino));
  if (n.kind != NodeKind::kItem) return Status(EPERM, "thumbnails have no writable attributes");
  if (auto p = pending_at(n.item->filename)) {
    std::lock_guard lock(write_mu_);
    if (p->item_id.empty()) {  // not on the platform yet: goes with the upload
      if (auto m = patch.find("metadata"); m != patch.end()) merge_patch(p->item.metadata, *m);
      merge_patch(p->late_patch, patch);
      if (auto d = patch.find("description"); d != patch.end())
        p->item.description = d->is_string() ? std::optional(d->get<std::string>()) : std::nullopt;
      return shown_item(*p);
    }
  }
  std::string id = n.item->id;
  if (is_spool_id(id)) {
    DLFS_ASSIGN(FetchedItem f, source_.item(n.item->filename));
    id = f.item.id;
  }
  DLFS_ASSIGN(Item item, remote_.patch(id, patch));
  learned(item);
  inodes_.refresh(ino, item, options_.clock->now_ms());
  if (auto p = pending_at(item.filename)) {
    std::lock_guard lock(write_mu_);
    p->item.metadata = item.metadata;
    p->item.description = item.description;
  }
  return item;
}

Status Filesystem::setxattr(Ino ino, std::string_view name, std::string_view value, int flags) {
  if (is_unsupported_xattr(name)) return Status(ENOTSUP, "unsupported xattr namespace");
  if (ino == kRootIno && name == "user.dl.retry") return retry_failed(value).status();
  if (ino == kRootIno && name == "user.dl.discard") return discard_failed(value).status();
  if (value.size() > kMaxXattrValue) return Status(E2BIG, "xattr value over 64 KiB");
  if (name.size() > kMaxXattrName) return Status(ERANGE, "xattr name too long");
  if (options_.read_only) return Status(EROFS, "the mount is read-only");
  bool meta = name.rfind(kUserMetaPrefix, 0) == 0;
  if (!meta && name != "user.dl.description") {
    if (name.rfind("user.dl.", 0) == 0) return Status(EPERM, std::string(name) + " is read-only");
    return Status(ENOTSUP, "only user.meta.* and user.dl.description can be set");
  }
  if (flags & (XATTR_CREATE | XATTR_REPLACE)) {
    auto current = getxattr(ino, name);
    if ((flags & XATTR_CREATE) && current) return Status(EEXIST, "attribute exists");
    if ((flags & XATTR_REPLACE) && !current) return Status(ENODATA, "no such attribute");
  }
  json patch;
  if (meta) {
    std::string_view key = name.substr(kUserMetaPrefix.size());
    if (key.empty() || key.front() == '.' || key.back() == '.' || key.find("..") != std::string_view::npos)
      return Status(EINVAL, "bad user.meta key");
    json parsed = json::parse(value, nullptr, false);
    json leaf = parsed.is_discarded() ? json(std::string(value)) : parsed;
    json user = json::object();
    set_dotted(user, key, std::move(leaf));
    patch = {{"metadata", {{"user", user}}}};
  } else {
    patch = {{"description", std::string(value)}};
  }
  return patch_item(ino, patch).status();
}

Status Filesystem::removexattr(Ino ino, std::string_view name) {
  if (is_unsupported_xattr(name)) return Status(ENOTSUP, "unsupported xattr namespace");
  if (options_.read_only) return Status(EROFS, "the mount is read-only");
  bool meta = name.rfind(kUserMetaPrefix, 0) == 0;
  if (!meta && name != "user.dl.description") {
    if (name.rfind("user.dl.", 0) == 0) return Status(EPERM, std::string(name) + " is read-only");
    return Status(ENOTSUP, "only user.meta.* and user.dl.description can be removed");
  }
  DLFS_TRY(getxattr(ino, name));  // ENODATA when absent
  json patch;
  if (meta) {
    json user = json::object();
    set_dotted(user, name.substr(kUserMetaPrefix.size()), nullptr);
    patch = {{"metadata", {{"user", user}}}};
  } else {
    patch = {{"description", nullptr}};
  }
  return patch_item(ino, patch).status();
}

}  // namespace dlfs
