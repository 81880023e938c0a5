// The platform's entities as the API shapes them (API.md): Item and Dataset, with a JSON
// round trip in exactly that shape.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_fields.h"
#include "core/json_util.h"
#include "core/result.h"

namespace dlfs {

enum class ItemType { kFile, kDir };

std::string_view to_string(ItemType type);
Result<ItemType> parse_item_type(std::string_view text);

struct Item {
  std::string id;
  std::string dataset_id;
  std::string filename;  // full path, "/cars/a.jpg"; "/" for the root folder
  std::string dir;       // parent folder, "/" at the root; "" for the root folder itself
  std::string name;      // last part; "" for the root folder
  ItemType type = ItemType::kFile;
  bool hidden = false;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::string creator;
  std::string updated_by;
  std::optional<std::string> description;
  json metadata = json{{"system", json::object()}};

  bool is_dir() const { return type == ItemType::kDir; }
  bool is_file() const { return type == ItemType::kFile; }
  // metadata.system.size (0 when unknown).
  uint64_t size() const;
  // metadata.system.mimetype ("" when unknown).
  std::string mimetype() const;
  // metadata.system.etag: the version of the item's bytes, changed with them only ("" when
  // unknown).
  std::string etag() const;
  // A link item: a JSON pointer to a URL (metadata.system.shebang.linkInfo).
  bool is_link() const;
  // metadata.system.preprocessPhase is "pending" or "running": the platform's preprocessing of it
  // is still to come.
  bool preprocessing() const;
  std::string link_url() const;
  std::string link_mimetype() const;
  const json& system() const;
  json& system();
  // metadata.user, or an empty object.
  json user() const;

  // Sets filename, and dir and name derived from it.
  void set_path(std::string_view path);

  bool operator==(const Item&) const = default;
};

// The API's JSON. With a base URL (ending in /api/v1), the self-URLs are added too.
json item_to_json(const Item& item, std::string_view base_url = {});
Result<Item> item_from_json(const json& doc);
Result<Item> item_from_json(json&& doc);  // (its metadata moved out of `doc`, not copied)
// The same from the document's bytes, JSON text or MessagePack (JsonFormat, core/json_fields.h),
// without building the document: a listing decodes thousands (EIO when they do not parse).
Result<Item> item_from_bytes(std::string_view bytes, JsonFormat format);

struct Dataset {
  std::string id;
  std::string name;
  std::string creator;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  uint64_t items_count = 0;  // file items, the root and hidden items not counted
  std::string driver;        // storage driver id; "" for the platform's own storage
  bool readonly = false;
  std::vector<std::string> projects;
  json metadata = json{{"system", json::object()}};

  bool operator==(const Dataset&) const = default;
};

json dataset_to_json(const Dataset& dataset, std::string_view base_url = {});
Result<Dataset> dataset_from_json(const json& doc);

// The link item's JSON body for a URL (what a client uploads to make a link item).
json make_link_json(std::string_view url, std::string_view mimetype);

}  // namespace dlfs
