// The filesystem core's attributes: what stat shows (make_attr), and setattr — truncation of a
// file's bytes, and the POSIX attributes a dataset keeps (core/posix_attrs.h): chmod, chown and
// utimensat. A pending file keeps them with itself
// (journaled, sent with its upload); an item on the platform is patched (?system=true). Every
// change sets ctime; writes set mtime and ctime (fs/filesystem_write.cpp); a read open sets atime
// as relatime does (fs/filesystem_access.cpp).
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "fs/filesystem.h"

namespace dlfs {

namespace {

struct timespec timespec_of_ns(int64_t ns) {
  int64_t sec = ns / 1000000000, rem = ns % 1000000000;
  if (rem < 0) rem += 1000000000, --sec;
  return timespec{time_t(sec), long(rem)};
}

}  // namespace

struct stat Filesystem::make_attr(Ino ino, NodeKind kind, const Item& item, const std::string* thumbnail) {
  struct stat st {};
  st.st_ino = ino;
  st.st_uid = options_.uid;
  st.st_gid = options_.gid;
  // The I/O size tools take for buffers (cp, Python's open): large, so that a big file moves in
  // few FUSE requests (fuse_adapter.cpp sets max_write to match).
  st.st_blksize = kIoBlockSize;
  st.st_mtim = st.st_ctim = st.st_atim = timespec_of_ns(item.updated_ms * 1000000);
  // What the item keeps (core/posix_attrs.h) over the defaults; thumbnails are the platform's.
  PosixAttrs kept = kind == NodeKind::kItem && options_.posix_attrs ? posix_attrs(item) : PosixAttrs{};
  if (kept.uid) st.st_uid = *kept.uid;
  if (kept.gid) st.st_gid = *kept.gid;
  if (kept.mtime_ns) st.st_mtim = st.st_atim = timespec_of_ns(*kept.mtime_ns);
  if (kept.ctime_ns) st.st_ctim = timespec_of_ns(*kept.ctime_ns);
  if (kept.atime_ns) st.st_atim = timespec_of_ns(*kept.atime_ns);
  if (kind == NodeKind::kItem && options_.atime)
    if (auto read = shown_atime(item.id); read && (!kept.atime_ns || *read > *kept.atime_ns))
      st.st_atim = timespec_of_ns(*read);  // read here since; the platform is told in the background
  if (kind == NodeKind::kThumbDir || (kind == NodeKind::kItem && item.is_dir())) {
    // A name that came or went here since: mtime and ctime then (POSIX), over what is kept.
    if (auto changed = kind == NodeKind::kItem ? folder_changed_ns(item.filename) : std::nullopt) {
      timespec t = timespec_of_ns(*changed);
      auto later = [](const timespec& a, const timespec& b) {
        return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec > b.tv_nsec;
      };
      if (later(t, st.st_mtim)) st.st_mtim = t;
      if (later(t, st.st_ctim)) st.st_ctim = t;
    }
    st.st_mode = S_IFDIR | kept.mode.value_or(0755);
    // Its own name, its ".", and each subfolder's "..": as far as the mount knows its listing.
    st.st_nlink = 2 + (kind == NodeKind::kItem ? source_.known_subfolders(item.filename).value_or(0) : 0);
    return st;
  }
  st.st_nlink = 1;
  // A symlink is a kind of file, not an attribute: shown as one even with no_posix_attrs.
  std::optional<std::string> target = kind == NodeKind::kItem ? symlink_target(item) : std::nullopt;
  if (target) {
    st.st_mode = S_IFLNK | 0777;
    st.st_size = off_t(target->size());
  } else if (kind == NodeKind::kThumbFile) {
    st.st_mode = S_IFREG | 0444;
    st.st_size = thumbnail ? off_t(thumbnail->size()) : 0;
  } else {
    st.st_mode = S_IFREG | kept.mode.value_or(0644);
    uint64_t size = item.size();
    bool placeholder = false;
    if (item.is_link()) {
      auto known = link_size(item, false);
      size = known.value_or(0);
      // no_open: the kernel reads a file only up to the size it was told, and no open can tell
      // it to read past that (direct_io). A link whose target failed shows one byte, so that a
      // read reaches the mount and answers the failure; one whose server does not tell its size
      // shows kUnknownLinkSize, and the short read at its real end sets the true one.
      if (!known && options_.no_open) {
        size = link_error(item.link_url()) ? 1 : kUnknownLinkSize;
        placeholder = true;
      }
    }
    st.st_size = off_t(size);
    if (placeholder) {
      st.st_blocks = 0;
      return st;
    }
  }
  st.st_blocks = (st.st_size + 511) / 512;
  return st;
}

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

// A folder's new time goes to the platform this long after its first change, once for all the
// changes meanwhile (a `cp -r` into it is one patch a second, not one per file).
constexpr auto kFolderTimesDelay = std::chrono::seconds(1);

void Filesystem::folder_changed(const std::string& dir) {
  if (!options_.posix_attrs) return;
  bool first;
  {
    std::lock_guard lock(folder_times_mu_);
    if (folder_changed_ns_.size() >= 100000) folder_changed_ns_.clear();  // (older ones: updatedAt)
    folder_changed_ns_[dir] = now_ns();
    first = folder_times_due_.insert(dir).second;
  }
  if (!first || !can_write()) return;
  std::lock_guard lock(write_mu_);
  if (!stopping_)
    push_task_locked(Task{nullptr, {}, dir, std::chrono::steady_clock::now() + kFolderTimesDelay, nullptr, true});
}

void Filesystem::run_folder_times(Task task) {
  // Held across the patch, and by a utimensat of a folder's mtime: a time set by hand after the
  // names changed is never overwritten by this older change (lock order: this, then write_mu_).
  std::lock_guard guard(folder_patch_mu_);
  std::optional<int64_t> changed;
  {
    std::lock_guard lock(folder_times_mu_);
    folder_times_due_.erase(task.path);
    if (auto it = folder_changed_ns_.find(task.path); it != folder_changed_ns_.end()) changed = it->second;
  }
  if (!changed || pending_at(task.path)) return;  // set by hand since, or a folder not made yet
  auto dir = source_.item(task.path);
  if (!dir || !dir->item.is_dir() || is_spool_id(dir->item.id)) return;
  PosixAttrs kept = posix_attrs(dir->item);
  if (kept.mtime_ns >= changed) return;
  // (an access held since before the change carries the older mtime: dropped; one held since
  // carries only its atime, and is sent — a listing after a cp into the folder, within its 1 s)
  drop_held_access(dir->item.id, true);
  PosixAttrs times;
  times.mtime_ns = *changed;
  times.ctime_ns = std::max(*changed, kept.ctime_ns.value_or(0));
  // One try; its answer is not learned (see run_access_patches): this mount shows the time from
  // folder_changed_ns_, other mounts and remounts from the platform.
  auto patched = remote_.patch(dir->item.id, json{{"metadata", {{"system", {{kPosixKey, posix_json(times)}}}}}}, true);
  if (patched) source_.age_cached(task.path);  // (a remount asks again)
  else spdlog::debug("{}: the folder's time not kept: {}", task.path, patched.status().to_string());
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
  if (change.size && fh == 0 && options_.no_open && !n.item->is_dir()) {
    // An ftruncate or open(O_TRUNC) of a descriptor the kernel opened without asking — or a
    // truncate(2), which comes exactly alike: through the node's implicit writer.
    AttrChange rest = change;
    rest.size.reset();
    DLFS_TRY(with_implicit_writer(ino, *change.size == 0, [&](uint64_t writer) -> Status {
      AttrChange cut;
      cut.size = change.size;
      return setattr(ino, writer, cut).status();
    }));
    if (!rest.changes_attrs()) return getattr(ino);
    return setattr(ino, 0, rest);
  }
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
  std::unique_lock folder_guard(folder_patch_mu_, std::defer_lock);
  if (change.mtime_ns && shown.is_dir()) {
    // A time set after its names changed is its time (cp -a sets a folder's last).
    folder_guard.lock();
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
