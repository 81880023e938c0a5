// The filesystem core's extended attributes that write: user.meta.* (one leaf of the item's
// user metadata each) and user.dl.description, patched on the platform by item id — or, for a
// file the platform does not have yet, kept with it and sent with its upload.
#include <sys/xattr.h>

#include "core/json_util.h"
#include "fs/filesystem.h"
#include "fs/xattr_map.h"

namespace dlfs {

Result<Item> Filesystem::patch_item(Ino ino, const json& patch) {
  DLFS_ASSIGN(Node n, node(ino));
  if (n.kind != NodeKind::kItem) return Status(EPERM, "thumbnails have no writable attributes");
  // Ordered with the path's other changes (fs/filesystem_namespace.cpp): an upload in flight
  // lands first, so that its answer never shadows the patch.
  std::string path;
  DLFS_ASSIGN(PathLocks::Guard guard, lock_node(ino, path));
  DLFS_ASSIGN(n, node(ino));
  std::string id = n.item->id;
  if (auto p = pending_of(ino)) {
    std::lock_guard lock(write_mu_);
    // Not on the platform yet (or no longer in the namespace): kept with the file, and sent
    // with its upload or, if that has left already, right after it lands.
    if (p->base_id.empty() || p->removed) {
      if (auto m = patch.find("metadata"); m != patch.end()) merge_patch(p->item.metadata, *m);
      if (!p->removed) merge_patch(p->late_patch, patch);
      if (auto d = patch.find("description"); d != patch.end())
        p->item.description = d->is_string() ? std::optional(d->get<std::string>()) : std::nullopt;
      // Journaled with the file: a mount that stops before the upload still sends it.
      if (!p->removed)
        if (auto rec = options_.spool->get(p->spool_id)) {
          merge_patch(rec->patch, patch);
          DLFS_TRY(options_.spool->update(*rec));
        }
      return shown_item(*p);
    }
    id = p->base_id;
  }
  DLFS_ASSIGN(Item item, remote_patch(id, patch));
  learned(item);
  if (auto p = pending_of(ino)) {
    std::lock_guard lock(write_mu_);
    p->item.metadata = item.metadata;
    p->item.description = item.description;
    return shown_item(*p);
  }
  inodes_.refresh(ino, item, options_.clock->now_ms(), kSetHere);
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
