#include "core/posix_attrs.h"

#include <limits>

namespace dlfs {
namespace {

template <typename T>
std::optional<T> integer_at(const json& obj, const char* key, int64_t min, int64_t max) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
  int64_t v = it->get<int64_t>();
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
  if (v < min || v > max) return std::nullopt;
  return T(v);
}

constexpr int64_t kMaxId = std::numeric_limits<uint32_t>::max() - 1;  // (uid_t)-1 means "unchanged"
constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

}  // namespace

void PosixAttrs::merge(const PosixAttrs& o) {
  if (o.mode) mode = o.mode;
  if (o.uid) uid = o.uid;
  if (o.gid) gid = o.gid;
  if (o.mtime_ns) mtime_ns = o.mtime_ns;
  if (o.atime_ns) atime_ns = o.atime_ns;
  if (o.ctime_ns) ctime_ns = o.ctime_ns;
  if (o.symlink) symlink = o.symlink;
}

bool valid_symlink_target(std::string_view target) {
  return !target.empty() && target.size() <= kMaxSymlinkBytes && target.find('\0') == std::string_view::npos;
}

PosixAttrs posix_attrs(const Item& item) {
  PosixAttrs a;
  const json& sys = item.system();
  auto it = sys.find(kPosixKey);
  if (it == sys.end() || !it->is_object()) return a;
  const json& p = *it;
  a.mode = integer_at<uint32_t>(p, "mode", 0, kPermissionBits);
  a.uid = integer_at<uint32_t>(p, "uid", 0, kMaxId);
  a.gid = integer_at<uint32_t>(p, "gid", 0, kMaxId);
  a.mtime_ns = integer_at<int64_t>(p, "mtime", kMinTime, kMaxTime);
  a.atime_ns = integer_at<int64_t>(p, "atime", kMinTime, kMaxTime);
  a.ctime_ns = integer_at<int64_t>(p, "ctime", kMinTime, kMaxTime);
  if (auto s = p.find("symlink"); s != p.end() && s->is_string() && valid_symlink_target(s->get_ref<const std::string&>()))
    a.symlink = s->get<std::string>();
  return a;
}

std::optional<std::string> symlink_target(const Item& item) {
  if (item.is_dir()) return std::nullopt;
  return posix_attrs(item).symlink;
}

json posix_json(const PosixAttrs& a) {
  json out = json::object();
  if (a.mode) out["mode"] = *a.mode;
  if (a.uid) out["uid"] = *a.uid;
  if (a.gid) out["gid"] = *a.gid;
  if (a.mtime_ns) out["mtime"] = *a.mtime_ns;
  if (a.atime_ns) out["atime"] = *a.atime_ns;
  if (a.ctime_ns) out["ctime"] = *a.ctime_ns;
  if (a.symlink) out["symlink"] = *a.symlink;
  return out;
}

void set_posix_attrs(Item& item, const PosixAttrs& attrs) {
  if (attrs.empty()) return;
  PosixAttrs now = posix_attrs(item);
  now.merge(attrs);
  item.system()[kPosixKey] = posix_json(now);
}

Status check_posix_json(const json& posix) {
  if (posix.is_null()) return {};
  if (!posix.is_object()) return Status(EINVAL, "metadata.system.posix must be an object");
  for (auto& [key, value] : posix.items()) {
    if (value.is_null()) continue;
    bool ok = false;
    if (key == "mode") ok = integer_at<uint32_t>(posix, "mode", 0, kPermissionBits).has_value();
    else if (key == "uid" || key == "gid") ok = integer_at<uint32_t>(posix, key.c_str(), 0, kMaxId).has_value();
    else if (key == "mtime" || key == "atime" || key == "ctime")
      ok = integer_at<int64_t>(posix, key.c_str(), kMinTime, kMaxTime).has_value();
    else if (key == "symlink") ok = value.is_string() && valid_symlink_target(value.get_ref<const std::string&>());
    else return Status(EINVAL, "metadata.system.posix." + key + " is not a POSIX attribute");
    if (!ok)
      return Status(EINVAL, "metadata.system.posix." + key +
                                (key == "symlink" ? " must be a target of 1 to 4095 bytes without NUL"
                                                  : " is out of range or not an integer"));
  }
  return {};
}

json client_upload_metadata(const json& metadata) {
  json meta = metadata.is_object() ? metadata : json::object();
  json posix;
  if (auto sys = meta.find("system"); sys != meta.end() && sys->is_object())
    if (auto p = sys->find(kPosixKey); p != sys->end() && p->is_object()) posix = *p;
  meta.erase("system");
  if (!posix.is_null()) meta["system"] = {{kPosixKey, std::move(posix)}};
  return meta;
}

PosixAttrs kept_by_overwrite(const Item& item) {
  PosixAttrs kept = posix_attrs(item);
  kept.mtime_ns = kept.atime_ns = kept.ctime_ns = std::nullopt;
  kept.symlink = std::nullopt;
  return kept;
}

}  // namespace dlfs
