#include "core/item_pack.h"

#include <optional>

#include "core/paths.h"

namespace dlfs {

// A field added to Item must be packed too: this binding stops compiling when one is.
[[maybe_unused]] static void every_field_is_packed(const Item& item) {
  [[maybe_unused]] const auto& [id, dataset_id, filename, dir, name, type, hidden, created_ms, updated_ms, creator,
                                updated_by, description, metadata] = item;
}

namespace {
constexpr char kSep = '\0';  // ids and paths never hold a NUL
}

std::string pack_item(const Item& item) { return pack_item(Item(item)); }

std::string pack_item(Item&& item) {
  // (the item's strings and metadata tree are moved into the array, not copied: a listing of
  // 100,000 items packs each one)
  bool keeps_name = item.dir != parent_path(item.filename) || item.name != base_name(item.filename);
  json description = item.description ? json(std::move(*item.description)) : json(nullptr);
  json rest = json::array({std::move(item.dataset_id), item.type == ItemType::kDir, item.hidden, item.created_ms,
                           item.updated_ms, std::move(item.creator), std::move(item.updated_by),
                           std::move(description), std::move(item.metadata)});
  // dir and name are the filename's parts, unless someone set them otherwise: kept then.
  if (keeps_name) {
    rest.push_back(std::move(item.dir));
    rest.push_back(std::move(item.name));
  }
  std::string out;
  out.reserve(item.id.size() + item.filename.size() + 400);
  out.append(item.id).push_back(kSep);
  out.append(item.filename).push_back(kSep);
  json::to_msgpack(rest, out);
  // (the reserve's slack is given back: the point is memory)
  out.shrink_to_fit();
  return out;
}

namespace {
// A packed item's three parts: its id, its filename and the MessagePack of the rest; nullopt
// when the separators are missing.
struct PackedParts {
  std::string_view id, filename, rest;
};
std::optional<PackedParts> split_packed(std::string_view packed) {
  size_t a = packed.find(kSep);
  size_t b = a == std::string_view::npos ? a : packed.find(kSep, a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  return PackedParts{packed.substr(0, a), packed.substr(a + 1, b - a - 1), packed.substr(b + 1)};
}
}  // namespace

std::string_view packed_item_id(std::string_view packed) {
  auto parts = split_packed(packed);
  return parts ? parts->id : std::string_view();
}

std::string_view packed_item_filename(std::string_view packed) {
  auto parts = split_packed(packed);
  return parts ? parts->filename : std::string_view();
}

bool packed_item_keeps_name(std::string_view packed) {
  auto parts = split_packed(packed);
  // The rest is a MessagePack array of 9 fields, or 11 with dir and name: its first byte is a
  // "fixarray" header holding the count (0x90 | n).
  return !parts || parts->rest.empty() || uint8_t(parts->rest[0]) != (0x90 | 9);
}

Result<Item> unpack_item(std::string_view packed) try {
  auto parts = split_packed(packed);
  if (!parts) return Status(EIO, "packed item: no id and filename");
  Item item;
  item.id = std::string(parts->id);
  item.set_path(parts->filename);
  auto text = [](json& v) { return std::move(v.get_ref<std::string&>()); };
  size_t fields = 0;
  // (field by field, as pack_item wrote them: no document of the array is built)
  Status walked = for_each_field(parts->rest, JsonFormat::kMsgpack, true, [&](std::string_view, size_t i, json& v) {
    switch (fields = i + 1) {
      case 1: item.dataset_id = text(v); break;
      case 2: item.type = v.get<bool>() ? ItemType::kDir : ItemType::kFile; break;
      case 3: item.hidden = v.get<bool>(); break;
      case 4: item.created_ms = v.get<int64_t>(); break;
      case 5: item.updated_ms = v.get<int64_t>(); break;
      case 6: item.creator = text(v); break;
      case 7: item.updated_by = text(v); break;
      case 8: if (!v.is_null()) item.description = text(v); break;
      case 9: item.metadata = std::move(v); break;
      case 10: item.dir = text(v); break;
      case 11: item.name = text(v); break;
      default: return Status(EIO, "packed item: not the fields packed");
    }
    return Status();
  });
  if (!walked) return Status(EIO, "packed item: " + walked.message(), walked.cause());
  if (fields != 9 && fields != 11) return Status(EIO, "packed item: not the fields packed");
  return item;
} catch (const json::exception& e) {  // (only a packed item of another build could get here)
  return Status(EIO, std::string("packed item: ") + e.what());
}

}  // namespace dlfs
