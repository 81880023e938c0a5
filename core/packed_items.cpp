#include "core/packed_items.h"

#include "core/item_pack.h"
#include "core/paths.h"

namespace dlfs {

PackedItems::PackedItems(const std::vector<Item>& items) {
  entries_.reserve(items.size());
  for (const Item& item : items) add(item);
}

void PackedItems::add(const Item& item) { add(Item(item)); }

void PackedItems::add(Item&& item) {
  Entry e{{}, {}, item.is_dir(), false};
  if (item.name != base_name(item.filename)) {
    e.name = item.name;
    e.own_name = true;
  }
  e.packed = std::make_shared<const std::string>(pack_item(std::move(item)));
  entries_.push_back(std::move(e));
}

Status PackedItems::add_packed(std::string packed, bool dir) {
  if (packed_item_filename(packed).empty()) return Status(EIO, "not a packed item");
  Entry e{std::make_shared<const std::string>(std::move(packed)), {}, dir, false};
  if (packed_item_keeps_name(*e.packed)) {  // (rare: unpacked only then)
    DLFS_ASSIGN(Item item, unpack_item(*e.packed));
    e.name = std::move(item.name);
    e.own_name = true;
  }
  entries_.push_back(std::move(e));
  return {};
}

std::string_view PackedItems::id(size_t i) const { return packed_item_id(*entries_[i].packed); }

std::string_view PackedItems::name(size_t i) const {
  const Entry& e = entries_[i];
  if (e.own_name) return e.name;
  std::string_view filename = packed_item_filename(*e.packed);
  return filename.substr(filename.rfind('/') + 1);
}

Result<Item> PackedItems::item(size_t i) const { return unpack_item(*entries_[i].packed); }

Result<std::vector<Item>> PackedItems::items() const {
  std::vector<Item> out;
  out.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    DLFS_ASSIGN(Item item, item(i));
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace dlfs
