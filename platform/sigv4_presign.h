// AWS Signature Version 4 in the query string ("presigned URLs"): a URL that lets whoever holds
// it GET one object until it expires, without the credentials. libcurl signs requests it sends
// (CURLOPT_AWS_SIGV4) but has no presigner, and no Debian package offers one for C/C++; this is
// the documented algorithm (canonical request, string to sign, HMAC chain) over OpenSSL's
// SHA-256 and HMAC, checked against AWS's published example. S3 and GCS (HMAC keys, its S3
// interoperability) take it.
#pragma once

#include <cstdint>
#include <string>

namespace dlfs {

struct SigV4Presign {
  std::string method = "GET";
  std::string host;           // the Host header as sent: "bucket.s3.us-east-1.amazonaws.com", "127.0.0.1:9000"
  std::string canonical_uri;  // the path as sent, each segment already URI-escaped ("/bucket/a%20b.jpg")
  std::string region;
  std::string service = "s3";
  std::string access_key;
  std::string secret_key;
  int64_t now_s = 0;       // signing time (seconds since the epoch)
  int64_t expires_s = 900;  // validity from now_s (S3: at most 7 days)
};

// The query string that authorizes the request ("X-Amz-Algorithm=...&X-Amz-Signature=..."),
// to append after '?'.
std::string sigv4_presigned_query(const SigV4Presign& request);

// SigV4's time stamp: "20130524T000000Z".
std::string sigv4_timestamp(int64_t epoch_s);

}  // namespace dlfs
