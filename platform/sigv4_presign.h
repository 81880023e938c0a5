// AWS Signature Version 4 in the query string ("presigned URLs"): a URL that lets whoever holds
// it GET one object until it expires, without the credentials. libcurl signs requests it sends
// (CURLOPT_AWS_SIGV4) but has no presigner, and no Debian package offers one for C/C++; this is
// the documented algorithm (canonical request, string to sign, HMAC chain) over OpenSSL's
// SHA-256 and HMAC, checked against AWS's published example. S3 and GCS (HMAC keys, its S3
// interoperability) take it; GCS's V4 signing with a service account is the same algorithm
// with X-Goog-* parameters, "goog4_request" and the string to sign signed RSA-SHA256.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"

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
  // GCS with a service account (GOOG4-RSA-SHA256): the raw RSA-SHA256 signature of the string to
  // sign; access_key is then the account's email, service "storage". Unset: AWS4-HMAC-SHA256.
  std::function<Result<std::string>(std::string_view string_to_sign)> rsa_sign;
};

// The query string that authorizes the request ("X-Amz-Algorithm=...&X-Amz-Signature=...", or
// X-Goog-*), to append after '?'.
Result<std::string> sigv4_presigned_query(const SigV4Presign& request);
// What its signature signs (tests check an RSA signature with the public key).
std::string sigv4_string_to_sign(const SigV4Presign& request);

// SigV4's time stamp: "20130524T000000Z".
std::string sigv4_timestamp(int64_t epoch_s);

}  // namespace dlfs
