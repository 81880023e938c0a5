#include "support/gcs_token_endpoint.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/base64.h"
#include "platform/gcs_oauth.h"

namespace dlfs::test {

std::string pem_of(EVP_PKEY* key, bool public_only, bool pkcs1, const char* passphrase) {
  BIO* bio = BIO_new(BIO_s_mem());
  int ok = public_only ? PEM_write_bio_PUBKEY(bio, key)
           : pkcs1     ? PEM_write_bio_PrivateKey_traditional(bio, key, nullptr, nullptr, 0, nullptr, nullptr)
           : passphrase ? PEM_write_bio_PrivateKey(bio, key, EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                                   const_cast<char*>(passphrase))
                        : PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);  // PKCS#8
  EXPECT_EQ(ok, 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, size_t(n));
  BIO_free(bio);
  return out;
}

PKey public_key_of(EVP_PKEY* key) {
  std::string pem = pem_of(key, true);
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  PKey pub(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr), EVP_PKEY_free);
  BIO_free(bio);
  return pub;
}

bool rs256_verifies(EVP_PKEY* pub, std::string_view input, std::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  bool ok = EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pub) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  ERR_clear_error();
  return ok;
}

json key_file_json(EVP_PKEY* key, const std::string& token_uri) {
  return {{"type", "service_account"},
          {"project_id", "proj-1"},
          {"private_key_id", kGcsTestKid},
          {"private_key", pem_of(key)},
          {"client_email", kGcsTestEmail},
          {"client_id", "104242424242424242424"},
          {"auth_uri", "https://accounts.google.com/o/oauth2/auth"},
          {"token_uri", token_uri}};
}

std::map<std::string, std::string> form_fields(const std::string& body) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') out += ' ';
      else if (s[i] == '%' && i + 2 < s.size()) {
        out += char(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      }
      else out += s[i];
    }
    return out;
  };
  std::map<std::string, std::string> fields;
  std::string_view rest = body;
  while (!rest.empty()) {
    std::string_view pair = rest.substr(0, rest.find('&'));
    rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
    size_t eq = pair.find('=');
    fields[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
  }
  return fields;
}

void TokenEndpoint::answer(const httplib::Request& req, httplib::Response& res) {
  int n = ++requests;
  for (int waited = 0; waited < stall_ms + delay_ms && !server_.stopping; waited += 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (req.get_header_value("Content-Type") != "application/x-www-form-urlencoded") problem("content type");
  if (req.has_header("Authorization")) problem("an Authorization header");
  auto fields = form_fields(req.body);
  if (fields["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer") problem("grant_type");
  std::string assertion = fields["assertion"];
  {
    std::lock_guard lock(mu_);
    last_assertion_ = assertion;
  }
  size_t d1 = assertion.find('.'), d2 = assertion.rfind('.');
  if (d1 == std::string::npos || d1 == d2) return error(res, 400, "invalid_request", "not a JWT");
  auto header = base64url_decode(assertion.substr(0, d1));
  auto claims = base64url_decode(assertion.substr(d1 + 1, d2 - d1 - 1));
  auto signature = base64url_decode(assertion.substr(d2 + 1));
  if (!header || !claims || !signature) return error(res, 400, "invalid_request", "not base64url");
  if (!rs256_verifies(public_key_.get(), std::string_view(assertion).substr(0, d2), *signature))
    return error(res, 400, "invalid_grant", "Invalid JWT Signature.");
  json h = json::parse(*header, nullptr, false), c = json::parse(*claims, nullptr, false);
  if (h != json{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kGcsTestKid}}) problem("header " + h.dump());
  if (string_field(c, "iss") != kGcsTestEmail) problem("iss");
  if (string_field(c, "aud") != url()) problem("aud " + string_field(c, "aud"));
  if (string_field(c, "scope") != kGcsReadWriteScope) problem("scope");
  if (!c.contains("iat") || !c["iat"].is_number_integer() || !c.contains("exp") || !c["exp"].is_number_integer()) {
    problem("iat/exp");
  } else {
    int64_t iat = c["iat"].get<int64_t>();
    if (c["exp"].get<int64_t>() - iat != 3600) problem("exp - iat");
    if (std::abs(iat - clock_.now_ms() / 1000) > 5) problem("iat " + std::to_string(iat));
  }
  if (c.size() != 5) problem("claims " + c.dump());
  if (echo_assertion) return error(res, 401, "unauthorized_client", "assertion " + assertion + " refused");
  if (fail_with) return error(res, fail_with, "invalid_grant", "Account disabled.");
  res.set_content(json{{"access_token", "ya29.token-" + std::to_string(n)}, {"expires_in", expires_in.load()},
                       {"token_type", "Bearer"}}.dump(),
                  "application/json");
}

}  // namespace dlfs::test
