#include "server/jwt.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/base64.h"
#include "core/ids.h"
#include "core/json_util.h"

namespace dlfs {

namespace {

Status bad_token(const std::string& why) { return Status(EACCES, "invalid token: " + why); }

}  // namespace

std::string jwt_sign(std::string_view secret, const json& claims) {
  static const std::string header = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  std::string signing_input = header + "." + base64url_encode(claims.dump());
  return signing_input + "." + base64url_encode(hmac_sha256(secret, signing_input));
}

Result<TokenClaims> jwt_verify(std::string_view secret, std::string_view token, int64_t now_s) {
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return bad_token("not a JWT (three dot-separated parts expected)");
  auto header = base64url_decode(token.substr(0, dot1));
  if (!header) return bad_token("malformed header");
  json h = json::parse(*header, nullptr, false);
  if (!h.is_object() || string_field(h, "alg") != "HS256") return bad_token("algorithm must be HS256");
  auto sig = base64url_decode(token.substr(dot2 + 1));
  if (!sig) return bad_token("malformed signature");
  std::string expected = hmac_sha256(secret, token.substr(0, dot2));
  if (sig->size() != expected.size() || CRYPTO_memcmp(sig->data(), expected.data(), expected.size()) != 0)
    return bad_token("bad signature");
  auto payload = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload) return bad_token("malformed payload");
  TokenClaims claims;
  claims.all = json::parse(*payload, nullptr, false);
  if (!claims.all.is_object()) return bad_token("payload is not a JSON object");
  auto exp = claims.all.find("exp");
  if (exp == claims.all.end() || !exp->is_number()) return bad_token("no 'exp' claim");
  claims.exp = exp->get<int64_t>();
  if (claims.exp <= now_s) return bad_token("expired");
  auto email = claims.all.find("email");
  if (email == claims.all.end() || !email->is_string() || email->get<std::string>().empty())
    return bad_token("no 'email' claim");
  claims.email = email->get<std::string>();
  return claims;
}

Result<std::string> TokenVerifier::email_of(std::string_view token, int64_t now_s) const {
  {
    std::lock_guard lock(mu_);
    auto it = accepted_.find(std::string(token));
    if (it != accepted_.end()) {
      if (it->second.exp > now_s) return it->second.email;
      accepted_.erase(it);
    }
  }
  DLFS_ASSIGN(TokenClaims claims, jwt_verify(secret_, token, now_s));
  std::lock_guard lock(mu_);
  if (accepted_.size() >= capacity_) accepted_.clear();
  accepted_.insert_or_assign(std::string(token), Accepted{claims.email, claims.exp});
  return claims.email;
}

size_t TokenVerifier::remembered() const {
  std::lock_guard lock(mu_);
  return accepted_.size();
}

std::string make_token(std::string_view secret, std::string_view email, int64_t days, int64_t now_s) {
  return jwt_sign(secret, json{{"email", email}, {"iat", now_s}, {"exp", now_s + days * 86400}});
}

Result<std::string> load_or_create_secret(const std::string& store_dir) {
  std::string path = store_dir + "/dlfsd.secret";
  auto read_secret = [&]() -> Result<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status(errno ? errno : EIO, "cannot read " + path, strerror(errno));
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    if (s.size() < 32) return Status(EINVAL, path + " is too short to be a token secret (delete it to make a new one)");
    return s;
  };
  if (::access(path.c_str(), F_OK) == 0) return read_secret();
  std::error_code ec;
  std::filesystem::create_directories(store_dir, ec);
  if (ec) return Status(ec.value(), "cannot create " + store_dir, ec.message());
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return Status(EIO, "cannot make random bytes for the token secret");
  std::string secret = base64url_encode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
  // Written to a temp name then link()ed: the secret appears whole or not at all, and a
  // concurrent creator's secret wins if it got there first.
  std::string tmp = path + "." + new_id() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status(errno, "cannot create " + tmp, strerror(errno));
  bool ok = ::write(fd, secret.data(), secret.size()) == ssize_t(secret.size()) && ::fsync(fd) == 0;
  ::close(fd);
  int rc = ok ? ::link(tmp.c_str(), path.c_str()) : -1;
  int link_errno = errno;
  ::unlink(tmp.c_str());
  if (!ok) return Status(EIO, "cannot write " + tmp);
  if (rc != 0 && link_errno != EEXIST) return Status(link_errno, "cannot create " + path, strerror(link_errno));
  return read_secret();
}

}  // namespace dlfs
