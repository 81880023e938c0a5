#include "server/web_session.h"

#include <openssl/crypto.h>

#include "core/ids.h"

namespace dlfs {

std::string cookie_value(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(pos, end - pos);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      std::string_view value = pair.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      return std::string(value);
    }
    pos = end + 1;
  }
  return {};
}

std::string csrf_token(std::string_view secret, std::string_view session) {
  return hex_of(hmac_sha256(secret, "dlfs-csrf\n" + std::string(session)));
}

bool csrf_valid(std::string_view secret, std::string_view session, std::string_view token) {
  if (session.empty() || token.empty()) return false;
  std::string want = csrf_token(secret, session);
  return token.size() == want.size() && CRYPTO_memcmp(token.data(), want.data(), want.size()) == 0;
}

}  // namespace dlfs
