// The Remote and Connection interfaces over HTTP: dlfsd or a compatible gate speaking API.md.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "net/http_client.h"
#include "remote/remote.h"

namespace dlfs {

class HttpConnection : public Connection {
 public:
  explicit HttpConnection(HttpOptions options);
  ~HttpConnection() override;

  Result<std::vector<Dataset>> list_datasets() override;
  Result<Dataset> create_dataset(std::string_view name, std::string_view driver_id = {}) override;
  Result<Driver> create_driver(const json& body) override;
  Result<std::vector<Driver>> list_drivers() override;
  // POST /datasets/{id}/sync, then GET /commands/{id} until the command ends.
  Result<json> sync_dataset(std::string_view name_or_id, const SyncProgress& progress = {}) override;
  Result<json> clone_dataset(std::string_view name_or_id, const json& request,
                             const SyncProgress& progress = {}) override;
  // POST /datasets/{id}/imports/csv?name=&to= with the file as the body (streamed), then GET
  // /commands/{id} until the command ends.
  Result<json> import_csv(std::string_view name_or_id, const std::string& csv_file, std::string_view to,
                          const SyncProgress& progress = {}) override;
  Result<QuotaInfo> quota(std::string_view name_or_id) override;
  Status set_quota(std::string_view name_or_id, uint64_t items) override;
  Status set_sync_interval(std::string_view name_or_id, uint64_t seconds) override;
  Result<Dataset> find_dataset(std::string_view name_or_id) override;
  Status delete_dataset(std::string_view name_or_id) override;
  Result<std::unique_ptr<Remote>> open(std::string_view name_or_id) override;
  // The token's email from GET /users/me (asked once; "" if the server cannot tell).
  std::string user() const override;

  const std::string& base_url() const { return client_->options().base_url; }

 private:
  // GET /commands/{id} until the command ends; `what` names the job in errors.
  Result<json> wait_command(const json& started, std::string_view what, const SyncProgress& progress);
  std::shared_ptr<HttpClient> client_;
  mutable std::mutex user_mu_;
  mutable std::optional<std::string> user_;
};

}  // namespace dlfs
