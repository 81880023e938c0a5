// The S3 object store (platform/object_store.h): a bucket of Amazon S3 or of an S3-compatible
// store (MinIO, Ceph, an emulator), over net/http_client.h with libcurl's AWS SigV4 signing.
#pragma once

#include <cstdint>
#include <functional>
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
  // Both "" = unsigned requests (a public bucket), or bearer tokens:
  std::string access_key, secret_key;
  // An OAuth 2.0 access token for each request ("Authorization: Bearer"), instead of SigV4: GCS's
  // XML API with a service account. A 401 hands the token back to `bearer_rejected` and the
  // request is tried once more with a new one.
  std::function<Result<std::string>()> bearer_token;
  std::function<void(const std::string& rejected)> bearer_rejected;
  // With bearer tokens, presigned URLs signed GOOG4-RSA-SHA256 by the service account (its email,
  // its key's RSA-SHA256 of the bytes); unset: such a store makes none.
  std::string url_signer_email;
  std::function<Result<std::string>(std::string_view bytes)> url_signer;
  std::string ca_file;  // https with a private CA (PEM); "" for the system's
  long connect_timeout_ms = 10000;
  int max_attempts = 4;
  // Keys per ListObjectsV2 page; 0 = the store's default (S3: 1000). Tests page with fewer.
  int list_page_size = 0;
  // Files of at least multipart_threshold bytes (and all over 5 GiB) upload as a multipart
  // upload: parts of part_size (grown so a file needs at most 10,000; S3 wants at least 5 MiB),
  // upload_parallel at once, resumed from an upload of the key left unfinished
  // (platform/s3_multipart.h). Objects over single_copy_max (S3: 5 GiB) copy in copy_part_size parts.
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 16ull << 20;
  unsigned upload_parallel = 4;
  uint64_t single_copy_max = 5ull << 30;
  uint64_t copy_part_size = 1ull << 30;
  // Tests: called before each part is sent; an error fails the part (an upload dying part-way).
  std::function<Status(int part_number)> before_part_for_test;
};

// Checks the configuration only (no request is sent): a bad bucket or credentials show at the
// first call.
Result<std::unique_ptr<ObjectStore>> open_s3_store(const S3StoreConfig& config);

}  // namespace dlfs
