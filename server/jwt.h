// dlfsd's tokens: JWTs signed HS256 (HMAC-SHA256, OpenSSL) with `email` and `exp` claims. The
// secret lives in the store (`<store>/dlfsd.secret`, mode 0600), made on first use, so a token
// minted by `dlfsd token` is valid for every dlfsd serving that store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

// A token for `email` valid for `days` from `now_s`.
std::string make_token(std::string_view secret, std::string_view email, int64_t days, int64_t now_s);

// The store's secret: read, or made with RAND_bytes and published atomically (two processes
// starting at once agree on one secret).
Result<std::string> load_or_create_secret(const std::string& store_dir);

}  // namespace dlfs
