// The filesystem core's write side: files written into the spool (cache/upload_spool.h) and
// uploaded in the background; folders made, removed and renamed on the remote; xattrs patched.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/paths.h"
#include "fs/filesystem.h"
#include "fs/xattr_map.h"

namespace dlfs {
namespace {

constexpr std::string_view kSpoolIdPrefix = "spool-";

Status ensure_writable(const FsOptions& o) {
  if (o.read_only) return Status(EROFS, "the mount is read-only");
  if (!o.spool) return Status(EROFS, "this mount has no upload spool (writing disabled)");
  return {};
}

}  // namespace

bool is_spool_id(std::string_view id) { return id.rfind(kSpoolIdPrefix, 0) == 0; }

Filesystem::SpoolFd::~SpoolFd() {
  if (fd >= 0) ::close(fd);
}

Filesystem::~Filesystem() { stop_uploads(); }

std::shared_ptr<PendingFile> Filesystem::pending_at(const std::string& path) {
  std::lock_guard lock(write_mu_);
  auto it = pending_.find(path);
  return it == pending_.end() ? nullptr : it->second;
}

Item Filesystem::shown_item(const PendingFile& p) const {
  Item item = p.item;
  item.system()["size"] = p.size;
  item.updated_ms = std::max(item.updated_ms, p.mtime_ms);
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

Result<uint64_t> Filesystem::add_file_handle(const std::shared_ptr<PendingFile>& p, const Item& shown,
                                             bool writable) {
  auto fd = std::make_shared<SpoolFd>();
  std::string file = options_.spool->file_path(p->spool_id);
  fd->fd = ::open(file.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd->fd < 0) return Status(errno, "cannot open spool file " + file);
  if (writable) {
    std::lock_guard lock(write_mu_);
    ++p->handles;
  }
  std::lock_guard lock(handles_mu_);
  uint64_t fh = next_fh_++;
  files_.emplace(fh, FileHandle{std::make_shared<const Item>(shown), nullptr, p, fd, writable});
  return fh;
}

Result<std::shared_ptr<PendingFile>> Filesystem::materialize(const Item& item, bool truncate) {
  if (auto p = pending_at(item.filename)) return p;
  if (item.is_link()) return Status(EPERM, item.filename + " is a link item; it cannot be edited");
  UploadSpool& spool = *options_.spool;
  DLFS_ASSIGN(SpoolRecord rec, spool.create(remote_.dataset().id, item.filename, item.id));
  auto p = std::make_shared<PendingFile>();
  p->spool_id = rec.id;
  p->path = item.filename;
  p->item_id = item.id;
  p->item = item;
  p->mtime_ms = options_.clock->now_ms();
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
        return n ? Status(EIO, "cannot copy " + item.filename + " into the spool") : n.status();
      }
      off += *n;
    }
    p->size = off;
  }
  std::lock_guard lock(write_mu_);
  auto [it, inserted] = pending_.emplace(p->path, p);
  if (!inserted) {  // another thread was first
    (void)spool.remove(rec.id);
    return it->second;
  }
  return p;
}

Result<std::pair<Entry, OpenResult>> Filesystem::create(Ino parent, std::string_view name, int flags) {
  DLFS_TRY(ensure_writable(options_));
  DLFS_TRY(validate_name(name));
  DLFS_ASSIGN(Node dir, node(parent));
  if (dir.kind != NodeKind::kItem || !dir.item->is_dir()) return Status(EACCES, "not a dataset folder");
  std::string path = join_path(dir.item->filename, name);
  if (path == "/.thumbnails" || path == "/.dataloop" || is_same_or_under(path, "/.dataloop"))
    return Status(EPERM, path + " is reserved");
  auto existing = item_at(path);
  if (existing) {
    if (flags & O_EXCL) return Status(EEXIST, path + " exists");
    if (existing->is_dir()) return Status(EISDIR, path + " is a folder");
    Ino ino = inodes_.add_lookup(NodeKind::kItem, *existing, options_.clock->now_ms());
    auto opened = open(ino, flags);
    if (!opened) {
      inodes_.forget(ino, 1);
      return opened.status();
    }
    DLFS_ASSIGN(Entry e, getattr(ino));
    e.entry_timeout = options_.entry_timeout;
    return std::pair{e, *opened};
  }
  if (existing.err() != ENOENT) return existing.status();

  UploadSpool& spool = *options_.spool;
  DLFS_ASSIGN(SpoolRecord rec, spool.create(remote_.dataset().id, path, ""));
  auto p = std::make_shared<PendingFile>();
  p->spool_id = rec.id;
  p->path = path;
  p->parent_ino = parent;
  p->mtime_ms = options_.clock->now_ms();
  p->item.id = std::string(kSpoolIdPrefix) + std::to_string(rec.id);
  p->item.dataset_id = remote_.dataset().id;
  p->item.set_path(path);
  p->item.created_ms = p->item.updated_ms = p->mtime_ms;
  p->item.creator = p->item.updated_by = options_.user;
  {
    std::lock_guard lock(write_mu_);
    pending_[path] = p;
  }
  Item shown;
  {
    std::lock_guard lock(write_mu_);
    shown = shown_item(*p);
  }
  Ino ino = inodes_.add_lookup(NodeKind::kItem, shown, options_.clock->now_ms());
  auto fh = add_file_handle(p, shown, true);
  if (!fh) {
    inodes_.forget(ino, 1);
    return fh.status();
  }
  OpenResult r;
  r.fh = *fh;
  return std::pair{make_entry(ino, NodeKind::kItem, shown, nullptr), r};
}

Result<size_t> Filesystem::write(Ino, uint64_t fh, uint64_t offset, std::span<const char> data) {
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
    {
      std::lock_guard lock(write_mu_);
      size = h.pending->size;
    }
    if (end > size) DLFS_TRY(options_.spool->resize(h.pending->spool_id, end));
  }
  ssize_t n = ::pwrite(h.fd->fd, data.data(), data.size(), off_t(offset));
  if (n < 0) return Status(errno, "writing the spool file");
  std::lock_guard lock(write_mu_);
  PendingFile& p = *h.pending;
  p.size = std::max(p.size, offset + uint64_t(n));
  p.mtime_ms = options_.clock->now_ms();
  ++p.generation;
  if (p.state != UploadState::kUploading) p.state = UploadState::kWriting;
  return size_t(n);
}

Status Filesystem::commit_and_queue(const std::shared_ptr<PendingFile>& p) {
  uint64_t gen;
  {
    std::lock_guard lock(write_mu_);
    if (p->removed || p->flushed >= p->generation) return {};
    gen = p->generation;
  }
  DLFS_TRY(options_.spool->close_file(p->spool_id));
  std::lock_guard lock(write_mu_);
  p->flushed = std::max(p->flushed, gen);
  if (p->state != UploadState::kUploading) p->state = UploadState::kPending;
  p->attempts = 0;
  if (!p->queued && p->state != UploadState::kUploading) enqueue_locked(p, std::chrono::milliseconds(0));
  return {};
}

Status Filesystem::wait_uploaded(const std::shared_ptr<PendingFile>& p, uint64_t generation) {
  std::unique_lock lock(write_mu_);
  write_cv_.wait(lock, [&] {
    return stopping_ || p->removed || p->uploaded >= generation || p->state == UploadState::kFailed;
  });
  if (p->state == UploadState::kFailed) return Status(EIO, "upload of " + p->path + " failed: " + p->error);
  if (p->uploaded < generation && !p->removed) return Status(EIO, "the mount is stopping; " + p->path + " stays queued");
  return {};
}

Status Filesystem::flush(Ino, uint64_t fh) {
  FileHandle h;
  {
    std::lock_guard lock(handles_mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) return {};
    h = it->second;
  }
  if (!h.writable || !h.pending) return {};
  DLFS_TRY(commit_and_queue(h.pending));
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
  if (!p) {
    DLFS_ASSIGN(Node n, node(ino));
    if (n.kind == NodeKind::kItem) p = pending_at(n.item->filename);
  }
  if (!p) return {};
  DLFS_TRY(commit_and_queue(p));
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
  std::vector<std::pair<std::shared_ptr<PendingFile>, uint64_t>> waits;
  {
    std::lock_guard lock(write_mu_);
    for (auto& [path, p] : pending_)
      if (is_same_or_under(path, dir) && p->flushed > p->uploaded) waits.emplace_back(p, p->flushed);
  }
  Status first;
  for (auto& [p, gen] : waits) {
    Status s = wait_uploaded(p, gen);
    if (!s && first) first = s;
  }
  return first;
}

void Filesystem::drop_pending_locked(const std::shared_ptr<PendingFile>& p) {
  p->removed = true;
  if (auto it = pending_.find(p->path); it != pending_.end() && it->second == p) pending_.erase(it);
  if (p->state != UploadState::kUploading && p->handles == 0) (void)options_.spool->remove(p->spool_id);
  write_cv_.notify_all();
}

Result<Entry> Filesystem::setattr(Ino ino, uint64_t fh, std::optional<uint64_t> size,
                                  std::optional<int64_t> mtime_ms) {
  DLFS_ASSIGN(Node n, node(ino));
  if (n.kind != NodeKind::kItem) {
    if (size) return Status(EPERM, "thumbnails are read-only");
    return getattr(ino);
  }
  std::shared_ptr<PendingFile> p;
  if (fh) {
    std::lock_guard lock(handles_mu_);
    if (auto it = files_.find(fh); it != files_.end()) p = it->second.pending;
  }
  if (!p) p = pending_at(n.item->filename);
  if (size) {
    if (n.item->is_dir()) return Status(EISDIR, "is a folder");
    DLFS_TRY(ensure_writable(options_));
    if (!p) {
      DLFS_ASSIGN(p, materialize(*n.item, *size == 0));
    }
    DLFS_TRY(options_.spool->resize(p->spool_id, *size));
    if (::truncate(options_.spool->file_path(p->spool_id).c_str(), off_t(*size)) != 0)
      return Status(errno, "truncating the spool file");
    int handles;
    {
      std::lock_guard lock(write_mu_);
      p->size = *size;
      p->mtime_ms = options_.clock->now_ms();
      ++p->generation;
      handles = p->handles;
    }
    if (handles == 0) DLFS_TRY(commit_and_queue(p));  // no close will come
  }
  if (mtime_ms && p) {
    std::lock_guard lock(write_mu_);
    p->mtime_ms = *mtime_ms;
  }
  return getattr(ino);
}

Result<Entry> Filesystem::mkdir(Ino parent, std::string_view name) {
  DLFS_TRY(ensure_writable(options_));
  DLFS_TRY(validate_name(name));
  DLFS_ASSIGN(Node dir, node(parent));
  if (dir.kind != NodeKind::kItem || !dir.item->is_dir()) return Status(EACCES, "not a dataset folder");
  std::string path = join_path(dir.item->filename, name);
  if (path == "/.thumbnails" || path == "/.dataloop") return Status(EEXIST, path + " is reserved");
  auto existing = item_at(path);
  if (existing) return Status(EEXIST, path + " exists");
  if (existing.err() != ENOENT) return existing.status();
  DLFS_ASSIGN(Item made, remote_.make_dir(path));
  learned(made);
  Ino ino = inodes_.add_lookup(NodeKind::kItem, made, options_.clock->now_ms());
  return make_entry(ino, NodeKind::kItem, made, nullptr);
}

void Filesystem::learned(const Item& item) {
  source_.learned(item);
  if (auto ino = inodes_.find(NodeKind::kItem, item.id)) inodes_.refresh(*ino, item, options_.clock->now_ms());
}

Status Filesystem::unlink(Ino parent, std::string_view name) {
  DLFS_TRY(ensure_writable(options_));
  DLFS_ASSIGN(Node dir, node(parent));
  if (dir.kind != NodeKind::kItem) return Status(EPERM, "thumbnails are read-only");
  std::string path = join_path(dir.item->filename, name);
  std::string remote_id;
  if (auto p = pending_at(path)) {
    std::lock_guard lock(write_mu_);
    remote_id = p->item_id;
    drop_pending_locked(p);
  } else {
    DLFS_ASSIGN(FetchedItem f, source_.item(path));
    if (f.item.is_dir()) return Status(EISDIR, path + " is a folder");
    remote_id = f.item.id;
  }
  if (!remote_id.empty()) {
    Status s = remote_.remove(remote_id);
    if (!s && s.err() != ENOENT) return s;
  }
  source_.forget(path);
  return {};
}

Result<std::vector<Item>> Filesystem::merged_listing(const Item& dir, int64_t* fetched_ms, Ino ino) {
  // The pending files are taken before the remote listing too: a file whose upload ends while
  // the listing is fetched may be missing from both the listing (asked before its commit) and
  // pending_ (dropped after it); the early snapshot still has it.
  std::vector<std::shared_ptr<PendingFile>> before;
  {
    std::lock_guard lock(write_mu_);
    for (auto& [path, p] : pending_)
      if (parent_path(path) == dir.filename) before.push_back(p);
  }
  DLFS_ASSIGN(Listing listing, source_.listing(dir.filename));
  apply_listing(ino, listing);
  if (fetched_ms) *fetched_ms = listing.fetched_ms;
  std::vector<Item> items = *listing.items;
  std::lock_guard lock(write_mu_);
  auto merge = [&](const PendingFile& p) {
    if (p.removed || parent_path(p.path) != dir.filename) return;  // unlinked or moved since
    auto it = std::find_if(items.begin(), items.end(), [&](const Item& i) { return i.name == p.item.name; });
    if (it == items.end()) items.push_back(shown_item(p));
    else if (it->id == p.item.id || it->id == p.item_id) *it = shown_item(p);
  };
  for (auto& [path, p] : pending_)
    if (parent_path(path) == dir.filename) merge(*p);
  for (auto& p : before)
    if (auto now = pending_.find(p->path); now == pending_.end() || now->second != p) merge(*p);
  return items;
}

Status Filesystem::rmdir(Ino parent, std::string_view name) {
  DLFS_TRY(ensure_writable(options_));
  DLFS_ASSIGN(Node dir, node(parent));
  if (dir.kind != NodeKind::kItem) return Status(EPERM, "thumbnails are read-only");
  if (name == ".") return Status(EINVAL, "cannot remove .");
  std::string path = join_path(dir.item->filename, name);
  DLFS_ASSIGN(FetchedItem f, source_.item(path));
  if (!f.item.is_dir()) return Status(ENOTDIR, path + " is not a folder");
  DLFS_ASSIGN(auto items, merged_listing(f.item, nullptr, 0));
  if (!items.empty()) return Status(ENOTEMPTY, path + " is not empty");
  DLFS_TRY(remote_.remove(f.item.id));
  source_.forget(path);
  return {};
}

Status Filesystem::rename(Ino parent, std::string_view name, Ino new_parent, std::string_view new_name,
                          unsigned flags) {
  DLFS_TRY(ensure_writable(options_));
  if (flags & RENAME_EXCHANGE) return Status(EINVAL, "RENAME_EXCHANGE is not supported");
  DLFS_TRY(validate_name(new_name));
  DLFS_ASSIGN(Node from_dir, node(parent));
  DLFS_ASSIGN(Node to_dir, node(new_parent));
  if (from_dir.kind != NodeKind::kItem || to_dir.kind != NodeKind::kItem || !to_dir.item->is_dir())
    return Status(EXDEV, "not a dataset folder");
  std::string from = join_path(from_dir.item->filename, name);
  std::string to = join_path(to_dir.item->filename, new_name);
  if (from == to) return {};
  if (is_same_or_under(to, from)) return Status(EINVAL, "cannot move a folder into itself");
  // Uploads queued under `from` land first (bounded), then the remote item moves.
  {
    std::unique_lock lock(write_mu_);
    auto busy = [&] {
      for (auto& [path, p] : pending_)
        if (is_same_or_under(path, from) && (p->queued || p->state == UploadState::kUploading)) return true;
      return false;
    };
    write_cv_.wait_for(lock, std::chrono::seconds(60), [&] { return stopping_ || !busy(); });
  }
  DLFS_ASSIGN(Item src, item_at(from));
  auto target = item_at(to);
  if (target) {
    if (flags & RENAME_NOREPLACE) return Status(EEXIST, to + " exists");
    if (target->is_dir()) {
      if (!src.is_dir()) return Status(EISDIR, to + " is a folder");
      DLFS_ASSIGN(auto items, merged_listing(*target, nullptr, 0));
      if (!items.empty()) return Status(ENOTEMPTY, to + " is not empty");
      DLFS_TRY(remote_.remove(target->id));
      source_.forget(to);
    } else {
      if (src.is_dir()) return Status(ENOTDIR, to + " is not a folder");
      DLFS_TRY(unlink(new_parent, new_name));
    }
  } else if (target.err() != ENOENT) {
    return target.status();
  }

  std::vector<std::shared_ptr<PendingFile>> under;
  {
    std::lock_guard lock(write_mu_);
    for (auto& [path, p] : pending_)
      if (is_same_or_under(path, from)) under.push_back(p);
  }
  bool remote_exists = !is_spool_id(src.id) || [&] {
    std::lock_guard lock(write_mu_);
    return !under.empty() && !under[0]->item_id.empty();
  }();
  Item moved = src;
  if (remote_exists) {
    std::string id = src.id;
    if (is_spool_id(id)) {
      std::lock_guard lock(write_mu_);
      id = under[0]->item_id;
    }
    DLFS_ASSIGN(moved, remote_.move(id, to));
  }
  {
    std::lock_guard lock(write_mu_);
    for (auto& p : under) {
      pending_.erase(p->path);
      p->path = to + p->path.substr(from.size());
      p->item.set_path(p->path);
      p->parent_ino = new_parent;
      pending_[p->path] = p;
      if (auto rec = options_.spool->get(p->spool_id)) {
        rec->path = p->path;
        (void)options_.spool->update(*rec);
      }
      if (auto ino = inodes_.find(NodeKind::kItem, p->item.id))
        inodes_.refresh(*ino, shown_item(*p), options_.clock->now_ms());
    }
  }
  source_.forget(from);
  source_.forget(to);
  if (remote_exists) learned(moved);
  return {};
}

}  // namespace dlfs
