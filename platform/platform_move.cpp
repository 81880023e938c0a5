// The embedded platform: moves. An item moves in one catalogue transaction (a folder with
// everything below it; the target it replaces goes in the same one).
//
// ITEMS IN A BUCKET. A driver dataset's file lives at the object key of its path: a sync matches
// items to objects by key, and the bucket is the user's own tree of files. So a move takes the
// objects with it, where the driver may delete objects: the object of the file (or of every file
// below the folder) is copied to its new key first (in the store, outside the transaction: they
// are network calls, made in parallel), the transaction moves the items and points them at the
// copies, and the old objects are deleted only after the commit. A crash in between leaves extra
// objects (a sync shows them as items), never an item without its bytes. A move the transaction
// would refuse is tried first and rolled back, so that a refused move never writes to the bucket;
// a file changed while the copies were made fails the move (EBUSY: try again). Where the driver
// may not delete objects (the seed: items linked to an external source cannot be moved), a move
// of such a file, or of a folder holding one, is EXDEV: `mv` and rsync then copy and delete, as
// between two filesystems.
//
// A clone of a driver's dataset (platform_clone.cpp) is not indexed to the bucket: its items move
// alone, their objects stay where they are.
//
// Not covered: an upload to the old path that stores its object between the copy and the delete
// loses it (as with a delete racing an upload there; the platform has no lock per object key).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "core/lmdb.h"
#include "core/parallel_each.h"
#include "core/paths.h"
#include "platform/catalog.h"
#include "platform/driver.h"
#include "platform/object_store.h"
#include "platform/platform.h"

namespace dlfs {

struct Platform::ObjectMove {
  // One object copied to its new key: a file's, or each of the files below a folder.
  struct One {
    std::string item_id;
    std::string from_blob, to_blob;      // the catalogue's keys, "@driver/key"
    std::string from_object, to_object;  // the store's keys
    std::string etag;                    // the item's etag when its object was copied
    ObjectInfo copied;                   // (empty until the copy is made)
    std::shared_ptr<ObjectStore> store;
  };
  std::vector<One> objects;  // by item id
  const One* find(std::string_view item_id) const {
    auto it = std::lower_bound(objects.begin(), objects.end(), item_id,
                               [](const One& o, std::string_view id) { return o.item_id < id; });
    return it != objects.end() && it->item_id == item_id ? &*it : nullptr;
  }
};

namespace {

constexpr unsigned kParallelCopies = 8;  // a folder's objects copied at once

Status cannot_move_object(const Item& item, const Driver& driver) {
  return Status(EXDEV, "'" + item.filename + "' is an object in the bucket of storage driver '" + driver.name +
                           "', which may not delete objects: moving it would leave the object at its old key. "
                           "Copy it instead, or allow deletes on the driver");
}

}  // namespace

Result<Item> Platform::move_item(std::string_view id, std::string_view new_path, std::string_view user,
                                 std::string_view replace_id) {
  return write_moving(id, new_path, [&](LmdbTxn& txn, std::vector<std::string>& blob_keys,
                                        const ObjectMove* object_move) -> Result<Item> {
    DLFS_ASSIGN(auto item, catalog_->item(txn, id));
    if (!item) return Status(ENOENT, "no item with id '" + std::string(id) + "'");
    item->updated_ms = options_.clock->now_ms();
    item->updated_by = std::string(user);
    return move_in_txn(txn, std::move(*item), new_path, user, replace_id, blob_keys, object_move);
  });
}

Result<std::optional<Platform::ObjectMove>> Platform::object_move_for(std::string_view id, std::string_view new_path) {
  std::optional<ObjectMove> none;
  auto path = normalize_path(new_path);
  if (!path) return none;  // (the transaction says why)
  // The files that move (the item, or every file below the folder) holding an object: where.
  struct Held {
    std::string item_id, to_path, blob, etag;
    ExternalBlob external;
  };
  std::vector<Held> held;
  {
    DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
    DLFS_ASSIGN(auto item, catalog_->item(txn, id));
    if (!item || item->filename == *path || item->filename == "/") return none;
    if (item->is_dir() && is_same_or_under(*path, item->filename)) return none;
    DLFS_ASSIGN(auto ds, catalog_->dataset(txn, item->dataset_id));
    if (!ds || ds->driver.empty() || is_bucket_clone(*ds)) return none;  // (a clone's keys are not its paths)
    std::vector<Item> files;
    if (item->is_dir()) {
      DLFS_ASSIGN(files, catalog_->descendant_items(txn, item->dataset_id, item->filename));
    } else {
      files.push_back(*item);
    }
    for (const Item& f : files) {
      if (!f.is_file()) continue;
      DLFS_ASSIGN(auto key, catalog_->blob_key(txn, f.id));
      auto external = key ? parse_external_blob_key(*key) : std::nullopt;
      if (!external) continue;
      std::string to = *path + f.filename.substr(item->filename.size());
      if (to.size() > kMaxPathBytes) return none;  // (the transaction says why)
      held.push_back(Held{f.id, std::move(to), std::move(*key), f.etag(), std::move(*external)});
    }
  }
  ObjectMove move;
  std::map<std::string, std::pair<Driver, std::shared_ptr<ObjectStore>>, std::less<>> drivers;
  for (Held& h : held) {
    auto known = drivers.find(h.external.driver_id);
    if (known == drivers.end()) {
      Driver driver;
      auto store = driver_store(h.external.driver_id, &driver);
      if (!store && store.err() != ENOENT) return store.status();  // (ENOENT: its driver is gone: nothing to keep in step)
      known = drivers.emplace(h.external.driver_id, std::make_pair(driver, store ? *store : nullptr)).first;
    }
    const auto& [driver, store] = known->second;
    if (!store) continue;
    std::string to_object = object_key_for(driver, h.to_path);
    if (to_object == h.external.object_key) continue;
    if (!driver.allow_external_delete) return none;  // (the transaction refuses it: EXDEV)
    ObjectMove::One one;
    one.item_id = std::move(h.item_id);
    one.to_blob = external_blob_key(driver.id, to_object);
    one.from_blob = std::move(h.blob);
    one.from_object = std::move(h.external.object_key);
    one.to_object = std::move(to_object);
    one.etag = std::move(h.etag);
    one.store = store;
    move.objects.push_back(std::move(one));
  }
  if (move.objects.empty()) return none;
  std::sort(move.objects.begin(), move.objects.end(),
            [](const ObjectMove::One& a, const ObjectMove::One& b) { return a.item_id < b.item_id; });
  return std::optional<ObjectMove>(std::move(move));
}

Result<Item> Platform::write_moving(std::string_view id, std::optional<std::string_view> new_path,
                                    const MoveInTxn& change) {
  std::optional<ObjectMove> object_move;
  if (new_path) {
    DLFS_ASSIGN(object_move, object_move_for(id, *new_path));
  }
  if (object_move) {
    {  // the dry run: a move the transaction refuses leaves the bucket as it is
      DLFS_ASSIGN(LmdbTxn txn, catalog_->write());
      std::vector<std::string> unused;
      DLFS_TRY(change(txn, unused, &*object_move).status());
    }  // (aborted)
    // The copies, in parallel (a folder may hold many; each is a call the store makes alone).
    auto& objects = object_move->objects;
    Status copied = parallel_each(objects.size(), kParallelCopies, [&](size_t i) -> Status {
      auto c = objects[i].store->copy(objects[i].from_object, objects[i].to_object);
      if (!c)
        return c.status().wrap("cannot move object '" + objects[i].from_object + "' to '" + objects[i].to_object +
                               "' in the driver's bucket");
      objects[i].copied = std::move(*c);
      return {};
    });
    if (!copied) {
      spdlog::warn("a move was not made: the objects copied for it stay in the bucket ({})", copied.to_string());
      return copied;
    }
  }
  std::vector<std::string> blob_keys;
  Item done;
  {
    DLFS_ASSIGN(LmdbTxn txn, catalog_->write());
    auto changed = change(txn, blob_keys, object_move ? &*object_move : nullptr);
    Status s = changed.status();
    if (s) s = txn.commit();
    if (!s) {
      if (object_move)
        spdlog::warn("a move of {} object(s) ('{}' to '{}', ...) was not committed: the copies stay in the bucket ({})",
                     object_move->objects.size(), object_move->objects[0].from_object,
                     object_move->objects[0].to_object, s.to_string());
      return s;
    }
    done = std::move(*changed);
  }
  if (object_move) {
    // A target replaced at a new key had its object overwritten by the copy: that one stays.
    for (const auto& one : object_move->objects) {
      std::erase(blob_keys, one.to_blob);
      blob_keys.push_back(one.from_blob);
    }
  }
  remove_blobs(blob_keys);
  return done;
}

Status Platform::check_object_stays(LmdbTxn& txn, const Item& file, std::string_view path,
                                    const ObjectMove* object_move) {
  DLFS_ASSIGN(auto key, catalog_->blob_key(txn, file.id));
  auto external = key ? parse_external_blob_key(*key) : std::nullopt;
  if (!external) return {};
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, file.dataset_id));
  if (ds && is_bucket_clone(*ds)) return {};
  DLFS_ASSIGN(auto doc, catalog_->driver(txn, external->driver_id));
  if (!doc) return {};  // its driver is gone: nothing to keep in step
  DLFS_ASSIGN(Driver driver, driver_from_json(*doc));
  std::string to = object_key_for(driver, path);
  if (to == external->object_key) return {};
  if (!driver.allow_external_delete) return cannot_move_object(file, driver);
  const ObjectMove::One* one = object_move ? object_move->find(file.id) : nullptr;
  if (one && one->from_blob == *key && one->to_object == to && one->etag == file.etag()) return {};
  return Status(EBUSY, "'" + file.filename + "' changed while its object was copied to its new key: try again");
}

Status Platform::replace_in_txn(LmdbTxn& txn, const Item& target, std::string_view replace_id, ItemType by,
                                std::vector<std::string>& blob_keys) {
  if (replace_id.empty() || target.id != replace_id)
    return Status(EEXIST, "'" + target.filename + "' already exists");
  if (target.is_dir() != (by == ItemType::kDir))
    return target.is_dir() ? Status(EISDIR, "'" + target.filename + "' is a folder; a file cannot replace it")
                           : Status(ENOTDIR, "'" + target.filename + "' is a file; a folder cannot replace it");
  if (target.is_dir()) {
    DLFS_ASSIGN(auto children, catalog_->descendant_items(txn, target.dataset_id, target.filename));
    if (!children.empty()) return Status(ENOTEMPTY, "folder '" + target.filename + "' is not empty");
  }
  DLFS_ASSIGN(uint64_t files, erase_tree(txn, target, blob_keys));
  return add_to_count(txn, target.dataset_id, -int64_t(files));
}

Result<Item> Platform::move_in_txn(LmdbTxn& txn, Item item, std::string_view new_path, std::string_view user,
                                   std::string_view replace_id, std::vector<std::string>& blob_keys,
                                   const ObjectMove* object_move) {
  DLFS_ASSIGN(std::string path, normalize_path(new_path));
  DLFS_ASSIGN(auto stored, catalog_->item(txn, item.id));
  if (!stored) return Status(ENOENT, "no item with id '" + item.id + "'");
  const Item old = std::move(*stored);
  if (old.filename == "/") return Status(EBUSY, "the root folder of a dataset cannot be moved");
  if (path == old.filename) {
    DLFS_TRY(catalog_->put_item(txn, item, &old));
    return item;
  }
  if (old.is_dir() && is_same_or_under(path, old.filename))
    return Status(EINVAL, "cannot move folder '" + old.filename + "' into itself ('" + path + "')");
  DLFS_ASSIGN(auto target, catalog_->item_at(txn, old.dataset_id, path));
  if (target) {
    Status replaced = replace_in_txn(txn, *target, replace_id, old.type, blob_keys);
    if (replaced.err() == EEXIST)
      return Status(EEXIST, "cannot move '" + old.filename + "' to '" + path + "': it already exists");
    DLFS_TRY(replaced);
  }
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, old.dataset_id));
  if (!ds) return Status(ENOENT, "no dataset '" + old.dataset_id + "'");
  DLFS_TRY(ensure_dir(txn, *ds, parent_path(path), user, item.updated_ms).status());

  int64_t count_delta = 0;
  auto relocate = [&](Item& moved, const Item& was, const std::string& to) -> Status {
    moved.set_path(to);
    moved.hidden = is_hidden_path(to);
    count_delta += int64_t(counts_as_dataset_item(moved)) - int64_t(counts_as_dataset_item(was));
    return catalog_->put_item(txn, moved, &was);
  };
  // A file whose object was copied for this move holds the copy (put again when moved already).
  auto repoint = [&](Item& file) -> Status {
    const ObjectMove::One* one = object_move ? object_move->find(file.id) : nullptr;
    if (!one) return {};
    DLFS_TRY(catalog_->put_blob_key(txn, file.id, one->to_blob));
    if (one->copied.etag.empty() || one->copied.etag == file.etag()) return {};
    Item before = file;
    file.system()["etag"] = one->copied.etag;
    return file.id == item.id ? Status() : catalog_->put_item(txn, file, &before);
  };
  if (old.is_dir()) {
    DLFS_ASSIGN(auto children, catalog_->descendant_items(txn, old.dataset_id, old.filename));
    for (const Item& child : children) {  // every path stays within the bound (asked before any moves)
      std::string to = path + child.filename.substr(old.filename.size());
      if (to.size() > kMaxPathBytes)
        return Status(ENAMETOOLONG, "cannot move '" + old.filename + "' to '" + path + "': the path of '" +
                                        child.filename + "' would pass " + std::to_string(kMaxPathBytes) + " bytes");
      if (!child.is_file()) continue;
      Status stays = check_object_stays(txn, child, to, object_move);
      if (stays.err() == EXDEV)
        return Status(EXDEV, "cannot move folder '" + old.filename + "' with the objects of a bucket in it ('" +
                                 child.filename + "'): its driver may not delete objects. Copy it instead, or allow "
                                 "deletes on the driver");
      if (stays.err() == EBUSY)
        return Status(EBUSY, "cannot move folder '" + old.filename + "': '" + child.filename +
                                 "' changed while the objects were copied to their new keys: try again");
      DLFS_TRY(stays);
    }
    for (const Item& child : children) {
      Item moved = child;
      DLFS_TRY(relocate(moved, child, path + child.filename.substr(old.filename.size())));
      DLFS_TRY(repoint(moved));
    }
  } else {
    DLFS_TRY(check_object_stays(txn, old, path, object_move));
    DLFS_TRY(repoint(item));
  }
  DLFS_TRY(relocate(item, old, path));
  DLFS_TRY(add_to_count(txn, old.dataset_id, count_delta));
  return item;
}

}  // namespace dlfs
