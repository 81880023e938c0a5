// Writes without opens (FsOptions::no_open). The kernel, told ENOSYS to an open, sends no open
// and no release for an existing file any more, and told ENOSYS to a flush, none at a close
// either (Filesystem::closes_needed): a warm open, read and close of a dataset's file then cost
// the daemon nothing. Its writes, ftruncates and open(O_TRUNC)s come with fh 0. They go through
// one writer per node, made as an open for writing would be (the item's bytes copied into the
// spool, or none with a truncate to 0), and let go — committed and queued, as a close was — once
// no write came for implicit_idle_ms (the sweeper), at an fsync of its folder or a wait for every
// upload (`dlfs sync`), at unmount, at a flush while the kernel still sends them, and, past
// max_implicit_writers open (each holds its spool file's descriptor), the least recently written
// first. A writer still writing when let go makes a new one, which promises the rest.
// Files made by create are written the same way: once told ENOSYS to an open, the kernel sends
// no release even for a file it opened through CREATE (a handle kept per file made, with its
// spool descriptor, to the unmount: a `cp -r` of more files than the mount's descriptor limit
// failed with EMFILE). Their handle becomes the node's implicit writer, and the kernel gets fh 0.
// No close being seen, what a close promised is promised as each write returns (survives a
// kill -9 of the mount, resumed as far as written): a new file's record is made at its create,
// an edit's once the item's old bytes are copied into the spool (materialize). Its upload waits
// for the let-go; an fsync(2) waits for it at once, and -o sync_upload keeps closes for it.
#include <fcntl.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/paths.h"
#include "fs/filesystem.h"

namespace dlfs {

std::shared_ptr<Filesystem::ImplicitWriter> Filesystem::implicit_slot(Ino ino) {
  std::unique_lock lock(implicit_mu_);
  if (auto it = implicit_.find(ino); it != implicit_.end()) return it->second;
  if (implicit_.size() >= std::max<size_t>(options_.max_implicit_writers, 1)) {
    lock.unlock();
    cap_implicit_writers();  // (a new one past the cap: the oldest go first)
    lock.lock();
  }
  auto& slot = implicit_[ino];
  if (!slot) {
    slot = std::make_shared<ImplicitWriter>();
    slot->used_ms = steady_now_ms();  // (the newest: the cap lets it be)
  }
  implicit_count_ = implicit_.size();
  if (!implicit_sweeper_.joinable()) {
    implicit_stopping_ = false;
    implicit_sweeper_ = std::thread([this] { sweep_implicit_writers(); });
  }
  return slot;
}

void Filesystem::cap_implicit_writers() {
  const size_t cap = std::max<size_t>(options_.max_implicit_writers, 1);
  std::vector<std::pair<int64_t, Ino>> by_use;
  {
    std::lock_guard lock(implicit_mu_);
    if (implicit_.size() < cap) return;
    for (auto& [ino, w] : implicit_) by_use.emplace_back(w->used_ms.load(), ino);
  }
  std::sort(by_use.begin(), by_use.end());
  size_t over = by_use.size() - cap * 3 / 4;
  // (each only if not written since it was picked: a writer still writing stays)
  for (size_t i = 0; i < over && i < by_use.size(); ++i) {
    Status s = close_implicit_writer(by_use[i].second, WriterClose::kIdle, by_use[i].first);
    if (!s) spdlog::error("closing a writer past the most kept open: {}", s.to_string());
  }
}

Status Filesystem::with_implicit_writer(Ino ino, bool truncating, const std::function<Status(uint64_t fh)>& op) {
  DLFS_TRY(ensure_writable(options_));
  for (;;) {
    std::shared_ptr<ImplicitWriter> w = implicit_slot(ino);
    std::lock_guard hold(w->mu);
    if (w->closed) continue;  // let go between the two locks: a new one
    if (w->fh == 0) {
      auto opened = open(ino, O_WRONLY | (truncating ? O_TRUNC : 0));
      if (!opened) {
        spdlog::debug("a write of inode {} with no open: {}", ino, opened.status().to_string());
        w->closed = true;
        std::lock_guard lock(implicit_mu_);
        if (auto it = implicit_.find(ino); it != implicit_.end() && it->second == w) implicit_.erase(it);
        implicit_count_ = implicit_.size();
        return opened.status();
      }
      w->fh = opened->fh;
    }
    w->used_ms = steady_now_ms();
    return op(w->fh);
  }
}

void Filesystem::adopt_implicit_writer(Ino ino, uint64_t fh) {
  bool writable = false;
  {
    std::lock_guard lock(handles_mu_);
    if (auto it = files_.find(fh); it != files_.end()) writable = it->second.writable;
  }
  while (writable) {
    std::shared_ptr<ImplicitWriter> w = implicit_slot(ino);
    std::lock_guard hold(w->mu);
    if (w->closed) continue;  // let go between the two locks: a new one
    if (w->fh != 0) break;    // the node has a writer: it writes the same pending file
    w->fh = fh;
    w->used_ms = steady_now_ms();
    return;
  }
  release(fh);  // (a truncate it opened with is done: the file's bytes, not the handle's)
}

std::optional<Filesystem::FileHandle> Filesystem::implicit_handle(Ino ino) {
  if (implicit_count_.load(std::memory_order_relaxed) == 0) return std::nullopt;  // (most reads: no lock)
  uint64_t fh;
  {
    std::lock_guard lock(implicit_mu_);
    auto it = implicit_.find(ino);
    // (its fh is read without its mu: a stale one finds no handle, or the handle whose descriptor
    // holds the file as that writer left it)
    if (it == implicit_.end() || (fh = it->second->fh.load()) == 0) return std::nullopt;
  }
  std::lock_guard lock(handles_mu_);
  auto it = files_.find(fh);
  if (it == files_.end()) return std::nullopt;
  return it->second;
}

Status Filesystem::close_implicit_writer(Ino ino, WriterClose why, int64_t idle_before_ms) {
  std::shared_ptr<ImplicitWriter> w;
  {
    std::lock_guard lock(implicit_mu_);
    auto it = implicit_.find(ino);
    if (it == implicit_.end()) return {};
    w = it->second;
  }
  std::lock_guard hold(w->mu);
  if (w->closed || w->fh == 0) return {};
  if (why == WriterClose::kIdle && w->used_ms > idle_before_ms) return {};
  std::shared_ptr<PendingFile> p;
  {
    std::lock_guard lock(handles_mu_);
    if (auto it = files_.find(w->fh); it != files_.end()) p = it->second.pending;
  }
  bool removed = false;
  if (p) {
    std::lock_guard lock(write_mu_);
    removed = p->removed;
  }
  // An unlinked file's writer stays while a descriptor may be left: its bytes live only in the
  // writer's descriptor, which every descriptor of the node writes and reads through.
  if (removed && why != WriterClose::kGone) return {};
  w->closed = true;
  {
    std::lock_guard lock(implicit_mu_);
    if (auto it = implicit_.find(ino); it != implicit_.end() && it->second == w) implicit_.erase(it);
    implicit_count_ = implicit_.size();
  }
  Status s = why == WriterClose::kFlush ? flush(ino, w->fh)
             : p                        ? commit_and_queue(p, /*closing=*/true)
                                        : Status();
  release(w->fh);
  return s;
}

void Filesystem::sweep_implicit_writers() {
  const auto idle = std::chrono::milliseconds(std::max<int64_t>(options_.implicit_idle_ms, 1));
  std::unique_lock lock(implicit_mu_);
  while (!implicit_stopping_) {
    implicit_cv_.wait_for(lock, std::min<std::chrono::milliseconds>(idle / 2 + std::chrono::milliseconds(1),
                                                                    std::chrono::milliseconds(500)));
    if (implicit_stopping_) break;
    int64_t before = steady_now_ms() - idle.count();
    std::vector<Ino> inos;
    for (auto& [ino, w] : implicit_) inos.push_back(ino);
    lock.unlock();
    for (Ino ino : inos) {
      Status s = close_implicit_writer(ino, WriterClose::kIdle, before);
      if (!s) spdlog::error("closing a writer that went idle: {}", s.to_string());
    }
    lock.lock();
  }
}

void Filesystem::close_implicit_writers(WriterClose why, const std::string& under) {
  std::vector<Ino> inos;
  {
    std::lock_guard lock(implicit_mu_);
    for (auto& [ino, w] : implicit_) inos.push_back(ino);
  }
  if (under != "/")
    std::erase_if(inos, [&](Ino ino) {
      auto p = pending_of(ino);
      if (!p) return true;
      std::lock_guard lock(write_mu_);
      return !is_same_or_under(p->path, under);
    });
  for (Ino ino : inos) {
    Status s = close_implicit_writer(ino, why);
    if (!s) spdlog::error("closing a writer: {}", s.to_string());
  }
}

void Filesystem::stop_implicit_sweeper() {
  std::thread sweeper;
  {
    std::lock_guard lock(implicit_mu_);
    implicit_stopping_ = true;
    sweeper = std::move(implicit_sweeper_);
  }
  implicit_cv_.notify_all();
  if (sweeper.joinable()) sweeper.join();
}

Status Filesystem::opened_by_read(Ino ino) {
  auto n = node(ino);
  if (!n || n->kind != NodeKind::kItem || n->item->is_dir() || is_spool_id(n->item->id)) return {};
  if (n->item->is_link()) {
    bool changed = false;
    DLFS_TRY(revalidate_link(ino, *n->item, changed));
  }
  accessed(*n->item);
  prefetch_opened(*n->item);
  return {};
}

}  // namespace dlfs
