// Google Cloud Storage with a service-account key: OAuth 2.0 access tokens by the JWT bearer flow
// (RFC 7523; Google's "Using OAuth 2.0 for Server to Server Applications"). An assertion
// {"iss": client_email, "scope", "aud": token_uri, "iat", "exp": iat + 3600}, signed RS256 with
// the account's private key (OpenSSL), is exchanged at token_uri for a Bearer token that the XML
// API takes for an hour. The key never leaves this file's objects: no message, log line or
// accessor shows it, nor the assertion (a credential for as long as it is valid).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/json_util.h"
#include "core/result.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace dlfs {

class HttpClient;

inline constexpr std::string_view kGcsReadWriteScope = "https://www.googleapis.com/auth/devstorage.read_write";
// A key file without token_uri (Google's always have one) is sent here.
inline constexpr std::string_view kGcsDefaultTokenUri = "https://oauth2.googleapis.com/token";

// A service account, as its key file (the JSON the console gives) describes it.
struct GcsServiceAccount {
  std::string client_email;
  std::string private_key_id;  // the JWT's "kid"; "" leaves it out
  std::string token_uri;
  std::string project_id;      // "" if the file has none
  // The RSA private key, parsed once (signing parses nothing); EVP_PKEY_free'd with the last copy.
  // An EVP_PKEY is safe to sign with from several threads at once (openssl-threads(7)).
  std::shared_ptr<evp_pkey_st> private_key;
};

// From the key file's JSON. EINVAL naming the field that is missing or wrong: `type` must be
// "service_account", `client_email` and `private_key` are needed, the private key must be an RSA
// key in PEM (PKCS#8 as Google writes it, or PKCS#1), token_uri https (http only to a loopback
// host: tests and emulators).
Result<GcsServiceAccount> parse_gcs_service_account(const json& key_file);

// RSASSA-PKCS1-v1_5 over SHA-256 of `bytes` with the account's key (RS256; GCS V4 signed URLs'
// GOOG4-RSA-SHA256 too): the raw signature bytes.
Result<std::string> gcs_rs256_sign(const GcsServiceAccount& account, std::string_view bytes);

// The signed JWT the token endpoint takes for `scope` (space-separated scopes), issued at `now_s`
// (seconds since the epoch) and valid for an hour.
Result<std::string> gcs_jwt_assertion(const GcsServiceAccount& account, std::string_view scope, int64_t now_s);

struct GcsTokenOptions {
  std::string scope = std::string(kGcsReadWriteScope);
  std::string ca_file;  // the token endpoint's CA certificates (PEM); "" for the system's
  long connect_timeout_ms = 10000;
  long timeout_ms = 30000;  // a bound on each try as a whole
  int max_attempts = 3;     // transport errors, 429 and 5xx are tried again, with backoff
  const Clock* clock = &SystemClock::instance();  // the assertion's iat and the token's expiry
};

// The access tokens of one account and scope: fetched on first use and cached; fetched again 5
// minutes before the token expires (half its lifetime if that is shorter), or after invalidate().
// Thread-safe; one fetch at a time, which the callers that come meanwhile wait for and share the
// outcome of (a failure included: 8 callers do not make 8 slow failing tries in a row).
class GcsTokenSource {
 public:
  static Result<std::shared_ptr<GcsTokenSource>> make(GcsServiceAccount account, GcsTokenOptions options = {});
  ~GcsTokenSource();
  GcsTokenSource(const GcsTokenSource&) = delete;
  GcsTokenSource& operator=(const GcsTokenSource&) = delete;

  // A valid access token (for "Authorization: Bearer ..."). EACCES when the endpoint refuses the
  // account (a deleted key, a disabled account, a clock far off), with its error and description.
  Result<std::string> token();
  // A request was refused (401) with `rejected`: the next token() fetches a new one. `rejected`
  // guards against dropping a newer token that another thread has fetched since; "" drops any.
  void invalidate(std::string_view rejected = {});

  const std::string& client_email() const { return account_.client_email; }

 private:
  GcsTokenSource(GcsServiceAccount account, GcsTokenOptions options);
  struct Fetched {
    std::string token;
    int64_t expires_ms = 0;
    int64_t refresh_ms = 0;
  };
  Result<Fetched> fetch();  // one exchange at the endpoint, no lock held

  const GcsServiceAccount account_;
  const GcsTokenOptions options_;
  std::unique_ptr<HttpClient> http_;

  std::mutex mu_;
  std::condition_variable fetched_cv_;
  std::string token_;       // "" until fetched, and after invalidate()
  int64_t expires_ms_ = 0;  // when token_ stops being valid (by the endpoint's expires_in)
  int64_t refresh_ms_ = 0;  // when the next token() fetches a new one
  bool fetching_ = false;
  uint64_t fetches_done_ = 0;
  Status last_error_;       // the outcome of the last fetch when it failed
};

}  // namespace dlfs
