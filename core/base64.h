// Standard base64 (RFC 4648, with padding), through OpenSSL's EVP coder: Azure's keys and
// signatures, and a CSV import's image_bytes column. And base64url without padding (RFC 7515):
// the parts of a JWT (dlfsd's tokens, Google's service-account assertions).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace dlfs {

std::string base64_encode(std::string_view bytes);
// Leading and trailing blanks and line ends are ignored; EINVAL on anything else that is not
// base64.
Result<std::string> base64_decode(std::string_view text);

// base64url without padding (RFC 7515), and back (EINVAL on bad input, padding included).
std::string base64url_encode(std::string_view bytes);
Result<std::string> base64url_decode(std::string_view text);

}  // namespace dlfs
