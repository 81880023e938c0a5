// An in-test Google OAuth token endpoint (POST /token on 127.0.0.1) that checks each JWT
// assertion as Google's does — the RS256 signature by the one public key it trusts, the header,
// the claims — and answers access tokens "ya29.token-N"; and the key files it takes.
#pragma once

#include <openssl/evp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/json_util.h"
#include "unit/http_test_server.h"

namespace dlfs::test {

using PKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

inline const std::string kGcsTestEmail = "loader@proj-1.iam.gserviceaccount.com";
inline const std::string kGcsTestKid = "0123456789abcdef0123456789abcdef01234567";

// PEM of the key: its private half as PKCS#8 (or PKCS#1, or encrypted), or its public half.
std::string pem_of(EVP_PKEY* key, bool public_only = false, bool pkcs1 = false, const char* passphrase = nullptr);
// The public half alone, as a token endpoint knows it.
PKey public_key_of(EVP_PKEY* key);
bool rs256_verifies(EVP_PKEY* pub, std::string_view input, std::string_view signature);
// A service account's key file, as Google's console gives it.
json key_file_json(EVP_PKEY* key, const std::string& token_uri);
// An application/x-www-form-urlencoded body's fields.
std::map<std::string, std::string> form_fields(const std::string& body);

// A token endpoint (POST /token) that trusts one public key and answers as Google's does.
class TokenEndpoint {
 public:
  TokenEndpoint(EVP_PKEY* trusted, const Clock& clock) : public_key_(public_key_of(trusted)), clock_(clock) {
    server_.svr().Post("/token", [this](const httplib::Request& req, httplib::Response& res) { answer(req, res); });
    server_.start();
  }
  std::string url() const { return server_.origin() + "/token"; }

  std::atomic<int> requests{0};
  std::atomic<int> expires_in{3599};
  std::atomic<int> delay_ms{0};
  std::atomic<int> fail_with{0};        // answer this HTTP code with invalid_grant
  std::atomic<bool> echo_assertion{false};  // a 401 whose description quotes the assertion
  std::atomic<int> stall_ms{0};         // answer nothing for this long

  std::string last_assertion() {
    std::lock_guard lock(mu_);
    return last_assertion_;
  }
  std::vector<std::string> problems() {
    std::lock_guard lock(mu_);
    return problems_;
  }

 private:
  void problem(const std::string& what) {
    std::lock_guard lock(mu_);
    problems_.push_back(what);
  }
  static void error(httplib::Response& res, int code, const std::string& error, const std::string& description) {
    res.status = code;
    res.set_content(json{{"error", error}, {"error_description", description}}.dump(), "application/json");
  }

  void answer(const httplib::Request& req, httplib::Response& res);

  PKey public_key_;
  const Clock& clock_;
  std::mutex mu_;
  std::string last_assertion_;
  std::vector<std::string> problems_;
  TestServer server_;  // last: stopped first, before what its handler uses
};


}  // namespace dlfs::test
