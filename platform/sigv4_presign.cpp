#include "platform/sigv4_presign.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctime>
#include <string_view>

namespace dlfs {
namespace {

std::string hex(const unsigned char* bytes, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  return hex(md, len);
}

std::string hmac_sha256(std::string_view key, std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(text.data()), text.size(), md,
       &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

// RFC 3986: unreserved characters kept, every other byte %XX (upper case) — SigV4's rule, and
// what curl_easy_escape does.
std::string uri_escape(std::string_view text) {
  char* escaped = curl_easy_escape(nullptr, text.data(), int(text.size()));
  std::string out = escaped ? escaped : "";
  curl_free(escaped);
  return out;
}

}  // namespace

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
  s.query = p + "Algorithm=" + s.algorithm + "&" + p + "Credential=" + uri_escape(r.access_key + "/" + s.scope) + "&" +
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
  return s.query + "&" + s.prefix + "Signature=" +
         hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

}  // namespace dlfs
