#include "platform/driver.h"

#include "core/clock.h"
#include "core/item.h"
#include "core/paths.h"
#include "platform/gcs_oauth.h"
#include "platform/object_store_azure.h"
#include "platform/object_store_s3.h"

namespace dlfs {
namespace {

std::string string_field(const json& doc, const char* name) {
  auto it = doc.find(name);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string trim_slashes(std::string s) {
  while (!s.empty() && s.front() == '/') s.erase(0, 1);
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

json driver_to_json(const Driver& d, bool with_credentials) {
  json doc = {{"id", d.id},
              {"name", d.name},
              {"type", d.type},
              {"bucketName", d.bucket},
              {"path", d.path},
              {"allowExternalDelete", d.allow_external_delete},
              {"creator", d.creator},
              {"createdAt", format_iso8601(d.created_ms)}};
  if (!d.region.empty()) doc["region"] = d.region;
  if (!d.endpoint.empty()) doc["endpoint"] = d.endpoint;
  if (d.type == "azureblob") doc["containerName"] = d.bucket;
  if (with_credentials) doc["credentials"] = d.credentials;
  return doc;
}

Result<Driver> driver_from_json(const json& doc) {
  if (!doc.is_object()) return Status(EINVAL, "a driver must be a JSON object");
  Driver d;
  d.id = string_field(doc, "id");
  d.name = string_field(doc, "name");
  d.type = string_field(doc, "type");
  d.bucket = string_field(doc, "bucketName");
  if (d.bucket.empty()) d.bucket = string_field(doc, "containerName");
  d.path = trim_slashes(string_field(doc, "path"));
  d.region = string_field(doc, "region");
  d.endpoint = string_field(doc, "endpoint");
  if (auto it = doc.find("credentials"); it != doc.end() && it->is_object()) d.credentials = *it;
  if (auto it = doc.find("allowExternalDelete"); it != doc.end() && it->is_boolean())
    d.allow_external_delete = it->get<bool>();
  d.creator = string_field(doc, "creator");
  std::string created = string_field(doc, "createdAt");
  if (!created.empty()) {
    auto ms = parse_iso8601(created);
    if (ms) d.created_ms = *ms;
  }
  return d;
}

namespace {

// The service account of a gcs driver: its key file as a JSON object, or as the file's text.
Result<GcsServiceAccount> gcs_service_account(const Driver& d) {
  json key = d.credentials.value("serviceAccount", json());
  if (key.is_string()) {
    Result<json> parsed = parse_json(key.get<std::string>());
    if (!parsed) return Status(EINVAL, "\"serviceAccount\" is not a key file's JSON");
    key = std::move(*parsed);
  }
  return parse_gcs_service_account(key);
}

}  // namespace

Result<Driver> driver_from_request(const json& body) {
  DLFS_ASSIGN(Driver d, driver_from_json(body));
  if (d.name.empty()) return Status(EINVAL, "a driver needs a \"name\"");
  if (d.type != "local" && d.type != "s3" && d.type != "azureblob" && d.type != "gcs")
    return Status(EINVAL, "driver type '" + d.type + "' is not one of local, s3, azureblob, gcs");
  if (d.bucket.empty())
    return Status(EINVAL, d.type == "local" ? "a local driver needs \"bucketName\": the folder, an absolute path"
                                            : "a driver needs \"bucketName\" (the bucket or container)");
  if (!d.path.empty()) DLFS_TRY(check_object_key(d.path).wrap("the driver's \"path\""));
  auto cred = [&](const char* name) { return string_field(d.credentials, name); };
  if (d.type == "s3" && (cred("key").empty() || cred("secret").empty()))
    return Status(EINVAL, "an s3 driver needs \"credentials\": {\"key\", \"secret\"}");
  if (d.type == "azureblob" && (cred("account").empty() || (cred("key").empty() && cred("sas").empty())))
    return Status(EINVAL, "an azureblob driver needs \"credentials\": {\"account\", \"key\" or \"sas\"}");
  if (d.type == "gcs") {
    bool hmac = !cred("key").empty() && !cred("secret").empty();
    if (!hmac && !d.credentials.contains("serviceAccount"))
      return Status(EINVAL, "a gcs driver needs \"credentials\": {\"key\", \"secret\"} (an HMAC key) or "
                            "{\"serviceAccount\": the service account's key file}");
    if (!hmac) DLFS_TRY(gcs_service_account(d).status().wrap("the gcs driver's \"serviceAccount\""));
  }
  if (d.type == "s3" && d.region.empty()) d.region = "us-east-1";
  return d;
}

Result<std::unique_ptr<ObjectStore>> open_driver_store(const Driver& d) {
  auto cred = [&](const char* name) { return string_field(d.credentials, name); };
  if (d.type == "local") return open_local_folder_store(d.bucket);
  if (d.type == "s3") {
    S3StoreConfig c;
    c.endpoint = d.endpoint;
    c.bucket = d.bucket;
    if (!d.region.empty()) c.region = d.region;
    c.access_key = cred("key");
    c.secret_key = cred("secret");
    return open_s3_store(c);
  }
  if (d.type == "gcs") {
    // The XML API, S3's dialect: HMAC keys sign as SigV4 does; a service account's tokens go as
    // Bearer. Path-style URLs (the endpoint, then the bucket).
    S3StoreConfig c;
    c.endpoint = d.endpoint.empty() ? "https://storage.googleapis.com" : d.endpoint;
    c.bucket = d.bucket;
    c.region = d.region.empty() ? "auto" : d.region;
    c.access_key = cred("key");
    c.secret_key = cred("secret");
    if (c.access_key.empty()) {
      DLFS_ASSIGN(GcsServiceAccount account, gcs_service_account(d));
      c.url_signer_email = account.client_email;
      c.url_signer = [account](std::string_view bytes) { return gcs_rs256_sign(account, bytes); };
      DLFS_ASSIGN(std::shared_ptr<GcsTokenSource> tokens, GcsTokenSource::make(std::move(account)));
      c.bearer_token = [tokens] { return tokens->token(); };
      c.bearer_rejected = [tokens](const std::string& rejected) { tokens->invalidate(rejected); };
    }
    return open_s3_store(c);
  }
  if (d.type == "azureblob") {
    AzureStoreConfig c;
    c.endpoint = d.endpoint;
    c.account = cred("account");
    c.container = d.bucket;
    c.key = cred("key");
    c.sas = cred("sas");
    return open_azure_store(c);
  }
  return Status(ENOTSUP, "driver type '" + d.type + "' is not supported by this build");
}

std::string object_key_for(const Driver& driver, std::string_view item_path) {
  std::string rel(item_path.substr(item_path.starts_with('/') ? 1 : 0));
  return driver.path.empty() ? rel : driver.path + "/" + rel;
}

std::optional<std::string> item_path_for(const Driver& driver, std::string_view key) {
  if (!driver.path.empty()) {
    if (!key.starts_with(driver.path) || key.size() <= driver.path.size() + 1 || key[driver.path.size()] != '/')
      return std::nullopt;
    key.remove_prefix(driver.path.size() + 1);
  }
  if (!check_object_key(key)) return std::nullopt;
  auto path = normalize_path("/" + std::string(key));
  if (!path) return std::nullopt;
  return *path;
}

std::string external_blob_key(std::string_view driver_id, std::string_view object_key) {
  return "@" + std::string(driver_id) + "/" + std::string(object_key);
}

std::optional<ExternalBlob> parse_external_blob_key(std::string_view key) {
  if (!key.starts_with('@')) return std::nullopt;
  size_t slash = key.find('/');
  if (slash == std::string_view::npos || slash == 1) return std::nullopt;
  return ExternalBlob{std::string(key.substr(1, slash - 1)), std::string(key.substr(slash + 1))};
}

}  // namespace dlfs
