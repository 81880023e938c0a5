// Storage drivers: a dataset whose binaries live in the user's own bucket (S3, Azure Blob, or a
// folder of the server's machine) instead of the platform's storage. A driver names the bucket,
// a path prefix in it and the credentials; a dataset created with the driver keeps item
// /a/b.jpg as object "<prefix>/a/b.jpg", and the platform indexes objects already there
// (imports, sync).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/json_util.h"
#include "core/result.h"
#include "platform/object_store.h"

namespace dlfs {

struct Driver {
  std::string id;
  std::string name;
  std::string type;    // "local", "s3", "azureblob", "gcs"
  std::string bucket;  // the S3 bucket, the Azure container; for "local" the folder (absolute)
  std::string path;    // the prefix in the bucket ("" for the whole bucket), no '/' at either end
  std::string region;  // S3
  std::string endpoint;  // S3-compatible stores and emulators; Azure: the blob service URL; GCS: its XML API
  // s3: {"key","secret"}; azureblob: {"account","key"} or {"account","sas"}; gcs: {"key","secret"}
  // (an HMAC key) or {"serviceAccount": the key file}. Never in an answer.
  json credentials = json::object();
  bool allow_external_delete = false;  // deleting an item deletes its object too
  std::string creator;
  int64_t created_ms = 0;
};

// The API's Driver (API.md); credentials only with `with_credentials` (the catalogue's copy).
json driver_to_json(const Driver& driver, bool with_credentials = false);
Result<Driver> driver_from_json(const json& doc);
// A driver from a POST /drivers body: checks the type and what it needs (EINVAL with why).
Result<Driver> driver_from_request(const json& body);

// Opens the driver's bucket (the platform's default; tests put a fake in its place).
using ObjectStoreOpener = std::function<Result<std::unique_ptr<ObjectStore>>(const Driver&)>;
Result<std::unique_ptr<ObjectStore>> open_driver_store(const Driver& driver);

// The object of item `item_path` ("/a/b.jpg") in the driver's bucket, and back (nullopt when
// the key is not under the driver's prefix or makes no item path).
std::string object_key_for(const Driver& driver, std::string_view item_path);
std::optional<std::string> item_path_for(const Driver& driver, std::string_view object_key);

// How the catalogue names a binary held in a driver's bucket: "@<driver id>/<object key>". The
// platform's own keys are ids, never starting with '@'.
std::string external_blob_key(std::string_view driver_id, std::string_view object_key);
struct ExternalBlob {
  std::string driver_id;
  std::string object_key;
};
std::optional<ExternalBlob> parse_external_blob_key(std::string_view key);

}  // namespace dlfs
