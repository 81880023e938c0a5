// The embedded platform: storage drivers — where a dataset's binaries live, importing objects
// already in a bucket, and syncing a dataset with its bucket.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/ids.h"
#include "core/json_util.h"
#include "core/lmdb.h"
#include "core/paths.h"
#include "platform/catalog.h"
#include "platform/commands.h"
#include "platform/driver.h"
#include "platform/platform.h"
#include "platform/storage.h"
#include "platform/sync_watch.h"

namespace dlfs {

json SyncReport::to_json() const {
  json doc = {{"listed", listed},   {"added", added},         {"updated", updated},
              {"removed", removed}, {"unchanged", unchanged}, {"skipped", skipped}};
  if (skipped_more) doc["skippedMore"] = skipped_more;
  return doc;
}

namespace {

// The seed's permission test of a new driver: List, Put, Get — and Delete where the driver may
// delete — each tried on the bucket (a test object under the prefix's /.dataloop, which no sync
// takes for an item), so that credentials short of one fail now, saying which, and not at the
// first upload. Answers EACCES naming every missing permission.
Status check_driver_permissions(ObjectStore& store, const Driver& d) {
  std::vector<std::string> missing;
  auto lacks = [&](const char* what, const Status& why) {
    missing.push_back(std::string(what) + " (" + why.message() + ")");
  };
  std::string some_object;
  Status listed = store.list(object_key_for(d, "/"), [&](const ObjectInfo& o) {
    some_object = o.key;
    return false;
  });
  // A bucket that is not there, or a store that does not answer, is no question of permissions.
  if (!listed && listed.err() != EACCES && listed.err() != EPERM) return listed.wrap("the driver's bucket does not answer");
  if (!listed) lacks("List", listed);
  std::string test_key = object_key_for(d, "/.dataloop/permission-test-" + new_id());
  const std::string test_bytes = "dlfs: a storage driver's permission test; safe to delete";
  auto put = store.put_bytes(test_key, test_bytes);
  if (!put) {
    if (put.err() != EACCES && put.err() != EPERM) return put.status().wrap("the driver's permission test failed");
    lacks("Put", put.status());
  }
  // Get: the test object, or else one the listing found.
  std::string get_key = put ? test_key : some_object;
  if (!get_key.empty()) {
    char byte;
    auto got = store.read(get_key, 0, std::span<char>(&byte, 1));
    if (!got && (got.err() == EACCES || got.err() == EPERM)) lacks("Get", got.status());
    else if (!got) return got.status().wrap("the driver's permission test failed");
  }
  if (put) {
    Status removed = store.remove(test_key);
    if (!removed && d.allow_external_delete) lacks("Delete (the driver allows external deletes)", removed);
    else if (!removed) spdlog::info("driver '{}': the permission test object {} stays (no Delete)", d.name, test_key);
  }
  if (missing.empty()) return {};
  std::string text;
  for (const auto& m : missing) text += (text.empty() ? "" : "; ") + m;
  return Status(EACCES, "the credentials of driver '" + d.name + "' lack permissions on bucket '" + d.bucket +
                            "': " + text);
}

}  // namespace

Result<Driver> Platform::create_driver(const json& body, std::string_view creator) {
  DLFS_ASSIGN(Driver d, driver_from_request(body));
  d.id = new_id();
  d.creator = std::string(creator);
  d.created_ms = options_.clock->now_ms();
  // The bucket must answer, with every permission the driver needs, before anything depends on
  // it: a typo or read-only credentials fail here, not at the first upload.
  DLFS_ASSIGN(auto store, options_.open_store(d));
  DLFS_TRY(check_driver_permissions(*store, d));
  {
    DLFS_ASSIGN(LmdbTxn txn, catalog_->write());
    DLFS_TRY(catalog_->put_driver(txn, d.id, driver_to_json(d, true)));
    DLFS_TRY(txn.commit());
  }
  std::lock_guard lock(stores_mu_);
  stores_[d.id] = std::move(store);
  return d;
}

Result<std::vector<Driver>> Platform::list_drivers() {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  DLFS_ASSIGN(auto docs, catalog_->drivers(txn));
  std::vector<Driver> out;
  for (const json& doc : docs) {
    DLFS_ASSIGN(Driver d, driver_from_json(doc));
    out.push_back(std::move(d));
  }
  return out;
}

Result<Driver> Platform::get_driver(std::string_view id) {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  DLFS_ASSIGN(auto doc, catalog_->driver(txn, id));
  if (!doc) return Status(ENOENT, "no storage driver '" + std::string(id) + "'");
  return driver_from_json(*doc);
}

Result<std::shared_ptr<ObjectStore>> Platform::driver_store(std::string_view driver_id, Driver* driver) {
  if (!driver) {
    std::lock_guard lock(stores_mu_);
    auto it = stores_.find(driver_id);
    if (it != stores_.end()) return it->second;
  }
  DLFS_ASSIGN(Driver d, get_driver(driver_id));
  if (driver) *driver = d;
  std::lock_guard lock(stores_mu_);
  auto it = stores_.find(driver_id);
  if (it != stores_.end()) return it->second;
  DLFS_ASSIGN(auto opened, options_.open_store(d));
  std::shared_ptr<ObjectStore> store = std::move(opened);
  stores_[d.id] = store;
  return store;
}

Result<std::string> Platform::presigned_read_url(const ItemBinary& binary, int64_t valid_s) {
  auto external = parse_external_blob_key(binary.key);
  if (!external) return Status(ENOTSUP, "'" + binary.item.filename + "' is in the platform's own storage");
  DLFS_ASSIGN(auto store, driver_store(external->driver_id));
  return store->presigned_read_url(external->object_key, valid_s);
}

Result<size_t> Platform::read_blob(std::string_view key, uint64_t offset, std::span<char> out) {
  if (auto bytes = parse_inline_blob_key(key)) {
    if (offset >= bytes->size()) return size_t(0);
    size_t n = std::min(out.size(), size_t(bytes->size() - offset));
    std::copy_n(bytes->data() + offset, n, out.data());
    return n;
  }
  auto external = parse_external_blob_key(key);
  if (!external) return storage_->read(key, offset, out);
  DLFS_ASSIGN(auto store, driver_store(external->driver_id));
  return store->read(external->object_key, offset, out);
}

Result<StoredBlob> Platform::put_blob(const Dataset& ds, std::string_view path, const std::string* file,
                                      std::string_view bytes, Take take) {
  if (ds.driver.empty()) {  // (durable at the upload's commit: Platform::upload)
    if (!file) return storage_->put_bytes(bytes, Durable::kAtSync);
    switch (take) {
      case Take::kMove: return storage_->adopt_file(*file, Durable::kAtSync);
      case Take::kLink: return storage_->link_file(*file, Durable::kAtSync);
      case Take::kCopy: break;
    }
    return storage_->put_file(*file, Durable::kAtSync);
  }
  Driver driver;
  DLFS_ASSIGN(auto store, driver_store(ds.driver, &driver));
  // A clone's object keys are not its paths: each upload writes a new object (never one its
  // original, or another clone, holds), under /.dataloop/clones/<dataset>/.
  std::string key = is_bucket_clone(ds)
                        ? object_key_for(driver, "/.dataloop/clones/" + ds.id + "/" + new_id() + std::string(path))
                        : object_key_for(driver, path);
  DLFS_ASSIGN(ObjectInfo o, file ? store->put_file(key, *file) : store->put_bytes(key, bytes));
  return StoredBlob{external_blob_key(driver.id, key), o.size, o.etag};
}

Result<StoredBlob> Platform::put_generated(std::string_view dataset_id, std::string_view path, std::string_view bytes) {
  DLFS_ASSIGN(Dataset ds, get_dataset(dataset_id));
  return put_blob(ds, path, nullptr, bytes);
}

void Platform::drop_blob(std::string_view key) {
  if (parse_inline_blob_key(key)) return;
  auto external = parse_external_blob_key(key);
  if (!external) {
    (void)storage_->remove(key);
    return;
  }
  Driver driver;
  auto store = driver_store(external->driver_id, &driver);
  if (!store) return;
  // The bucket is the user's: its objects are kept, unless the driver allows deletes — but what
  // the platform made there (under /.dataloop) is the platform's to delete.
  bool generated = external->object_key.starts_with(object_key_for(driver, "/.dataloop/"));
  if (!driver.allow_external_delete && !generated) return;
  // Clones share their original's objects (platform_clone.cpp): an object goes with the last item
  // holding it. Where the driver has clones, the look and the delete are made inside a write
  // transaction: a clone taking the object commits before it (and is seen) or after (and, reading
  // its source again in its own write transaction, finds the item gone and takes nothing).
  auto remove = [&] {
    Status s = (*store)->remove(external->object_key);
    if (!s) spdlog::warn("cannot delete object {} of driver {}: {}", external->object_key, driver.id, s.to_string());
  };
  bool has_clones = false;
  {
    auto txn = catalog_->read();
    auto held = txn ? object_held(*txn, driver.id, key) : Result<bool>(txn.status());
    if (!held || *held) return;  // (kept when in doubt)
    auto all = catalog_->datasets(*txn);
    if (!all) return;
    has_clones = std::any_of(all->begin(), all->end(),
                             [&](const Dataset& ds) { return ds.driver == driver.id && is_bucket_clone(ds); });
  }
  if (!has_clones) return remove();
  auto txn = catalog_->write();
  auto held = txn ? object_held(*txn, driver.id, key) : Result<bool>(txn.status());
  if (held && !*held) remove();
}

Result<bool> Platform::object_held(const LmdbTxn& txn, std::string_view driver_id, std::string_view blob_key) {
  DLFS_ASSIGN(auto all, catalog_->datasets(txn));
  for (const Dataset& ds : all) {
    if (ds.driver != driver_id) continue;
    DLFS_ASSIGN(auto holders, catalog_->items_holding(txn, ds.id, blob_key));
    if (!holders.empty()) return true;
  }
  return false;
}

bool is_bucket_clone(const Dataset& ds) {
  const json* from = find_dotted(ds.metadata, "system.clonedFrom");
  return !ds.driver.empty() && from && from->is_string();
}

namespace {

struct DriverDataset {
  Dataset dataset;
  Driver driver;
  std::shared_ptr<ObjectStore> store;
};

}  // namespace

// The dataset and its driver, or why it has none.
static Result<DriverDataset> driver_dataset(Platform& p, std::string_view dataset_id) {
  DLFS_ASSIGN(Dataset ds, p.get_dataset(dataset_id));
  if (ds.driver.empty())
    return Status(EINVAL, "dataset '" + ds.name + "' keeps its binaries in the platform's storage: it has no "
                                                  "storage driver to import from or sync with");
  if (is_bucket_clone(ds))
    return Status(EINVAL, "dataset '" + ds.name + "' is a clone: it holds objects of its driver's bucket but is not "
                                                  "indexed to it, so it is not synced and imports nothing (sync the "
                                                  "dataset it was cloned from)");
  DLFS_ASSIGN(Driver d, p.get_driver(ds.driver));
  DLFS_ASSIGN(auto store, p.driver_store(ds.driver));
  return DriverDataset{std::move(ds), std::move(d), std::move(store)};
}

Result<std::vector<Item>> Platform::import_items(std::string_view dataset_id, const json& body, std::string_view user) {
  DLFS_ASSIGN(DriverDataset dd, driver_dataset(*this, dataset_id));
  if (!body.is_array()) return Status(EINVAL, "an import is a JSON array of {\"filename\", \"storageId\"}");
  struct Wanted {
    std::string path;
    ObjectInfo object;
  };
  std::vector<Wanted> wanted;
  std::string bucket_prefix = dd.driver.bucket + ":";
  for (const json& entry : body) {
    if (!entry.is_object() || !entry.contains("filename") || !entry["filename"].is_string() ||
        !entry.contains("storageId") || !entry["storageId"].is_string())
      return Status(EINVAL, "each import needs \"filename\" and \"storageId\" (\"bucket:key\") strings");
    std::string storage_id = entry["storageId"];
    if (!storage_id.starts_with(bucket_prefix))
      return Status(EINVAL, "storageId '" + storage_id + "' is not in the driver's bucket '" + dd.driver.bucket + "'");
    std::string key = storage_id.substr(bucket_prefix.size());
    DLFS_TRY(check_object_key(key));
    DLFS_ASSIGN(std::string path, normalize_path(entry["filename"].get<std::string>()));
    auto info = dd.store->head(key);
    if (!info) return info.status().wrap("cannot import '" + storage_id + "'");
    wanted.push_back({std::move(path), std::move(*info)});
  }
  std::vector<Item> out;
  UploadOptions options;
  options.mode = UploadMode::kOverwrite;
  options.user = std::string(user);
  for (const Wanted& w : wanted) {
    json system = {{"etag", w.object.etag}};
    auto put = [&](const Dataset&, const std::string&) -> Result<StoredBlob> {
      return StoredBlob{external_blob_key(dd.driver.id, w.object.key), w.object.size};
    };
    DLFS_ASSIGN(UploadResult r, upload(dataset_id, w.path, options, put, &system));
    out.push_back(std::move(r.item));
  }
  return out;
}

// A sync joins the bucket's listing with the catalogue's index of the dataset's items by object
// (Catalog::external_items), both in key order, sync_chunk objects at a time: its memory does not
// grow with the bucket. Items whose object is not listed go — once the listing has gone past
// their key in order (a store that lists out of order fails the sync before it removes
// anything it has not confirmed). An addition the dataset's quota refuses is tried again at the
// end, after every removal made room (up to kMaxDeferred of them).
namespace {
constexpr size_t kMaxDeferred = 10000;
constexpr size_t kMaxSkippedReported = 1000;
}  // namespace

Result<SyncReport> Platform::sync_dataset(std::string_view dataset_id, std::string_view user,
                                          const std::function<void(const SyncReport&, int)>& progress) {
  DLFS_ASSIGN(DriverDataset dd, driver_dataset(*this, dataset_id));
  const std::string ds = dd.dataset.id;
  SyncReport report;
  auto skip = [&](std::string why) {
    if (report.skipped.size() < kMaxSkippedReported) report.skipped.push_back(std::move(why));
    else ++report.skipped_more;
  };
  std::string prefix = dd.driver.path.empty() ? "" : dd.driver.path + "/";
  const std::string blob_prefix = external_blob_key(dd.driver.id, prefix);
  const std::string driver_part = external_blob_key(dd.driver.id, "");
  // A blob key of this driver -> its item path, nullopt for what no sync touches (the
  // platform's /.dataloop, names no item can have).
  auto synced_path = [&](std::string_view blob_key) -> std::optional<std::string> {
    auto path = item_path_for(dd.driver, blob_key.substr(driver_part.size()));
    if (path && is_hidden_path(*path)) return std::nullopt;
    return path;
  };
  UploadOptions options;
  options.mode = UploadMode::kOverwrite;
  options.user = std::string(user);
  // The bucket's size is known only once it is listed: the dataset's is the estimate.
  const uint64_t expected = std::max<uint64_t>(dd.dataset.items_count, 1);
  uint64_t done = 0;
  auto tick = [&] {
    if (progress && ++done % 100 == 0) progress(report, int(95 * std::min<uint64_t>(done, expected) / expected));
  };

  std::vector<ObjectInfo> chunk;
  std::vector<std::string> gone_unconfirmed;  // items whose keys the listing passed, if it is in order
  std::string joined_until;  // index entries up to this blob key are joined
  std::set<std::string> listed_long;  // listed blob keys too long for the ordered index (rare)

  struct Wanted {  // an object to make an item of
    std::string path;
    ObjectInfo object;
    bool known;  // an item is at its path (updated, not added)
  };
  std::vector<Wanted> deferred;  // refused by the quota: tried at the end
  // An item written since the sync began (an upload, a move) may hold an object the listing
  // went past before it was there: not gone, kept (the next sync sees it).
  const int64_t started_ms = options_.clock->now_ms();
  auto remove_items = [&](std::vector<std::string>& ids) -> Status {
    std::vector<std::string> old;
    {
      DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
      for (const std::string& id : ids) {
        DLFS_ASSIGN(auto item, catalog_->item(txn, id));
        if (item && item->updated_ms < started_ms) old.push_back(id);
      }
    }
    for (const std::string& id : old) {
      Status s = delete_item(id);
      if (!s && s.err() != ENOENT) return s;  // ENOENT: deleted meanwhile
      ++report.removed;
      tick();
    }
    ids.clear();
    return {};
  };
  // Items made (or made again) for objects, in one catalogue commit; the item is the object itself.
  auto add = [&](const std::vector<Wanted>& wanted, bool last_try) {
    std::vector<json> systems;
    systems.reserve(wanted.size());  // (the uploads point into it)
    std::vector<BlobUpload> uploads;
    for (const Wanted& w : wanted) {
      systems.push_back({{"etag", w.object.etag}});
      StoredBlob blob{external_blob_key(dd.driver.id, w.object.key), w.object.size};
      uploads.push_back({w.path, &options, [blob](const Dataset&, const std::string&) -> Result<StoredBlob> { return blob; },
                         &systems.back()});
    }
    std::vector<Result<UploadResult>> done = upload_many(ds, uploads);
    for (size_t i = 0; i < wanted.size(); ++i) {
      const Wanted& w = wanted[i];
      if (done[i]) ++(w.known ? report.updated : report.added);
      else if (done[i].err() == EDQUOT && !last_try && deferred.size() < kMaxDeferred) deferred.push_back(w);
      else skip(w.object.key + ": " + done[i].status().to_string());
    }
  };

  // Joins `chunk` (listed, in order) with the index up to its last key (to the end when `last`).
  auto join = [&](bool last) -> Status {
    // The index entries the chunk covers that are not in it: their objects are gone.
    std::string upto = chunk.empty() ? "" : external_blob_key(dd.driver.id, chunk.back().key);
    std::vector<std::string> gone;
    enum State : char { kNew, kChanged, kUnchanged };
    std::vector<State> state(chunk.size(), kNew);
    std::vector<std::string> paths(chunk.size());
    {
      DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
      DLFS_TRY(catalog_->external_items(txn, ds, blob_prefix, joined_until, [&](std::string_view key, std::string_view id) {
        if (!last && key > upto) return false;
        if (!synced_path(key)) return true;
        std::string object(key.substr(driver_part.size()));
        bool listed = std::ranges::binary_search(chunk, object, {}, &ObjectInfo::key);
        if (!listed) gone.emplace_back(id);
        return true;
      }));
      // Which listed objects the dataset has as they are: an item at the object's path, holding
      // that object, of its size and etag.
      for (size_t i = 0; i < chunk.size(); ++i) {
        const ObjectInfo& o = chunk[i];
        std::string key = external_blob_key(dd.driver.id, o.key);
        const std::string& path = paths[i] = *synced_path(key);
        DLFS_ASSIGN(std::vector<std::string> holders, catalog_->items_holding(txn, ds, key));
        for (const std::string& id : holders) {
          DLFS_ASSIGN(auto item, catalog_->item(txn, id));
          if (item && item->filename == path && item->size() == o.size && item->etag() == o.etag) state[i] = kUnchanged;
        }
        if (state[i] == kNew) {
          DLFS_ASSIGN(auto there, catalog_->entry_at(txn, ds, path));
          if (there) state[i] = kChanged;
        }
      }
    }
    // Confirmed now that the listing went on in order past them: the previous chunk's, first.
    DLFS_TRY(remove_items(gone_unconfirmed));
    gone_unconfirmed = std::move(gone);
    if (last) DLFS_TRY(remove_items(gone_unconfirmed));
    std::vector<Wanted> wanted;
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (state[i] == kUnchanged) ++report.unchanged;
      else wanted.push_back({std::move(paths[i]), chunk[i], state[i] == kChanged});
      tick();
    }
    if (!wanted.empty()) add(wanted, false);
    joined_until = upto;
    chunk.clear();
    return {};
  };

  Status failed;
  std::string last_key;
  DLFS_TRY(dd.store->list(prefix, [&](const ObjectInfo& o) {
    if (!last_key.empty() && o.key <= last_key) {
      failed = Status(EIO, "the bucket listed its objects out of key order ('" + o.key + "' after '" + last_key +
                               "'): nothing it did not list was removed");
      return false;
    }
    last_key = o.key;
    std::string key = external_blob_key(dd.driver.id, o.key);
    auto path = item_path_for(dd.driver, o.key);
    if (path && is_hidden_path(*path)) return true;  // what the platform made there (/.dataloop)
    ++report.listed;
    if (!path) {
      skip(o.key + ": not a name an item can have");
      return true;
    }
    if (key.size() > kMaxOrderedBlobKey) listed_long.insert(key);
    chunk.push_back(o);
    if (chunk.size() >= std::max<size_t>(options_.sync_chunk, 1)) failed = join(false);
    return bool(failed);
  }));
  DLFS_TRY(failed);
  DLFS_TRY(join(true));

  // Items holding objects whose keys are too long for the ordered index.
  std::vector<std::string> gone_long;
  {
    DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
    DLFS_TRY(catalog_->long_external_items(txn, ds, [&](std::string_view key, std::string_view id) {
      if (key.starts_with(blob_prefix) && synced_path(key) && !listed_long.count(std::string(key)))
        gone_long.emplace_back(id);
      return true;
    }));
  }
  DLFS_TRY(remove_items(gone_long));
  if (!deferred.empty()) add(std::vector<Wanted>(std::move(deferred)), true);
  if (progress) progress(report, 100);
  return report;
}

uint64_t dataset_sync_interval(const Dataset& ds) {
  auto sys = ds.metadata.find("system");
  if (sys == ds.metadata.end() || !sys->is_object()) return 0;
  auto it = sys->find("syncIntervalSeconds");
  return it != sys->end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

Status Platform::set_sync_interval(std::string_view dataset_id, uint64_t seconds) {
  DLFS_TRY(driver_dataset(*this, dataset_id).status());
  return set_dataset_count(dataset_id, "syncIntervalSeconds", seconds);
}

Result<bool> Platform::claim_watched_sync(std::string_view dataset_id, int64_t changed_at_ms) {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->write());
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, dataset_id));
  if (!ds || ds->driver.empty() || is_bucket_clone(*ds)) return false;
  uint64_t interval_s = dataset_sync_interval(*ds);
  if (interval_s == 0) return false;
  int64_t now = options_.clock->now_ms();
  const json* last = find_dotted(ds->metadata, "system.watchedSyncMs");
  if (last && last->is_number_integer()) {
    int64_t since = now - last->get<int64_t>();
    bool changed_since_last = changed_at_ms > 0 && last->get<int64_t>() < changed_at_ms;
    if (since >= 0 && since < int64_t(interval_s) * 1000 && !changed_since_last)
      return false;  // (a clock gone back: claimed)
  }
  ds->metadata["system"]["watchedSyncMs"] = now;
  DLFS_TRY(catalog_->put_dataset(txn, *ds));
  DLFS_TRY(txn.commit());
  return true;
}

void Platform::watch_syncs(std::chrono::milliseconds tick) {
  if (!watcher_) watcher_ = std::make_unique<SyncWatcher>(*this, tick);
}

Commands::Job Platform::sync_job(std::string dataset_id, std::string user) {
  return [this, id = std::move(dataset_id), who = std::move(user)](CommandContext& ctx) -> Result<json> {
    DLFS_ASSIGN(SyncReport r, sync_dataset(id, who, [&](const SyncReport& so_far, int percent) {
                  ctx.progress(percent, so_far.to_json());
                }));
    return r.to_json();
  };
}

Result<Command> Platform::start_sync(std::string_view dataset_id, std::string_view user) {
  DLFS_ASSIGN(DriverDataset dd, driver_dataset(*this, dataset_id));
  json spec = {{"datasetId", dd.dataset.id}, {"driverId", dd.driver.id}, {"user", user}};
  return commands_->start("sync", spec, sync_job(dd.dataset.id, std::string(user)));
}

Status Platform::recover_commands() {
  // A sync or a clone is run again (they are idempotent); anything else (a CSV import, whose file was in the
  // stopped process's temp folder) is failed, saying so.
  return commands_->recover([this](const Command& c) -> Commands::Job {
    if (c.type == "clone") {  // (a clone run again skips what it cloned)
      auto request = CloneRequest::from_api(c.spec.value("request", json()));
      std::string source_id = string_field(c.spec, "datasetId");
      if (!request || request->target_dataset_id.empty() || !get_dataset(source_id)) return {};
      return clone_job(source_id, std::move(*request), string_field(c.spec, "user", "dlfsd (resumed)"));
    }
    if (c.type != "sync") return {};
    std::string dataset_id = string_field(c.spec, "datasetId");
    if (dataset_id.empty() || !get_dataset(dataset_id)) return {};
    return sync_job(dataset_id, string_field(c.spec, "user", "dlfsd (resumed)"));
  });
}

}  // namespace dlfs
