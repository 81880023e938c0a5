// The embedded platform: opening a store, datasets, and everything that reads.
// (Writes are in platform_write.cpp.)
#include "platform/platform.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file_io.h"
#include "core/ids.h"
#include "core/json_util.h"
#include "core/paths.h"
#include "platform/catalog.h"
#include "platform/commands.h"
#include "platform/driver.h"
#include "platform/group_commit.h"
#include "platform/dql.h"
#include "platform/preprocess.h"
#include "platform/storage.h"
#include "platform/sync_watch.h"

namespace dlfs {

bool counts_as_dataset_item(const Item& item) { return item.is_file() && !item.hidden; }

Platform::Platform(PlatformOptions options) : options_(std::move(options)) {}
Platform::~Platform() = default;

Result<std::unique_ptr<Platform>> Platform::open(const PlatformOptions& options) {
  if (options.store_dir.empty()) return Status(EINVAL, "no store folder given");
  std::error_code ec;
  std::filesystem::create_directories(options.store_dir + "/catalog", ec);
  if (ec) return Status(ec.value(), "cannot create the store in " + options.store_dir, ec.message());
  ::chmod(options.store_dir.c_str(), 0700);
  std::unique_ptr<Platform> p(new Platform(options));
  auto catalog = Catalog::open(options.store_dir + "/catalog");
  if (!catalog) return catalog.status().wrap("cannot open the store " + options.store_dir);
  p->catalog_ = std::move(*catalog);
  auto storage = LocalStorage::open(options.store_dir, options.sync_store);
  if (!storage) return storage.status();
  p->storage_ = std::move(*storage);
  p->commits_ = std::make_unique<GroupCommit>([s = p->storage_.get()] { return s->sync(); });
  if (!p->options_.open_store) p->options_.open_store = open_driver_store;
  p->options_.link_policy.allow_file = false;  // a store's links are shared: never its own files
  // Commands are kept in the catalogue (a server's restart knows them: recover_commands()).
  CommandLog log;
  Catalog* cat = p->catalog_.get();
  log.put = [cat](const Command& c) -> Status {
    DLFS_ASSIGN(LmdbTxn txn, cat->write());
    DLFS_TRY(cat->put_command(txn, c.id, command_record(c)));
    return txn.commit();
  };
  log.erase = [cat](const std::string& id) -> Status {
    DLFS_ASSIGN(LmdbTxn txn, cat->write());
    DLFS_TRY(cat->erase_command(txn, id));
    return txn.commit();
  };
  log.load = [cat]() -> Result<std::vector<Command>> {
    DLFS_ASSIGN(LmdbTxn txn, cat->read());
    DLFS_ASSIGN(auto records, cat->commands(txn));
    std::vector<Command> out;
    for (const json& r : records) {
      auto c = command_from_record(r);
      if (c) out.push_back(std::move(*c));
      else spdlog::warn("a command's record is unreadable: {}", c.status().to_string());
    }
    return out;
  };
  p->commands_ = std::make_unique<Commands>(std::move(log));
  p->preprocessor_ = std::make_unique<Preprocessor>(*p);
  return p;
}

LinkFetcher& Platform::link_fetcher() {
  std::call_once(link_fetcher_made_, [&] {
    if (!options_.link_fetcher) options_.link_fetcher = make_curl_link_fetcher(options_.link_policy);
  });
  return *options_.link_fetcher;
}

namespace {

Status validate_dataset_name(std::string_view name) {
  if (name.empty()) return Status(EINVAL, "a dataset needs a name");
  if (name.size() > 255) return Status(ENAMETOOLONG, "dataset name is longer than 255 bytes");
  for (unsigned char c : name)
    if (c < 0x20 || c == '/' || c == ':')
      return Status(EINVAL, "dataset name '" + std::string(name) + "' may not contain '/', ':' or control characters");
  return {};
}

Status no_dataset(std::string_view id) { return Status(ENOENT, "no dataset '" + std::string(id) + "'"); }

// A page of ids[first, end) (in id order): `take(id)` is asked of each in turn until `page_size`
// were taken (it answers false for an id with no item, a record gone meanwhile). Answers whether
// ids are left after the page.
template <typename Take>
Result<bool> walk_page(const std::vector<std::string>& ids, uint64_t first, uint64_t end, size_t page_size,
                       Take&& take) {
  end = std::min<uint64_t>(end, ids.size());
  uint64_t i = first;
  for (size_t taken = 0; i < end && taken < page_size; ++i) {
    DLFS_ASSIGN(bool took, take(ids[i]));
    taken += took;
  }
  return i < end;
}

// The items of ids[first, end), at most `page_size` of them; only the page's items are decoded.
Result<ItemPage> page_of(const Catalog& catalog, const LmdbTxn& txn, const std::vector<std::string>& ids,
                         uint64_t first, uint64_t end, size_t page_size) {
  ItemPage page;
  DLFS_ASSIGN(bool more, walk_page(ids, first, end, page_size, [&](const std::string& id) -> Result<bool> {
                DLFS_ASSIGN(auto item, catalog.item(txn, id));
                if (item) page.items.push_back(std::move(*item));
                return item.has_value();
              }));
  if (more && !page.items.empty()) page.next_after = page.items.back().id;
  return page;
}

}  // namespace

Result<Dataset> Platform::create_dataset(std::string_view name, std::string_view creator, std::string_view driver,
                                         const json& system) {
  DLFS_TRY(validate_dataset_name(name));
  DLFS_ASSIGN(LmdbTxn txn, catalog_->write());
  DLFS_ASSIGN(auto existing, catalog_->dataset_id_by_name(txn, name));
  if (existing) return Status(EEXIST, "a dataset named '" + std::string(name) + "' already exists");
  int64_t now = options_.clock->now_ms();
  if (!driver.empty()) {
    DLFS_ASSIGN(auto known, catalog_->driver(txn, driver));
    if (!known) return Status(EINVAL, "no storage driver '" + std::string(driver) + "'");
  }
  Dataset ds;
  ds.id = new_id();
  ds.name = std::string(name);
  ds.creator = std::string(creator);
  ds.created_ms = ds.updated_ms = now;
  ds.driver = std::string(driver);
  ds.projects = {"000000000000000000000001"};
  if (system.is_object()) merge_patch(ds.metadata["system"], system);
  DLFS_TRY(catalog_->put_dataset(txn, ds));
  Item root;
  root.id = new_id();
  root.dataset_id = ds.id;
  root.filename = "/";
  root.type = ItemType::kDir;
  root.created_ms = root.updated_ms = now;
  root.creator = root.updated_by = std::string(creator);
  DLFS_TRY(catalog_->put_item(txn, root));
  DLFS_TRY(txn.commit());
  return ds;
}

Result<std::vector<Dataset>> Platform::list_datasets() {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  DLFS_ASSIGN(auto all, catalog_->datasets(txn));
  std::sort(all.begin(), all.end(), [](const Dataset& a, const Dataset& b) { return a.name < b.name; });
  return all;
}

Result<Platform::CatalogSize> Platform::catalog_size() {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  DLFS_ASSIGN(auto all, catalog_->datasets(txn));
  CatalogSize size;
  size.datasets = all.size();
  for (const Dataset& ds : all) size.items += ds.items_count;
  return size;
}

Result<uint64_t> Platform::preprocess_queue_length() {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  return count_jobs(txn, *catalog_);
}

Result<Dataset> Platform::get_dataset(std::string_view id) {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, id));
  if (!ds) return no_dataset(id);
  return std::move(*ds);
}

Result<Dataset> Platform::find_dataset(std::string_view name_or_id) {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  DLFS_ASSIGN(auto id, catalog_->dataset_id_by_name(txn, name_or_id));
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, id ? std::string_view(*id) : name_or_id));
  if (!ds) return no_dataset(name_or_id);
  return std::move(*ds);
}

Status Platform::set_dataset_readonly(std::string_view id, bool readonly) {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->write());
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, id));
  if (!ds) return no_dataset(id);
  ds->readonly = readonly;
  ds->updated_ms = options_.clock->now_ms();
  DLFS_TRY(catalog_->put_dataset(txn, *ds));
  return txn.commit();
}

Result<Item> Platform::get_item(std::string_view id) {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  DLFS_ASSIGN(auto item, catalog_->item(txn, id));
  if (!item) return Status(ENOENT, "no item with id '" + std::string(id) + "'");
  return std::move(*item);
}

Result<Item> Platform::get_item_by_path(std::string_view dataset_id, std::string_view path) {
  DLFS_ASSIGN(std::string normal, normalize_path(path));
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, dataset_id));
  if (!ds) return no_dataset(dataset_id);
  DLFS_ASSIGN(auto item, catalog_->item_at(txn, dataset_id, normal));
  if (!item) return Status(ENOENT, "no item at '" + normal + "' in dataset '" + ds->name + "'");
  return std::move(*item);
}

Result<ItemPage> Platform::list_dir(std::string_view dataset_id, std::string_view dir, std::string_view after,
                                    size_t page_size, bool include_hidden, std::string_view until) {
  DLFS_ASSIGN(std::string normal, normalize_path(dir));
  if (page_size == 0) return Status(EINVAL, "page size must be at least 1");
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, dataset_id));
  if (!ds) return no_dataset(dataset_id);
  DLFS_ASSIGN(auto folder, catalog_->entry_at(txn, dataset_id, normal));
  if (!folder) return Status(ENOENT, "no folder '" + normal + "' in dataset '" + ds->name + "'");
  if (folder->type != ItemType::kDir) return Status(ENOTDIR, "'" + normal + "' is a file, not a folder");

  DLFS_ASSIGN(auto ids, folder_ids_.of(*catalog_, txn, dataset_id, normal,
                                        include_hidden ? FolderIds::Hidden::kAll : FolderIds::Hidden::kVisible));
  auto from = std::upper_bound(ids->begin(), ids->end(), after);  // after "": from the first
  auto to = until.empty() ? ids->end() : std::upper_bound(from, ids->end(), until);
  DLFS_ASSIGN(ItemPage page, page_of(*catalog_, txn, *ids, uint64_t(from - ids->begin()),
                                     uint64_t(to - ids->begin()), page_size));
  page.total = until.empty() ? ids->size() : uint64_t(to - from);  // (a range: what is in it)
  return page;
}

Result<Platform::ListingRange> Platform::listing_range(const LmdbTxn& txn, std::string_view dataset_id,
                                                      const DqlQuery& q, const DqlListing& listing) {
  ListingRange range;
  if (!validate_path(listing.dir)) return range;
  auto hidden = !listing.hidden ? FolderIds::Hidden::kAll
                : *listing.hidden ? FolderIds::Hidden::kHiddenOnly
                                  : FolderIds::Hidden::kVisible;
  DLFS_ASSIGN(range.ids, folder_ids_.of(*catalog_, txn, dataset_id, listing.dir, hidden));
  // The matches are the ids after the cursor (up to a range's end): a page is found by binary
  // search, not a walk.
  const auto& all = *range.ids;
  auto from = listing.after ? std::upper_bound(all.begin(), all.end(), *listing.after) : all.begin();
  auto to = listing.until ? std::upper_bound(from, all.end(), *listing.until) : all.end();
  range.first = uint64_t(from - all.begin()) + uint64_t(q.page()) * q.page_size();
  range.end = uint64_t(to - all.begin());
  range.total = uint64_t(to - from);
  return range;
}

Result<std::optional<RecordPage>> Platform::listing_records(std::string_view dataset_id, const json& body) {
  DLFS_ASSIGN(DqlQuery q, DqlQuery::parse(body, "items"));
  auto listing = q.listing();
  if (!listing || q.update() || q.is_delete()) return std::optional<RecordPage>();
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, dataset_id));
  if (!ds) return no_dataset(dataset_id);
  DLFS_ASSIGN(ListingRange range, listing_range(txn, dataset_id, q, *listing));
  RecordPage page;
  page.page_size = q.page_size();
  if (!range.ids) return std::optional<RecordPage>(std::move(page));
  DLFS_ASSIGN(bool more, walk_page(*range.ids, range.first, range.end, q.page_size(),
                                   [&](const std::string& id) -> Result<bool> {
                                     DLFS_ASSIGN(auto record, catalog_->item_record(txn, id));
                                     if (record) page.records.push_back(std::move(*record));
                                     return record.has_value();
                                   }));
  page.has_next = more && !page.records.empty();
  page.total = range.total;
  return std::optional<RecordPage>(std::move(page));
}

Result<QueryOutcome> Platform::query(std::string_view dataset_id, const json& body, std::string_view user) {
  DLFS_ASSIGN(DqlQuery q, DqlQuery::parse(body, "items"));
  bool writes = q.update().has_value() || q.is_delete();
  DLFS_ASSIGN(LmdbTxn txn, writes ? catalog_->write() : catalog_->read());
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, dataset_id));
  if (!ds) return no_dataset(dataset_id);

  if (auto listing = q.listing()) {
    // A folder listing (what a mount pages with): the path index holds every field the filter
    // looks at, so the matches are counted there and only the page's items are decoded.
    DLFS_ASSIGN(ListingRange range, listing_range(txn, dataset_id, q, *listing));
    if (!range.ids) return QueryOutcome{};
    DLFS_ASSIGN(ItemPage page, page_of(*catalog_, txn, *range.ids, range.first, range.end, q.page_size()));
    page.total = range.total;
    return QueryOutcome{std::move(page), 0};
  }

  // Candidates: one path lookup, one folder walk, or the dataset in id order.
  std::vector<std::pair<json, Item>> matches;
  auto consider = [&](Item item) {
    json doc = item_to_json(item);
    if (q.matches(doc)) matches.emplace_back(std::move(doc), std::move(item));
  };
  if (auto filename = q.pinned_string("filename")) {
    auto normal = normalize_path(*filename);
    if (normal && *normal == *filename) {
      DLFS_ASSIGN(auto item, catalog_->item_at(txn, dataset_id, *filename));
      if (item) consider(std::move(*item));
    }
  } else if (auto ids = q.pinned_ids()) {
    // By id (a mount asking after its uploads' preprocessing): each looked up, no scan.
    std::sort(ids->begin(), ids->end());
    ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
    for (const auto& id : *ids) {
      DLFS_ASSIGN(auto item, catalog_->item(txn, id));
      if (item && item->dataset_id == dataset_id) consider(std::move(*item));
    }
  } else if (auto dir = q.pinned_string("dir")) {
    // Keyset paging through a folder: what is at or before the cursor cannot match, so it is
    // not decoded (decoding is the cost: the folder's ids come from the path index).
    std::optional<std::string> after = q.id_after();
    if (validate_path(*dir)) {
      DLFS_ASSIGN(auto ids, folder_ids_.of(*catalog_, txn, dataset_id, *dir, FolderIds::Hidden::kAll, !writes));
      for (auto it = after ? std::upper_bound(ids->begin(), ids->end(), *after) : ids->begin(); it != ids->end(); ++it) {
        DLFS_ASSIGN(auto item, catalog_->item(txn, *it));
        if (item) consider(std::move(*item));
      }
    }
  } else {
    DLFS_TRY(catalog_->scan_items(txn, dataset_id, q.id_after().value_or(""), [&](const Item& item) {
      consider(item);
      return true;
    }));
  }
  std::sort(matches.begin(), matches.end(),
            [&](const auto& a, const auto& b) { return q.compare(a.first, b.first) < 0; });

  QueryOutcome out;
  out.page.total = matches.size();
  if (q.update()) {
    for (auto& [doc, item] : matches) {
      std::vector<std::string> no_blobs;  // a bulk update never moves (no system flag)
      DLFS_ASSIGN(item, apply_patch(txn, std::move(item), *q.update(), false, user, {}, no_blobs));
      ++out.affected;
    }
  } else if (q.is_delete()) {
    std::vector<std::string> blob_keys;
    int64_t removed_files = 0;
    for (auto& [doc, item] : matches) {
      if (item.filename == "/") continue;  // the root stays; its contents may go
      DLFS_ASSIGN(auto still, catalog_->item(txn, item.id));  // gone with a folder deleted before it?
      if (!still) continue;
      DLFS_ASSIGN(uint64_t files, erase_tree(txn, *still, blob_keys));
      removed_files += int64_t(files);
      ++out.affected;
    }
    DLFS_TRY(add_to_count(txn, dataset_id, -removed_files));
    DLFS_TRY(txn.commit());
    remove_blobs(blob_keys);
    return out;
  }
  uint64_t first = uint64_t(q.page()) * q.page_size();
  for (uint64_t i = first; i < matches.size() && out.page.items.size() < q.page_size(); ++i)
    out.page.items.push_back(std::move(matches[i].second));
  if (first + out.page.items.size() < matches.size() && !out.page.items.empty())
    out.page.next_after = out.page.items.back().id;
  if (writes) DLFS_TRY(txn.commit());
  return out;
}

Result<std::string> Platform::blob_key_of(const Item& item) {
  if (item.is_dir()) return Status(EISDIR, "'" + item.filename + "' is a folder");
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  DLFS_ASSIGN(auto k, catalog_->blob_key(txn, item.id));
  if (!k) return Status(ENOENT, "item '" + item.filename + "' has no stored binary");
  return std::move(*k);
}

Result<size_t> Platform::read(const Item& item, uint64_t offset, std::span<char> out) {
  DLFS_ASSIGN(std::string key, blob_key_of(item));
  return read_blob(key, offset, out);
}

Platform::ItemBinary::~ItemBinary() {
  if (fd >= 0) ::close(fd);
}

Result<std::unique_ptr<Platform::ItemBinary>> Platform::open_item_binary(std::string_view id) {
  for (int attempt = 0;; ++attempt) {
    auto out = std::make_unique<ItemBinary>();
    {
      DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
      DLFS_ASSIGN(auto item, catalog_->item(txn, id));
      if (!item) return Status(ENOENT, "no item '" + std::string(id) + "'");
      out->item = std::move(*item);
      if (out->item.is_dir()) return out;
      DLFS_ASSIGN(auto key, catalog_->blob_key(txn, id));
      if (!key) return Status(ENOENT, "item '" + out->item.filename + "' has no stored binary");
      out->key = std::move(*key);
    }
    if (parse_inline_blob_key(out->key) || parse_external_blob_key(out->key)) return out;
    // Opened after the snapshot: an upload that replaced the item since may have removed this
    // binary already; the item is then taken again as it is now.
    auto fd = storage_->open_read(out->key);
    if (fd) {
      out->fd = *fd;
      return out;
    }
    if (fd.err() != ENOENT || attempt >= 2) {
      if (fd.err() == ENOTSUP) return out;  // (a storage without local files: read by key)
      return fd.status().wrap("reading '" + out->item.filename + "'");
    }
  }
}

Result<size_t> Platform::read_binary(const ItemBinary& binary, uint64_t offset, std::span<char> out) {
  if (binary.fd >= 0) return pread_full(binary.fd, offset, out);
  return read_blob(binary.key, offset, out);
}

Result<int> Platform::open_binary(const Item& item) {
  DLFS_ASSIGN(std::string key, blob_key_of(item));
  if (parse_inline_blob_key(key) || parse_external_blob_key(key))
    return Status(ENODATA, "the binary of '" + item.filename + "' is not a local file");
  return storage_->open_read(key);
}

Result<std::string> Platform::thumbnail(const Item& item) {
  const json& sys = item.system();
  auto tid = sys.find("thumbnailId");
  if (tid == sys.end() || !tid->is_string()) return thumbnail_on_demand(item);
  auto found = get_item(tid->get<std::string>());
  if (!found) return thumbnail_on_demand(item);
  const Item& thumb = *found;
  std::string bytes(thumb.size(), '\0');
  DLFS_ASSIGN(size_t n, read(thumb, 0, std::span<char>(bytes.data(), bytes.size())));
  bytes.resize(n);
  return bytes;
}

uint64_t dataset_items_quota(const Dataset& ds) {
  const json* q = find_dotted(ds.metadata, "system.itemsQuota");
  return q && q->is_number_unsigned() ? q->get<uint64_t>() : 0;
}

namespace {

Result<uint64_t> store_items(const Catalog& catalog, const LmdbTxn& txn) {
  DLFS_ASSIGN(auto all, catalog.datasets(txn));
  uint64_t n = 0;
  for (const Dataset& ds : all) n += ds.items_count;
  return n;
}

}  // namespace

Status Platform::check_room(LmdbTxn& txn, const Dataset& ds, uint64_t items) {
  uint64_t quota = dataset_items_quota(ds);
  if (quota && ds.items_count + items > quota)
    return Status(EDQUOT, "dataset '" + ds.name + "' is full: " + std::to_string(ds.items_count) + " of its quota of " +
                              std::to_string(quota) + " items (`dlfs quota set " + ds.name + " N` raises it)");
  DLFS_ASSIGN(uint64_t store_quota, catalog_->store_items_quota(txn));
  if (store_quota) {
    DLFS_ASSIGN(uint64_t total, store_items(*catalog_, txn));
    if (total + items > store_quota)
      return Status(EDQUOT, "the store is full: " + std::to_string(total) + " of its quota of " + std::to_string(store_quota) +
                                " items (`dlfs quota set --store N` raises it)");
  }
  return {};
}

Status Platform::add_to_count(LmdbTxn& txn, std::string_view dataset_id, int64_t delta) {
  if (delta == 0) return {};
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, dataset_id));
  if (!ds) return no_dataset(dataset_id);
  if (delta > 0) DLFS_TRY(check_room(txn, *ds, uint64_t(delta)));
  ds->items_count = uint64_t(std::max<int64_t>(0, int64_t(ds->items_count) + delta));
  ds->updated_ms = options_.clock->now_ms();
  return catalog_->put_dataset(txn, *ds);
}

Result<QuotaInfo> Platform::quota(std::string_view dataset_id) {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, dataset_id));
  if (!ds) return no_dataset(dataset_id);
  QuotaInfo q;
  q.dataset_items = ds->items_count;
  q.dataset_quota = dataset_items_quota(*ds);
  DLFS_ASSIGN(q.store_quota, catalog_->store_items_quota(txn));
  DLFS_ASSIGN(q.store_items, store_items(*catalog_, txn));
  return q;
}

Status Platform::set_dataset_quota(std::string_view dataset_id, uint64_t items) {
  return set_dataset_count(dataset_id, "itemsQuota", items);
}

Status Platform::set_dataset_count(std::string_view dataset_id, const std::string& key, uint64_t value) {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->write());
  DLFS_ASSIGN(auto ds, catalog_->dataset(txn, dataset_id));
  if (!ds) return no_dataset(dataset_id);
  json& sys = ds->metadata["system"];
  if (value) sys[key] = value;
  else sys.erase(key);
  ds->updated_ms = options_.clock->now_ms();
  DLFS_TRY(catalog_->put_dataset(txn, *ds));
  return txn.commit();
}

Status Platform::set_store_quota(uint64_t items) {
  DLFS_ASSIGN(LmdbTxn txn, catalog_->write());
  DLFS_TRY(catalog_->put_store_items_quota(txn, items));
  return txn.commit();
}

void Platform::remove_blobs(const std::vector<std::string>& keys) {
  for (const auto& key : keys) drop_blob(key);
}

}  // namespace dlfs
