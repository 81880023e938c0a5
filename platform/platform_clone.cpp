// The embedded platform: cloning items into another dataset (the seed: "Items can only be cloned
// from internal storage to internal storage or from external storage to the same external
// storage"; "You cannot sync cloned ... datasets ... because these datasets are not directly
// indexed to external storage").
//
// No bytes are copied. A binary of the platform's storage is hard-linked under a key of its own
// (a blob's bytes never change, so the link is a copy that costs an inode entry), made durable by
// one sync per batch before the batch's commit. An object of a driver's bucket is shared: the
// clone's item holds the same "@driver/key", and drop_blob deletes an object only once no item
// of any dataset of the driver holds it.
//
// A batch is read in a read transaction, its binaries linked outside any, and committed in one
// write transaction that reads each source item again: an item changed or deleted since (its
// binary gone, or about to be) is tried again in a later batch, never cloned from a binary that
// may be going. That second read also orders a clone against drop_blob's look at an object's
// holders (platform_drivers.cpp).
#include <spdlog/spdlog.h>

#include <deque>

#include "core/ids.h"
#include "core/lmdb.h"
#include "core/paths.h"
#include "platform/catalog.h"
#include "platform/commands.h"
#include "platform/dql.h"
#include "platform/driver.h"
#include "platform/platform.h"
#include "platform/preprocess.h"
#include "platform/storage.h"

namespace dlfs {


namespace {

constexpr size_t kCloneBatch = 500;
constexpr size_t kMaxFailedReported = 1000;
constexpr int kMaxTries = 3;  // an item changed this many times while cloned is reported, not cloned

Status across_storages(const Dataset& from, const Dataset& to) {
  return Status(EXDEV, "items of dataset '" + from.name + "' cannot be cloned into '" + to.name +
                           "': items are cloned only from the platform's storage to the platform's storage, or "
                           "from a storage driver's bucket into a clone of a dataset of the same driver");
}

// The DQL body a clone's filter stands for: dtlpy sends a whole query ({"filter", "page", ...}),
// others may send the filter alone. Never an update or a delete.
json clone_query(const json& filter) {
  if (filter.is_null()) return json::object();
  json body = filter.contains("filter") || filter.contains("resource") ? filter : json{{"filter", filter}};
  body.erase("update");
  body.erase("delete");
  return body;
}

}  // namespace

Result<CloneRequest> CloneRequest::from_api(const json& body) {
  if (!body.is_object())
    return Status(EINVAL, "a clone is a JSON object: {\"name\", \"filter\", \"cloneDatasetParams\": {...}}");
  CloneRequest r;
  auto string_of = [&](const json& in, const char* key, std::string& out) -> Status {
    auto it = in.find(key);
    if (it == in.end() || it->is_null()) return {};
    if (!it->is_string()) return Status(EINVAL, std::string("a clone's \"") + key + "\" is a string");
    out = it->get<std::string>();
    return {};
  };
  DLFS_TRY(string_of(body, "name", r.name));
  if (auto f = body.find("filter"); f != body.end() && !f->is_null()) {
    if (!f->is_object()) return Status(EINVAL, "a clone's \"filter\" is a DQL filter (an object)");
    r.filter = *f;
    DLFS_TRY(DqlQuery::parse(clone_query(r.filter), "items").status());
  }
  auto params_it = body.find("cloneDatasetParams");
  if (params_it != body.end() && !params_it->is_null()) {
    const json& params = *params_it;
    if (!params.is_object()) return Status(EINVAL, "\"cloneDatasetParams\" is an object");
    DLFS_TRY(string_of(params, "targetDatasetId", r.target_dataset_id));
    std::string dir;
    DLFS_TRY(string_of(params, "targetDirectory", dir));
    if (!dir.empty()) {
      auto normal = normalize_path(dir);
      if (!normal) return normal.status().wrap("the clone's targetDirectory");
      r.target_dir = *normal;
    }
    if (auto m = params.find("withMetadata"); m != params.end() && !m->is_null()) {
      if (!m->is_boolean()) return Status(EINVAL, "\"withMetadata\" is true or false");
      r.with_metadata = m->get<bool>();
    }
  }
  if (r.name.empty() && r.target_dataset_id.empty())
    return Status(EINVAL, "a clone needs the \"name\" of its new dataset, or cloneDatasetParams.targetDatasetId");
  return r;
}

json CloneRequest::to_json() const {
  json params = {{"withMetadata", with_metadata}, {"targetDirectory", target_dir}};
  if (!target_dataset_id.empty()) params["targetDatasetId"] = target_dataset_id;
  return {{"name", name}, {"filter", filter}, {"cloneDatasetParams", params}};
}

json CloneReport::to_json() const {
  return {{"datasetId", dataset_id}, {"matched", matched}, {"cloned", cloned}, {"existing", existing},
          {"failed", failed}};
}

Result<Dataset> Platform::clone_target(std::string_view source_id, CloneRequest& request, std::string_view user) {
  DLFS_ASSIGN(Dataset source, get_dataset(source_id));
  if (!request.target_dataset_id.empty()) {
    DLFS_ASSIGN(Dataset target, get_dataset(request.target_dataset_id));
    if (target.id == source.id)
      return Status(EINVAL, "dataset '" + source.name + "' cannot be cloned into itself: clone it into another one");
    if (source.driver != target.driver) return across_storages(source, target);
    if (!source.driver.empty() && !is_bucket_clone(target))
      return Status(EXDEV, "dataset '" + target.name + "' is indexed to its driver's bucket (path = object key): the "
                                                       "objects of '" + source.name + "' can be cloned only into a clone");
    return target;
  }
  DLFS_ASSIGN(Dataset target, create_dataset(request.name, user, source.driver, json{{"clonedFrom", source.id}}));
  request.target_dataset_id = target.id;
  return target;
}

struct Platform::CloneBatch {
  struct Entry {
    Item source;
    std::optional<std::string> key;  // the source's binary as read
    std::string new_key;             // the clone's: a link of an internal binary, else the same key
    std::optional<Item> thumb;       // the source's thumbnail item, and its binary
    std::string thumb_key, thumb_new_key;
    int tries = 0;
    enum class Outcome { kPending, kCloned, kExisting, kChanged, kFailed } outcome = Outcome::kPending;
    std::string why;
  };
  std::vector<Entry> entries;
  std::vector<std::string> linked;  // binaries linked for this batch (removed unless cloned)
};

Status Platform::clone_batch(CloneBatch& batch, const Dataset& target_at_start, const CloneRequest& request,
                             std::string_view user, CloneReport& report) {
  using Outcome = CloneBatch::Entry::Outcome;
  // The clone's own key for a binary: an internal one linked, an inline or a bucket's the same.
  auto take = [&](const std::string& key) -> Result<std::string> {
    if (parse_inline_blob_key(key) || parse_external_blob_key(key)) return key;
    DLFS_ASSIGN(StoredBlob b, storage_->link_file(storage_->local_path(key), Durable::kAtSync));
    batch.linked.push_back(b.key);
    return b.key;
  };
  for (auto& e : batch.entries) {
    if (!e.key) continue;
    auto k = take(*e.key);
    if (!k) {  // (a binary deleted since it was read: the item changed)
      e.outcome = Outcome::kChanged;
      e.why = k.status().to_string();
      continue;
    }
    e.new_key = std::move(*k);
    if (e.thumb) {
      auto t = take(e.thumb_key);
      if (t) e.thumb_new_key = std::move(*t);
      else e.thumb.reset();  // (made again by preprocessing on demand)
    }
  }
  auto unlink_all = [&] {
    for (const auto& key : batch.linked) (void)storage_->remove(key);
    batch.linked.clear();
  };
  if (!batch.linked.empty()) {
    Status synced = storage_->sync();
    if (!synced) {
      unlink_all();
      return synced.wrap("cannot make the clone's binaries durable");
    }
  }
  std::vector<std::string> kept;  // the linked keys the commit holds
  {
    auto txn = catalog_->write();
    if (!txn) {
      unlink_all();
      return txn.status();
    }
    auto written = [&]() -> Status {
      DLFS_ASSIGN(auto target, catalog_->dataset(*txn, target_at_start.id));
      if (!target) return Status(ENOENT, "dataset '" + target_at_start.name + "' was deleted while cloned into");
      int64_t now = options_.clock->now_ms();
      int64_t files = 0;
      for (auto& e : batch.entries) {
        if (e.outcome != Outcome::kPending) continue;
        DLFS_ASSIGN(auto src, catalog_->item(*txn, e.source.id));
        std::optional<std::string> key;
        if (src && src->is_file()) {
          DLFS_ASSIGN(key, catalog_->blob_key(*txn, src->id));
        }
        if (!src || src->dataset_id != e.source.dataset_id || key != e.key) {
          e.outcome = Outcome::kChanged;
          e.why = "it changed while it was cloned";
          continue;
        }
        std::string path = request.target_dir == "/" ? src->filename : request.target_dir + src->filename;
        if (path.size() > kMaxPathBytes) {
          e.outcome = Outcome::kFailed;
          e.why = "its path under " + request.target_dir + " would pass " + std::to_string(kMaxPathBytes) + " bytes";
          continue;
        }
        DLFS_ASSIGN(auto there, catalog_->entry_at(*txn, target->id, path));
        if (there) {
          e.outcome = Outcome::kExisting;
          continue;
        }
        e.outcome = Outcome::kCloned;
        if (src->is_dir()) {
          DLFS_TRY(ensure_dir(*txn, *target, path, user, now).status());
          continue;
        }
        DLFS_TRY(ensure_dir(*txn, *target, parent_path(path), user, now).status());
        Item item = std::move(*src);
        item.id = new_id();
        item.dataset_id = target->id;
        item.set_path(path);
        item.hidden = is_hidden_path(path);
        item.created_ms = item.updated_ms = now;
        item.creator = item.updated_by = std::string(user);
        if (!request.with_metadata) {
          item.metadata = json{{"system", std::move(item.system())}};
          item.description.reset();
        }
        json& sys = item.system();
        sys.erase("thumbnailId");
        if (item.preprocessing()) sys["preprocessPhase"] = "pending";  // (its own job, below)
        // The thumbnail as read, if it is still the source's (a new one may have replaced it,
        // its object going): else the clone's is made again when asked for.
        bool thumb_same = false;
        if (e.thumb && !item.preprocessing()) {
          DLFS_ASSIGN(auto thumb_key, catalog_->blob_key(*txn, e.thumb->id));
          thumb_same = thumb_key == e.thumb_key;
        }
        if (thumb_same) {
          Item thumb = *e.thumb;
          thumb.id = new_id();
          thumb.dataset_id = target->id;
          thumb.set_path(thumbnail_path(item.id));
          thumb.hidden = true;
          thumb.created_ms = thumb.updated_ms = now;
          thumb.creator = thumb.updated_by = std::string(user);
          DLFS_TRY(ensure_dir(*txn, *target, parent_path(thumb.filename), user, now).status());
          DLFS_TRY(catalog_->put_item(*txn, thumb));
          DLFS_TRY(catalog_->put_blob_key(*txn, thumb.id, e.thumb_new_key));
          kept.push_back(e.thumb_new_key);
          sys["thumbnailId"] = thumb.id;
        }
        DLFS_TRY(catalog_->put_item(*txn, item));
        DLFS_TRY(catalog_->put_blob_key(*txn, item.id, e.new_key));
        kept.push_back(e.new_key);
        if (item.preprocessing() && !item.hidden) DLFS_TRY(preprocessor_->enqueue(*txn, item, e.new_key));
        files += counts_as_dataset_item(item);
      }
      DLFS_TRY(add_to_count(*txn, target->id, files));  // (EDQUOT past a quota: the batch is not cloned)
      return txn->commit();
    }();
    if (!written) {
      unlink_all();
      return written;
    }
  }
  // The links of items not cloned (there already, changed) go.
  std::sort(kept.begin(), kept.end());
  for (const auto& key : batch.linked)
    if (!std::binary_search(kept.begin(), kept.end(), key)) (void)storage_->remove(key);
  for (const auto& e : batch.entries) {
    if (e.outcome == Outcome::kCloned) ++report.cloned;
    if (e.outcome == Outcome::kExisting) ++report.existing;
  }
  return {};
}

Result<CloneReport> Platform::clone_items(std::string_view source_id, const CloneRequest& request,
                                          std::string_view user,
                                          const std::function<void(const CloneReport&, int)>& progress) {
  using Outcome = CloneBatch::Entry::Outcome;
  DLFS_ASSIGN(Dataset source, get_dataset(source_id));
  if (request.target_dataset_id.empty()) return Status(EINVAL, "a clone needs its target dataset");
  CloneRequest checked = request;
  DLFS_ASSIGN(Dataset target, clone_target(source.id, checked, user));
  DLFS_ASSIGN(DqlQuery q, DqlQuery::parse(clone_query(request.filter), "items"));
  CloneReport report;
  report.dataset_id = target.id;
  auto fail = [&](const Item& item, const std::string& why) {
    if (report.failed.size() < kMaxFailedReported) report.failed.push_back(item.filename + ": " + why);
  };
  const uint64_t expected = std::max<uint64_t>(source.items_count, 1);
  uint64_t scanned = 0;
  std::string after;  // the source's items in id order, after this one
  bool scanned_all = false;
  std::deque<std::pair<std::string, int>> again;  // items changed while cloned, with their tries
  while (!scanned_all || !again.empty()) {
    CloneBatch batch;
    {
      DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
      auto add = [&](Item item, int tries) -> Status {
        auto& e = batch.entries.emplace_back();
        if (item.is_file()) {
          DLFS_ASSIGN(e.key, catalog_->blob_key(txn, item.id));
          auto tid = item.system().find("thumbnailId");
          if (tid != item.system().end() && tid->is_string()) {
            DLFS_ASSIGN(auto thumb, catalog_->item(txn, tid->get<std::string>()));
            DLFS_ASSIGN(auto thumb_key, thumb ? catalog_->blob_key(txn, thumb->id) : std::optional<std::string>());
            if (thumb && thumb_key) {
              e.thumb = std::move(thumb);
              e.thumb_key = std::move(*thumb_key);
            }
          }
        }
        e.source = std::move(item);
        e.tries = tries;
        return {};
      };
      while (!again.empty() && batch.entries.size() < kCloneBatch) {
        auto [id, tries] = again.front();
        again.pop_front();
        DLFS_ASSIGN(auto item, catalog_->item(txn, id));
        if (item && item->dataset_id == source.id) DLFS_TRY(add(std::move(*item), tries));
      }
      if (!scanned_all && batch.entries.size() < kCloneBatch) {
        Status added;
        scanned_all = true;
        DLFS_TRY(catalog_->scan_items(txn, source.id, after, [&](const Item& item) {
          after = item.id;
          ++scanned;
          if (item.filename == "/" || item.hidden || !q.matches(item_to_json(item))) return true;
          ++report.matched;
          added = add(item, 0);
          if (!added || batch.entries.size() >= kCloneBatch) {
            scanned_all = false;
            return false;
          }
          return true;
        }));
        DLFS_TRY(added);
      }
    }
    if (batch.entries.empty()) continue;
    DLFS_TRY(clone_batch(batch, target, request, user, report));
    for (const auto& e : batch.entries) {
      if (e.outcome == Outcome::kFailed) fail(e.source, e.why);
      if (e.outcome != Outcome::kChanged) continue;
      if (e.tries + 1 < kMaxTries) again.emplace_back(e.source.id, e.tries + 1);
      else fail(e.source, e.why);
    }
    if (progress) progress(report, int(95 * std::min(scanned, expected) / expected));
  }
  spdlog::info("cloned {} items of dataset '{}' into '{}' ({} there already, {} failed)", report.cloned, source.name,
               target.name, report.existing, report.failed.size());
  return report;
}

std::function<Result<json>(CommandContext&)> Platform::clone_job(std::string source_id, CloneRequest request,
                                                                 std::string user) {
  return [this, source_id = std::move(source_id), request = std::move(request),
          user = std::move(user)](CommandContext& ctx) -> Result<json> {
    DLFS_ASSIGN(CloneReport r, clone_items(source_id, request, user, [&](const CloneReport& so_far, int percent) {
                  ctx.progress(percent, so_far.to_json());
                }));
    return r.to_json();
  };
}

Result<Command> Platform::start_clone(std::string_view source_id, CloneRequest request, std::string_view user) {
  DLFS_ASSIGN(Dataset source, get_dataset(source_id));
  DLFS_ASSIGN(Dataset target, clone_target(source.id, request, user));
  json spec = {{"datasetId", source.id}, {"returnedModelId", target.id}, {"user", user}, {"request", request.to_json()}};
  return commands_->start("clone", spec, clone_job(source.id, std::move(request), std::string(user)));
}

}  // namespace dlfs
