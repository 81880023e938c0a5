// The mount's inodes. A node's number is derived from its item id (a 64-bit hash), so it is the
// same across remounts and `find -inum`, `tar` and `rsync` see stable numbers; the root is 1.
// On the rare hash collision the later id probes to the next free number (stable as long as
// the colliding pair is looked up in the same order).
//
// Lookup counting follows libfuse's passthrough_hp: every reply that hands the kernel an entry
// (lookup, create, a readdirplus entry other than . and ..) adds one; forget(n) subtracts n; a
// node whose count reaches 0 is dropped (the root never is). Open handles keep their own copy
// of the item, so dropping a node never invalidates them.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/item.h"

namespace dlfs {

using Ino = uint64_t;
inline constexpr Ino kRootIno = 1;

enum class NodeKind {
  kItem,       // a file or folder of the dataset
  kThumbDir,   // /.thumbnails and the folders under it (mirror a folder item)
  kThumbFile,  // /.thumbnails/<path>: the thumbnail of a file item
};

struct Node {
  Ino ino = 0;
  NodeKind kind = NodeKind::kItem;
  std::shared_ptr<const Item> item;
  int64_t fetched_ms = 0;                         // when `item` was fetched (freshness)
  std::shared_ptr<const std::string> thumbnail;   // kThumbFile: the JPEG bytes
  uint64_t nlookup = 0;
  // The (updatedAt, size) seen at the last open, for keep_cache.
  std::optional<std::pair<int64_t, uint64_t>> opened_version;
};

// The number an item id hashes to (before collision probing); never 0 or 1.
Ino ino_hash(std::string_view key);

class InodeTable {
 public:
  // The root node (number 1) for the mounted folder's item.
  explicit InodeTable(const Item& root, int64_t fetched_ms);

  // Adds the node for (kind, item) or refreshes its item, and counts `count` lookups.
  // Answers its number.
  Ino add_lookup(NodeKind kind, const Item& item, int64_t fetched_ms, uint64_t count = 1,
                 std::shared_ptr<const std::string> thumbnail = nullptr);
  // The number (kind, id) has or would get, without adding anything (plain readdir).
  Ino peek_ino(NodeKind kind, std::string_view id) const;
  // Subtracts n lookups; drops the node at 0.
  void forget(Ino ino, uint64_t n);

  // A copy of the node (its item is shared, immutable).
  std::optional<Node> get(Ino ino) const;
  // Replaces a node's item if it has one (after a refetch). Answers true if (updatedAt, size)
  // changed, i.e. the kernel's cached pages for it are stale.
  bool refresh(Ino ino, const Item& item, int64_t fetched_ms);
  // The node of an item id, if the kernel knows it.
  std::optional<Ino> find(NodeKind kind, std::string_view id) const;
  // Records an open; answers true if the item is unchanged since the previous open.
  bool note_open(Ino ino);

  size_t size() const;
  uint64_t lookup_count(Ino ino) const;

 private:
  static std::string key_of(NodeKind kind, std::string_view id);
  Ino assign_locked(const std::string& key) const;

  mutable std::mutex mu_;
  std::unordered_map<Ino, Node> nodes_;
  std::unordered_map<std::string, Ino> by_key_;
};

}  // namespace dlfs
