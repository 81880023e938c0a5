// A folder's listing in a fraction of the memory: its items packed (core/item_pack.h), each
// unpacked only when it is used. A folder of 100,000 files is ~55 MB packed against ~200 MB as
// Items (whose metadata is a tree of std::map nodes), and a listing read back from the metadata
// cache is the cache's bytes, not decoded. Immutable once shared; names and ids are views into
// it, valid while it lives.
#pragma once

#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/item.h"
#include "core/result.h"

namespace dlfs {

class PackedItems {
 public:
  PackedItems() = default;
  explicit PackedItems(const std::vector<Item>& items);

  void reserve(size_t n) { entries_.reserve(n); }
  void add(const Item& item);
  void add(Item&& item);  // (moved from: its metadata is not copied)
  // An item packed by pack_item, of a folder (`dir`) or not; EIO when it is not a packed item.
  Status add_packed(std::string packed, bool dir);
  // Entry `i` of `from`, as it is (no unpacking).
  void add_from(const PackedItems& from, size_t i) { entries_.push_back(from.entries_[i]); }
  // Every entry of `from`, after these.
  void append(PackedItems&& from) {
    entries_.insert(entries_.end(), std::make_move_iterator(from.entries_.begin()),
                    std::make_move_iterator(from.entries_.end()));
  }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::string_view id(size_t i) const;
  std::string_view name(size_t i) const;
  bool is_dir(size_t i) const { return entries_[i].dir; }
  std::string_view packed(size_t i) const { return *entries_[i].packed; }
  // The bytes of entry `i`, shared (an inode made from it keeps them, not a copy).
  const std::shared_ptr<const std::string>& shared_packed(size_t i) const { return entries_[i].packed; }
  Result<Item> item(size_t i) const;
  // Every item, unpacked (small listings, tests); EIO if one does not unpack.
  Result<std::vector<Item>> items() const;

 private:
  struct Entry {
    std::shared_ptr<const std::string> packed;
    std::string name;  // only when it is not the filename's last part (see pack_item)
    bool dir = false;
    bool own_name = false;
  };
  std::vector<Entry> entries_;
};

}  // namespace dlfs
