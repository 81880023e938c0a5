// The Remote and Connection interfaces over the embedded platform (in-process, no server).
#pragma once

#include <memory>
#include <string>

#include "remote/remote.h"

namespace dlfs {

class Platform;

struct LocalOptions {
  std::string store_dir;           // the platform's store (core/dirs.h default_store_dir())
  std::string user = "dev@local";  // who this client is
  // The embedded platform fetches link targets at private addresses (mount.dlfs -o
  // link_allow_private; tests reach their servers on 127.0.0.1 so).
  bool link_allow_private = false;
  std::string link_private_hint = {};  // how this program's user allows them
};

class LocalConnection : public Connection {
 public:
  static Result<std::unique_ptr<LocalConnection>> open(const LocalOptions& options);
  ~LocalConnection() override;

  Result<std::vector<Dataset>> list_datasets() override;
  Result<Dataset> create_dataset(std::string_view name, std::string_view driver_id = {}) override;
  Result<Driver> create_driver(const json& body) override;
  Result<std::vector<Driver>> list_drivers() override;
  // Runs the sync in this process.
  Result<json> sync_dataset(std::string_view name_or_id, const SyncProgress& progress = {}) override;
  Result<json> clone_dataset(std::string_view name_or_id, const json& request,
                             const SyncProgress& progress = {}) override;
  // Runs the import in this process.
  Result<json> import_csv(std::string_view name_or_id, const std::string& csv_file, std::string_view to,
                          const SyncProgress& progress = {}) override;
  Result<QuotaInfo> quota(std::string_view name_or_id) override;
  Status set_quota(std::string_view name_or_id, uint64_t items) override;
  Status set_sync_interval(std::string_view name_or_id, uint64_t seconds) override;
  Result<Dataset> find_dataset(std::string_view name_or_id) override;
  Status delete_dataset(std::string_view name_or_id) override;
  Result<std::unique_ptr<Remote>> open(std::string_view name_or_id) override;
  std::string user() const override { return options_.user; }

  // The platform behind this connection (shared with the Remotes it opens).
  const std::shared_ptr<Platform>& platform() const { return platform_; }

 private:
  LocalConnection(LocalOptions options, std::shared_ptr<Platform> platform);
  LocalOptions options_;
  std::shared_ptr<Platform> platform_;
};

}  // namespace dlfs
