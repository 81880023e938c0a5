// The S3 object store (platform/object_store.h): a bucket of Amazon S3 or of an S3-compatible
// store (MinIO, Ceph, an emulator), over net/http_client.h with libcurl's AWS SigV4 signing.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "platform/object_store.h"

namespace dlfs {

struct S3StoreConfig {
  // "" = AWS (virtual-hosted https://BUCKET.s3.REGION.amazonaws.com/KEY); else path-style
  // ENDPOINT/BUCKET/KEY ("http://127.0.0.1:9000" for MinIO or an emulator).
  std::string endpoint;
  std::string bucket;
  std::string region = "us-east-1";
  // Both "" = unsigned requests (a public bucket).
  std::string access_key, secret_key;
  std::string ca_file;  // https with a private CA (PEM); "" for the system's
  long connect_timeout_ms = 10000;
  int max_attempts = 4;
  // Keys per ListObjectsV2 page; 0 = the store's default (S3: 1000). Tests page with fewer.
  int list_page_size = 0;
};

// Checks the configuration only (no request is sent): a bad bucket or credentials show at the
// first call.
Result<std::unique_ptr<ObjectStore>> open_s3_store(const S3StoreConfig& config);

}  // namespace dlfs
