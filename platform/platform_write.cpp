// The embedded platform: everything that writes — uploads, folders, patches, deletes (moves:
// platform_move.cpp).
//
// Order of an upload, for crash safety: the bytes go to storage first (temp file, rename, then a
// store sync shared by the commit group), then one LMDB transaction commits the item. A crash before the commit leaves at
// most an unreferenced binary, never an item without its bytes; an overwrite deletes the old
// binary only after the commit that stopped referring to it.
#include <spdlog/spdlog.h>

#include "core/ids.h"
#include "core/json_util.h"
#include "core/lmdb.h"
#include "core/paths.h"
#include "core/posix_attrs.h"
#include "platform/catalog.h"
#include "platform/driver.h"
#include "platform/group_commit.h"
#include "platform/mimetypes.h"
#include "platform/platform.h"
#include "platform/preprocess.h"
#include "platform/storage.h"

namespace dlfs {
namespace {

Status check_upload_options(const UploadOptions& options) {
  if (!options.metadata.is_null() && !options.metadata.is_object())
    return Status(EINVAL, "upload metadata must be a JSON object, like {\"user\": {...}}");
  if (options.metadata.is_object()) {
    auto user = options.metadata.find("user");
    if (user != options.metadata.end() && !user->is_object())
      return Status(EINVAL, "metadata.user must be a JSON object");
    if (auto sys = options.metadata.find("system"); sys != options.metadata.end() && sys->is_object())
      if (auto posix = sys->find(kPosixKey); posix != sys->end()) DLFS_TRY(check_posix_json(*posix));
  }
  return {};
}

// The client's metadata, less what only the platform writes.
json client_metadata(const UploadOptions& options) { return client_upload_metadata(options.metadata); }

// A link item is a small JSON file {"type":"link","shebang":"dataloop","metadata":{...}}; the
// platform keeps its metadata object as metadata.system.shebang (API.md).
std::optional<json> link_shebang(std::string_view bytes) {
  json doc = json::parse(bytes, nullptr, false);
  if (!doc.is_object() || string_field(doc, "type") != "link" || string_field(doc, "shebang") != "dataloop") return {};
  auto meta = doc.find("metadata");
  if (meta == doc.end() || !meta->is_object()) return {};
  return *meta;
}

constexpr uint64_t kMaxLinkJsonBytes = 64 * 1024;
// A link item made under its target's name (`dlfs link`, `ln -s URL cat.jpg` in a mount) is a link
// JSON whose name is not *.json: the JSON's own "shebang": "dataloop" tells. Such uploads are read
// back only while this small (a URL is at most a few KiB: a symlink target is under 4 KiB), so
// that ordinary small files rarely cost a read.
constexpr uint64_t kMaxNamedLinkJsonBytes = 8 * 1024;

// A create-only upload that may replace the file item at its path (UploadOptions::replace_id).
bool replaces(const Item& existing, const UploadOptions& options) {
  return !options.replace_id.empty() && existing.id == options.replace_id && existing.is_file();
}

}  // namespace

bool is_hidden_path(std::string_view path) { return is_same_or_under(path, "/.dataloop"); }

Result<Item> Platform::ensure_dir(LmdbTxn& txn, const Dataset& ds, std::string_view path, std::string_view user,
                                  int64_t now) {
  std::string cur = "/";
  for (const std::string& part : split_path(path)) {
    cur = join_path(cur, part);
    DLFS_ASSIGN(auto entry, catalog_->entry_at(txn, ds.id, cur));
    if (entry) {
      if (entry->type != ItemType::kDir) return Status(ENOTDIR, "'" + cur + "' is a file, not a folder");
      continue;
    }
    Item dir;
    dir.id = new_id();
    dir.dataset_id = ds.id;
    dir.set_path(cur);
    dir.type = ItemType::kDir;
    dir.hidden = is_hidden_path(cur);
    dir.created_ms = dir.updated_ms = now;
    dir.creator = dir.updated_by = std::string(user);
    DLFS_TRY(catalog_->put_item(txn, dir));
  }
  DLFS_ASSIGN(auto item, catalog_->item_at(txn, ds.id, path));
  if (!item) return Status(EIO, "folder '" + std::string(path) + "' vanished while being made");
  return std::move(*item);
}

Result<UploadResult> Platform::put_upload_in_txn(LmdbTxn& txn, std::string_view dataset_id, const std::string& path,
                                                 const UploadOptions& options, const StoredBlob& blob,
                                                 const std::optional<json>& shebang, const json* system,
                                                 std::string& old_key, std::vector<std::string>& replaced_keys) {
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, dataset_id));
  if (!ds) return Status(ENOENT, "no dataset '" + std::string(dataset_id) + "' (deleted during the upload)");
  int64_t now = options_.clock->now_ms();
  DLFS_ASSIGN(auto existing, catalog_->item_at(txn, dataset_id, path));
  if (existing && existing->is_dir()) return Status(EISDIR, "'" + path + "' is a folder");
  if (existing && options.mode == UploadMode::kSkip) {
    if (!replaces(*existing, options)) return UploadResult{std::move(*existing), UploadOp::kSkipped};
    DLFS_TRY(replace_in_txn(txn, *existing, options.replace_id, ItemType::kFile, replaced_keys));
    existing.reset();
  }

  Item item;
  UploadOp op = UploadOp::kCreated;
  if (existing) {
    op = UploadOp::kOverwritten;
    item = *existing;
    DLFS_ASSIGN(auto key, catalog_->blob_key(txn, item.id));
    if (key) old_key = std::move(*key);
    // A new binary: what was derived from the old one no longer holds. Its mode and owners do:
    // the same file, written again (its times come from the upload, or updatedAt).
    PosixAttrs kept = kept_by_overwrite(item);
    item.metadata["system"] = json::object();
    set_posix_attrs(item, kept);
  } else {
    DLFS_TRY(ensure_dir(txn, *ds, parent_path(path), options.user, now).status());
    item.id = new_id();
    item.dataset_id = std::string(dataset_id);
    item.set_path(path);
    item.hidden = is_hidden_path(path);
    item.created_ms = now;
    item.creator = options.user;
  }
  merge_patch(item.metadata, client_metadata(options));
  json& sys = item.system();
  sys["originalname"] = item.name;
  sys["size"] = blob.size;
  sys["encoding"] = "7bit";
  sys["mimetype"] = symlink_target(item) ? kSymlinkMimetype : mimetype_from_name(item.name);
  if (shebang) sys["shebang"] = *shebang;
  // The version of the bytes (readers' caches key on it: it changes with them and only with
  // them): a bucket's ETag, else a name made from the stored binary's key, new at every upload.
  sys["etag"] = blob.etag.empty() ? sha256_hex(blob.key, 32) : blob.etag;
  if (system) merge_patch(sys, *system);
  if (!item.hidden) sys["preprocessPhase"] = "pending";  // queued below, in this transaction
  if (options.description) item.description = options.description;
  item.updated_ms = now;
  item.updated_by = options.user;
  DLFS_TRY(catalog_->put_item(txn, item, existing ? &*existing : nullptr));
  DLFS_TRY(catalog_->put_blob_key(txn, item.id, blob.key));
  if (!item.hidden) DLFS_TRY(preprocessor_->enqueue(txn, item, blob.key));
  if (!existing && counts_as_dataset_item(item)) DLFS_TRY(add_to_count(txn, dataset_id, 1));
  return UploadResult{std::move(item), op};
}

struct Platform::StagedUpload {
  const UploadOptions* options = nullptr;
  const json* system = nullptr;
  std::string path;
  bool staged = false;  // bytes stored, to be committed
  StoredBlob blob;
  std::optional<json> shebang;
  Result<UploadResult> result = Status(EIO, "the upload was not committed");
  std::string old_key;                     // an overwritten item's binary
  std::vector<std::string> replaced_keys;  // the binaries of an item replaced (replace_id)

  // Bytes in the platform's storage are made durable by the commit group's store sync, before
  // the commit names them (a bucket's were when put returned; an inline key has no bytes elsewhere).
  bool needs_store_sync() const {
    return staged && !parse_external_blob_key(blob.key) && !parse_inline_blob_key(blob.key);
  }
};

void Platform::stage_upload(std::string_view dataset_id, std::string_view remote_path, const PutBlob& put,
                            StagedUpload& up) {
  up.result = [&]() -> Result<UploadResult> {
    DLFS_ASSIGN(up.path, normalize_path(remote_path));
    if (up.path == "/") return Status(EISDIR, "cannot upload onto the root folder; give a file path");
    DLFS_TRY(check_upload_options(*up.options));
    Dataset dataset;
    {
      // Skip early, before copying any bytes.
      DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
      DLFS_ASSIGN(auto ds, catalog_->dataset(txn, dataset_id));
      if (!ds) return Status(ENOENT, "no dataset '" + std::string(dataset_id) + "'");
      DLFS_ASSIGN(auto existing, catalog_->item_at(txn, dataset_id, up.path));
      if (existing && existing->is_dir()) return Status(EISDIR, "'" + up.path + "' is a folder");
      if (existing && up.options->mode == UploadMode::kSkip && !replaces(*existing, *up.options))
        return UploadResult{std::move(*existing), UploadOp::kSkipped};
      dataset = std::move(*ds);
    }
    DLFS_ASSIGN(up.blob, put(dataset, up.path));
    up.staged = true;
    bool json_name = up.path.size() > 5 && up.path.ends_with(".json");
    if (up.blob.size > 0 && up.blob.size <= (json_name ? kMaxLinkJsonBytes : kMaxNamedLinkJsonBytes)) {
      std::string bytes(up.blob.size, '\0');
      auto n = read_blob(up.blob.key, 0, std::span<char>(bytes.data(), bytes.size()));
      if (n) up.shebang = link_shebang(std::string_view(bytes.data(), *n));
    }
    return Status(EIO, "the upload was not committed");
  }();
}

Status Platform::commit_staged(LmdbTxn& txn, std::string_view dataset_id, StagedUpload& up) {
  up.replaced_keys.clear();
  up.old_key.clear();
  up.result = put_upload_in_txn(txn, dataset_id, up.path, *up.options, up.blob, up.shebang, up.system, up.old_key,
                                up.replaced_keys);
  return up.result.status();
}

void Platform::finish_upload(StagedUpload& up) {
  if (!up.staged) return;
  if (!up.result || up.result->op == UploadOp::kSkipped) {
    // Never referenced. A bucket's object stays: it may have been there before (and the next sync
    // indexes it).
    if (!parse_external_blob_key(up.blob.key)) drop_blob(up.blob.key);
    return;
  }
  if (!up.old_key.empty() && up.old_key != up.blob.key) drop_blob(up.old_key);
  remove_blobs(up.replaced_keys);
}

Result<UploadResult> Platform::upload(std::string_view dataset_id, std::string_view remote_path,
                                      const UploadOptions& options, const PutBlob& put, const json* system) {
  StagedUpload up;
  up.options = &options;
  up.system = system;
  stage_upload(dataset_id, remote_path, put, up);
  if (!up.staged) return std::move(up.result);
  // Runs inside a group commit (group_commit.h): concurrent uploads share one catalogue commit.
  Status group = commits_->run(
      *catalog_, [&](LmdbTxn& txn) { return commit_staged(txn, dataset_id, up); }, up.needs_store_sync());
  if (!group) up.result = group;
  finish_upload(up);
  if (up.result && up.result->op != UploadOp::kSkipped) preprocessor_->notify();
  return std::move(up.result);
}

std::vector<Result<UploadResult>> Platform::upload_files(std::string_view dataset_id,
                                                         std::span<const FileUpload> uploads) {
  std::vector<BlobUpload> blobs;
  blobs.reserve(uploads.size());
  for (const FileUpload& f : uploads)
    blobs.push_back({f.remote_path, &f.options, [this, &f](const Dataset& ds, const std::string& path) {
                       return put_blob(ds, path, &f.local_file, {},
                                       f.owned ? Take::kMove : f.options.linkable ? Take::kLink : Take::kCopy);
                     }});
  return upload_many(dataset_id, blobs);
}

std::vector<Result<UploadResult>> Platform::upload_many(std::string_view dataset_id,
                                                        std::span<const BlobUpload> uploads) {
  std::vector<StagedUpload> ups(uploads.size());
  bool any_staged = false, sync = false;
  for (size_t i = 0; i < uploads.size(); ++i) {
    ups[i].options = uploads[i].options;
    ups[i].system = uploads[i].system;
    stage_upload(dataset_id, uploads[i].remote_path, uploads[i].put, ups[i]);
    any_staged |= ups[i].staged;
    sync |= ups[i].needs_store_sync();
  }
  if (any_staged) {
    Status group = commits_->run(
        *catalog_,
        [&](LmdbTxn& txn) -> Status {
          for (StagedUpload& up : ups) {
            if (!up.staged) continue;
            DLFS_ASSIGN(LmdbTxn child, LmdbTxn::begin_nested(txn));
            if (commit_staged(child, dataset_id, up))  // (else its writes are undone: the child aborts)
              if (Status c = child.commit(); !c) up.result = c;
          }
          return {};
        },
        sync);
    bool notify = false;
    for (StagedUpload& up : ups) {
      if (!up.staged) continue;
      if (!group) up.result = group;
      finish_upload(up);
      notify |= up.result && up.result->op != UploadOp::kSkipped;
    }
    if (notify) preprocessor_->notify();
  }
  std::vector<Result<UploadResult>> out;
  out.reserve(ups.size());
  for (StagedUpload& up : ups) out.push_back(std::move(up.result));
  return out;
}

Result<UploadResult> Platform::upload_file(std::string_view dataset_id, const std::string& local_file,
                                           std::string_view remote_path, const UploadOptions& options) {
  return upload(dataset_id, remote_path, options,
                [&](const Dataset& ds, const std::string& path) {
                  return put_blob(ds, path, &local_file, {}, options.linkable ? Take::kLink : Take::kCopy);
                });
}

Result<UploadResult> Platform::upload_owned_file(std::string_view dataset_id, const std::string& local_file,
                                                 std::string_view remote_path, const UploadOptions& options) {
  return upload(dataset_id, remote_path, options,
                [&](const Dataset& ds, const std::string& path) { return put_blob(ds, path, &local_file, {}, Take::kMove); });
}

bool Platform::storage_links_from(const std::string& dir) const { return storage_->links_from(dir); }

Result<UploadResult> Platform::upload_bytes(std::string_view dataset_id, std::string_view bytes,
                                            std::string_view remote_path, const UploadOptions& options) {
  return upload(dataset_id, remote_path, options,
                [&](const Dataset& ds, const std::string& path) { return put_blob(ds, path, nullptr, bytes); });
}

Result<Item> Platform::make_dir(std::string_view dataset_id, std::string_view path, std::string_view user) {
  DLFS_ASSIGN(std::string normal, normalize_path(path));
  DLFS_ASSIGN(LmdbTxn txn, catalog_->write());
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, dataset_id));
  if (!ds) return Status(ENOENT, "no dataset '" + std::string(dataset_id) + "'");
  DLFS_ASSIGN(auto existing, catalog_->entry_at(txn, dataset_id, normal));
  if (existing) return Status(EEXIST, "'" + normal + "' already exists");
  DLFS_ASSIGN(Item dir, ensure_dir(txn, *ds, normal, user, options_.clock->now_ms()));
  DLFS_TRY(txn.commit());
  return dir;
}

Result<Item> Platform::patch_item(std::string_view id, const json& patch, bool system, std::string_view user,
                                  std::string_view replace_id) {
  // A move (a "filename", which needs the system flag) may take the item's object with it.
  std::optional<std::string_view> new_path;
  if (auto f = patch.is_object() ? patch.find("filename") : patch.end(); system && f != patch.end() && f->is_string())
    new_path = f->get_ref<const std::string&>();
  if (!new_path && replace_id.empty()) {  // metadata only: one commit with the writers at the same time
    Result<Item> out = Status(EIO, "not patched");
    Status committed = commits_->run(*catalog_, [&](LmdbTxn& txn) -> Status {
      out = patch_in_txn(txn, {}, id, patch, system, user);
      return out.status();
    });
    if (!committed) return committed;
    return out;
  }
  return write_moving(id, new_path, [&](LmdbTxn& txn, std::vector<std::string>& blob_keys,
                                        const ObjectMove* object_move) -> Result<Item> {
    DLFS_ASSIGN(auto item, catalog_->item(txn, id));
    if (!item) return Status(ENOENT, "no item with id '" + std::string(id) + "'");
    return apply_patch(txn, std::move(*item), patch, system, user, replace_id, blob_keys, object_move);
  });
}

std::vector<Result<Item>> Platform::patch_items(std::string_view dataset_id, std::span<const ItemPatch> patches,
                                                std::string_view user) {
  std::vector<Result<Item>> out(patches.size(), Status(EIO, "not patched"));
  auto one = [&](LmdbTxn& txn, const ItemPatch& p) -> Result<Item> {
    if (p.patch.is_object() && p.patch.contains("filename"))
      return Status(EINVAL, "a move is not sent in a batch of patches");
    return patch_in_txn(txn, dataset_id, p.id, p.patch, p.system, user);
  };
  Status committed = commits_->run(*catalog_, [&](LmdbTxn& txn) -> Status {
    for (size_t i = 0; i < patches.size(); ++i) {
      auto child = LmdbTxn::begin_nested(txn);
      if (!child) {
        out[i] = child.status();
        continue;
      }
      out[i] = one(*child, patches[i]);
      if (out[i]) {
        if (Status c = child->commit(); !c) out[i] = c;
      }
    }
    return {};
  });
  if (!committed)
    for (auto& r : out)
      if (r) r = committed;
  return out;
}

Result<Item> Platform::patch_in_txn(LmdbTxn& txn, std::string_view dataset_id, std::string_view id,
                                    const json& patch, bool system, std::string_view user) {
  DLFS_ASSIGN(auto item, catalog_->item(txn, id));
  if (!item || (!dataset_id.empty() && item->dataset_id != dataset_id))
    return Status(ENOENT, "no item with id '" + std::string(id) + "'");
  std::vector<std::string> blob_keys;  // (stays empty: no move, nothing replaced)
  return apply_patch(txn, std::move(*item), patch, system, user, {}, blob_keys, nullptr);
}

Result<Item> Platform::apply_patch(LmdbTxn& txn, Item item, const json& patch, bool system, std::string_view user,
                                   std::string_view replace_id, std::vector<std::string>& blob_keys,
                                   const ObjectMove* object_move) {
  if (!patch.is_object()) return Status(EINVAL, "a patch must be a JSON object");
  std::optional<std::string> new_path;
  Item before = item;
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& key = it.key();
    const json& value = it.value();
    if (key == "metadata") {
      if (!value.is_object()) return Status(EINVAL, "'metadata' in a patch must be an object");
      if (value.contains("system") && !system)
        return Status(EPERM, "changing metadata.system needs the system flag (?system=true)");
      if (auto u = value.find("user"); u != value.end() && !u->is_object() && !u->is_null())
        return Status(EINVAL, "metadata.user must be an object");
      if (auto s = value.find("system"); s != value.end() && !s->is_object())
        return Status(EINVAL, "metadata.system must be an object");
      if (auto s = value.find("system"); s != value.end())
        if (auto posix = s->find(kPosixKey); posix != s->end()) DLFS_TRY(check_posix_json(*posix));
      merge_patch(item.metadata, value);
      item.system();  // keep metadata.system an object
    } else if (key == "description") {
      if (value.is_null()) item.description.reset();
      else if (value.is_string()) item.description = value.get<std::string>();
      else return Status(EINVAL, "'description' must be a string or null");
    } else if (key == "filename") {
      if (!system) return Status(EPERM, "moving an item (filename) needs the system flag (?system=true)");
      if (!value.is_string()) return Status(EINVAL, "'filename' must be a string");
      new_path = value.get<std::string>();
    }
    // Everything else is read-only or derived (id, url, dir, name, createdAt, …): ignored, as
    // clients echo whole items back.
  }
  item.updated_ms = options_.clock->now_ms();
  item.updated_by = std::string(user);
  if (new_path) {
    DLFS_ASSIGN(item, move_in_txn(txn, std::move(item), *new_path, user, replace_id, blob_keys, object_move));
  } else {
    DLFS_TRY(catalog_->put_item(txn, item, &before));
  }
  return item;
}

Result<uint64_t> Platform::erase_tree(LmdbTxn& txn, const Item& item, std::vector<std::string>& blob_keys) {
  uint64_t files = 0;
  auto erase_one = [&](const Item& it) -> Status {
    DLFS_ASSIGN(auto key, catalog_->blob_key(txn, it.id));
    if (key) blob_keys.push_back(std::move(*key));
    if (counts_as_dataset_item(it)) ++files;
    // Its thumbnail (a hidden item) goes with it.
    if (auto tid = it.system().find("thumbnailId"); tid != it.system().end() && tid->is_string()) {
      DLFS_ASSIGN(auto thumb, catalog_->item(txn, tid->get<std::string>()));
      if (thumb && thumb->hidden && thumb->is_file()) {
        DLFS_ASSIGN(auto thumb_key, catalog_->blob_key(txn, thumb->id));
        if (thumb_key) blob_keys.push_back(std::move(*thumb_key));
        DLFS_TRY(catalog_->erase_item(txn, *thumb));
      }
    }
    return catalog_->erase_item(txn, it);
  };
  if (item.is_dir()) {
    DLFS_ASSIGN(auto children, catalog_->descendant_items(txn, item.dataset_id, item.filename));
    for (const Item& child : children) DLFS_TRY(erase_one(child));
  }
  DLFS_TRY(erase_one(item));
  return files;
}

Status Platform::delete_item(std::string_view id) {
  std::vector<std::string> blob_keys;
  {
    DLFS_ASSIGN(LmdbTxn txn, catalog_->write());
    DLFS_ASSIGN(auto item, catalog_->item(txn, id));
    if (!item) return Status(ENOENT, "no item with id '" + std::string(id) + "'");
    if (item->filename == "/") return Status(EBUSY, "the root folder of a dataset cannot be deleted");
    DLFS_ASSIGN(uint64_t files, erase_tree(txn, *item, blob_keys));
    DLFS_TRY(add_to_count(txn, item->dataset_id, -int64_t(files)));
    DLFS_TRY(txn.commit());
  }
  remove_blobs(blob_keys);
  return {};
}

Status Platform::delete_dataset(std::string_view id) {
  std::vector<std::string> blob_keys;
  {
    DLFS_ASSIGN(LmdbTxn txn, catalog_->write());
    DLFS_ASSIGN(auto ds, catalog_->dataset(txn, id));
    if (!ds) return Status(ENOENT, "no dataset '" + std::string(id) + "'");
    std::vector<Item> items;
    DLFS_TRY(catalog_->scan_items(txn, id, "", [&](const Item& item) {
      items.push_back(item);
      return true;
    }));
    for (const auto& item : items) {
      DLFS_ASSIGN(auto key, catalog_->blob_key(txn, item.id));
      if (key) blob_keys.push_back(std::move(*key));
      DLFS_TRY(catalog_->erase_item(txn, item));
    }
    DLFS_TRY(catalog_->erase_dataset_record(txn, *ds));
    DLFS_TRY(txn.commit());
    spdlog::info("deleted dataset '{}' ({} items)", ds->name, items.size());
  }
  remove_blobs(blob_keys);
  return {};
}

}  // namespace dlfs
