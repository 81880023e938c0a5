// The extended-attribute view of an item (DESIGN.md, "The xattr map"), read-only part:
// user.dl.* from the item's fields and metadata.system, user.meta.<key>[.<key>…] one per leaf of
// metadata.user (strings raw, any other JSON value as JSON). Other namespaces answer ENOTSUP
// without touching anything, since `ls -l` asks for security.selinux on every entry.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/item.h"

namespace dlfs {

inline constexpr std::string_view kUserMetaPrefix = "user.meta.";
inline constexpr size_t kMaxXattrValue = 65536;  // the kernel's XATTR_SIZE_MAX
inline constexpr size_t kMaxXattrName = 255;

// security.*, trusted.*, system.* and anything outside user.*: ENOTSUP.
bool is_unsupported_xattr(std::string_view name);

// user.dl.* values above this are left out of the listing (`getfattr -d` stays readable); they
// are still answered by name.
inline constexpr size_t kMaxListedValue = 4096;

// The names listxattr answers for this item, in a stable order: every name with a value but
// user.dl.thumbnail (binary: `getfattr -d` would print kilobytes of base64 for every image) and
// user.dl.* values over kMaxListedValue. user.meta.* are always listed, so that `cp -a` and
// `rsync -X` carry the user's metadata. `root` is the dataset folder shown at the mount's root
// (for user.dl.thumbnail_path).
std::vector<std::string> xattr_names(const Item& item, std::string_view root = "/");

// The value of one name. ENODATA if the item has no such attribute, ENOTSUP for other
// namespaces, E2BIG above the kernel's size limit. `thumbnail` fetches the JPEG bytes
// (only called for user.dl.thumbnail of an item that has one).
Result<std::string> xattr_value(const Item& item, std::string_view name,
                                const std::function<Result<std::string>()>& thumbnail, std::string_view root = "/");

// Where the mount shows an item's thumbnail: "/.thumbnails/<its path under root>" (the
// user.dl.thumbnail_path value).
std::string thumbnail_mount_path(const Item& item, std::string_view root);

// On a link item whose last fetch of its target failed: why (the mount's state, not the item's,
// so answered by the filesystem; absent while the link is fine).
inline constexpr std::string_view kLinkErrorXattr = "user.dl.link.error";

// "user.dl.type" of an item: file, dir or link.
std::string_view item_kind(const Item& item);

}  // namespace dlfs
