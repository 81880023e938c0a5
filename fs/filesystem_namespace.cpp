// The filesystem core's namespace operations: mkdir, rmdir, unlink, rename (symlink: in
// fs/filesystem_symlinks.cpp) — and the
// rule that orders them with creates and the background uploads.
//
// THE ORDERING RULE. Everything that changes what a path of the mount is — create (and an open
// or truncate that turns a platform item into a pending file), mkdir, symlink (a link item made),
// rmdir, unlink, rename, and the upload worker's whole upload of a pending file (from reading its
// spool file, through the platform's answer, to its landing: the node rebound, the item learned,
// the spool entry dropped) and its preprocessing refresh — runs holding the path lock (fs/path_locks.h) of each
// path it touches: the one path, or for rename and rmdir the subtrees of both. So operations on
// one path happen one at a time, each seeing on the platform and here what the one before did;
// a rename of a file waits for its upload in flight to land, and never races it.
// What runs without a path lock never changes which item a path is: writes, truncates, flushes
// and fsyncs change a pending file's bytes and generation under write_mu_; reads and listings
// only read (a listing concurrent with a change may show either side of it).
//
// LOCK ORDER: path locks (all of an operation's at once), then write_mu_, then the inode
// table's and the metadata source's own mutexes. No path lock is taken while write_mu_ is held;
// waiting for an upload (fsync, sync) holds no path lock.
//
// THE PLATFORM SIDE. A namespace operation on something the platform has is applied there,
// synchronously, before it is applied here: a rename is one platform move (replacing the target
// in the same transaction, Remote::move's replace_id), an unlink one delete by id. A pending file
// the platform has never had is renamed or unlinked here only; its first upload is create-only
// (it never overwrites what someone else made: that is a conflict, kept as a failed upload) and,
// renamed over a platform item, replaces exactly that item (UploadOptions::replace_id). The
// journal (the spool's record) is written before the platform is asked, and put back if the
// platform refuses, so that a crash between the two resumes to the state the user was told.
#include <linux/fs.h>

#include <thread>

#include <spdlog/spdlog.h>

#include "core/json_util.h"
#include "core/paths.h"
#include "fs/filesystem.h"
#include "net/link_policy.h"

namespace dlfs {
namespace {

// Tries of a namespace call; none more once the server is known away (the caller answers from
// what the mount knows, or spools).
constexpr int kRemoteTries = 3;

void backoff(int attempt) { std::this_thread::sleep_for(std::chrono::milliseconds(20 << attempt)); }

// Whether a namespace call that failed so is worth another try.
bool worth_another_try(int err, int attempt, const Remote& remote) {
  return is_transient_remote_error(err) && attempt + 1 < kRemoteTries && !remote.server_away();
}

}  // namespace

bool is_reserved(const std::string& path) {
  return path == "/.thumbnails" || is_same_or_under(path, "/.dataloop");
}

Result<std::string> Filesystem::child_path(Ino parent, std::string_view name) {
  if (name.size() > kMaxNameBytes) return Status(ENAMETOOLONG, "name too long");
  DLFS_ASSIGN(Node dir, node(parent));
  if (dir.kind != NodeKind::kItem) return Status(EPERM, "thumbnails are read-only");
  if (!dir.item->is_dir()) return Status(ENOTDIR, dir.item->filename + " is not a folder");
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos)
    return Status(EINVAL, "bad name '" + std::string(name) + "'");
  std::string path = join_path(dir.item->filename, name);
  if (path.size() > kMaxPathBytes) return Status(ENAMETOOLONG, "path too long");
  return path;
}

Result<Filesystem::Locked> Filesystem::lock_children(std::vector<std::pair<Ino, std::string_view>> children,
                                                     bool subtree) {
  for (;;) {
    Locked out;
    std::vector<PathLock> wants;
    for (auto& [parent, name] : children) {
      DLFS_ASSIGN(std::string path, child_path(parent, name));
      wants.push_back(PathLock{path, subtree});
      out.paths.push_back(std::move(path));
    }
    out.guard = path_locks_.lock(std::move(wants));
    // A folder above may have been renamed between resolving and locking: then again.
    bool stable = true;
    for (size_t i = 0; i < children.size() && stable; ++i) {
      auto again = child_path(children[i].first, children[i].second);
      stable = again && *again == out.paths[i];
    }
    if (stable) return out;
  }
}

Result<PathLocks::Guard> Filesystem::lock_node(Ino ino, std::string& path) {
  DLFS_ASSIGN(Node n, node(ino));
  path = n.item->filename;
  for (;;) {
    PathLocks::Guard guard = path_locks_.lock(path);
    DLFS_ASSIGN(n, node(ino));
    if (n.item->filename == path) return guard;
    path = n.item->filename;
  }
}

std::string Filesystem::remote_id_at_locked(const std::shared_ptr<PendingFile>& p, const Item* remote) const {
  if (p) return p->base_id.empty() ? p->replace_id : p->base_id;
  return remote ? remote->id : std::string();
}

Status Filesystem::settle_uncertain_upload(const std::shared_ptr<PendingFile>& p) {
  std::string path;
  {
    std::lock_guard lock(write_mu_);
    if (!p->maybe_on_platform || !p->base_id.empty() || p->dir) return {};
    path = p->path;
  }
  auto there = remote_.get(path);
  if (!there && there.err() != ENOENT) return there.status().wrap("finding what an earlier upload of " + path + " made");
  std::lock_guard lock(write_mu_);
  if (there) {
    const json* t = find_dotted(there->metadata, "dlfs.upload");
    if (t && t->is_string() && t->get<std::string>() == options_.spool->upload_token(p->spool_id)) {
      p->base_id = there->id;  // its own: unlinking or renaming it acts on that item
      p->replace_id.clear();
    }
  }
  p->maybe_on_platform = false;
  return {};
}

void Filesystem::unlinked(const std::string& id) {
  // Still open somewhere, its fstat shows no links (and asks no one), as on a local disk.
  if (auto ino = inodes_.find(NodeKind::kItem, id)) inodes_.mark_unlinked(*ino);
}

Status Filesystem::remote_remove(const std::string& id) {
  settle_spool_drops();
  auto kept = keep_for_descriptors(id);  // (its bytes, before the platform drops them)
  for (int attempt = 0;; ++attempt) {
    Status s = remote_.remove(id);
    if (s) quota_counted(-1);  // (a folder's items too: the next ask of the quota tells)
    if (s || s.err() == ENOENT) {  // gone, by this try or an earlier one
      unlinked(id);
      return {};
    }
    if (!worth_another_try(s.err(), attempt, remote_)) {
      if (kept) drop_read_pin(*kept);
      return s;
    }
    backoff(attempt);
  }
}

Result<Item> Filesystem::remote_move(const std::string& id, const std::string& to, const std::string& replace_id) {
  settle_spool_drops();
  auto kept = keep_for_descriptors(replace_id);  // (the target's bytes, before they go)
  for (int attempt = 0;; ++attempt) {
    auto moved = remote_.move(id, to, replace_id);
    if (moved) {
      if (!replace_id.empty()) unlinked(replace_id);
      return moved;
    }
    if (moved.err() == EEXIST && attempt > 0) {  // an earlier try whose answer was lost did it?
      auto now = remote_.get_by_id(id);
      if (now && now->filename == to) {
        if (!replace_id.empty()) unlinked(replace_id);
        return now;
      }
    }
    if (!worth_another_try(moved.err(), attempt, remote_)) {
      if (kept) drop_read_pin(*kept);
      return moved.status();
    }
    backoff(attempt);
  }
}

Result<Item> Filesystem::remote_patch(const std::string& id, const json& patch) {
  drop_held_access(id);  // (sent after this patch, a held access time would put older times back)
  // Changes under metadata.system (the POSIX attributes) need the system flag.
  auto m = patch.find("metadata");
  bool system = m != patch.end() && m->is_object() && m->contains("system");
  for (int attempt = 0;; ++attempt) {  // a merge: trying again after a lost answer is harmless
    auto patched = remote_.patch(id, patch, system);
    if (patched || !worth_another_try(patched.err(), attempt, remote_)) return patched;
    backoff(attempt);
  }
}

Result<Item> Filesystem::remote_make_dir(const std::string& path) {
  for (int attempt = 0;; ++attempt) {
    auto made = remote_.make_dir(path);
    if (made) return made;
    if (made.err() == EEXIST) {  // an earlier try whose answer was lost, or someone else: a folder is a folder
      auto there = remote_.get(path);
      if (there && there->is_dir()) return there;
      return made.status();
    }
    if (!worth_another_try(made.err(), attempt, remote_)) return made.status();
    backoff(attempt);
  }
}

Result<Entry> Filesystem::mkdir(Ino parent, std::string_view name, const NewNode& as) {
  DLFS_TRY(ensure_writable(options_));
  DLFS_TRY(validate_name(name));
  DLFS_ASSIGN(Locked locked, lock_children({{parent, name}}, false));
  const std::string& path = locked.paths[0];
  if (is_reserved(path)) return Status(EEXIST, path + " is reserved");
  auto existing = item_at(path);
  if (existing) return Status(EEXIST, path + " exists");
  if (existing.err() != ENOENT) return existing.status();
  json posix_patch;  // its mode and owners
  if (options_.posix_attrs) {
    DLFS_ASSIGN(Node dir, node(parent));
    PosixAttrs attrs = new_node_attrs(as, true, *dir.item);
    attrs.ctime_ns = attrs.mtime_ns = now_ns();
    posix_patch = {{"metadata", {{"system", {{kPosixKey, posix_json(attrs)}}}}}};
  }
  // A server known away is not waited on: the folder is spooled at once.
  auto made = remote_.server_away() ? Result<Item>(Status(EHOSTDOWN, "the server is away"))
                                    : remote_make_dir(path);
  if (made) {
    if (!posix_patch.is_null()) {
      // A second call: the API makes folders without metadata. Failing, the folder is there with
      // the defaults (said in the log); the mkdir did happen.
      auto patched = remote_patch(made->id, posix_patch);
      if (patched) made = std::move(patched);
      else spdlog::warn("{}: made, but its mode and owners were not kept: {}", path, patched.status().to_string());
    }
    source_.made_dir(*made);
    folder_changed(parent_path(path));
    Ino ino = inodes_.add_lookup(NodeKind::kItem, *made, options_.clock->now_ms(), kSetHere);
    return make_entry(ino, NodeKind::kItem, *made, nullptr);
  }
  if (!is_transient_remote_error(made.err())) return made.status();
  // The server is away: the folder is journaled and made by an upload worker once it is back
  // (its attributes patched right after, as a late patch).
  DLFS_ASSIGN(SpoolRecord rec, options_.spool->create(remote_.dataset().id, path, "", /*dir=*/true, posix_patch));
  auto p = new_pending(rec.id, path, parent, nullptr);
  p->dir = true;
  p->item.type = ItemType::kDir;
  if (!posix_patch.is_null()) {
    merge_patch(p->item.metadata, posix_patch["metadata"]);
    p->late_patch = posix_patch;
    if (auto made_at = posix_attrs(p->item).mtime_ns) p->mtime_ns = p->ctime_ns = *made_at;
  }
  p->flushed = p->generation;
  p->state = UploadState::kPending;
  Item shown = publish_pending(p, true);
  source_.known_empty(path);
  folder_changed(parent_path(path));
  spdlog::info("{}: the server is away ({}); the folder is made once it is back", path, made.status().to_string());
  return make_entry(p->ino, NodeKind::kItem, shown, nullptr);
}

Status Filesystem::rmdir(Ino parent, std::string_view name) {
  DLFS_TRY(ensure_writable(options_));
  if (name == ".") return Status(EINVAL, "cannot remove .");
  DLFS_ASSIGN(Locked locked, lock_children({{parent, name}}, true));
  const std::string& path = locked.paths[0];
  auto p = pending_at(path);
  if (p && !p->dir) return Status(ENOTDIR, path + " is not a folder");
  Item dir;
  if (p) {
    std::lock_guard lock(write_mu_);
    dir = p->item;
  } else {
    DLFS_ASSIGN(FetchedItem f, source_.item(path));
    if (!f.item.is_dir()) return Status(ENOTDIR, path + " is not a folder");
    dir = f.item;
  }
  DLFS_ASSIGN(auto items, merged_listing(dir, nullptr, 0));
  if (!items->empty()) return Status(ENOTEMPTY, path + " is not empty");
  if (p) {
    // Made while the server was away, not made on the platform yet (or made there since by a
    // file's upload, then emptied): the journal record goes, and the platform's folder if any.
    auto there = remote_.get(path);
    if (there && there->is_dir()) DLFS_TRY(remote_remove(there->id));
    std::lock_guard lock(write_mu_);
    remove_pending_locked(p);
    release_pending_locked(p);
  } else {
    DLFS_TRY(remote_remove(dir.id));
  }
  source_.removed(path);
  folder_changed(parent_path(path));
  return {};
}

Status Filesystem::unlink(Ino parent, std::string_view name) {
  DLFS_TRY(ensure_writable(options_));
  DLFS_ASSIGN(Locked locked, lock_children({{parent, name}}, false));
  const std::string& path = locked.paths[0];
  if (auto p = pending_at(path)) {
    DLFS_TRY(settle_uncertain_upload(p));
    std::string remote_id;
    {
      std::lock_guard lock(write_mu_);
      if (p->dir) return Status(EISDIR, path + " is a folder");
      remote_id = remote_id_at_locked(p, nullptr);
    }
    // The platform first: a crash right after resumes the file (as if the unlink never was)
    // rather than dropping bytes the platform does not have.
    if (!remote_id.empty()) DLFS_TRY(remote_remove(remote_id));
    keep_for_descriptors(p);
    std::lock_guard lock(write_mu_);
    remove_pending_locked(p);
    release_pending_locked(p);
  } else {
    DLFS_ASSIGN(FetchedItem f, source_.item(path));
    if (f.item.is_dir()) return Status(EISDIR, path + " is a folder");
    DLFS_TRY(remote_remove(f.item.id));
  }
  source_.removed(path);
  folder_changed(parent_path(path));
  return {};
}

Status Filesystem::rename(Ino parent, std::string_view name, Ino new_parent, std::string_view new_name,
                          unsigned flags) {
  DLFS_TRY(rename_entry(parent, name, new_parent, new_name, flags));
  for (Ino dir : {parent, new_parent})
    if (auto n = node(dir)) folder_changed(n->item->filename);
  return {};
}

Status Filesystem::rename_entry(Ino parent, std::string_view name, Ino new_parent, std::string_view new_name,
                                unsigned flags) {
  DLFS_TRY(ensure_writable(options_));
  if (flags & RENAME_EXCHANGE) return Status(EINVAL, "RENAME_EXCHANGE is not supported");
  DLFS_TRY(validate_name(new_name));
  {
    DLFS_ASSIGN(Node from_dir, node(parent));
    DLFS_ASSIGN(Node to_dir, node(new_parent));
    if (from_dir.kind != NodeKind::kItem || to_dir.kind != NodeKind::kItem) return Status(EXDEV, "not a dataset folder");
  }
  DLFS_ASSIGN(Locked locked, lock_children({{parent, name}, {new_parent, new_name}}, true));
  const std::string from = locked.paths[0], to = locked.paths[1];
  // What is at each end: a pending file (or folder), else the platform's item, or nothing.
  auto ps = pending_at(from);
  std::optional<Item> src_remote;
  if (!ps) {
    DLFS_ASSIGN(FetchedItem f, source_.item(from));
    src_remote = std::move(f.item);
  }
  if (from == to) return {};
  if (is_reserved(to)) return Status(EPERM, to + " is reserved");
  if (is_same_or_under(to, from)) return Status(EINVAL, "cannot move a folder into itself");
  if (is_same_or_under(from, to)) return Status(ENOTEMPTY, to + " is a folder above " + from);
  if (ps) DLFS_TRY(settle_uncertain_upload(ps));
  auto pt = pending_at(to);
  if (pt) DLFS_TRY(settle_uncertain_upload(pt));
  std::optional<Item> tgt_remote;
  if (!pt) {
    auto f = source_.item(to);
    if (f) tgt_remote = std::move(f->item);
    else if (f.err() != ENOENT) return f.status();
  }
  bool src_dir, tgt_dir = false, tgt_exists = pt || tgt_remote;
  std::string src_id, tgt_id, src_replace_id;
  Item tgt_item;
  {
    std::lock_guard lock(write_mu_);
    src_dir = ps ? ps->dir : src_remote->is_dir();
    src_id = ps ? ps->base_id : src_remote->id;
    if (ps) src_replace_id = ps->replace_id;
    tgt_id = remote_id_at_locked(pt, tgt_remote ? &*tgt_remote : nullptr);
    if (tgt_exists) {
      tgt_dir = pt ? pt->dir : tgt_remote->is_dir();
      tgt_item = pt ? pt->item : *tgt_remote;
    }
  }
  if (tgt_exists) {
    if (flags & RENAME_NOREPLACE) return Status(EEXIST, to + " exists");
    if (tgt_dir && !src_dir) return Status(EISDIR, to + " is a folder");
    if (!tgt_dir && src_dir) return Status(ENOTDIR, to + " is not a folder");
    if (tgt_dir) {
      DLFS_ASSIGN(auto items, merged_listing(tgt_item, nullptr, 0));
      if (!items->empty()) return Status(ENOTEMPTY, to + " is not empty");
    }
  }

  // Pending files that move: the source, or everything pending below a folder. Their journal
  // records say the new place before the platform is asked (and are put back if it refuses).
  std::vector<std::shared_ptr<PendingFile>> moving;
  {
    std::lock_guard lock(write_mu_);
    for (auto& [path, p] : pending_)
      if (is_same_or_under(path, from)) moving.push_back(p);
  }
  auto rewrite_journal = [&](const std::string& a, const std::string& b, bool forward) {
    for (auto& p : moving) {
      auto rec = options_.spool->get(p->spool_id);
      if (!rec) continue;
      rec->path = b + rec->path.substr(a.size());
      // (a file the platform has keeps tgt_id too: should the mount die before the move, the
      // resumed upload moves its item here over that target first)
      if (p == ps) rec->replace_id = forward ? tgt_id : src_replace_id;
      Status s = options_.spool->update(*rec);
      if (!s) spdlog::error("journal: {}: {}", rec->path, s.to_string());
    }
  };
  rewrite_journal(from, to, true);

  std::optional<Item> moved;
  Status platform;
  if (!src_id.empty()) {
    // One platform transaction: the target (if the platform has it) goes, the source moves.
    auto m = remote_move(src_id, to, tgt_id);
    if (m) moved = std::move(*m);
    else platform = m.status();
  } else if (!src_replace_id.empty()) {
    // A file never uploaded leaves the platform item it was to replace: that one goes now.
    platform = remote_remove(src_replace_id);
  }
  if (!platform) {
    rewrite_journal(to, from, false);
    if (is_transient_remote_error(platform.err())) {  // it may have happened: ask again next time
      source_.forget(from);
      source_.forget(to);
    }
    return platform;
  }
  if (src_dir && src_id.empty() && !tgt_id.empty()) {
    // A folder made offline over one the platform has (empty, checked): that one goes.
    DLFS_TRY(remote_remove(tgt_id));
  }

  if (pt) keep_for_descriptors(pt);
  if (!pt && src_id.empty() && !tgt_id.empty() && !tgt_dir) {
    // The platform's item at `to` goes with the source's first upload (replace_id), but leaves
    // the namespace now: its descriptors keep its bytes, and see no link to it.
    keep_for_descriptors(tgt_id);
    unlinked(tgt_id);
  }
  {
    std::lock_guard lock(write_mu_);
    if (pt) {  // renamed over: out of the namespace; its open handles keep its bytes
      remove_pending_locked(pt);
      release_pending_locked(pt);
    }
    for (auto& p : moving) {
      if (p->removed) continue;
      if (auto it = pending_.find(p->path); it != pending_.end() && it->second == p) pending_.erase(it);
      p->path = to + p->path.substr(from.size());
      p->item.set_path(p->path);
      if (p == ps) {
        p->parent_ino = new_parent;
        p->replace_id = src_id.empty() ? tgt_id : std::string();
      }
      pending_[p->path] = p;
      inodes_.refresh(p->ino, shown_item(*p), options_.clock->now_ms(), kSetHere);
    }
  }
  if (src_dir) inodes_.moved_below(from, to);
  source_.removed(from);
  source_.removed(to);
  if (moved) learned(*moved);
  return {};
}

}  // namespace dlfs
