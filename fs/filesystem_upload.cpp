// The filesystem core's upload side: background workers taking queued spool entries to the
// remote (retries with exponential backoff and jitter for transient errors; permanent failures
// and conflicts kept as failed), the landing of an upload (and a bounded poll of preprocessing),
// resume of the journal on mount, and what `dlfs status` asks of the uploads. An upload runs
// holding its path lock from start to landing (the ordering rule, fs/filesystem_namespace.cpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/json_util.h"
#include "core/paths.h"
#include "fs/filesystem.h"

namespace dlfs {

namespace {

// A failed upload's message when someone else made the path meanwhile (retry_failed then
// overwrites theirs: only on the user's word).
constexpr std::string_view kConflict = "conflict: ";
// How often idle upload workers look again whether a server known away is back.
constexpr std::chrono::milliseconds kAwayRecheck{200};

// True if the platform's file has exactly the bytes of the local file (an upload whose answer
// was lost made it, or someone made the same file): then it is this file's upload.
bool same_bytes(Remote& remote, const Item& item, const std::string& local_file) {
  struct stat st {};
  if (::stat(local_file.c_str(), &st) != 0 || uint64_t(st.st_size) != item.size()) return false;
  int fd = ::open(local_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::vector<char> mine(1 << 20), theirs(1 << 20);
  uint64_t off = 0;
  bool same = true;
  while (same && off < item.size()) {
    auto n = remote.read(item, off, std::span<char>(theirs.data(), theirs.size()));
    if (!n || *n == 0) same = false;
    else same = ::pread(fd, mine.data(), *n, off_t(off)) == ssize_t(*n) && std::equal(mine.begin(), mine.begin() + *n, theirs.begin());
    if (n) off += *n;
  }
  ::close(fd);
  return same;
}

}  // namespace

void Filesystem::enqueue_locked(const std::shared_ptr<PendingFile>& p, std::chrono::milliseconds delay) {
  p->queued = true;
  push_task_locked(Task{p, {}, {}, std::chrono::steady_clock::now() + delay, nullptr, false});
  write_cv_.notify_all();  // (the state waiters)
}

void Filesystem::push_task_locked(Task task) {
  if (task.ready <= std::chrono::steady_clock::now()) push_ready_locked(std::move(task));
  else delayed_tasks_.emplace(task.ready, std::move(task));
  work_cv_.notify_one();
}

void Filesystem::push_ready_locked(Task task) {
  ready_uploads_ += task.file != nullptr;
  ready_tasks_.push_back(std::move(task));
}

void Filesystem::start_uploads() {
  if (!can_write() || !workers_.empty()) return;
  resume_journal();
  {
    std::lock_guard lock(write_mu_);
    stopping_ = false;
    last_landed_ = std::chrono::steady_clock::now();  // (the first files wait up to 2 s for a landing)
  }
  // (a link names the spool file by its descriptor: /proc/self/fd/N)
  link_uploads_ = remote_.links_from(options_.spool->dir() + "/files") && ::access("/proc/self/fd", F_OK) == 0;
  for (unsigned i = 0; i < std::max(1u, options_.upload_workers); ++i)
    workers_.emplace_back([this] { upload_worker(); });
}

void Filesystem::resume_journal() {
  if (!can_write()) return;
  {
    std::lock_guard lock(write_mu_);
    if (resumed_) return;
    resumed_ = true;
  }
  std::vector<SpoolRecord> records = options_.spool->list(remote_.dataset().id);
  // An edited item is shown with its metadata as the platform has it, asked by its id (the cache
  // may have lost it, or have another item at its path), or else as the cache has it: the
  // journal keeps only the bytes and the metadata not sent yet.
  std::map<uint64_t, Item> known;
  for (const SpoolRecord& rec : records) {
    if (rec.item_id.empty() || rec.dir) continue;
    if (auto by_id = remote_.get_by_id(rec.item_id)) known[rec.id] = std::move(*by_id);
    else if (auto f = source_.item(rec.path); f && f->item.id == rec.item_id) known[rec.id] = f->item;
    else spdlog::warn("resuming {}: its metadata cannot be read now ({})", rec.path, by_id.status().to_string());
  }
  std::lock_guard lock(write_mu_);
  for (const SpoolRecord& rec : records) {
    bool failed = rec.state == UploadState::kFailed;
    if ((!failed && rec.state == UploadState::kUploaded) || pending_.count(rec.path)) continue;
    auto p = std::make_shared<PendingFile>();
    p->spool_id = rec.id;
    p->dir = rec.dir;
    p->path = rec.path;
    p->base_id = rec.item_id;
    p->replace_id = rec.replace_id;
    p->verify_place = !rec.item_id.empty();
    p->maybe_on_platform = rec.item_id.empty() && !rec.dir;  // the mount may have stopped mid-upload
    p->size = rec.size;
    struct stat st {};
    if (!rec.dir && ::stat(options_.spool->file_path(rec.id).c_str(), &st) == 0) {
      p->size = uint64_t(st.st_size);
      p->frozen = st.st_nlink > 1;  // an upload before the restart linked it into the platform's storage
    }
    p->mtime_ns = p->ctime_ns = rec.updated_ms * 1000000;
    if (auto k = known.find(rec.id); k != known.end()) p->item = k->second;
    p->item.id = rec.item_id.empty() ? "spool-" + std::to_string(rec.id) : rec.item_id;
    p->item.dataset_id = rec.dataset;
    p->item.set_path(rec.path);
    if (rec.dir) p->item.type = ItemType::kDir;
    if (!known.count(rec.id)) p->item.created_ms = p->item.updated_ms = rec.updated_ms;
    if (rec.patch.is_object() && !rec.patch.empty()) {  // metadata set before it was uploaded
      p->late_patch = rec.patch;
      if (auto m = rec.patch.find("metadata"); m != rec.patch.end()) merge_patch(p->item.metadata, *m);
      if (auto d = rec.patch.find("description"); d != rec.patch.end() && d->is_string()) p->item.description = d->get<std::string>();
    }
    PosixAttrs kept = posix_attrs(p->item);  // times utimensat set before the stop
    if (kept.mtime_ns) p->mtime_ns = *kept.mtime_ns;
    if (kept.ctime_ns) p->ctime_ns = std::max(p->ctime_ns, *kept.ctime_ns);
    p->flushed = p->generation;
    p->ino = inodes_.peek_ino(NodeKind::kItem, p->item.id);
    pending_[p->path] = p;
    by_ino_[p->ino] = p;
    if (failed) {  // shown (with the reason), retried only when asked
      p->state = UploadState::kFailed;
      p->error = rec.last_error;
      p->overwrite = rec.last_error.rfind(kConflict, 0) == 0;
      continue;
    }
    p->state = UploadState::kPending;
    enqueue_locked(p, std::chrono::milliseconds(0));
    spdlog::info("resuming the upload of {} ({} bytes)", rec.path, p->size);
  }
}

size_t Filesystem::wait_uploads(std::chrono::milliseconds timeout) {
  close_implicit_writers(WriterClose::kSync);  // (what was written with no close after it is promised and queued too)
  std::unique_lock lock(write_mu_);
  auto left = [&] {
    size_t n = 0;
    for (auto& [path, p] : pending_)
      if (p->landing || (p->state != UploadState::kFailed &&
                         (p->flushed > p->uploaded || p->state == UploadState::kUploading ||
                          (!p->base_id.empty() && p->late_patch.is_object() && !p->late_patch.empty()))))
        ++n;
    return n;
  };
  // The access times held go now; waited for too where workers send them.
  release_held_access_locked(true);
  bool sending = !workers_.empty();
  // (done when the spool entries of what landed are gone too: `dlfs sync` then finds none)
  write_cv_.wait_for(lock, timeout, [&] {
    return left() + spool_drops_.size() + spool_dropping_ + (sending ? access_in_flight_ : 0) == 0;
  });
  return left();
}

void Filesystem::stop_uploads() {
  stop_implicit_sweeper();
  close_implicit_writers(WriterClose::kGone);
  {
    std::lock_guard lock(write_mu_);
    stopping_ = true;
  }
  write_cv_.notify_all();
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  drop_released_spool();
}

void Filesystem::upload_worker() {
  std::unique_lock lock(write_mu_);
  for (;;) {
    if (stopping_) return;
    auto now = std::chrono::steady_clock::now();
    // Delayed tasks whose time came go behind those ready already.
    while (!delayed_tasks_.empty() && delayed_tasks_.begin()->first <= now) {
      push_ready_locked(std::move(delayed_tasks_.begin()->second));
      delayed_tasks_.erase(delayed_tasks_.begin());
    }
    std::optional<std::chrono::steady_clock::time_point> when = release_held_access_locked(false);
    if (ready_tasks_.empty()) {
      // (a copy: another worker may take that task meanwhile)
      if (!delayed_tasks_.empty()) when = when ? std::min(*when, delayed_tasks_.begin()->first) : delayed_tasks_.begin()->first;
      if (when) work_cv_.wait_until(lock, *when);
      else work_cv_.wait(lock);
      continue;
    }
    if (remote_.server_away()) {
      // Not tried while the server is known away: a try would hold the file's path lock for a
      // stall bound, and a `cp` or `mkdir` next to it would wait for it. The remote's prober
      // learns when it is back.
      work_cv_.wait_for(lock, kAwayRecheck);
      continue;
    }
    Task task = std::move(ready_tasks_.front());
    ready_tasks_.pop_front();
    ready_uploads_ -= task.file != nullptr;
    // Small files queued one after another go together (fs/filesystem_upload_batch.cpp).
    std::vector<std::shared_ptr<PendingFile>> batch;
    if (task.file && options_.upload_batch > 1 && batchable_locked(*task.file)) {
      batch.push_back(task.file);
      uint64_t bytes = task.file->size;
      while (batch.size() < options_.upload_batch && !ready_tasks_.empty() && ready_tasks_.front().file &&
             batchable_locked(*ready_tasks_.front().file) &&
             bytes + ready_tasks_.front().file->size <= kBatchBytes) {
        bytes += ready_tasks_.front().file->size;
        batch.push_back(std::move(ready_tasks_.front().file));
        ready_tasks_.pop_front();
        --ready_uploads_;
      }
    }
    // Access times queued one after another go in one call too (on the platform: one commit; a
    // first pass over a dataset queues one per file, each a durable commit of its own otherwise).
    std::vector<Task> accesses;
    if (!task.file && !task.access_patch.is_null()) {
      accesses.push_back(std::move(task));
      while (accesses.size() < kAccessBatch && !ready_tasks_.empty() && !ready_tasks_.front().file &&
             !ready_tasks_.front().access_patch.is_null()) {
        accesses.push_back(std::move(ready_tasks_.front()));
        ready_tasks_.pop_front();
      }
    }
    if (!ready_tasks_.empty()) work_cv_.notify_one();  // more for another worker
    lock.unlock();
    if (batch.size() > 1) run_upload_batch(std::move(batch));
    else if (!accesses.empty()) run_access_patches(std::move(accesses));
    else if (task.file) run_upload(task.file);
    else if (task.folder_times) run_folder_times(std::move(task));
    else run_poll();
    drop_released_spool();  // (whatever a task released)
    lock.lock();
  }
}

void Filesystem::run_upload(const std::shared_ptr<PendingFile>& p) {
  // Its path lock first (the file may be renamed until it is held).
  PathLocks::Guard guard;
  std::string path;
  for (;;) {
    {
      std::lock_guard lock(write_mu_);
      if (p->removed || p->released || p->state == UploadState::kFailed) {
        p->queued = false;
        return;
      }
      path = p->path;
    }
    guard = path_locks_.lock(path);
    std::lock_guard lock(write_mu_);
    if (p->path == path) break;
    guard.release();
  }
  uint64_t gen;
  json patch_only;
  {
    std::lock_guard lock(write_mu_);
    p->queued = false;
    if (p->removed || p->released || p->state == UploadState::kFailed) return;
    if (!p->dir && p->flushed <= p->uploaded) {
      // Nothing new since the last upload; but metadata set before it that could not be sent
      // after it landed is sent now.
      if (p->late_patch.is_object() && !p->late_patch.empty() && !p->base_id.empty()) {
        patch_only = std::exchange(p->late_patch, json());
        p->state = UploadState::kUploading;
        ++p->attempts;
      } else {
        return;
      }
    }
    if (patch_only.is_null()) {
      p->state = UploadState::kUploading;
      ++p->attempts;
    }
    gen = p->flushed;
  }
  if (!patch_only.is_null()) return send_late_patch(p, std::move(patch_only));
  // (the journal is not told of the try: a record resumed after a restart is tried whatever its
  // state said, and a failure journals its attempts and error)
  auto item = upload_to_platform(p, path);
  if (item) landed(p, gen, std::move(*item));
  else upload_failed(p, gen, item.status());
}

Result<Item> Filesystem::upload_to_platform(const std::shared_ptr<PendingFile>& p, const std::string& path) {
  std::string base, replace;
  bool verify;
  {
    std::lock_guard lock(write_mu_);
    if (p->dir) return remote_make_dir(path);
    base = p->base_id;
    replace = p->replace_id;
    verify = p->verify_place;
  }
  if (verify && !base.empty()) {
    // Resumed after the mount stopped: is its platform item where the journal says? (A rename
    // may have been journaled and the mount stopped before the platform moved it.)
    auto at = remote_.get_by_id(base);
    if (!at && at.err() == ENOENT) {
      base.clear();  // deleted meanwhile: the bytes are kept as a new file
    } else if (!at) {
      return at.status();
    } else if (at->filename != path) {
      auto moved = remote_move(base, path, replace);
      // An object in a bucket that may not move (EXDEV): the bytes go up as a new file here and
      // the item stays where it was (a rename journaled just before the mount stopped; a live one
      // is refused, and `mv` copies).
      if (!moved && moved.err() == EXDEV) base.clear();
      else if (!moved) return moved.status();
    }
    std::lock_guard lock(write_mu_);
    p->base_id = base;
    p->verify_place = false;
  }
  UploadPlan plan = plan_upload(p, path);
  return settle_upload(p, plan, remote_.upload(plan.file, path, plan.options));
}

Filesystem::UploadPlan Filesystem::plan_upload(const std::shared_ptr<PendingFile>& p, const std::string& path) {
  UploadPlan plan;
  plan.path = path;
  std::string base;
  bool overwrite;
  json posix;  // its mode, owners and times, sent with the bytes
  UploadOptions& uo = plan.options;
  uo.user = options_.user;
  {
    std::lock_guard lock(write_mu_);
    base = p->base_id;
    uo.replace_id = p->replace_id;
    overwrite = p->overwrite;
    if (p->item.metadata.contains("user")) uo.metadata = {{"user", p->item.user()}};
    if (p->item.description) uo.description = p->item.description;
    if (options_.posix_attrs) posix = posix_json(posix_attrs(shown_item(*p)));
    else if (auto target = symlink_target(p->item)) posix = {{"symlink", *target}};
    plan.file = options_.spool->file_path(p->spool_id);
    // No writer has it open: the platform's storage may take its inode by hard link (no second
    // copy of the bytes). It is frozen from now on (a writer's open copies it first), and offered
    // by descriptor: an unfreeze that gives the name a new inode cannot send that one instead.
    if (link_uploads_ && p->writers == 0 && !p->dir) {
      auto source = std::make_shared<SpoolFd>();
      source->fd = ::open(plan.file.c_str(), O_RDONLY | O_CLOEXEC);
      if (source->fd >= 0) {
        p->frozen = true;
        plan.source = std::move(source);
      }
    }
  }
  struct stat st {};
  if (plan.source) plan.file = "/proc/self/fd/" + std::to_string(plan.source->fd);
  if ((plan.source ? ::fstat(plan.source->fd, &st) : ::stat(plan.file.c_str(), &st)) == 0) plan.expect = uint64_t(st.st_size);
  uo.linkable = plan.source != nullptr;
  // Never on the platform: create-only, so that nothing someone else made is overwritten.
  plan.create_only = base.empty() && !overwrite;
  uo.mode = plan.create_only ? UploadMode::kSkip : UploadMode::kOverwrite;
  plan.token = options_.spool->upload_token(p->spool_id);
  uo.resume_key = plan.token;  // (a large file's upload in parts resumes after a restart)
  plan.posix = posix.empty() ? json() : json{{"system", {{kPosixKey, posix}}}};
  if (plan.create_only) {
    // The upload is named in the item (metadata.dlfs.upload), so that a try whose answer was
    // lost is known as this file's own when the next one finds it there.
    if (!uo.metadata.is_object()) uo.metadata = json::object();
    uo.metadata["dlfs"] = {{"upload", plan.token}};
    if (!posix.empty()) uo.metadata["system"] = {{kPosixKey, posix}};
  } else {
    // An overwrite keeps the item's metadata (the patches went by id); its times are new.
    uo.replace_id.clear();
    uo.metadata = plan.posix;
  }
  return plan;
}

Result<Item> Filesystem::settle_upload(const std::shared_ptr<PendingFile>& p, UploadPlan& plan,
                                       Result<UploadResult> answer) {
  DLFS_ASSIGN(UploadResult up, std::move(answer));
  UploadOptions& uo = plan.options;
  if (up.op == UploadOp::kSkipped) {
    const json* t = find_dotted(up.item.metadata, "dlfs.upload");
    bool named_ours = t && t->is_string() && t->get<std::string>() == plan.token;
    bool same = same_bytes(remote_, up.item, plan.file);
    if (!named_ours && !same)
      return Status(EEXIST, std::string(kConflict) + "someone else made " + mount_path(plan.path) +
                                " on the platform while this mount had it pending; this mount's copy is kept: `dlfs "
                                "status --retry` overwrites theirs, `--discard` drops it");
    if (!same) {  // an earlier try of this file's whose answer was lost, with older bytes
      uo.mode = UploadMode::kOverwrite;
      uo.metadata = plan.posix;
      uo.replace_id.clear();
      DLFS_ASSIGN(up, remote_.upload(plan.file, plan.path, uo));
    }
  }
  {
    // The platform's item is this file's from now on, even if its bytes are not the right ones
    // (the file changed while it went up): the next try overwrites it.
    std::lock_guard lock(write_mu_);
    // Counted on the platform now, no longer as pending (room_left): both under write_mu_.
    if (up.op == UploadOp::kCreated && uo.replace_id.empty()) quota_counted(1);
    p->base_id = up.item.id;
    p->replace_id.clear();
  }
  if (up.item.size() != plan.expect)
    return Status(EIO, "size check failed: the platform has " + std::to_string(up.item.size()) + " bytes, the spool " +
                           std::to_string(plan.expect));
  return std::move(up.item);
}

void Filesystem::landed(const std::shared_ptr<PendingFile>& p, uint64_t gen, Item item) {
  json late_patch;
  {
    std::lock_guard lock(write_mu_);
    p->landing = true;
    p->base_id = item.id;
    p->replace_id.clear();
    p->overwrite = false;
    p->maybe_on_platform = false;
    p->attempts = 0;
    p->error.clear();
    p->uploaded = std::max(p->uploaded, gen);
    last_landed_ = std::chrono::steady_clock::now();
    ++counters_.uploads_landed;
    late_patch = std::exchange(p->late_patch, json());
    p->item = item;  // (metadata patches wait for the landing: the answer is the newest)
    // The node keeps its number under the platform's id, in the same step as the pending file
    // takes that id: a lookup that sees the new id finds this node (never a second one).
    inodes_.rebind(p->ino, shown_item(*p), options_.clock->now_ms());
    if (late_patch.is_object() && late_patch.contains("metadata")) merge_patch(p->item.metadata, late_patch["metadata"]);
    if (p->flushed > p->uploaded) {
      p->state = UploadState::kPending;  // changed while uploading: once more
      enqueue_locked(p, std::chrono::milliseconds(0));
    } else if (p->generation > p->uploaded) {
      p->state = UploadState::kWriting;  // still being written: the next close queues it
    } else {
      p->state = UploadState::kUploaded;
    }
    // A file that stays (open, or more to upload) keeps its journal record, now naming the
    // platform's item. The record stays pending: should the mount stop before it is released, the
    // next one uploads it once more (an overwrite of that item: harmless).
    bool stays = p->handles > 0 || p->state != UploadState::kUploaded;
    if (stays && !p->dir)
      if (auto rec = options_.spool->get(p->spool_id)) {
        rec->state = UploadState::kPending;
        rec->item_id = item.id;
        rec->replace_id.clear();
        // What went with the upload (the attributes it was created with) leaves the journal; a
        // patch to send below stays journaled until the platform has it (a mount killed before
        // then sends it next time). An old attribute kept would undo a chmod made since.
        rec->patch = late_patch.is_object() && !late_patch.empty() ? late_patch : json();
        (void)options_.spool->update(*rec);
      }
    if (!p->dir && item.preprocessing() && options_.preprocess_polls > 0) await_preprocess_locked(item);
    // (waiters are woken below, once the file is learned and its spool entry dropped)
  }
  if (late_patch.is_object() && !late_patch.empty()) {
    auto patched = remote_patch(item.id, late_patch);
    if (patched) {
      item = std::move(*patched);
      std::lock_guard lock(write_mu_);
      p->item.metadata = item.metadata;
      p->item.description = item.description;
      journal_patch_sent_locked(p);
    } else {
      keep_late_patch(p, std::move(late_patch), patched.status());
    }
  }
  learned(item);
  drop_read_pin(p->ino);  // (its descriptors read what this mount wrote now)
  {
    std::lock_guard lock(write_mu_);
    p->landing = false;
    release_pending_locked(p);
    write_cv_.notify_all();
  }
  drop_released_spool();
  if (Invalidator* inv = invalidator_.load()) inv->inode_changed(p->ino);
  spdlog::debug("uploaded {} ({} bytes)", item.filename, item.size());
}

int64_t Filesystem::retry_delay_ms(uint32_t attempts) const {
  // (attempts can be 0: a close while the upload ran resets the count)
  int64_t delay = options_.retry_base_ms << std::min<uint32_t>(std::max<uint32_t>(attempts, 1) - 1, 20);
  delay = std::min(delay, options_.retry_max_ms);
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return delay / 2 + int64_t(rng() % uint64_t(delay / 2 + 1));  // jitter: [delay/2, delay]
}

void Filesystem::upload_failed(const std::shared_ptr<PendingFile>& p, uint64_t gen, const Status& failure) {
  std::string path;
  std::unique_lock lock(write_mu_);
  path = p->path;
  bool conflict = failure.message().rfind(kConflict, 0) == 0;
  bool transient = !conflict && is_transient_remote_error(failure.err());
  if (transient && p->base_id.empty() && !p->dir) p->maybe_on_platform = true;  // its answer may have been lost
  if (p->generation > gen && !conflict) {
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
  p->error = failure.to_string();
  ++counters_.upload_failures;
  if (failure.err() == EDQUOT) quota_stale();  // a quota set (or filled) since the mount last asked
  bool give_up = false;
  if (transient && stopping_) {
    p->state = UploadState::kPending;  // the next mount resumes it
  } else if (transient && p->attempts < options_.max_attempts) {
    int64_t delay = retry_delay_ms(p->attempts);
    p->state = UploadState::kPending;
    spdlog::warn("upload of {} failed (attempt {}): {}; retrying in {} ms", path, p->attempts,
                 failure.to_string(), delay);
    enqueue_locked(p, std::chrono::milliseconds(delay));
  } else {
    give_up = true;
    ++counters_.uploads_given_up;
    spdlog::error("upload of {} failed: {}", path, failure.to_string());
  }
  uint32_t attempts = p->attempts;
  std::string error = p->error;
  if (!give_up) write_cv_.notify_all();
  lock.unlock();
  // The journal first: whoever is told of a failure (fsync, `dlfs status`) must find it there.
  if (auto rec = options_.spool->get(p->spool_id)) {
    rec->state = give_up ? UploadState::kFailed : UploadState::kPending;
    rec->attempts = attempts;
    rec->last_error = error;
    (void)options_.spool->update(*rec);
  }
  if (give_up) {
    lock.lock();
    p->state = UploadState::kFailed;
    write_cv_.notify_all();
  }
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
      if (p->error.rfind(kConflict, 0) == 0) p->overwrite = true;  // the user's word: theirs goes
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
    for (auto& p : gone) {
      remove_pending_locked(p);
      release_pending_locked(p);
    }
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

UploadTally Filesystem::upload_tally() {
  UploadTally t;
  t.spool_bytes = options_.spool ? options_.spool->used_bytes() : 0;
  std::lock_guard lock(write_mu_);
  for (auto& [path, p] : pending_) {
    switch (p->state) {
      case UploadState::kFailed: ++t.failed; break;
      case UploadState::kUploading: ++t.uploading; break;
      case UploadState::kWriting: ++t.writing; break;
      case UploadState::kPending: ++t.pending; break;
      case UploadState::kUploaded: break;
    }
  }
  return t;
}

json Filesystem::upload_status() {
  auto quota = quota_now();
  auto room = room_left(true);
  std::lock_guard lock(write_mu_);
  json out{{"pending", 0}, {"uploading", 0}, {"writing", 0}, {"failed", json::array()},
           {"spool_bytes", options_.spool ? options_.spool->used_bytes() : 0}};
  if (quota && quota->room()) {  // a quota of items is set: the room new files have left
    out["quota"] = quota->to_json();
    out["room"] = room.value_or(0);
  }
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

}  // namespace dlfs
