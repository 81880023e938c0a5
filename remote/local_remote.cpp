#include "remote/local_remote.h"

#include "core/paths.h"
#include "platform/csv_rows.h"
#include "platform/platform.h"

namespace dlfs {
namespace {

// One dataset of the embedded platform. Every call goes straight to the platform (in-process:
// there is nothing to batch or retry).
class LocalRemote : public Remote {
 public:
  LocalRemote(std::shared_ptr<Platform> platform, Dataset dataset, std::string user)
      : platform_(std::move(platform)), dataset_(std::move(dataset)), user_(std::move(user)) {}

  const Dataset& dataset() const override { return dataset_; }

  Result<ItemPage> list_range(std::string_view dir, std::string_view after, std::string_view until,
                              size_t page_size) override {
    return platform_->list_dir(dataset_.id, dir, after, page_size, /*include_hidden=*/false, until);
  }

  Result<Item> get(std::string_view path) override { return platform_->get_item_by_path(dataset_.id, path); }

  Result<Item> get_by_id(std::string_view id) override {
    DLFS_ASSIGN(Item item, platform_->get_item(id));
    if (item.dataset_id != dataset_.id)
      return Status(ENOENT, "item '" + std::string(id) + "' is not in dataset '" + dataset_.name + "'");
    return item;
  }

  Result<ItemPage> query(const json& dql) override {
    DLFS_ASSIGN(QueryOutcome out, platform_->query(dataset_.id, dql, user_));
    return std::move(out.page);
  }

  Result<size_t> read(const Item& item, uint64_t offset, std::span<char> out) override {
    return platform_->read(item, offset, out);
  }

  Result<int> open_local(const Item& item) override {
    if (!dataset_.driver.empty()) return Status(ENOTSUP, "the binaries are in the driver's bucket");
    return platform_->open_binary(item);
  }

  Result<std::string> thumbnail(const Item& item) override { return platform_->thumbnail(item); }

  Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                              const UploadOptions& options) override {
    UploadOptions opts = options;
    opts.user = user_;
    return platform_->upload_file(dataset_.id, local_file, remote_path, opts);
  }

  std::vector<Result<UploadResult>> upload_files(std::span<const FileUpload> files) override {
    std::vector<FileUpload> mine(files.begin(), files.end());
    for (FileUpload& f : mine) f.options.user = user_;
    return platform_->upload_files(dataset_.id, mine);
  }

  bool links_from(const std::string& dir) override {
    return dataset_.driver.empty() && platform_->storage_links_from(dir);
  }

  Result<Item> patch(std::string_view id, const json& patch, bool system) override {
    DLFS_TRY(get_by_id(id).status());
    return platform_->patch_item(id, patch, system, user_);
  }

  std::vector<Result<Item>> patch_many(std::span<const ItemPatch> patches) override {
    return platform_->patch_items(dataset_.id, patches, user_);
  }

  Result<Item> move(std::string_view id, std::string_view new_path, std::string_view replace_id) override {
    DLFS_TRY(get_by_id(id).status());
    return platform_->move_item(id, new_path, user_, replace_id);
  }

  Status remove(std::string_view id) override {
    DLFS_TRY(get_by_id(id).status());
    return platform_->delete_item(id);
  }

  Result<Item> make_dir(std::string_view path) override { return platform_->make_dir(dataset_.id, path, user_); }

  Result<QuotaInfo> quota() override { return platform_->quota(dataset_.id); }

 private:
  std::shared_ptr<Platform> platform_;
  Dataset dataset_;
  std::string user_;
};

}  // namespace

LocalConnection::LocalConnection(LocalOptions options, std::shared_ptr<Platform> platform)
    : options_(std::move(options)), platform_(std::move(platform)) {}

LocalConnection::~LocalConnection() = default;

Result<std::unique_ptr<LocalConnection>> LocalConnection::open(const LocalOptions& options) {
  PlatformOptions po;
  po.store_dir = options.store_dir;
  po.link_policy.allow_private = options.link_allow_private;
  po.link_policy.private_hint = options.link_private_hint;
  DLFS_ASSIGN(auto platform, Platform::open(po));
  return std::unique_ptr<LocalConnection>(new LocalConnection(options, std::move(platform)));
}

Result<std::vector<Dataset>> LocalConnection::list_datasets() { return platform_->list_datasets(); }

Result<Dataset> LocalConnection::create_dataset(std::string_view name, std::string_view driver_id) {
  return platform_->create_dataset(name, options_.user, driver_id);
}

Result<Driver> LocalConnection::create_driver(const json& body) { return platform_->create_driver(body, options_.user); }

Result<std::vector<Driver>> LocalConnection::list_drivers() { return platform_->list_drivers(); }

Result<json> LocalConnection::sync_dataset(std::string_view name_or_id, const SyncProgress& progress) {
  DLFS_ASSIGN(Dataset ds, platform_->find_dataset(name_or_id));
  DLFS_ASSIGN(SyncReport report, platform_->sync_dataset(ds.id, options_.user, [&](const SyncReport& r, int percent) {
                if (progress) progress(percent, r.to_json());
              }));
  return report.to_json();
}

Result<json> LocalConnection::clone_dataset(std::string_view name_or_id, const json& request,
                                            const SyncProgress& progress) {
  DLFS_ASSIGN(Dataset ds, platform_->find_dataset(name_or_id));
  DLFS_ASSIGN(CloneRequest r, CloneRequest::from_api(request));
  DLFS_TRY(platform_->clone_target(ds.id, r, options_.user).status());
  DLFS_ASSIGN(CloneReport report, platform_->clone_items(ds.id, r, options_.user, [&](const CloneReport& so_far, int percent) {
                if (progress) progress(percent, so_far.to_json());
              }));
  return report.to_json();
}

Result<json> LocalConnection::import_csv(std::string_view name_or_id, const std::string& csv_file, std::string_view to,
                                         const SyncProgress& progress) {
  DLFS_ASSIGN(Dataset ds, platform_->find_dataset(name_or_id));
  DLFS_ASSIGN(std::string folder, csv_import_folder(to, csv_file));
  DLFS_ASSIGN(CsvImportReport report,
              platform_->import_csv(ds.id, csv_file, folder, options_.user, [&](const CsvImportReport& r, int percent) {
                if (progress) progress(percent, r.to_json());
                return true;
              }));
  return report.to_json();
}

Result<QuotaInfo> LocalConnection::quota(std::string_view name_or_id) {
  DLFS_ASSIGN(Dataset ds, platform_->find_dataset(name_or_id));
  return platform_->quota(ds.id);
}

Status LocalConnection::set_quota(std::string_view name_or_id, uint64_t items) {
  if (name_or_id.empty()) return platform_->set_store_quota(items);
  DLFS_ASSIGN(Dataset ds, platform_->find_dataset(name_or_id));
  return platform_->set_dataset_quota(ds.id, items);
}

Status LocalConnection::set_sync_interval(std::string_view name_or_id, uint64_t seconds) {
  DLFS_ASSIGN(Dataset ds, platform_->find_dataset(name_or_id));
  return platform_->set_sync_interval(ds.id, seconds);
}

Result<Dataset> LocalConnection::find_dataset(std::string_view name_or_id) {
  return platform_->find_dataset(name_or_id);
}

Status LocalConnection::delete_dataset(std::string_view name_or_id) {
  DLFS_ASSIGN(Dataset ds, platform_->find_dataset(name_or_id));
  return platform_->delete_dataset(ds.id);
}

Result<std::unique_ptr<Remote>> LocalConnection::open(std::string_view name_or_id) {
  DLFS_ASSIGN(Dataset ds, platform_->find_dataset(name_or_id));
  return std::unique_ptr<Remote>(new LocalRemote(platform_, std::move(ds), options_.user));
}

}  // namespace dlfs
