#include "core/item.h"

#include "core/clock.h"
#include "core/paths.h"

namespace dlfs {

std::string_view to_string(ItemType type) { return type == ItemType::kDir ? "dir" : "file"; }

Result<ItemType> parse_item_type(std::string_view text) {
  if (text == "file") return ItemType::kFile;
  if (text == "dir") return ItemType::kDir;
  return Status(EINVAL, "unknown item type '" + std::string(text) + "' (expected file or dir)");
}

const json& Item::system() const {
  static const json empty = json::object();
  auto it = metadata.find("system");
  return it != metadata.end() && it->is_object() ? *it : empty;
}

json& Item::system() {
  json& s = metadata["system"];
  if (!s.is_object()) s = json::object();
  return s;
}

json Item::user() const {
  auto it = metadata.find("user");
  return it != metadata.end() && it->is_object() ? *it : json::object();
}

uint64_t Item::size() const {
  const json& s = system();
  auto it = s.find("size");
  if (it == s.end() || !it->is_number()) return 0;
  return it->is_number_unsigned() ? it->get<uint64_t>() : uint64_t(std::max<int64_t>(0, it->get<int64_t>()));
}

bool Item::preprocessing() const {
  auto it = system().find("preprocessPhase");
  if (it == system().end() || !it->is_string()) return false;
  const std::string& phase = it->get_ref<const std::string&>();
  return phase == "pending" || phase == "running";
}

std::string Item::mimetype() const { return string_field(system(), "mimetype"); }

std::string Item::etag() const { return string_field(system(), "etag"); }

static const json* link_info(const Item& item) {
  const json* info = find_dotted(item.system(), "shebang.linkInfo");
  return info && info->is_object() ? info : nullptr;
}

bool Item::is_link() const {
  const json* info = link_info(*this);
  if (!info) return false;
  auto ref = info->find("ref");
  return ref != info->end() && ref->is_string();
}

std::string Item::link_url() const {
  const json* info = link_info(*this);
  if (!info) return {};
  auto ref = info->find("ref");
  return ref != info->end() && ref->is_string() ? ref->get<std::string>() : std::string();
}

std::string Item::link_mimetype() const {
  const json* info = link_info(*this);
  if (!info) return {};
  auto m = info->find("mimetype");
  return m != info->end() && m->is_string() ? m->get<std::string>() : std::string();
}

void Item::set_path(std::string_view path) {
  filename = std::string(path);
  dir = parent_path(path);
  name = base_name(path);
}

json item_to_json(const Item& item, std::string_view base_url) {
  json doc = {
      {"id", item.id},
      {"datasetId", item.dataset_id},
      {"filename", item.filename},
      {"dir", item.dir},
      {"name", item.name},
      {"type", to_string(item.type)},
      {"hidden", item.hidden},
      {"createdAt", format_iso8601(item.created_ms)},
      {"updatedAt", format_iso8601(item.updated_ms)},
      {"creator", item.creator},
      {"updatedBy", item.updated_by},
      {"description", item.description ? json(*item.description) : json(nullptr)},
      {"annotated", false},
      {"annotationsCount", 0},
      {"metadata", item.metadata},
  };
  if (!base_url.empty()) {
    std::string self = std::string(base_url) + "/items/" + item.id;
    doc["url"] = self;
    doc["stream"] = self + "/stream";
    doc["thumbnail"] = self + "/thumbnail";
    doc["annotations"] = self + "/annotations";
    doc["dataset"] = std::string(base_url) + "/datasets/" + item.dataset_id;
  }
  return doc;
}

namespace {

// A string field's value into `out`, moved out of `value`; null leaves `out` as it is.
Status take_string(std::string_view key, json& value, std::string& out) {
  if (value.is_null()) return {};
  if (!value.is_string()) return Status(EINVAL, "field '" + std::string(key) + "' is not a string");
  out = std::move(value.get_ref<std::string&>());
  return {};
}

// A time field's value (ISO 8601) into `out`; null or "" leaves it as it is.
Status take_time(std::string_view key, json& value, int64_t& out) {
  std::string text;
  DLFS_TRY(take_string(key, value, text));
  if (text.empty()) return {};
  Result<int64_t> t = parse_iso8601(text);
  if (!t) return t.status().wrap("field '" + std::string(key) + "'");
  out = *t;
  return {};
}

// Reads a string field of `doc` (missing or null: an error when required).
Status get_string(const json& doc, const char* key, std::string& out, bool required = true) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) {
    if (required) return Status(EINVAL, std::string("missing field '") + key + "'");
    return {};
  }
  json value = *it;
  return take_string(key, value, out);
}

Status get_time(const json& doc, const char* key, int64_t& out) {
  auto it = doc.find(key);
  if (it == doc.end()) return {};
  json value = *it;
  return take_time(key, value, out);
}

// An item's API JSON read field by field: item_from_json, and item_from_bytes, which never builds
// the document. A null field is a missing one; an unknown one is ignored.
class ItemFieldReader {
 public:
  Status field(std::string_view key, json& value) {
    if (key == "id") return text(key, value, item_.id, &id_);
    if (key == "datasetId") return text(key, value, item_.dataset_id);
    if (key == "filename") return text(key, value, item_.filename, &filename_);
    if (key == "dir") return text(key, value, item_.dir);
    if (key == "name") return text(key, value, item_.name);
    if (key == "type") {
      std::string type = "file";
      DLFS_TRY(text(key, value, type));
      DLFS_ASSIGN(item_.type, parse_item_type(type));
      return {};
    }
    if (key == "hidden") {
      if (value.is_boolean()) item_.hidden = value.get<bool>();
      return {};
    }
    if (key == "createdAt") return take_time(key, value, item_.created_ms);
    if (key == "updatedAt") return take_time(key, value, item_.updated_ms);
    if (key == "creator") return text(key, value, item_.creator);
    if (key == "updatedBy") return text(key, value, item_.updated_by);
    if (key == "description") {
      if (value.is_string()) item_.description = std::move(value.get_ref<std::string&>());
      return {};
    }
    if (key == "metadata" && value.is_object()) item_.metadata = std::move(value);
    return {};
  }

  Result<Item> finish() {
    if (!id_) return Status(EINVAL, "missing field 'id'");
    if (!filename_) return Status(EINVAL, "missing field 'filename'");
    if (!item_.metadata.contains("system") || !item_.metadata["system"].is_object())
      item_.metadata["system"] = json::object();
    return std::move(item_);
  }

 private:
  static Status text(std::string_view key, json& value, std::string& out, bool* seen = nullptr) {
    if (seen && !value.is_null()) *seen = true;
    return take_string(key, value, out);
  }

  Item item_;
  bool id_ = false, filename_ = false;
};
}  // namespace

Result<Item> item_from_json(const json& doc) {
  if (!doc.is_object()) return Status(EINVAL, "an item must be a JSON object");
  ItemFieldReader reader;
  for (const auto& [key, value] : doc.items()) {
    json copy = value;
    DLFS_TRY(reader.field(key, copy));
  }
  return reader.finish();
}

Result<Item> item_from_json(json&& doc) {
  if (!doc.is_object()) return Status(EINVAL, "an item must be a JSON object");
  ItemFieldReader reader;
  for (auto& [key, value] : doc.items()) DLFS_TRY(reader.field(key, value));
  return reader.finish();
}

Result<Item> item_from_bytes(std::string_view bytes, JsonFormat format) {
  ItemFieldReader reader;
  DLFS_TRY(for_each_field(bytes, format, false,
                          [&](std::string_view key, size_t, json& value) { return reader.field(key, value); }));
  return reader.finish();
}

json dataset_to_json(const Dataset& ds, std::string_view base_url) {
  json doc = {
      {"id", ds.id},
      {"name", ds.name},
      {"creator", ds.creator},
      {"createdAt", format_iso8601(ds.created_ms)},
      {"updatedAt", format_iso8601(ds.updated_ms)},
      {"itemsCount", ds.items_count},
      {"driver", ds.driver.empty() ? json(nullptr) : json(ds.driver)},
      {"readonly", ds.readonly},
      {"projects", ds.projects},
      {"metadata", ds.metadata},
  };
  if (!base_url.empty()) {
    doc["url"] = std::string(base_url) + "/datasets/" + ds.id;
    doc["items"] = std::string(base_url) + "/datasets/" + ds.id + "/items";
  }
  return doc;
}

Result<Dataset> dataset_from_json(const json& doc) {
  if (!doc.is_object()) return Status(EINVAL, "a dataset must be a JSON object");
  Dataset ds;
  DLFS_TRY(get_string(doc, "id", ds.id));
  DLFS_TRY(get_string(doc, "name", ds.name));
  DLFS_TRY(get_string(doc, "creator", ds.creator, false));
  DLFS_TRY(get_time(doc, "createdAt", ds.created_ms));
  DLFS_TRY(get_time(doc, "updatedAt", ds.updated_ms));
  if (auto it = doc.find("itemsCount"); it != doc.end() && it->is_number_unsigned())
    ds.items_count = it->get<uint64_t>();
  DLFS_TRY(get_string(doc, "driver", ds.driver, false));
  if (auto it = doc.find("readonly"); it != doc.end() && it->is_boolean()) ds.readonly = it->get<bool>();
  if (auto it = doc.find("projects"); it != doc.end() && it->is_array())
    for (const auto& p : *it)
      if (p.is_string()) ds.projects.push_back(p.get<std::string>());
  if (auto it = doc.find("metadata"); it != doc.end() && it->is_object()) ds.metadata = *it;
  return ds;
}

json make_link_json(std::string_view url, std::string_view mimetype) {
  json info = {{"type", "url"}, {"ref", url}};
  if (!mimetype.empty()) info["mimetype"] = mimetype;
  return {{"type", "link"},
          {"shebang", "dataloop"},
          {"metadata", {{"dltype", "link"}, {"linkInfo", info}}}};
}

}  // namespace dlfs
