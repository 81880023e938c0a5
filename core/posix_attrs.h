// The POSIX attributes a dataset keeps per item and folder, so that chmod, chown and touch -d are
// real and a second mount, a remount and every client of the API see them: in the item's
// metadata.system.posix, as {"mode": 420, "uid": 1000, "gid": 1000, "mtime": ns, "atime": ns,
// "ctime": ns} (permission bits only, times in nanoseconds since the epoch), and for a symbolic
// link made in a mount its target, {"symlink": "../a"} (the item's bytes are the target too, so
// that an API client reads it). Every key is optional: an item that never had one shows the
// mount's defaults (its uid=/gid=, 0644 or 0755, updatedAt for the times).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/item.h"
#include "core/json_util.h"

namespace dlfs {

inline constexpr const char* kPosixKey = "posix";
inline constexpr uint32_t kPermissionBits = 07777;
// A symlink's target is at most this long (PATH_MAX less its NUL, as Linux allows).
inline constexpr size_t kMaxSymlinkBytes = 4095;
// A symlink item's mimetype (shared-mime-info's name for one).
inline constexpr const char* kSymlinkMimetype = "inode/symlink";

struct PosixAttrs {
  std::optional<uint32_t> mode;  // permission bits (07777), no file type
  std::optional<uint32_t> uid, gid;
  std::optional<int64_t> mtime_ns, atime_ns, ctime_ns;
  // A symbolic link's target: the item is a symlink (the kernel resolves it; dlfs never follows one).
  std::optional<std::string> symlink;

  bool empty() const { return !mode && !uid && !gid && !mtime_ns && !atime_ns && !ctime_ns && !symlink; }
  // `other`'s set keys over these.
  void merge(const PosixAttrs& other);
  bool operator==(const PosixAttrs&) const = default;
};

// What the item keeps (keys of the wrong type or out of range are left out).
PosixAttrs posix_attrs(const Item& item);
// The object for metadata.system.posix: only the set keys.
json posix_json(const PosixAttrs& attrs);
// Merges `attrs` into the item's metadata.system.posix.
void set_posix_attrs(Item& item, const PosixAttrs& attrs);
// Checks a client's metadata.system.posix (an upload's or a patch's): an object of the keys above,
// each a non-negative integer in range (a time may be negative: before 1970), or null to drop it.
Status check_posix_json(const json& posix);

// What an upload's metadata sets on the item (the platform's rule, and its fakes'): everything
// but metadata.system, of which only the POSIX attributes are the client's.
json client_upload_metadata(const json& metadata);
// What an overwrite keeps of the item's attributes: its mode and owners (the same file, written
// again); its times come from the upload, or updatedAt, and whether it is a symlink too.
PosixAttrs kept_by_overwrite(const Item& item);
// A symlink target as kept: non-empty, at most kMaxSymlinkBytes, no NUL.
bool valid_symlink_target(std::string_view target);
// The item's symlink target, when it is a symlink.
std::optional<std::string> symlink_target(const Item& item);

}  // namespace dlfs
