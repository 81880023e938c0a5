// ln -s in a mount. A target that is a URL makes a link item (remote/link_item.h): a regular file
// reading the URL's bytes, made on the platform at once. Any other target makes a symlink item: a
// small file whose bytes are the target, with metadata.system.posix.symlink saying so
// (core/posix_attrs.h), spooled and uploaded as a new file is, so that it follows the ordering
// rule and the durability promise of any create (it survives a SIGKILL once symlink(2) returns,
// and is made once an away server is back).
//
// A symlink item is never followed by dlfs: the kernel resolves the target on the reading machine
// with the reader's own permissions, as for a symlink on NFS or in a tar file. Nothing of a
// local path is read by the mount or the platform on its behalf (unlike a file:// link, which
// stays refused).
#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "core/paths.h"
#include "core/posix_attrs.h"
#include "fs/filesystem.h"
#include "net/link_policy.h"
#include "remote/link_item.h"

namespace dlfs {
namespace {

// "scheme://…": what ln -s makes a link item of (RFC 3986's scheme characters).
bool looks_like_url(std::string_view target) {
  size_t colon = target.find("://");
  if (colon == std::string_view::npos || colon == 0 || !std::isalpha(static_cast<unsigned char>(target[0])))
    return false;
  for (char c : target.substr(0, colon))
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  return true;
}

}  // namespace

Result<Entry> Filesystem::symlink(std::string_view target, Ino parent, std::string_view name, const NewNode& as) {
  DLFS_TRY(ensure_writable(options_));
  DLFS_TRY(validate_name(name));
  if (target.size() > kMaxSymlinkBytes) return Status(ENAMETOOLONG, "a symlink's target is at most 4,095 bytes");
  if (target.empty()) return Status(ENOENT, "a symlink needs a target");
  DLFS_ASSIGN(Locked locked, lock_children({{parent, name}}, false));
  const std::string& path = locked.paths[0];
  if (is_reserved(path)) return Status(EPERM, path + " is reserved");
  if (looks_like_url(target)) return make_link_entry(path, target);
  return make_symlink_item(path, parent, target, as);
}

Result<Entry> Filesystem::make_link_entry(const std::string& path, std::string_view url) {
  std::string what = "ln -s " + std::string(url) + " " + mount_path(path);
  if (Status s = check_link_target(url); !s) {
    // A file:// or other URL means nothing to another machine: said in the log, since ln(1) can
    // only print "Operation not permitted".
    spdlog::warn("{}: refused: {}", what, s.to_string());
    return s;
  }
  // Made on the platform at once, never spooled: a link is one small request, and one that cannot
  // be made now is told to ln(1) (EIO while the server is away) rather than failing out of sight.
  auto failed = [&](const Status& s) {
    Status out = s.wrap(what);
    spdlog::warn("{}", out.to_string());
    return is_transient_remote_error(s.err()) && s.err() != ENOTSUP ? Status(EIO, out.message(), out.cause()) : out;
  };
  auto existing = item_at(path);
  if (existing) return Status(EEXIST, path + " exists");
  if (existing.err() != ENOENT) return failed(existing.status());
  if (auto room = room_left(false); room && *room == 0)
    return Status(EDQUOT, "the dataset is full: no room left in its quota of items");
  auto made = make_link_item(remote_, LinkItemRequest{path, std::string(url), "", options_.spool->dir()});
  if (!made) return failed(made.status());
  quota_counted(1);
  source_.learned(*made);
  folder_changed(parent_path(path));
  Ino ino = inodes_.add_lookup(NodeKind::kItem, *made, options_.clock->now_ms(), kSetHere);
  Entry e = make_entry(ino, NodeKind::kItem, *made, nullptr);
  e.attr.st_mode = S_IFLNK | 0777;
  e.attr.st_size = off_t(url.size());
  e.attr_timeout = e.entry_timeout = 0;
  spdlog::info("{}: made a link item", what);
  return e;
}

Result<Entry> Filesystem::make_symlink_item(const std::string& path, Ino parent, std::string_view target,
                                            const NewNode& as) {
  auto existing = item_at(path);
  if (existing) return Status(EEXIST, path + " exists");
  if (existing.err() != ENOENT) return existing.status();
  if (auto room = room_left(false); room && *room == 0)
    return Status(EDQUOT, "the dataset is full: no room left in its quota of items");
  PosixAttrs attrs;
  if (options_.posix_attrs) {
    DLFS_ASSIGN(Node dir, node(parent));
    attrs = new_node_attrs(as, false, *dir.item);
    attrs.mode.reset();  // a symlink's is always 0777
  }
  attrs.symlink = std::string(target);
  json patch = {{"metadata", {{"system", {{kPosixKey, posix_json(attrs)}}}}}};
  UploadSpool& spool = *options_.spool;
  DLFS_ASSIGN(SpoolRecord rec, spool.create(remote_.dataset().id, path, "", false, patch));
  // Its bytes are its target (what an API client downloading it reads).
  auto written = [&]() -> Status {
    DLFS_TRY(spool.resize(rec.id, target.size()));
    SpoolFd fd;
    fd.fd = ::open(spool.file_path(rec.id).c_str(), O_WRONLY | O_CLOEXEC);
    if (fd.fd < 0) return Status(errno, "cannot open the spool file of " + path);
    if (::pwrite(fd.fd, target.data(), target.size(), 0) != ssize_t(target.size()))
      return Status(errno ? errno : EIO, "cannot write the spool file of " + path);
    return spool.close_file(rec.id);
  }();
  if (!written) {
    (void)spool.remove(rec.id);
    return written;
  }
  auto p = new_pending(rec.id, path, parent, &attrs);
  p->size = target.size();
  p->flushed = p->generation;
  p->state = UploadState::kPending;
  Item shown = publish_pending(p, true);
  folder_changed(parent_path(path));
  return make_entry(p->ino, NodeKind::kItem, shown, nullptr);
}

Result<std::string> Filesystem::readlink(Ino ino) {
  DLFS_ASSIGN(Node n, node(ino));
  std::optional<std::string> target;
  if (n.kind == NodeKind::kItem) {
    if (auto p = pending_of(ino)) {
      std::lock_guard lock(write_mu_);
      target = symlink_target(p->item);
    } else {
      target = symlink_target(*n.item);
    }
  }
  if (!target) return Status(EINVAL, n.item->filename + " is not a symlink");
  return std::move(*target);
}

}  // namespace dlfs
