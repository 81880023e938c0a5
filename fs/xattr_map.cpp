#include "fs/xattr_map.h"

#include "core/clock.h"
#include "core/json_util.h"

namespace dlfs {
namespace {

// Strings as they are, everything else as JSON text.
std::string as_text(const json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

const json* system_field(const Item& item, std::string_view dotted) {
  const json* v = find_dotted(item.system(), dotted);
  return v && !v->is_null() ? v : nullptr;
}

bool has_thumbnail(const Item& item) {
  const json* t = system_field(item, "thumbnailId");
  return t && t->is_string() && !t->get<std::string>().empty();
}

// The user.dl.* names, each with how to get its value (nullopt: absent for this item).
struct DlAttr {
  std::string_view name;
  std::function<std::optional<std::string>(const Item&)> value;
};

std::optional<std::string> field_text(const Item& item, std::string_view dotted) {
  const json* v = system_field(item, dotted);
  if (!v) return std::nullopt;
  return as_text(*v);
}

const std::vector<DlAttr>& dl_attrs() {
  static const std::vector<DlAttr> attrs = {
      {"user.dl.id", [](const Item& i) -> std::optional<std::string> { return i.id; }},
      {"user.dl.dataset", [](const Item& i) -> std::optional<std::string> { return i.dataset_id; }},
      {"user.dl.type", [](const Item& i) -> std::optional<std::string> { return std::string(item_kind(i)); }},
      {"user.dl.mimetype", [](const Item& i) { return i.is_dir() ? std::nullopt : field_text(i, "mimetype"); }},
      {"user.dl.size", [](const Item& i) { return i.is_dir() ? std::nullopt : field_text(i, "size"); }},
      {"user.dl.width", [](const Item& i) { return field_text(i, "width"); }},
      {"user.dl.height", [](const Item& i) { return field_text(i, "height"); }},
      {"user.dl.orientation", [](const Item& i) { return field_text(i, "exif.Orientation"); }},
      {"user.dl.exif", [](const Item& i) -> std::optional<std::string> {
         const json* e = system_field(i, "exif");
         if (!e) return std::nullopt;
         return e->dump();
       }},
      {"user.dl.created_at", [](const Item& i) -> std::optional<std::string> { return format_iso8601(i.created_ms); }},
      {"user.dl.updated_at", [](const Item& i) -> std::optional<std::string> { return format_iso8601(i.updated_ms); }},
      {"user.dl.creator", [](const Item& i) -> std::optional<std::string> {
         if (i.creator.empty()) return std::nullopt;
         return i.creator;
       }},
      {"user.dl.original_name", [](const Item& i) { return field_text(i, "originalname"); }},
      {"user.dl.link.url", [](const Item& i) -> std::optional<std::string> {
         if (!i.is_link()) return std::nullopt;
         return i.link_url();
       }},
      {"user.dl.link.mimetype", [](const Item& i) -> std::optional<std::string> {
         if (!i.is_link() || i.link_mimetype().empty()) return std::nullopt;
         return i.link_mimetype();
       }},
      // Everything the mount shows is on the platform; pending/uploading come with writes.
      {"user.dl.upload_state", [](const Item& i) -> std::optional<std::string> {
         if (i.is_dir()) return std::nullopt;
         return std::string("uploaded");
       }},
      {"user.dl.preprocess", [](const Item& i) { return field_text(i, "preprocessPhase"); }},
      // Why preprocessing failed (a link target refused or unreachable, an image it cannot decode).
      {"user.dl.preprocess_error", [](const Item& i) { return field_text(i, "preprocessError"); }},
      // Both answered from the item and the mount's root in xattr_value.
      {"user.dl.thumbnail", [](const Item&) -> std::optional<std::string> { return std::nullopt; }},
      {"user.dl.thumbnail_path", [](const Item&) -> std::optional<std::string> { return std::nullopt; }},
      {"user.dl.metadata", [](const Item& i) -> std::optional<std::string> { return i.metadata.dump(); }},
      {"user.dl.description", [](const Item& i) { return i.description; }},
  };
  return attrs;
}

// Leaves of metadata.user as dotted names. Keys that cannot be addressed by a dotted name
// (empty, or holding a '.') are left out.
void collect_leaves(const json& node, std::string& prefix, std::vector<std::string>& out) {
  for (auto& [key, value] : node.items()) {
    if (key.empty() || key.find('.') != std::string::npos || key.find('\0') != std::string::npos) continue;
    size_t mark = prefix.size();
    prefix += prefix.empty() ? key : "." + key;
    if (value.is_object() && !value.empty()) {
      collect_leaves(value, prefix, out);
    } else if (kUserMetaPrefix.size() + prefix.size() <= kMaxXattrName) {
      out.push_back(std::string(kUserMetaPrefix) + prefix);
    }
    prefix.resize(mark);
  }
}

}  // namespace

std::string_view item_kind(const Item& item) {
  if (item.is_dir()) return "dir";
  return item.is_link() ? "link" : "file";
}

bool is_unsupported_xattr(std::string_view name) { return name.substr(0, 5) != "user."; }

std::string thumbnail_mount_path(const Item& item, std::string_view root) {
  std::string_view path = item.filename;
  if (root != "/" && path.substr(0, root.size()) == root) path.remove_prefix(root.size());
  return "/.thumbnails" + std::string(path);
}

std::vector<std::string> xattr_names(const Item& item, std::string_view root) {
  std::vector<std::string> names;
  for (auto& attr : dl_attrs()) {
    if (attr.name == "user.dl.thumbnail") continue;  // binary; readable by name
    if (attr.name == "user.dl.thumbnail_path") {
      if (has_thumbnail(item) && thumbnail_mount_path(item, root).size() <= kMaxListedValue)
        names.emplace_back(attr.name);
    } else if (auto value = attr.value(item); value && value->size() <= kMaxListedValue) {
      names.emplace_back(attr.name);
    }
  }
  std::string prefix;
  collect_leaves(item.user(), prefix, names);
  return names;
}

Result<std::string> xattr_value(const Item& item, std::string_view name,
                                const std::function<Result<std::string>()>& thumbnail, std::string_view root) {
  if (is_unsupported_xattr(name)) return Status(ENOTSUP, "unsupported xattr namespace");
  std::optional<std::string> value;
  if (name.substr(0, kUserMetaPrefix.size()) == kUserMetaPrefix) {
    std::string dotted(name.substr(kUserMetaPrefix.size()));
    json user = item.user();
    if (const json* v = find_dotted(user, dotted)) value = as_text(*v);
  } else if (name == "user.dl.thumbnail") {
    if (!has_thumbnail(item)) return Status(ENODATA, "no thumbnail");
    auto jpeg = thumbnail();
    if (!jpeg) return jpeg.err() == ENOENT ? Status(ENODATA, "no thumbnail") : jpeg.status();
    value = std::move(jpeg).value();
  } else if (name == "user.dl.thumbnail_path") {
    if (has_thumbnail(item)) value = thumbnail_mount_path(item, root);
  } else {
    for (auto& attr : dl_attrs())
      if (attr.name == name) value = attr.value(item);
  }
  if (!value) return Status(ENODATA, "no attribute " + std::string(name));
  if (value->size() > kMaxXattrValue) return Status(E2BIG, std::string(name) + " is too large");
  return std::move(*value);
}

}  // namespace dlfs
