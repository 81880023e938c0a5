// Standard base64 (RFC 4648, with padding), through OpenSSL's EVP coder: Azure's keys and
// signatures, and a CSV import's image_bytes column.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace dlfs {

std::string base64_encode(std::string_view bytes);
// Leading and trailing blanks and line ends are ignored; EINVAL on anything else that is not
// base64.
Result<std::string> base64_decode(std::string_view text);

}  // namespace dlfs
