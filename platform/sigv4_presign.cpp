#include "platform/sigv4_presign.h"

#include <ctime>
#include <string_view>

#include "core/ids.h"
#include "net/http_client.h"

namespace dlfs {

std::string sigv4_timestamp(int64_t epoch_s) {
  time_t t = time_t(epoch_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

namespace {

struct Signing {
  std::string stamp, date, scope, query;  // query: every parameter but the signature, in order
  const char* algorithm;
  const char* prefix;  // "X-Amz-" or "X-Goog-"
};

Signing signing_of(const SigV4Presign& r) {
  Signing s;
  bool goog = bool(r.rsa_sign);
  s.algorithm = goog ? "GOOG4-RSA-SHA256" : "AWS4-HMAC-SHA256";
  s.prefix = goog ? "X-Goog-" : "X-Amz-";
  s.stamp = sigv4_timestamp(r.now_s);
  s.date = s.stamp.substr(0, 8);
  s.scope = s.date + "/" + r.region + "/" + r.service + (goog ? "/goog4_request" : "/aws4_request");
  // The parameters in canonical order (by name); the signature is added last.
  std::string p = s.prefix;
  s.query = p + "Algorithm=" + s.algorithm + "&" + p + "Credential=" + url_escape(r.access_key + "/" + s.scope) + "&" +
            p + "Date=" + s.stamp + "&" + p + "Expires=" + std::to_string(r.expires_s) + "&" + p +
            "SignedHeaders=host";
  return s;
}

std::string string_to_sign(const SigV4Presign& r, const Signing& s) {
  std::string canonical_request = r.method + "\n" + r.canonical_uri + "\n" + s.query + "\nhost:" + r.host +
                                  "\n\nhost\nUNSIGNED-PAYLOAD";
  return std::string(s.algorithm) + "\n" + s.stamp + "\n" + s.scope + "\n" + sha256_hex(canonical_request);
}

}  // namespace

std::string sigv4_string_to_sign(const SigV4Presign& r) { return string_to_sign(r, signing_of(r)); }

Result<std::string> sigv4_presigned_query(const SigV4Presign& r) {
  Signing s = signing_of(r);
  std::string to_sign = string_to_sign(r, s);
  std::string signature;
  if (r.rsa_sign) {
    DLFS_ASSIGN(signature, r.rsa_sign(to_sign));
  } else {
    std::string key = hmac_sha256("AWS4" + r.secret_key, s.date);
    key = hmac_sha256(key, r.region);
    key = hmac_sha256(key, r.service);
    key = hmac_sha256(key, "aws4_request");
    signature = hmac_sha256(key, to_sign);
  }
  return s.query + "&" + s.prefix + "Signature=" + hex_of(signature);
}

}  // namespace dlfs
