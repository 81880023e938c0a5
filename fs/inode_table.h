// The mount's inodes. A node's number is derived from its item id (a 64-bit hash), so it is the
// same across remounts and `find -inum`, `tar` and `rsync` see stable numbers; the root is 1.
// On the rare hash collision the later id probes to the next free number (stable as long as
// the colliding pair is looked up in the same order).
//
// Memory: the kernel keeps every inode it was handed until it is short of memory (a `cp -r` of
// 100,000 files leaves 100,000 nodes), so a node not used lately keeps its item packed
// (pack_item: ~0.5 KB instead of ~2 KB); the last `hot_items` nodes used hold theirs unpacked.
// A packed node is unpacked when it is used again (get, refresh, moved_below), a few µs.
//
// Lookup counting follows libfuse's passthrough_hp: every reply that hands the kernel an entry
// (lookup, create, a readdirplus entry other than . and ..) adds one; forget(n) subtracts n; a
// node whose count reaches 0 is dropped (the root never is). Open handles keep their own copy
// of the item, so dropping a node never invalidates them.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

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
  std::shared_ptr<const Item> item;  // always set in a node get() answers; null while packed
  // The item packed: set while the node is cold (see above), and kept while it is hot when it
  // came packed (a listing's bytes, shared with it) so that it need not be packed again.
  std::shared_ptr<const std::string> packed;
  // The item's (updatedAt, size), packed or not: a refresh compares them without unpacking.
  int64_t updated_ms = 0;
  uint64_t size = 0;
  uint64_t hot_stamp = 0;  // the node's last entry in InodeTable::hot_
  int64_t fetched_ms = 0;                         // when `item` was fetched (freshness)
  uint64_t learned_seq = 0;                       // InodeTable::mark() when the mount last set it
  std::shared_ptr<const std::string> thumbnail;   // kThumbFile: the JPEG bytes
  uint64_t nlookup = 0;
  // The (updatedAt, size) seen at the last open, for keep_cache.
  std::optional<std::pair<int64_t, uint64_t>> opened_version;
  // Keys it had before a rebind (a new file's "spool-<n>"): a late lookup by one finds it.
  std::vector<std::string> old_keys;
  // Deleted on the platform (unlinked or replaced) while the kernel still knows it: an open
  // file's fstat shows st_nlink 0.
  bool unlinked = false;
};

// The number an item id hashes to (before collision probing); never 0 or 1.
Ino ino_hash(std::string_view key);

// What a node shows is ordered by a sequence, not by clocks: every state the mount sets itself
// (its upload landed, its move, its patch, a pending file) takes the next number; an answer of
// the platform carries the number that was current when it was asked (mark(), taken before the
// request), and replaces a node's item only if the mount set nothing on that node since. A
// listing asked before an upload landed but answered after it would otherwise put the older
// size back (and the kernel, told the inode changed, would believe it).
inline constexpr uint64_t kSetHere = UINT64_MAX;  // `asked` of a state the mount set itself

class InodeTable {
 public:
  // The root node (number 1) for the mounted folder's item.
  explicit InodeTable(const Item& root, int64_t fetched_ms, size_t hot_items = kDefaultHotItems);
  static constexpr size_t kDefaultHotItems = 4096;

  // The sequence's current number: taken before asking the platform, passed as `asked`.
  uint64_t mark() const;
  // Adds the node for (kind, item) or refreshes its item (see kSetHere), and counts `count`
  // lookups. Answers its number.
  // `packed`, when given, is pack_item(item) (a listing's bytes): kept instead of packing again.
  Ino add_lookup(NodeKind kind, const Item& item, int64_t fetched_ms, uint64_t asked, uint64_t count = 1,
                 std::shared_ptr<const std::string> thumbnail = nullptr,
                 std::shared_ptr<const std::string> packed = nullptr) {
    return add_lookup(kind, std::make_shared<const Item>(item), fetched_ms, asked, count, std::move(thumbnail),
                      std::move(packed));
  }
  // The same with the item already shared (a readdirplus entry's: no copy of its metadata).
  Ino add_lookup(NodeKind kind, std::shared_ptr<const Item> item, int64_t fetched_ms, uint64_t asked,
                 uint64_t count = 1, std::shared_ptr<const std::string> thumbnail = nullptr,
                 std::shared_ptr<const std::string> packed = nullptr);
  // The number (kind, id) has or would get, without adding anything (plain readdir).
  Ino peek_ino(NodeKind kind, std::string_view id) const;
  // Subtracts n lookups; drops the node at 0.
  void forget(Ino ino, uint64_t n);

  // A copy of the node (its item is shared, immutable, and unpacked).
  std::optional<Node> get(Ino ino) const;
  // Replaces a node's item if it has one (after a refetch asked at `asked`, or kSetHere). Answers
  // true if (updatedAt, size) changed, i.e. the kernel's cached pages for it are stale.
  bool refresh(Ino ino, const Item& item, int64_t fetched_ms, uint64_t asked);
  // The node `ino` now shows `item`, under its id: a new file's node after its first upload
  // (from "spool-<n>" to the platform's id), so that its number never changes. The old key stays
  // an alias of the node while it lives: an add_lookup by it (a listing taken before the upload)
  // counts on this node and leaves its newer item. Answers false if the kernel has forgotten it;
  // the number is kept for the new id either way (a later lookup gets it back).
  bool rebind(Ino ino, const Item& item, int64_t fetched_ms);
  // A folder moved from `from` to `to`: the nodes of items below it show their new paths.
  void moved_below(const std::string& from, const std::string& to);
  // The node of an item id, if the kernel knows it.
  std::optional<Ino> find(NodeKind kind, std::string_view id) const;
  // Marks the node unlinked (see Node::unlinked).
  void mark_unlinked(Ino ino);
  // Records an open; answers true if the item is unchanged since the previous open.
  bool note_open(Ino ino);

  size_t size() const;
  uint64_t lookup_count(Ino ino) const;
  // How many nodes hold their item packed now.
  size_t packed() const;

 private:
  static std::string key_of(NodeKind kind, std::string_view id);
  Ino assign_locked(const std::string& key) const;

  // Takes the next number for a state set here, or tells whether an answer asked at `asked` may
  // replace the node's item.
  bool may_set_locked(Node& node, uint64_t asked);
  // The node shows `item` from now on (unpacked, the most recently used).
  // `packed`: the item's packed form if known.
  void set_item_locked(Node& node, std::shared_ptr<const Item> item,
                       std::shared_ptr<const std::string> packed = nullptr) const;
  // The node's item, unpacked if it was packed; the node becomes the most recently used.
  const std::shared_ptr<const Item>& item_locked(Node& node) const;
  std::string_view id_locked(const Node& node) const;
  // Records a use of the node; packs the items of the nodes used least recently beyond hot_limit_.
  void touch_locked(Node& node) const;

  // The nodes are a cache of the kernel's view: get() unpacks, so they are mutable.

  mutable std::mutex mu_;
  uint64_t seq_ = 0;
  mutable std::unordered_map<Ino, Node> nodes_;
  size_t hot_limit_;
  // Uses of nodes, oldest first, as (ino, its hot_stamp then): an entry whose node was used
  // again since (a newer stamp) is stale. Never longer than hot_limit_.
  mutable std::deque<std::pair<Ino, uint64_t>> hot_;
  mutable uint64_t hot_clock_ = 0;
  mutable size_t packed_count_ = 0;
  std::unordered_map<std::string, Ino> by_key_;
  std::unordered_map<std::string, Ino> aliases_;  // old keys of rebound nodes
  // Numbers kept for keys whose node was rebound (or was to be, but the kernel had forgotten it):
  // a new file's platform id keeps the number its spool id had, for the mount's lifetime. Keyed
  // by the key's 64-bit hash (one per file the mount ever made: kept small); a collision could
  // only offer a free number to another key, which any number is.
  std::unordered_map<Ino, Ino> preferred_;
};

}  // namespace dlfs
