// The filesystem core's write side: files written into the spool (cache/upload_spool.h) and
// uploaded in the background (fs/filesystem_upload.cpp). Creates follow the ordering rule of
// fs/filesystem_namespace.cpp; writes, truncates, flushes and fsyncs change only a pending
// file's bytes and generation.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/paths.h"
#include "core/posix_attrs.h"
#include "fs/filesystem.h"

namespace dlfs {
namespace {

constexpr std::string_view kSpoolIdPrefix = "spool-";

}  // namespace

Status ensure_writable(const FsOptions& o) {
  if (o.read_only) return Status(EROFS, "the mount is read-only");
  if (!o.spool) return Status(EROFS, "this mount has no upload spool (writing disabled)");
  return {};
}

bool is_spool_id(std::string_view id) { return id.rfind(kSpoolIdPrefix, 0) == 0; }

Filesystem::SpoolFd::~SpoolFd() {
  if (fd >= 0) ::close(fd);
}

Filesystem::~Filesystem() {
  prefetch_.reset();  // (its threads read through the remote and the sources)
  stop_uploads();
}

std::shared_ptr<PendingFile> Filesystem::pending_at(const std::string& path) {
  std::lock_guard lock(write_mu_);
  auto it = pending_.find(path);
  return it == pending_.end() ? nullptr : it->second;
}

std::shared_ptr<PendingFile> Filesystem::pending_of(Ino ino) {
  std::lock_guard lock(write_mu_);
  auto it = by_ino_.find(ino);
  return it == by_ino_.end() ? nullptr : it->second;
}

Item Filesystem::shown_item(const PendingFile& p) const {
  Item item = p.item;
  if (!p.dir) {
    item.system()["size"] = p.size;
    item.updated_ms = std::max(item.updated_ms, p.mtime_ns / 1000000);
  }
  if (options_.posix_attrs) {
    PosixAttrs times;
    times.mtime_ns = p.mtime_ns;
    times.ctime_ns = p.ctime_ns;
    set_posix_attrs(item, times);
  }
  return item;
}

Result<Item> Filesystem::item_at(const std::string& path) {
  if (auto p = pending_at(path)) {
    std::lock_guard lock(write_mu_);
    return shown_item(*p);
  }
  DLFS_ASSIGN(FetchedItem f, source_.item(path));
  return f.item;
}

std::shared_ptr<PendingFile> Filesystem::new_pending(uint64_t spool_id, const std::string& path, Ino parent,
                                                    const PosixAttrs* attrs) {
  auto p = std::make_shared<PendingFile>();
  p->spool_id = spool_id;
  p->path = path;
  p->parent_ino = parent;
  p->mtime_ns = p->ctime_ns = now_ns();
  p->item.id = std::string(kSpoolIdPrefix) + std::to_string(spool_id);
  p->item.dataset_id = remote_.dataset().id;
  p->item.set_path(path);
  p->item.created_ms = p->item.updated_ms = p->mtime_ns / 1000000;
  if (attrs) set_posix_attrs(p->item, *attrs);
  p->item.creator = p->item.updated_by = options_.user;
  return p;
}

Item Filesystem::publish_pending(const std::shared_ptr<PendingFile>& p, bool queue) {
  Item shown = shown_item(*p);  // not shared yet: no lock needed
  p->ino = inodes_.add_lookup(NodeKind::kItem, shown, options_.clock->now_ms(), kSetHere);
  std::lock_guard lock(write_mu_);
  pending_[p->path] = p;
  by_ino_[p->ino] = p;
  if (queue) enqueue_locked(p, std::chrono::milliseconds(0));
  return shown;
}

Result<uint64_t> Filesystem::add_file_handle(const std::shared_ptr<PendingFile>& p, const Item& shown, bool writable) {
  bool frozen;
  {
    // Counted before the spool file is opened: an upload landing now cannot drop it under us.
    std::lock_guard lock(write_mu_);
    if (p->released) return Status(ENOENT, p->path + " was uploaded and left the spool just now");
    ++p->handles;
    if (writable) ++p->writers;
    frozen = writable && p->frozen;
  }
  Status unfrozen = frozen ? unfreeze(p) : Status();
  uint64_t epoch;
  {
    // (read before the open: a reader's descriptor is never older than its epoch says)
    std::lock_guard lock(write_mu_);
    epoch = p->file_epoch;
  }
  auto fd = std::make_shared<SpoolFd>();
  std::string file = options_.spool->file_path(p->spool_id);
  if (unfrozen) fd->fd = ::open(file.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (unfrozen && fd->fd < 0 && errno == ENOENT) fd->fd = reopen_removed(p, writable);
  if (fd->fd < 0) {
    Status failed = unfrozen ? Status(errno, "cannot open spool file " + file) : unfrozen;
    {
      std::lock_guard lock(write_mu_);
      --p->handles;
      if (writable) --p->writers;
      release_pending_locked(p);
    }
    drop_released_spool();
    return failed;
  }
  std::lock_guard lock(handles_mu_);
  uint64_t fh = next_fh_++;
  files_.emplace(fh, FileHandle{std::make_shared<const Item>(shown), nullptr, p, fd, writable, epoch});
  return fh;
}

Status Filesystem::unfreeze(const std::shared_ptr<PendingFile>& p) {
  std::lock_guard order(unfreeze_mu_);
  {
    std::lock_guard lock(write_mu_);
    if (!p->frozen) return {};  // (another writer's open did it)
  }
  // The copy runs without write_mu_: no upload freezes the file meanwhile (the caller counts as
  // a writer), and none of its bytes change (nothing writes a frozen file).
  DLFS_TRY(options_.spool->unshare(p->spool_id));
  std::lock_guard lock(write_mu_);
  p->frozen = false;
  ++p->file_epoch;
  return {};
}

Status Filesystem::truncate_open_file(const std::shared_ptr<PendingFile>& p, uint64_t fh) {
  std::shared_ptr<SpoolFd> fd;
  {
    std::lock_guard lock(handles_mu_);
    fd = files_.at(fh).fd;
  }
  bool removed;
  {
    std::lock_guard lock(write_mu_);
    removed = p->removed;
  }
  if (!removed) DLFS_TRY(options_.spool->resize(p->spool_id, 0));
  if (::ftruncate(fd->fd, 0) != 0) return Status(errno, "truncating the spool file");
  std::lock_guard lock(write_mu_);
  p->size = 0;
  p->mtime_ns = p->ctime_ns = now_ns();
  ++p->generation;
  return {};
}

Result<std::shared_ptr<PendingFile>> Filesystem::materialize(Ino ino, bool truncate) {
  std::string path;
  DLFS_ASSIGN(PathLocks::Guard guard, lock_node(ino, path));
  DLFS_ASSIGN(Node n, node(ino));
  const Item& item = *n.item;
  auto at_path = pending_at(path);
  if (at_path && at_path->ino == ino) return at_path;
  if (item.is_link()) return Status(EPERM, path + " is a link item; it cannot be edited");
  if (symlink_target(item)) return Status(ELOOP, path + " is a symlink");
  drop_held_access(item.id);  // (its times are the pending file's from here on)
  // Still at its path? A descriptor the kernel opened without asking (no_open) may write only
  // now, its file unlinked or renamed over since by this mount (another pending file at its path,
  // its platform item unlinked, or a new file's that left the spool unuploaded): it writes a
  // private copy of the bytes kept for its descriptors, never the platform's (ESTALE where none
  // were kept).
  bool here = !at_path && !n.unlinked && !is_spool_id(item.id);
  if (!here) {
    if (auto kept = kept_bytes(ino)) return private_copy(ino, path, item, *kept, truncate);
    return Status(ESTALE, path + " was removed or replaced since it was opened: its descriptor cannot write it");
  }
  UploadSpool& spool = *options_.spool;
  // Not promised until the item's bytes are copied in: a crash meanwhile must not send the copy
  // back over the item, cut short. Promised from then on, resumed after a crash as far as it was
  // written, as a new file is and as the local disk keeps a file being rewritten: the kernel may
  // tell the mount of no close (Filesystem::closes_needed), and a file closed must survive a
  // kill -9 of the mount right after.
  DLFS_ASSIGN(SpoolRecord rec, spool.create(remote_.dataset().id, path, item.id, false, nullptr, /*promised=*/false));
  auto p = std::make_shared<PendingFile>();
  p->spool_id = rec.id;
  p->ino = ino;
  p->path = path;
  p->base_id = item.id;
  p->item = item;
  p->item.set_path(path);
  // Its times as shown until its bytes change (now, when it is truncated open).
  PosixAttrs was = posix_attrs(item);
  p->mtime_ns = truncate ? now_ns() : was.mtime_ns.value_or(item.updated_ms * 1000000);
  p->ctime_ns = truncate ? p->mtime_ns : was.ctime_ns.value_or(item.updated_ms * 1000000);
  if (!truncate && item.size() > 0) {
    Status room = spool.resize(rec.id, item.size());
    if (!room) {
      (void)spool.remove(rec.id);
      return room;
    }
    SpoolFd fd;
    fd.fd = ::open(spool.file_path(rec.id).c_str(), O_WRONLY | O_CLOEXEC);
    std::vector<char> buf(1 << 20);
    uint64_t off = 0;
    while (fd.fd >= 0 && off < item.size()) {
      auto n = read_item(item, off, std::span<char>(buf.data(), buf.size()));
      if (!n || *n == 0 || ::pwrite(fd.fd, buf.data(), *n, off_t(off)) != ssize_t(*n)) {
        (void)spool.remove(rec.id);
        return n ? Status(EIO, "cannot copy " + path + " into the spool") : n.status();
      }
      off += *n;
    }
    p->size = off;
  }
  if (Status promised = spool.promise(rec.id); !promised) {
    (void)spool.remove(rec.id);
    return promised;
  }
  std::lock_guard lock(write_mu_);
  pending_[path] = p;
  by_ino_[ino] = p;
  return p;
}

// Like the kernel's throttling of dirty pages: a copy faster than the uploads would otherwise
// keep every file it made pending in memory (~7 KB each: its item, journal record, queue
// entry), 100,000 files a gigabyte. Past max_pending uploads queued for a worker, a new file
// waits for a landing; the copy then runs at the uploads' pace, and the time until all is on
// the platform is the same. Only queued uploads count: files kept as failed, or open for
// writing, are not the backlog (and would otherwise make every new file wait). It never waits on
// uploads that are not moving (the server away, or no landing for 2 s: every try failing): the
// spool on disk takes those, as it always did.
void Filesystem::throttle_new_pending() {
  if (options_.max_pending == 0) return;
  std::unique_lock lock(write_mu_);
  while (ready_uploads_ >= options_.max_pending && !stopping_) {
    if (std::chrono::steady_clock::now() - last_landed_ > std::chrono::seconds(2) || remote_.server_away()) return;
    write_cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

Result<std::pair<Entry, OpenResult>> Filesystem::create(Ino parent, std::string_view name, int flags,
                                                         const NewNode& as) {
  DLFS_ASSIGN(auto made, create_file(parent, name, flags, as));
  // no_open: the kernel may send no release for it (see fs/filesystem_implicit.cpp).
  if (options_.no_open) adopt_implicit_writer(made.first.ino, std::exchange(made.second.fh, 0));
  return made;
}

Result<std::pair<Entry, OpenResult>> Filesystem::create_file(Ino parent, std::string_view name, int flags,
                                                              const NewNode& as) {
  DLFS_TRY(ensure_writable(options_));
  DLFS_TRY(validate_name(name));
  throttle_new_pending();
  Ino existing_ino = 0;
  {
    DLFS_ASSIGN(Locked locked, lock_children({{parent, name}}, false));
    const std::string& path = locked.paths[0];
    if (is_reserved(path)) return Status(EPERM, path + " is reserved");
    uint64_t asked = inodes_.mark();
    auto existing = item_at(path);
    if (existing) {
      if (flags & O_EXCL) return Status(EEXIST, path + " exists");
      if (existing->is_dir()) return Status(EISDIR, path + " is a folder");
      existing_ino = inodes_.add_lookup(NodeKind::kItem, *existing, options_.clock->now_ms(), asked);
    } else if (existing.err() != ENOENT) {
      return existing.status();
    } else {
      // A quota of items that is full refuses a new file now, rather than at its upload.
      if (auto room = room_left(false); room && *room == 0)
        return Status(EDQUOT, "the dataset is full: no room left in its quota of items (`dlfs quota` tells, "
                              "`dlfs quota set` raises it)");
      UploadSpool& spool = *options_.spool;
      // Its mode and owners are journaled with it, and go with its upload.
      std::optional<PosixAttrs> attrs;
      json patch;
      if (options_.posix_attrs) {
        DLFS_ASSIGN(Node dir, node(parent));
        attrs = new_node_attrs(as, false, *dir.item);
        patch = {{"metadata", {{"system", {{kPosixKey, posix_json(*attrs)}}}}}};
      }
      DLFS_ASSIGN(SpoolRecord rec, spool.create(remote_.dataset().id, path, "", false, patch));
      auto p = new_pending(rec.id, path, parent, attrs ? &*attrs : nullptr);
      Item shown = publish_pending(p, false);
      Ino ino = p->ino;
      auto fh = add_file_handle(p, shown, true);
      if (!fh) {
        inodes_.forget(ino, 1);
        return fh.status();
      }
      folder_changed(parent_path(path));
      OpenResult r;
      r.fh = *fh;
      return std::pair{make_entry(ino, NodeKind::kItem, shown, nullptr), r};
    }
  }
  // Something is there (a race with another creator): open it, as open(2) without O_EXCL does.
  auto opened = open(existing_ino, flags);
  if (!opened) {
    inodes_.forget(existing_ino, 1);
    return opened.status();
  }
  DLFS_ASSIGN(Entry e, getattr(existing_ino));
  e.entry_timeout = options_.entry_timeout;
  return std::pair{e, *opened};
}

Result<size_t> Filesystem::write(Ino ino, uint64_t fh, uint64_t offset, std::span<const char> data) {
  if (fh == 0) {  // a descriptor the kernel opened without asking (no_open)
    size_t written = 0;
    DLFS_TRY(with_implicit_writer(ino, false, [&](uint64_t writer) -> Status {
      DLFS_ASSIGN(written, write(ino, writer, offset, data));
      return {};
    }));
    return written;
  }
  FileHandle h;
  {
    std::lock_guard lock(handles_mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) return Status(EBADF, "bad file handle");
    h = it->second;
  }
  if (!h.writable || !h.pending) return Status(EBADF, "not open for writing");
  uint64_t end = offset + data.size();
  {
    uint64_t size;
    bool removed;
    {
      std::lock_guard lock(write_mu_);
      size = h.pending->size;
      removed = h.pending->removed;
    }
    // (a removed file's spool entry is gone: its bytes are no longer the spool's to bound)
    if (end > size && !removed) DLFS_TRY(options_.spool->resize(h.pending->spool_id, end));
  }
  ssize_t n = ::pwrite(h.fd->fd, data.data(), data.size(), off_t(offset));
  if (n < 0) return Status(errno, "writing the spool file");
  std::lock_guard lock(write_mu_);
  PendingFile& p = *h.pending;
  p.size = std::max(p.size, offset + uint64_t(n));
  p.mtime_ns = p.ctime_ns = now_ns();
  ++p.generation;
  if (p.state != UploadState::kUploading) p.state = UploadState::kWriting;
  return size_t(n);
}

// How long an upload queued by a close waits for the RELEASE of the closing handle (sent by the
// kernel right after the close returns): with no writer left, the platform takes the spool file
// by link instead of copying it (plan_upload).
constexpr std::chrono::milliseconds kReleaseWait{20};

Status Filesystem::commit_and_queue(const std::shared_ptr<PendingFile>& p, bool closing) {
  uint64_t gen;
  {
    std::lock_guard lock(write_mu_);
    if (p->removed || p->flushed >= p->generation) return {};
    gen = p->generation;
  }
  DLFS_TRY(options_.spool->close_file(p->spool_id));
  std::lock_guard lock(write_mu_);
  if (p->removed) return {};
  p->flushed = std::max(p->flushed, gen);
  if (p->state != UploadState::kUploading) p->state = UploadState::kPending;
  p->attempts = 0;
  bool await_release = closing && link_uploads_ && p->writers > 0 && !options_.sync_upload;
  if (!p->queued && p->state != UploadState::kUploading)
    enqueue_locked(p, await_release ? kReleaseWait : std::chrono::milliseconds(0));
  return {};
}

Status Filesystem::wait_uploaded(const std::shared_ptr<PendingFile>& p, uint64_t generation) {
  std::unique_lock lock(write_mu_);
  write_cv_.wait(lock, [&] {
    return stopping_ || p->removed || p->uploaded >= generation || p->state == UploadState::kFailed;
  });
  if (p->removed) return {};
  if (p->state == UploadState::kFailed) return Status(EIO, "upload of " + p->path + " failed: " + p->error);
  if (p->uploaded < generation) return Status(EIO, "the mount is stopping; " + p->path + " stays queued");
  return {};
}

Status Filesystem::flush(Ino ino, uint64_t fh) {
  ++counters_.flushes;
  note_busy();
  if (fh == 0) return close_implicit_writer(ino, WriterClose::kFlush);  // a close of a descriptor (no_open)
  FileHandle h;
  {
    std::lock_guard lock(handles_mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) return {};
    h = it->second;
  }
  if (!h.writable || !h.pending) return {};
  DLFS_TRY(commit_and_queue(h.pending, /*closing=*/true));
  if (!options_.sync_upload) return {};
  uint64_t gen;
  {
    std::lock_guard lock(write_mu_);
    gen = h.pending->flushed;
  }
  return wait_uploaded(h.pending, gen);
}

Status Filesystem::fsync(Ino ino, uint64_t fh) {
  std::shared_ptr<PendingFile> p;
  if (fh) {
    std::lock_guard lock(handles_mu_);
    if (auto it = files_.find(fh); it != files_.end()) p = it->second.pending;
  }
  if (!p) p = pending_of(ino);
  if (!p) return {};
  DLFS_TRY(commit_and_queue(p));
  DLFS_TRY(options_.spool->sync({p->spool_id}));  // survives a power loss from here on
  uint64_t gen;
  {
    std::lock_guard lock(write_mu_);
    gen = p->flushed;
  }
  return wait_uploaded(p, gen);
}

Status Filesystem::fsyncdir(Ino ino) {
  DLFS_ASSIGN(Node n, node(ino));
  std::string dir = n.item->filename;
  close_implicit_writers(WriterClose::kSync, dir);  // (written with no close since: promised and waited for too)
  std::vector<std::pair<std::shared_ptr<PendingFile>, uint64_t>> waits;
  std::vector<uint64_t> spooled;
  {
    std::lock_guard lock(write_mu_);
    for (auto& [path, p] : pending_) {
      if (!is_same_or_under(path, dir)) continue;
      spooled.push_back(p->spool_id);
      if (p->flushed > p->uploaded) waits.emplace_back(p, p->flushed);
    }
  }
  if (options_.spool) DLFS_TRY(options_.spool->sync(spooled));  // survives a power loss from here on
  Status first;
  for (auto& [p, gen] : waits) {
    Status s = wait_uploaded(p, gen);
    if (!s && first) first = s;
  }
  return first;
}

void Filesystem::remove_pending_locked(const std::shared_ptr<PendingFile>& p) {
  if (p->removed) return;
  p->removed = true;
  if (auto it = pending_.find(p->path); it != pending_.end() && it->second == p) pending_.erase(it);
  // The journal record and the spool file go now (open descriptors keep the file's bytes).
  Status s = options_.spool->remove(p->spool_id);
  if (!s) spdlog::warn("spool: dropping {}: {}", p->path, s.to_string());
  write_cv_.notify_all();
}

void Filesystem::release_pending_locked(const std::shared_ptr<PendingFile>& p) {
  // (while an upload lands, the platform's item is not learned yet: the file must stay visible)
  if (p->handles > 0 || p->released || p->landing) return;
  bool done = p->removed || (p->state == UploadState::kUploaded && p->uploaded >= p->generation);
  if (!done) return;
  p->released = true;
  if (auto it = by_ino_.find(p->ino); it != by_ino_.end() && it->second == p) by_ino_.erase(it);
  if (p->removed) return;
  if (auto it = pending_.find(p->path); it != pending_.end() && it->second == p) pending_.erase(it);
  spool_drops_.push_back(p->spool_id);
  // A remote's data cache keeps the file as the version its upload made (nothing can write it
  // now: a new open makes a new pending file), so that reading it back fetches nothing.
  if (options_.data_cache && !link_uploads_ && !p->dir) cache_keeps_.emplace_back(p->spool_id, p->item);
  write_cv_.notify_all();
}

void Filesystem::drop_released_spool() {
  std::vector<uint64_t> ids;
  std::vector<std::pair<uint64_t, Item>> keeps;
  {
    std::lock_guard lock(write_mu_);
    if (spool_drops_.empty()) return;
    ids.swap(spool_drops_);
    keeps.swap(cache_keeps_);
    spool_dropping_ += ids.size();
  }
  for (auto& [id, item] : keeps) {  // (before the spool lets the file go: a hard link of it)
    Status kept = options_.data_cache->adopt(item, options_.spool->file_path(id));
    if (!kept) spdlog::debug("data cache: keeping {} as uploaded: {}", item.filename, kept.to_string());
  }
  for (uint64_t id : ids) {
    Status s = options_.spool->remove(id);
    if (!s) spdlog::warn("spool: dropping entry {} after its upload: {}", id, s.to_string());
  }
  std::lock_guard lock(write_mu_);
  spool_dropping_ -= ids.size();
  write_cv_.notify_all();
}

void Filesystem::settle_spool_drops() {
  drop_released_spool();
  std::unique_lock lock(write_mu_);
  write_cv_.wait(lock, [&] { return spool_drops_.empty() && spool_dropping_ == 0; });
}

void Filesystem::release(uint64_t fh) {
  FileHandle h;
  {
    std::lock_guard lock(handles_mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) return;
    h = std::move(it->second);
    files_.erase(it);
  }
  if (!h.pending) return;
  bool unflushed;
  {
    std::lock_guard lock(write_mu_);
    --h.pending->handles;
    if (h.writable) --h.pending->writers;
    unflushed = h.writable && h.pending->flushed < h.pending->generation && !h.pending->removed;
  }
  if (unflushed) {  // no flush came (the kernel always sends one on close; be safe)
    Status s = commit_and_queue(h.pending);
    if (!s) spdlog::error("{}: {}", h.pending->path, s.to_string());
  }
  {
    std::lock_guard lock(write_mu_);
    release_pending_locked(h.pending);
  }
  drop_released_spool();
}

void Filesystem::learned(const Item& item) {
  source_.learned(item);
  if (auto ino = inodes_.find(NodeKind::kItem, item.id))
    inodes_.refresh(*ino, item, options_.clock->now_ms(), kSetHere);
}

Result<std::shared_ptr<const PackedItems>> Filesystem::merged_listing(const Item& dir, int64_t* fetched_ms, Ino ino,
                                                                    uint64_t asked) {
  // The pending files are taken before the remote listing too: a file whose upload ends while
  // the listing is fetched may be missing from both the listing (asked before its commit) and
  // pending_ (dropped after it); the early snapshot still has it.
  std::vector<std::shared_ptr<PendingFile>> before;
  {
    std::lock_guard lock(write_mu_);
    for (auto& [path, p] : pending_)
      if (parent_path(path) == dir.filename) before.push_back(p);
  }
  std::shared_ptr<const PackedItems> listed;
  auto listing = source_.listing(dir.filename);
  if (listing) {
    apply_listing(ino, *listing, asked);
    if (fetched_ms) *fetched_ms = listing->fetched_ms;
    listed = listing->items;
  } else if (!is_spool_id(dir.id)) {  // a folder made offline may be nowhere on the platform yet
    return listing.status();
  } else {
    listed = std::make_shared<const PackedItems>();
  }
  std::lock_guard lock(write_mu_);
  // Nothing pending here (the common case, and a folder of 100,000 items): the listing itself,
  // shared, not copied.
  bool pending_here = !before.empty();
  for (auto it = pending_.begin(); !pending_here && it != pending_.end(); ++it)
    pending_here = parent_path(it->first) == dir.filename;
  if (!pending_here) return listed;
  // A pending file is what its path is, whatever the platform has there: it takes the place of
  // the listing's entry of its name, or comes after the listing's entries.
  std::unordered_map<std::string_view, size_t> listed_at;
  listed_at.reserve(listed->size());
  for (size_t i = 0; i < listed->size(); ++i) listed_at.emplace(listed->name(i), i);
  std::unordered_map<size_t, Item> replaced;
  std::vector<Item> added;
  std::unordered_map<std::string, size_t> added_at;
  auto merge = [&](const PendingFile& p, bool shadow) {
    if (p.removed || parent_path(p.path) != dir.filename) return;  // unlinked or moved since
    if (auto it = listed_at.find(p.item.name); it != listed_at.end()) {
      if (shadow) replaced.insert_or_assign(it->second, shown_item(p));
    } else if (auto a = added_at.find(p.item.name); a != added_at.end()) {
      if (shadow) added[a->second] = shown_item(p);
    } else {
      added_at.emplace(p.item.name, added.size());
      added.push_back(shown_item(p));
    }
  };
  for (auto& [path, p] : pending_)
    if (parent_path(path) == dir.filename) merge(*p, true);
  // Uploaded and forgotten during the fetch: shown unless the listing has the name already.
  for (auto& p : before)
    if (auto now = pending_.find(p->path); now == pending_.end() || now->second != p) merge(*p, false);
  auto items = std::make_shared<PackedItems>();
  items->reserve(listed->size() + added.size());
  for (size_t i = 0; i < listed->size(); ++i) {
    if (auto r = replaced.find(i); r != replaced.end()) items->add(r->second);
    else items->add_from(*listed, i);
  }
  for (const Item& a : added) items->add(a);
  return std::shared_ptr<const PackedItems>(std::move(items));
}

}  // namespace dlfs
