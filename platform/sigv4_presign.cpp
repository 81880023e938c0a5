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

std::string sigv4_presigned_query(const SigV4Presign& r) {
  std::string stamp = sigv4_timestamp(r.now_s);
  std::string date = stamp.substr(0, 8);
  std::string scope = date + "/" + r.region + "/" + r.service + "/aws4_request";
  // The parameters in canonical order (by name); the signature is added last.
  std::string query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + uri_escape(r.access_key + "/" + scope) +
                      "&X-Amz-Date=" + stamp + "&X-Amz-Expires=" + std::to_string(r.expires_s) +
                      "&X-Amz-SignedHeaders=host";
  std::string canonical_request = r.method + "\n" + r.canonical_uri + "\n" + query + "\nhost:" + r.host +
                                  "\n\nhost\nUNSIGNED-PAYLOAD";
  std::string string_to_sign = "AWS4-HMAC-SHA256\n" + stamp + "\n" + scope + "\n" + sha256_hex(canonical_request);
  std::string key = hmac_sha256("AWS4" + r.secret_key, date);
  key = hmac_sha256(key, r.region);
  key = hmac_sha256(key, r.service);
  key = hmac_sha256(key, "aws4_request");
  std::string signature = hmac_sha256(key, string_to_sign);
  return query + "&X-Amz-Signature=" +
         hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

}  // namespace dlfs
