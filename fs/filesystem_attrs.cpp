// The filesystem core's setattr: truncation of a file's bytes, and the POSIX attributes a dataset
// keeps (core/posix_attrs.h) — chmod, chown and utimensat. A pending file keeps them with itself
// (journaled, sent with its upload); an item on the platform is patched (?system=true). Every
// change sets ctime; writes set mtime and ctime (fs/filesystem_write.cpp).
#include <unistd.h>

#include "fs/filesystem.h"

namespace dlfs {

PosixAttrs Filesystem::new_node_attrs(const NewNode& as, bool dir, const Item& parent) const {
  PosixAttrs a;
  a.mode = as.mode.value_or(dir ? 0755 : 0644) & kPermissionBits;
  a.uid = as.uid.value_or(options_.uid);
  a.gid = as.gid.value_or(options_.gid);
  // A folder with its set-group-ID bit gives its group to what is made in it (and the bit to
  // folders), as on Linux's local filesystems.
  PosixAttrs up = posix_attrs(parent);
  if (up.mode && (*up.mode & S_ISGID)) {
    a.gid = up.gid.value_or(options_.gid);
    if (dir) *a.mode |= S_ISGID;
  }
  return a;
}

void Filesystem::folder_changed(const std::string& dir) {
  if (!options_.posix_attrs) return;
  std::lock_guard lock(folder_times_mu_);
  if (folder_changed_ns_.size() >= 100000) folder_changed_ns_.clear();  // (older ones: updatedAt)
  folder_changed_ns_[dir] = now_ns();
}

std::optional<int64_t> Filesystem::folder_changed_ns(const std::string& dir) {
  std::lock_guard lock(folder_times_mu_);
  auto it = folder_changed_ns_.find(dir);
  if (it == folder_changed_ns_.end()) return std::nullopt;
  return it->second;
}

Result<Entry> Filesystem::setattr(Ino ino, uint64_t fh, const AttrChange& change) {
  DLFS_ASSIGN(Node n, node(ino));
  if (n.kind != NodeKind::kItem) {
    if (change.size || change.changes_attrs()) return Status(EPERM, "thumbnails are read-only");
    return getattr(ino);
  }
  if (change.changes_attrs() && !options_.posix_attrs)
    return Status(EPERM, "this mount does not keep modes, owners and times (-o no_posix_attrs)");
  std::shared_ptr<PendingFile> p;
  std::shared_ptr<SpoolFd> fd;  // ftruncate: the descriptor's file (still there if unlinked since)
  if (fh) {
    std::lock_guard lock(handles_mu_);
    if (auto it = files_.find(fh); it != files_.end() && it->second.writable) {
      p = it->second.pending;
      fd = it->second.fd;
    }
  }
  if (!p) p = pending_of(ino);
  if (change.size) {
    if (n.item->is_dir()) return Status(EISDIR, "is a folder");
    DLFS_TRY(ensure_writable(options_));
    DLFS_TRY(truncate_node(ino, n, std::move(p), std::move(fd), *change.size));
  }
  if (change.changes_attrs()) {
    DLFS_TRY(ensure_writable(options_));
    DLFS_ASSIGN(n, node(ino));
    DLFS_TRY(change_attrs(ino, n, change));
  }
  return getattr(ino);
}

Status Filesystem::truncate_node(Ino ino, const Node& n, std::shared_ptr<PendingFile> p, std::shared_ptr<SpoolFd> fd,
                                 uint64_t size) {
  (void)n;
  // A truncate by path is an open, an ftruncate and a close: the handle keeps the pending file
  // from being dropped under it, and its close queues the upload.
  uint64_t temp_fh = 0;
  for (int attempt = 0; !fd; ++attempt) {
    if (!p) {
      DLFS_ASSIGN(p, materialize(ino, size == 0));
    }
    Item shown;
    {
      std::lock_guard lock(write_mu_);
      shown = shown_item(*p);
    }
    auto opened = add_file_handle(p, shown, true);
    if (opened) {
      temp_fh = *opened;
      std::lock_guard lock(handles_mu_);
      fd = files_.at(temp_fh).fd;
    } else if (opened.err() != ENOENT || attempt >= 2) {
      return opened.status();
    } else {
      p = nullptr;  // uploaded and dropped just now: again from the platform's copy
    }
  }
  bool removed;
  {
    std::lock_guard lock(write_mu_);
    removed = p->removed;
  }
  Status done = removed ? Status() : options_.spool->resize(p->spool_id, size);
  if (done && ::ftruncate(fd->fd, off_t(size)) != 0) done = Status(errno, "truncating the spool file");
  if (done) {
    std::lock_guard lock(write_mu_);
    p->size = size;
    p->mtime_ns = p->ctime_ns = now_ns();
    ++p->generation;
  }
  if (temp_fh) release(temp_fh);
  return done;
}

Status Filesystem::change_attrs(Ino ino, const Node& n, const AttrChange& change) {
  Item shown = *n.item;
  if (auto p = pending_of(ino)) {
    std::lock_guard lock(write_mu_);
    shown = shown_item(*p);
  }
  PosixAttrs had = posix_attrs(shown);
  uid_t owner = had.uid.value_or(options_.uid);
  // The kernel checks these with default_permissions; without it, the mount does (POSIX: only
  // root gives a file away; only its owner or root changes its mode or group).
  // The kernel itself clears the set-user/group-ID bits when someone else writes or gives the
  // file away (with that someone's credentials): a mode change that only drops them is allowed.
  uint32_t mode_was = had.mode.value_or(shown.is_dir() ? 0755 : 0644);
  bool drops_privs_only = change.mode && (*change.mode & ~mode_was) == 0 && ((mode_was ^ *change.mode) & ~06000u) == 0;
  if (change.caller && *change.caller != 0) {
    if (change.uid && *change.uid != owner) return Status(EPERM, "only root can change the owner of " + shown.filename);
    if (((change.mode && !drops_privs_only) || change.gid) && *change.caller != owner)
      return Status(EPERM, "only the owner or root can change the mode or group of " + shown.filename);
  }
  PosixAttrs delta;
  delta.mode = change.mode;
  delta.uid = change.uid;
  delta.gid = change.gid;
  delta.atime_ns = change.atime_ns;
  delta.mtime_ns = change.mtime_ns;
  delta.ctime_ns = now_ns();
  if (change.mtime_ns && shown.is_dir()) {
    // A time set after its names changed is its time (cp -a sets a folder's last).
    std::lock_guard lock(folder_times_mu_);
    folder_changed_ns_.erase(shown.filename);
  }
  if (auto p = pending_of(ino)) {
    // Its times are the pending file's own (a write after this sets them again).
    std::lock_guard lock(write_mu_);
    if (delta.mtime_ns) p->mtime_ns = *delta.mtime_ns;
    p->ctime_ns = *delta.ctime_ns;
  }
  return patch_item(ino, {{"metadata", {{"system", {{kPosixKey, posix_json(delta)}}}}}}).status();
}

}  // namespace dlfs
