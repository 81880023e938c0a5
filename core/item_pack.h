// An item in a fraction of the memory: the mount keeps one per inode the kernel knows, and the
// kernel keeps every file a `cp -r` made (100,000 files: 100,000 items). An Item's metadata is a
// tree of std::map nodes (~1.6 KB for a plain file); packed, the same item is ~0.5 KB of
// MessagePack (nlohmann's, not a format of our own). Lossless: unpack(pack(x)) == x.
#pragma once

#include <string>
#include <string_view>

#include "core/item.h"
#include "core/result.h"

namespace dlfs {

// The item's id and filename first (NUL-terminated, readable without unpacking), then the rest.
std::string pack_item(const Item& item);
std::string pack_item(Item&& item);  // (the item is left in a moved-from state)
Result<Item> unpack_item(std::string_view packed);
// The id and filename of a packed item.
std::string_view packed_item_id(std::string_view packed);
std::string_view packed_item_filename(std::string_view packed);
// Whether the item's dir and name are packed apart from its filename (they are not the
// filename's parts): then only unpacking tells its name.
bool packed_item_keeps_name(std::string_view packed);

}  // namespace dlfs
