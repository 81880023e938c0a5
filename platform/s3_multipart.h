// Multipart uploads and copies of the S3 store (platform/object_store_s3.cpp): a file too large
// for one PUT (S3 takes at most 5 GiB; large files also go faster in parallel parts) is sent as
// CreateMultipartUpload + UploadPart × N (several at once) + CompleteMultipartUpload, and an
// object too large for one CopyObject is copied as UploadPartCopy parts.
//
// Resuming: an upload the process did not finish (it died, or the network went away for longer
// than the retries) stays in the bucket; the next upload of the same key to the same store asks
// ListMultipartUploads for it and sends only the parts whose size and MD5 (the part's ETag)
// differ from the file's. An upload that cannot succeed (a refusal, the local file unreadable)
// is aborted. What is left by a crash is the bucket's to expire (an
// AbortIncompleteMultipartUpload lifecycle rule), as for every S3 client.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "net/http_client.h"

namespace dlfs {

// What the multipart calls need of the store: its signed, error-mapped request, and its paths.
class S3Calls {
 public:
  virtual ~S3Calls() = default;
  // Sends a request about `key` ("" for the bucket); 4xx answers as a Status (unless accepted).
  virtual Result<HttpResponse> call(HttpRequest req, std::string_view key) = 0;
  // "/KEY" escaped, relative to the store's base URL.
  virtual std::string object_path(std::string_view key) = 0;
  // The bucket's own path with this (canonically ordered, escaped) query.
  virtual std::string bucket_path(const std::string& query) = 0;
  virtual std::string escape(std::string_view text) = 0;
  virtual const std::string& bucket_name() const = 0;
};

struct S3PartPlan {
  uint64_t part_size = 16ull << 20;
  unsigned parallel = 4;
  // Called before each part is sent (not for parts resumed); an error fails that part as the
  // store would (tests: an upload that dies part-way).
  std::function<Status(int part_number)> before_part;
};

// S3's limits: at most 10,000 parts, each at most 5 GiB; all but the last at least 5 MiB (the
// caller's part size is grown to fit the count; a smaller one is the caller's choice, for
// stores and tests without the minimum).
inline constexpr int kS3MaxParts = 10000;
inline constexpr uint64_t kS3MaxPartSize = 5ull << 30;
uint64_t s3_part_size_for(uint64_t object_size, uint64_t wanted_part_size);

// Uploads `local_file` (`size` bytes) to `key`; answers the object's ETag.
Result<std::string> s3_multipart_put(S3Calls& s3, std::string_view key, const std::string& local_file,
                                     uint64_t size, const S3PartPlan& plan);
// Copies object `from` (`size` bytes) to `to` with UploadPartCopy; answers the new ETag.
Result<std::string> s3_multipart_copy(S3Calls& s3, std::string_view from, std::string_view to, uint64_t size,
                                      const S3PartPlan& plan);

}  // namespace dlfs
