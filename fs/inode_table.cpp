#include "fs/inode_table.h"

#include <algorithm>

#include "core/item_pack.h"
#include "core/paths.h"

namespace dlfs {

Ino ino_hash(std::string_view key) {
  // FNV-1a, then a splitmix64 finalizer so that ids differing only in their counter bytes
  // spread over all 64 bits.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h < 2 ? h + 2 : h;
}

std::string InodeTable::key_of(NodeKind kind, std::string_view id) {
  switch (kind) {
    case NodeKind::kItem: return std::string(id);
    case NodeKind::kThumbDir: return "thumbdir:" + std::string(id);
    case NodeKind::kThumbFile: return "thumb:" + std::string(id);
  }
  return std::string(id);
}

InodeTable::InodeTable(const Item& root, int64_t fetched_ms, size_t hot_items) : hot_limit_(std::max<size_t>(hot_items, 1)) {
  Node& node = nodes_[kRootIno];
  node.ino = kRootIno;
  set_item_locked(node, std::make_shared<const Item>(root));
  node.fetched_ms = fetched_ms;
  node.nlookup = 1;  // the kernel's own reference, never forgotten
  by_key_.emplace(key_of(NodeKind::kItem, root.id), kRootIno);
}

void InodeTable::set_item_locked(Node& node, std::shared_ptr<const Item> item,
                                 std::shared_ptr<const std::string> packed) const {
  if (!node.item && node.packed) --packed_count_;  // it was cold
  node.updated_ms = item->updated_ms;
  node.size = item->size();
  node.item = std::move(item);
  node.packed = std::move(packed);
  touch_locked(node);
}

const std::shared_ptr<const Item>& InodeTable::item_locked(Node& node) const {
  if (!node.item) {
    auto item = unpack_item(*node.packed);
    // (a packed item of this process always unpacks; should it not, the failure is loud)
    if (!item) throw std::logic_error("inode table: " + item.status().to_string());
    auto packed = node.packed;  // (still this item's: kept for its next cold spell)
    set_item_locked(node, std::make_shared<const Item>(std::move(*item)), std::move(packed));
  } else {
    touch_locked(node);
  }
  return node.item;
}

std::string_view InodeTable::id_locked(const Node& node) const {
  return node.item ? std::string_view(node.item->id) : packed_item_id(*node.packed);
}

void InodeTable::touch_locked(Node& node) const {
  if (node.ino == kRootIno) return;  // never packed
  node.hot_stamp = ++hot_clock_;
  hot_.emplace_back(node.ino, node.hot_stamp);
  while (hot_.size() > hot_limit_) {
    auto [ino, stamp] = hot_.front();
    hot_.pop_front();
    auto it = nodes_.find(ino);
    if (it == nodes_.end() || it->second.hot_stamp != stamp || !it->second.item) continue;  // stale
    Node& cold = it->second;
    if (!cold.packed) cold.packed = std::make_shared<const std::string>(pack_item(*cold.item));
    cold.item.reset();
    ++packed_count_;
  }
}

Ino InodeTable::assign_locked(const std::string& key) const {
  if (auto it = by_key_.find(key); it != by_key_.end()) return it->second;
  if (auto it = aliases_.find(key); it != aliases_.end()) return it->second;
  if (auto it = preferred_.find(ino_hash(key)); it != preferred_.end() && !nodes_.count(it->second)) return it->second;
  Ino ino = ino_hash(key);
  while (nodes_.count(ino)) ino = ino + 1 < 2 ? 2 : ino + 1;  // collision: probe
  return ino;
}

uint64_t InodeTable::mark() const {
  std::lock_guard lock(mu_);
  return seq_;
}

bool InodeTable::may_set_locked(Node& node, uint64_t asked) {
  if (asked == kSetHere) {
    node.learned_seq = ++seq_;
    return true;
  }
  return node.learned_seq <= asked;
}

Ino InodeTable::add_lookup(NodeKind kind, std::shared_ptr<const Item> item, int64_t fetched_ms, uint64_t asked,
                           uint64_t count, std::shared_ptr<const std::string> thumbnail,
                           std::shared_ptr<const std::string> packed) {
  std::string key = key_of(kind, item->id);
  std::lock_guard lock(mu_);
  if (auto alias = aliases_.find(key); alias != aliases_.end()) {
    if (auto it = nodes_.find(alias->second); it != nodes_.end()) {
      it->second.nlookup += count;
      return alias->second;
    }
  }
  Ino ino = assign_locked(key);
  auto [it, inserted] = nodes_.try_emplace(ino);
  Node& node = it->second;
  if (inserted) {
    node.ino = ino;
    node.kind = kind;
    by_key_.emplace(std::move(key), ino);
  }
  if (inserted || (fetched_ms >= node.fetched_ms && may_set_locked(node, asked))) {
    if (inserted && asked == kSetHere) node.learned_seq = ++seq_;
    set_item_locked(node, std::move(item), std::move(packed));
    node.fetched_ms = fetched_ms;
  }
  if (thumbnail) node.thumbnail = std::move(thumbnail);
  node.nlookup += count;
  return ino;
}

Ino InodeTable::peek_ino(NodeKind kind, std::string_view id) const {
  std::lock_guard lock(mu_);
  return assign_locked(key_of(kind, id));
}

void InodeTable::forget(Ino ino, uint64_t n) {
  if (ino == kRootIno) return;
  std::lock_guard lock(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node& node = it->second;
  node.nlookup = n >= node.nlookup ? 0 : node.nlookup - n;
  if (node.nlookup == 0) {
    by_key_.erase(key_of(node.kind, id_locked(node)));
    for (const std::string& old : node.old_keys) aliases_.erase(old);
    packed_count_ -= !node.item && node.packed;
    nodes_.erase(it);  // (its entries in hot_ are stale now)
  }
}

std::optional<Node> InodeTable::get(Ino ino) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return std::nullopt;
  item_locked(it->second);
  return it->second;
}

bool InodeTable::refresh(Ino ino, const Item& item, int64_t fetched_ms, uint64_t asked) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(ino);
  // (another item's state never goes into a node: rebind() moves a node to a new id)
  if (it == nodes_.end() || fetched_ms < it->second.fetched_ms || id_locked(it->second) != item.id) return false;
  Node& node = it->second;
  if (!may_set_locked(node, asked)) return false;
  bool changed = node.updated_ms != item.updated_ms || node.size != item.size();
  set_item_locked(node, std::make_shared<const Item>(item));
  node.fetched_ms = fetched_ms;
  return changed;
}

bool InodeTable::rebind(Ino ino, const Item& item, int64_t fetched_ms) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || id_locked(it->second) != item.id) preferred_[ino_hash(key_of(NodeKind::kItem, item.id))] = ino;
  if (it == nodes_.end()) return false;
  Node& node = it->second;
  node.learned_seq = ++seq_;  // the mount's own upload: a state set here
  if (id_locked(node) != item.id) {
    std::string old_key = key_of(node.kind, id_locked(node)), new_key = key_of(node.kind, item.id);
    if (auto k = by_key_.find(old_key); k != by_key_.end() && k->second == ino) by_key_.erase(k);
    by_key_[new_key] = ino;
    aliases_[old_key] = ino;
    node.old_keys.push_back(std::move(old_key));
  }
  set_item_locked(node, std::make_shared<const Item>(item));
  node.fetched_ms = std::max(node.fetched_ms, fetched_ms);
  return true;
}

void InodeTable::moved_below(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  for (auto& [ino, node] : nodes_) {
    std::string_view filename = node.item ? std::string_view(node.item->filename) : packed_item_filename(*node.packed);
    if (ino == kRootIno || !is_same_or_under(filename, from)) continue;
    Item moved = *item_locked(node);
    moved.set_path(to + moved.filename.substr(from.size()));
    set_item_locked(node, std::make_shared<const Item>(std::move(moved)));
  }
}

std::optional<Ino> InodeTable::find(NodeKind kind, std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = by_key_.find(key_of(kind, id));
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

void InodeTable::mark_unlinked(Ino ino) {
  std::lock_guard lock(mu_);
  if (auto it = nodes_.find(ino); it != nodes_.end() && ino != kRootIno) it->second.unlinked = true;
}

bool InodeTable::note_open(Ino ino) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return false;
  Node& node = it->second;
  std::pair<int64_t, uint64_t> version{node.updated_ms, node.size};
  bool unchanged = node.opened_version == version;
  node.opened_version = version;
  return unchanged;
}

size_t InodeTable::size() const {
  std::lock_guard lock(mu_);
  return nodes_.size();
}

size_t InodeTable::packed() const {
  std::lock_guard lock(mu_);
  return packed_count_;
}

uint64_t InodeTable::lookup_count(Ino ino) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? 0 : it->second.nlookup;
}

}  // namespace dlfs
