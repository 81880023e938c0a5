// The POSIX attributes a dataset keeps per item and folder, so that chmod, chown and touch -d are
// real and a second mount, a remount and every client of the API see them: in the item's
// metadata.system.posix, as {"mode": 420, "uid": 1000, "gid": 1000, "mtime": ns, "atime": ns,
// "ctime": ns} (permission bits only, times in nanoseconds since the epoch). Every key is
// optional: an item that never had one shows the mount's defaults (its uid=/gid=, 0644 or 0755,
// updatedAt for the times).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "core/item.h"
#include "core/json_util.h"

namespace dlfs {

inline constexpr const char* kPosixKey = "posix";
inline constexpr uint32_t kPermissionBits = 07777;

struct PosixAttrs {
  std::optional<uint32_t> mode;  // permission bits (07777), no file type
  std::optional<uint32_t> uid, gid;
  std::optional<int64_t> mtime_ns, atime_ns, ctime_ns;

  bool empty() const { return !mode && !uid && !gid && !mtime_ns && !atime_ns && !ctime_ns; }
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
// again); its times come from the upload, or updatedAt.
PosixAttrs kept_by_overwrite(const Item& item);

}  // namespace dlfs
