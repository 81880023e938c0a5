#include "platform/catalog.h"


#include <cstdlib>
#include <tuple>

#include "core/ids.h"
#include "core/paths.h"

namespace dlfs {
namespace {

// A folder's part of its children's keys: the folder itself, or "#" and its SHA-256 when the
// key would pass LMDB's 511 bytes (24 for the dataset, the folder, a NUL, up to 255 for the name).
// A path never starts with '#', so the two kinds never meet; a hashed folder's descendants are not
// under its prefix, and descendants() walks to them.
constexpr size_t kPlainDirBytes = 230;

std::string dir_part(std::string_view dir) {
  if (dir.size() <= kPlainDirBytes) return std::string(dir);
  return "#" + sha256_hex(dir);
}

std::string path_key(std::string_view ds, std::string_view dir, std::string_view name) {
  std::string part = dir_part(dir);
  std::string key;
  key.reserve(ds.size() + part.size() + 1 + name.size());
  key.append(ds).append(part).push_back('\0');
  key.append(name);
  return key;
}

std::string path_key_of(std::string_view ds, std::string_view path) {
  if (path == "/") return path_key(ds, "", "");
  return path_key(ds, parent_path(path), base_name(path));
}

std::string path_value(const Item& item) {
  std::string v = item.id;
  v.push_back(item.is_dir() ? 'd' : 'f');
  v.push_back(item.hidden ? 'h' : '-');
  return v;
}

PathEntry decode_path_entry(std::string_view key, std::string_view value) {
  PathEntry e;
  e.id = std::string(value.substr(0, 24));
  e.type = value.size() > 24 && value[24] == 'd' ? ItemType::kDir : ItemType::kFile;
  e.hidden = value.size() > 25 && value[25] == 'h';
  size_t nul = key.find('\0');
  e.name = nul == std::string_view::npos ? std::string() : std::string(key.substr(nul + 1));
  return e;
}

Result<json> decode_msgpack(std::string_view bytes) {
  try {
    return json::from_msgpack(bytes.begin(), bytes.end());
  } catch (const json::exception& e) {
    return Status(EIO, "corrupt catalogue record", e.what());
  }
}

}  // namespace

std::string encode_item(const Item& item) {
  std::vector<uint8_t> bytes = json::to_msgpack(item_to_json(item));
  return std::string(bytes.begin(), bytes.end());
}

Result<Item> decode_item(std::string_view bytes) {
  auto item = item_from_bytes(bytes, JsonFormat::kMsgpack);
  if (item.err() == EIO) return Status(EIO, "corrupt catalogue record", item.status().cause());
  return item;
}

Result<std::unique_ptr<Catalog>> Catalog::open(const std::string& dir) {
  LmdbEnv::Options options;
  options.dir = dir;
  options.databases = {"meta", "datasets", "dataset_names", "items", "item_datasets", "paths", "blobs", "jobs", "drivers", "commands", "external_blobs"};
  DLFS_ASSIGN(auto env, LmdbEnv::open_shared(options));
  std::unique_ptr<Catalog> cat(new Catalog());
  cat->env_ = std::move(env);
  cat->meta_ = cat->env_->dbi("meta");
  cat->datasets_ = cat->env_->dbi("datasets");
  cat->dataset_names_ = cat->env_->dbi("dataset_names");
  cat->items_ = cat->env_->dbi("items");
  cat->item_datasets_ = cat->env_->dbi("item_datasets");
  cat->paths_ = cat->env_->dbi("paths");
  cat->blobs_ = cat->env_->dbi("blobs");
  cat->jobs_ = cat->env_->dbi("jobs");
  cat->drivers_ = cat->env_->dbi("drivers");
  cat->commands_ = cat->env_->dbi("commands");
  cat->external_blobs_ = cat->env_->dbi("external_blobs");

  DLFS_ASSIGN(LmdbTxn txn, cat->write());
  DLFS_ASSIGN(auto format, txn.get(cat->meta_, "format"));
  if (!format) {
    DLFS_TRY(txn.put(cat->meta_, "format", std::to_string(kCatalogFormat)));
  } else {
    int found = std::atoi(std::string(*format).c_str());
    if (found > kCatalogFormat)
      return Status(EPROTO, "the store in " + dir + " was written by a newer dlfs (catalogue format " +
                                std::to_string(found) + "); this dlfs reads format " +
                                std::to_string(kCatalogFormat) + " and will not touch it");
    if (found < 2) DLFS_TRY(cat->hash_long_dirs(txn));
    if (found < 3) DLFS_TRY(cat->index_external_blobs(txn));
    if (found < kCatalogFormat) DLFS_TRY(txn.put(cat->meta_, "format", std::to_string(kCatalogFormat)));
  }
  DLFS_TRY(txn.commit());
  return cat;
}

Status Catalog::hash_long_dirs(LmdbTxn& txn) const {
  // Format 1 keyed every child by its folder's whole path (folders up to 479 bytes fit then).
  std::vector<std::tuple<std::string, std::string, std::string>> moves;
  DLFS_TRY(txn.scan(paths_, "", [&](std::string_view key, std::string_view value) {
    if (key.size() < 24) return true;
    std::string_view rest = key.substr(24);
    size_t nul = rest.find('\0');
    if (nul == std::string_view::npos || nul <= kPlainDirBytes) return true;
    moves.emplace_back(std::string(key), path_key(key.substr(0, 24), rest.substr(0, nul), rest.substr(nul + 1)),
                       std::string(value));
    return true;
  }));
  for (const auto& [from, to, value] : moves) {
    DLFS_TRY(txn.del(paths_, from));
    DLFS_TRY(txn.put(paths_, to, value));
  }
  return {};
}

Status Catalog::index_external_blobs(LmdbTxn& txn) const {
  std::vector<std::pair<std::string, std::string>> external;  // (item id, blob key)
  DLFS_TRY(txn.scan(blobs_, "", [&](std::string_view id, std::string_view key) {
    if (key.starts_with('@')) external.emplace_back(id, key);
    return true;
  }));
  for (const auto& [id, key] : external) {
    DLFS_ASSIGN(auto ds, txn.get(item_datasets_, id));
    if (ds) DLFS_TRY(index_blob(txn, std::string(*ds), id, key, true));
  }
  return {};
}

Result<std::optional<Dataset>> Catalog::dataset(const LmdbTxn& txn, std::string_view id) const {
  DLFS_ASSIGN(auto bytes, txn.get(datasets_, id));
  if (!bytes) return std::optional<Dataset>();
  DLFS_ASSIGN(json doc, decode_msgpack(*bytes));
  DLFS_ASSIGN(Dataset ds, dataset_from_json(doc));
  return std::optional<Dataset>(std::move(ds));
}

Result<std::optional<std::string>> Catalog::dataset_id_by_name(const LmdbTxn& txn, std::string_view name) const {
  DLFS_ASSIGN(auto id, txn.get(dataset_names_, name));
  if (!id) return std::optional<std::string>();
  return std::optional<std::string>(std::string(*id));
}

Result<std::vector<Dataset>> Catalog::datasets(const LmdbTxn& txn) const {
  std::vector<Dataset> out;
  Status inner;
  DLFS_TRY(txn.scan(datasets_, "", [&](std::string_view, std::string_view value) {
    auto doc = decode_msgpack(value);
    if (!doc) {
      inner = doc.status();
      return false;
    }
    auto ds = dataset_from_json(*doc);
    if (!ds) {
      inner = ds.status();
      return false;
    }
    out.push_back(std::move(*ds));
    return true;
  }));
  DLFS_TRY(inner);
  return out;
}

Status Catalog::put_dataset(LmdbTxn& txn, const Dataset& ds) const {
  std::vector<uint8_t> bytes = json::to_msgpack(dataset_to_json(ds));
  DLFS_TRY(txn.put(datasets_, ds.id, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  return txn.put(dataset_names_, ds.name, ds.id);
}

Status Catalog::erase_dataset_record(LmdbTxn& txn, const Dataset& ds) const {
  DLFS_TRY(txn.del(datasets_, ds.id));
  DLFS_TRY(txn.del(dataset_names_, ds.name));
  return {};
}

Result<std::optional<std::string_view>> Catalog::record_of(const LmdbTxn& txn, std::string_view id) const {
  DLFS_ASSIGN(auto ds, txn.get(item_datasets_, id));
  if (!ds) return std::optional<std::string_view>();
  DLFS_ASSIGN(auto bytes, txn.get(items_, std::string(*ds) + std::string(id)));
  if (!bytes) return Status(EIO, "corrupt catalogue: item " + std::string(id) + " is indexed but missing");
  return bytes;
}

Result<std::optional<Item>> Catalog::item(const LmdbTxn& txn, std::string_view id) const {
  DLFS_ASSIGN(auto bytes, record_of(txn, id));
  if (!bytes) return std::optional<Item>();
  DLFS_ASSIGN(Item item, decode_item(*bytes));
  return std::optional<Item>(std::move(item));
}

Result<std::optional<std::string>> Catalog::item_record(const LmdbTxn& txn, std::string_view id) const {
  DLFS_ASSIGN(auto bytes, record_of(txn, id));
  if (!bytes) return std::optional<std::string>();
  return std::optional<std::string>(std::string(*bytes));
}

Result<std::optional<PathEntry>> Catalog::entry_at(const LmdbTxn& txn, std::string_view ds, std::string_view path) const {
  std::string key = path_key_of(ds, path);
  DLFS_ASSIGN(auto value, txn.get(paths_, key));
  if (!value) return std::optional<PathEntry>();
  return std::optional<PathEntry>(decode_path_entry(std::string_view(key).substr(ds.size()), *value));
}

Result<std::optional<Item>> Catalog::item_at(const LmdbTxn& txn, std::string_view ds, std::string_view path) const {
  DLFS_ASSIGN(auto entry, entry_at(txn, ds, path));
  if (!entry) return std::optional<Item>();
  return item(txn, entry->id);
}

Status Catalog::put_item(LmdbTxn& txn, const Item& item, const Item* previous) const {
  if (previous && previous->filename != item.filename)
    DLFS_TRY(txn.del(paths_, path_key_of(previous->dataset_id, previous->filename)));
  DLFS_TRY(txn.put(items_, item.dataset_id + item.id, encode_item(item)));
  DLFS_TRY(txn.put(item_datasets_, item.id, item.dataset_id));
  return txn.put(paths_, path_key_of(item.dataset_id, item.filename), path_value(item));
}

Status Catalog::erase_item(LmdbTxn& txn, const Item& item) const {
  DLFS_TRY(erase_blob_key(txn, item.id));
  DLFS_TRY(txn.del(items_, item.dataset_id + item.id));
  DLFS_TRY(txn.del(item_datasets_, item.id));
  DLFS_TRY(txn.del(paths_, path_key_of(item.dataset_id, item.filename)));
  DLFS_TRY(txn.del(blobs_, item.id));
  return {};
}

Status Catalog::children(const LmdbTxn& txn, std::string_view ds, std::string_view dir,
                         const std::function<bool(const PathEntry&)>& fn) const {
  std::string prefix = path_key(ds, dir, "");
  return txn.scan(paths_, prefix, [&](std::string_view key, std::string_view value) {
    return fn(decode_path_entry(key.substr(ds.size()), value));
  });
}

Status Catalog::descendants(const LmdbTxn& txn, std::string_view ds, std::string_view dir,
                            const std::function<bool(const PathEntry&)>& fn) const {
  bool go_on = true;
  // Folders whose children are keyed by hash: walked after the scans, one level at a time.
  std::vector<std::string> hashed;
  auto note_hashed = [&](std::string_view parent, const PathEntry& e) {
    if (e.type != ItemType::kDir) return;
    std::string path = parent == "/" ? "/" + e.name : std::string(parent) + "/" + e.name;
    if (path.size() > kPlainDirBytes) hashed.push_back(std::move(path));
  };
  // A scan of plain keys: the parent folder is in the key.
  auto each = [&](std::string_view key, std::string_view value) {
    PathEntry e = decode_path_entry(key.substr(ds.size()), value);
    std::string_view rest = key.substr(ds.size());
    note_hashed(rest.substr(0, rest.find('\0')), e);
    go_on = fn(e);
    return go_on;
  };
  if (dir.size() > kPlainDirBytes) {
    hashed.emplace_back(dir);
  } else if (dir == "/") {
    // Below the root: every plain key "<ds>/…" (the root's own key is "<ds>\0").
    DLFS_TRY(txn.scan(paths_, std::string(ds) + "/", each));
  } else {
    // Direct children ("<ds><dir>\0…"), then deeper ones ("<ds><dir>/…").
    DLFS_TRY(txn.scan(paths_, path_key(ds, dir, ""), each));
    if (go_on) DLFS_TRY(txn.scan(paths_, std::string(ds) + std::string(dir) + "/", each));
  }
  while (go_on && !hashed.empty()) {
    std::string parent = std::move(hashed.back());
    hashed.pop_back();
    DLFS_TRY(children(txn, ds, parent, [&](const PathEntry& e) {
      note_hashed(parent, e);
      go_on = fn(e);
      return go_on;
    }));
  }
  return {};
}

Result<std::vector<Item>> Catalog::descendant_items(const LmdbTxn& txn, std::string_view ds,
                                                   std::string_view dir) const {
  std::vector<std::string> ids;
  DLFS_TRY(descendants(txn, ds, dir, [&](const PathEntry& e) {
    ids.push_back(e.id);
    return true;
  }));
  std::vector<Item> items;
  items.reserve(ids.size());
  for (const auto& id : ids) {
    DLFS_ASSIGN(auto found, item(txn, id));
    if (found) items.push_back(std::move(*found));
  }
  return items;
}

Status Catalog::scan_items(const LmdbTxn& txn, std::string_view ds, std::string_view after_id,
                           const std::function<bool(const Item&)>& fn) const {
  std::string start = after_id.empty() ? std::string() : std::string(ds) + std::string(after_id) + '\0';
  Status inner;
  DLFS_TRY(txn.scan(
      items_, ds,
      [&](std::string_view, std::string_view value) {
        auto item = decode_item(value);
        if (!item) {
          inner = item.status();
          return false;
        }
        return fn(*item);
      },
      start));
  return inner;
}

Result<std::optional<std::string>> Catalog::blob_key(const LmdbTxn& txn, std::string_view item_id) const {
  DLFS_ASSIGN(auto key, txn.get(blobs_, item_id));
  if (!key) return std::optional<std::string>();
  return std::optional<std::string>(std::string(*key));
}

// The external_blobs index: dataset id (24 bytes), blob key, NUL, item id -> "". A blob key too
// long for that (LMDB keys end at 511 bytes; object keys may have 1,024) goes as "#" + its
// SHA-256 instead, the key itself as the value. '#' sorts before '@': such entries come before
// the ordered ones, and never among them.
namespace {
std::string external_entry(std::string_view ds, std::string_view key, std::string_view item_id) {
  std::string k(ds);
  k += key.size() <= kMaxOrderedBlobKey ? std::string(key) : "#" + sha256_hex(key);
  k += '\0';
  k += item_id;
  return k;
}
}  // namespace

Status Catalog::index_blob(LmdbTxn& txn, std::string_view ds, std::string_view item_id, std::string_view key,
                           bool add) const {
  if (!key.starts_with('@')) return {};  // the platform's own storage
  std::string entry = external_entry(ds, key, item_id);
  if (!add) return txn.del(external_blobs_, entry).status();
  return txn.put(external_blobs_, entry, key.size() <= kMaxOrderedBlobKey ? std::string_view() : key);
}

Status Catalog::put_blob_key(LmdbTxn& txn, std::string_view item_id, std::string_view key) const {
  DLFS_ASSIGN(auto ds, txn.get(item_datasets_, item_id));
  if (!ds) return Status(EIO, "item " + std::string(item_id) + " has no dataset in the catalogue");
  std::string dataset(*ds);
  DLFS_ASSIGN(auto old, txn.get(blobs_, item_id));
  if (old && *old != key) DLFS_TRY(index_blob(txn, dataset, item_id, std::string(*old), false));
  DLFS_TRY(txn.put(blobs_, item_id, key));
  return index_blob(txn, dataset, item_id, key, true);
}

Status Catalog::erase_blob_key(LmdbTxn& txn, std::string_view item_id) const {
  DLFS_ASSIGN(auto old, txn.get(blobs_, item_id));
  if (!old) return {};
  std::string key(*old);
  DLFS_ASSIGN(auto ds, txn.get(item_datasets_, item_id));
  if (ds) DLFS_TRY(index_blob(txn, std::string(*ds), item_id, key, false));
  DLFS_TRY(txn.del(blobs_, item_id));
  return {};
}

Status Catalog::external_items(const LmdbTxn& txn, std::string_view ds, std::string_view prefix,
                               std::string_view after,
                               const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::string scan_prefix = std::string(ds) + std::string(prefix);
  // Past every entry of `after` (its item ids follow a NUL): from `after` + "\x01".
  std::string start = after.empty() ? scan_prefix : std::string(ds) + std::string(after) + '\x01';
  return txn.scan(external_blobs_, scan_prefix, [&](std::string_view k, std::string_view) {
    std::string_view rest = k.substr(ds.size());
    size_t nul = rest.rfind('\0');
    if (nul == std::string_view::npos) return true;
    return fn(rest.substr(0, nul), rest.substr(nul + 1));
  }, start);
}

Status Catalog::long_external_items(const LmdbTxn& txn, std::string_view ds,
                                    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  return txn.scan(external_blobs_, std::string(ds) + "#", [&](std::string_view k, std::string_view value) {
    size_t nul = k.rfind('\0');
    return nul == std::string_view::npos ? true : fn(value, k.substr(nul + 1));
  });
}

Result<std::vector<std::string>> Catalog::items_holding(const LmdbTxn& txn, std::string_view ds,
                                                        std::string_view key) const {
  std::vector<std::string> ids;
  std::string prefix = external_entry(ds, key, "");
  DLFS_TRY(txn.scan(external_blobs_, prefix, [&](std::string_view k, std::string_view) {
    ids.emplace_back(k.substr(prefix.size()));
    return true;
  }));
  return ids;
}

Result<std::optional<json>> Catalog::driver(const LmdbTxn& txn, std::string_view id) const {
  DLFS_ASSIGN(auto bytes, txn.get(drivers_, id));
  if (!bytes) return std::optional<json>();
  DLFS_ASSIGN(json doc, decode_msgpack(*bytes));
  return std::optional<json>(std::move(doc));
}

Result<std::vector<json>> Catalog::records(const LmdbTxn& txn, MDB_dbi dbi) const {
  std::vector<json> out;
  Status inner;
  DLFS_TRY(txn.scan(dbi, "", [&](std::string_view, std::string_view value) {
    auto doc = decode_msgpack(value);
    if (!doc) inner = doc.status();
    else out.push_back(std::move(*doc));
    return bool(doc);
  }));
  DLFS_TRY(inner);
  return out;
}

Status Catalog::put_record(LmdbTxn& txn, MDB_dbi dbi, std::string_view id, const json& doc) const {
  std::vector<uint8_t> bytes = json::to_msgpack(doc);
  return txn.put(dbi, id, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

Result<std::vector<json>> Catalog::drivers(const LmdbTxn& txn) const { return records(txn, drivers_); }

Status Catalog::put_driver(LmdbTxn& txn, std::string_view id, const json& driver) const {
  return put_record(txn, drivers_, id, driver);
}

Result<std::vector<json>> Catalog::commands(const LmdbTxn& txn) const { return records(txn, commands_); }

Status Catalog::put_command(LmdbTxn& txn, std::string_view id, const json& command) const {
  return put_record(txn, commands_, id, command);
}

Status Catalog::erase_command(LmdbTxn& txn, std::string_view id) const { return txn.del(commands_, id).status(); }

Result<uint64_t> Catalog::store_items_quota(const LmdbTxn& txn) const {
  DLFS_ASSIGN(auto text, txn.get(meta_, "items_quota"));
  if (!text) return uint64_t(0);
  return uint64_t(std::strtoull(std::string(*text).c_str(), nullptr, 10));
}

Status Catalog::put_store_items_quota(LmdbTxn& txn, uint64_t quota) const {
  if (quota > 0) return txn.put(meta_, "items_quota", std::to_string(quota));
  DLFS_TRY(txn.del(meta_, "items_quota").status());
  return {};
}

}  // namespace dlfs
