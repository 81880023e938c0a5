// Azure Storage's SharedKey authorization (the Blob service's flavour, versions 2015-02-21 and
// later): every request carries x-ms-date, x-ms-version and "Authorization: SharedKey
// ACCOUNT:SIGNATURE", the signature being HMAC-SHA256 under the (base64-decoded) account key of a
// string built from the method, some standard headers, the x-ms-* headers and the resource.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "core/base64.h"
#include "core/result.h"

namespace dlfs {

// The x-ms-version the Azure store speaks.
inline constexpr std::string_view kAzureApiVersion = "2021-08-06";

// "%XX" escapes undone (a query's values, a listing's encoded names).
std::string percent_decode(std::string_view text);

// RFC 1123 ("Tue, 24 Nov 2026 15:52:44 GMT"): x-ms-date's format, and Last-Modified's.
std::string http_date(std::time_t t);
// Milliseconds since the epoch (EINVAL when it does not parse).
Result<int64_t> parse_http_date(std::string_view text);

class AzureSharedKey {
 public:
  // `key_base64`: the account key as the portal shows it.
  static Result<AzureSharedKey> make(std::string account, std::string_view key_base64);

  // The string to sign for a request to `url` with these headers ("Name: value"; every header
  // the request sends that the scheme signs: Content-Length, Content-Type, Range, x-ms-*, ...).
  std::string string_to_sign(std::string_view method, std::string_view url,
                             const std::vector<std::string>& headers) const;
  // base64(HMAC-SHA256(key, text)): a SharedKey signature, or a SAS token's `sig`.
  std::string signature(std::string_view text) const;
  // A service SAS (the query after '?') that lets its holder read one blob until `expiry_s`
  // (seconds since the epoch): sp=r, sr=b, signed for this API version; `https_only` adds
  // spr=https (an http endpoint, the emulator's, needs it off).
  std::string blob_read_sas(std::string_view container, std::string_view blob, int64_t expiry_s,
                            bool https_only) const;
  // "SharedKey ACCOUNT:signature(string_to_sign)".
  std::string authorization(std::string_view string_to_sign) const {
    return "SharedKey " + account_ + ":" + signature(string_to_sign);
  }

 private:
  AzureSharedKey(std::string account, std::string key) : account_(std::move(account)), key_(std::move(key)) {}
  std::string account_;
  std::string key_;  // decoded
};

}  // namespace dlfs
