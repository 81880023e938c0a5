#include "core/base64.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace dlfs {
namespace {

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()));
  out.resize(size_t(std::max(n, 0)));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string in(trim_blanks(text));
  if (in.size() % 4 != 0) return Status(EINVAL, "not base64 (its length is not a multiple of 4)");
  size_t pad = 0;
  while (pad < 2 && pad < in.size() && in[in.size() - 1 - pad] == '=') ++pad;
  std::string out(3 * (in.size() / 4) + 1, '\0');
  // EVP_DecodeBlock answers the padding as zero bytes: they are dropped.
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), int(in.size()));
  if (n < 0 || size_t(n) < pad) return Status(EINVAL, "not base64");
  out.resize(size_t(n) - pad);
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out = base64_encode(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

Result<std::string> base64url_decode(std::string_view text) {
  std::string b64(text);
  for (char& c : b64) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (!std::isalnum(static_cast<unsigned char>(c))) return Status(EINVAL, "not base64url");
  }
  if (b64.size() % 4 == 1) return Status(EINVAL, "not base64url (bad length)");
  b64.append((4 - b64.size() % 4) % 4, '=');
  auto out = base64_decode(b64);
  if (!out) return Status(EINVAL, "not base64url");
  return out;
}

}  // namespace dlfs
