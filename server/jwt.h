// dlfsd's tokens: JWTs signed HS256 (HMAC-SHA256, OpenSSL) with `email` and `exp` claims. The
// secret lives in the store (`<store>/dlfsd.secret`, mode 0600), made on first use, so a token
// minted by `dlfsd token` is valid for every dlfsd serving that store.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/base64.h"  // base64url_encode/decode, which the tokens are made of
#include "core/json_util.h"
#include "core/result.h"

namespace dlfs {

struct TokenClaims {
  std::string email;
  int64_t exp = 0;  // seconds since the epoch
  json all;         // every claim as signed
};

// header.payload.signature for these claims.
std::string jwt_sign(std::string_view secret, const json& claims);
// Checks the signature (constant time), the algorithm, and that `exp` is after `now_s`.
// EACCES for any failure, with a message that says which.
Result<TokenClaims> jwt_verify(std::string_view secret, std::string_view token, int64_t now_s);

// jwt_verify with a memo of the tokens it accepted: a client sends one token with every request,
// and checking it (the HMAC, parsing the claims) was a tenth of dlfsd's CPU serving small files.
// Keyed by the whole token — a token differing in any byte is checked anew — and a remembered
// one is still refused once its `exp` has passed. Bounded (forgets all when full); thread-safe.
class TokenVerifier {
 public:
  explicit TokenVerifier(std::string secret, size_t capacity = 1024)
      : secret_(std::move(secret)), capacity_(capacity) {}

  // The token's email claim, or jwt_verify's error.
  Result<std::string> email_of(std::string_view token, int64_t now_s) const;
  size_t remembered() const;

 private:
  struct Accepted {
    std::string email;
    int64_t exp = 0;
  };
  std::string secret_;
  size_t capacity_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, Accepted> accepted_;
};

// A token for `email` valid for `days` from `now_s`.
std::string make_token(std::string_view secret, std::string_view email, int64_t days, int64_t now_s);

// The store's secret: read, or made with RAND_bytes and published atomically (two processes
// starting at once agree on one secret).
Result<std::string> load_or_create_secret(const std::string& store_dir);

}  // namespace dlfs
