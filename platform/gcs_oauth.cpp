#include "platform/gcs_oauth.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>

#include "core/base64.h"
#include "net/http_client.h"

namespace dlfs {
namespace {

constexpr int64_t kAssertionLifetimeS = 3600;  // the most Google takes
constexpr int64_t kRefreshBeforeMs = 5 * 60 * 1000;
// A refresh that failed while the token in hand is still good: that token serves, and the next
// fetch waits this long (so that not every request pays for a failing exchange).
constexpr int64_t kRetryAfterFailureMs = 15 * 1000;
// ... as long as it has this much left.
constexpr int64_t kExpiryMarginMs = 60 * 1000;
// An endpoint's expires_in is believed up to a day (Google's tokens live an hour).
constexpr int64_t kMaxLifetimeS = 24 * 3600;

// Empties the thread's OpenSSL error queue, answering its last entry's text. Errors left there
// would be taken by a later OpenSSL call on this thread (libcurl's TLS) for its own.
std::string openssl_error() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    text = buf;
  }
  return text.empty() ? "no detail from OpenSSL" : text;
}

// PEM_read_bio_PrivateKey's password callback: none. (Without one, OpenSSL would prompt on the
// terminal for an encrypted key, and a daemon would hang there.)
int no_password(char*, int, int, void*) { return 0; }

Result<std::shared_ptr<evp_pkey_st>> parse_rsa_private_key(std::string pem) {
  // A key pasted through an environment variable or a shell often arrives with its line ends as
  // the two characters "\n".
  if (pem.find('\n') == std::string::npos) {
    for (size_t at = 0; (at = pem.find("\\n", at)) != std::string::npos;) pem.replace(at, 2, "\n");
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  if (!bio) return Status(ENOMEM, "cannot read the private_key", openssl_error());
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, no_password, nullptr);
  BIO_free(bio);
  OPENSSL_cleanse(pem.data(), pem.size());  // this copy at least leaves no key in freed memory
  if (!key)
    return Status(EINVAL, "the key file's private_key is not an unencrypted PEM private key (PKCS#8 or PKCS#1)",
                  openssl_error());
  std::shared_ptr<evp_pkey_st> owned(key, EVP_PKEY_free);
  if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA)
    return Status(EINVAL, "the key file's private_key is not an RSA key (Google's service-account keys are)");
  return owned;
}

// https, or http to this machine only (tests, emulators): the assertion goes there.
bool acceptable_token_uri(std::string_view uri) {
  if (uri.starts_with("https://")) return uri.size() > 8;
  if (!uri.starts_with("http://")) return false;
  std::string_view rest = uri.substr(7);
  std::string_view host = rest.starts_with("[") ? rest.substr(0, rest.find(']') + 1)
                                                : rest.substr(0, rest.find_first_of(":/?#"));
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// Text from the endpoint, fit for a message: bounded, and without the assertion should the
// endpoint echo it.
std::string shown(std::string text, const std::string& assertion) {
  for (size_t at = 0; !assertion.empty() && (at = text.find(assertion, at)) != std::string::npos;)
    text.replace(at, assertion.size(), "<assertion>");
  if (text.size() > 300) text = text.substr(0, 300) + "...";
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Result<GcsServiceAccount> parse_gcs_service_account(const json& key_file) {
  if (!key_file.is_object()) return Status(EINVAL, "a service-account key file is a JSON object");
  std::string type = string_field(key_file, "type");
  if (type.empty())
    return Status(EINVAL, "the key file has no \"type\" (a service-account key has \"type\": \"service_account\")");
  if (type != "service_account")
    return Status(EINVAL, "the key file's \"type\" is \"" + shown(type, {}) +
                              "\", not \"service_account\" (a service account's JSON key is needed)");
  GcsServiceAccount account;
  account.client_email = string_field(key_file, "client_email");
  if (account.client_email.empty())
    return Status(EINVAL, "the key file has no \"client_email\" (or it is not a string)");
  std::string pem = string_field(key_file, "private_key");
  if (pem.empty()) return Status(EINVAL, "the key file has no \"private_key\" (or it is not a string)");
  DLFS_ASSIGN(account.private_key, parse_rsa_private_key(std::move(pem)));
  account.private_key_id = string_field(key_file, "private_key_id");
  account.project_id = string_field(key_file, "project_id");
  account.token_uri = string_field(key_file, "token_uri", kGcsDefaultTokenUri);
  if (!acceptable_token_uri(account.token_uri))
    return Status(EINVAL, "the key file's \"token_uri\" must be an https URL (http only to 127.0.0.1 or localhost)",
                  shown(account.token_uri, {}));
  return account;
}

Result<std::string> gcs_rs256_sign(const GcsServiceAccount& account, std::string_view bytes) {
  if (!account.private_key) return Status(EINVAL, "the service account has no private key");
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx) return Status(ENOMEM, "cannot sign with the service account's key", openssl_error());
  // An RSA key signs RSASSA-PKCS1-v1_5 unless told otherwise: that is RS256 with SHA-256.
  size_t size = 0;
  auto data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, account.private_key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, data, bytes.size()) != 1)
    return Status(EIO, "cannot sign with the service account's key", openssl_error());
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, data, bytes.size()) != 1)
    return Status(EIO, "cannot sign with the service account's key", openssl_error());
  signature.resize(size);
  return signature;
}

Result<std::string> gcs_jwt_assertion(const GcsServiceAccount& account, std::string_view scope, int64_t now_s) {
  if (scope.empty()) return Status(EINVAL, "no OAuth scope to ask a token for");
  json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (!account.private_key_id.empty()) header["kid"] = account.private_key_id;
  json claims = {{"iss", account.client_email},
                 {"scope", scope},
                 {"aud", account.token_uri},
                 {"iat", now_s},
                 {"exp", now_s + kAssertionLifetimeS}};
  // dump() throws on invalid UTF-8 unless told to replace it (a scope from a configuration).
  auto text = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  std::string signing_input = base64url_encode(text(header)) + "." + base64url_encode(text(claims));
  DLFS_ASSIGN(std::string signature, gcs_rs256_sign(account, signing_input));
  return signing_input + "." + base64url_encode(signature);
}

Result<std::shared_ptr<GcsTokenSource>> GcsTokenSource::make(GcsServiceAccount account, GcsTokenOptions options) {
  if (!account.private_key || account.client_email.empty() || account.token_uri.empty())
    return Status(EINVAL, "an incomplete service account (parse_gcs_service_account makes whole ones)");
  if (!options.clock) return Status(EINVAL, "GcsTokenOptions without a clock");
  if (options.scope.empty()) return Status(EINVAL, "no OAuth scope to ask a token for");
  return std::shared_ptr<GcsTokenSource>(new GcsTokenSource(std::move(account), std::move(options)));
}

GcsTokenSource::GcsTokenSource(GcsServiceAccount account, GcsTokenOptions options)
    : account_(std::move(account)), options_(std::move(options)) {
  HttpOptions http;
  // No base_url: the request names the endpoint in full, and no Authorization is ever added.
  http.ca_file = options_.ca_file;
  http.connect_timeout_ms = options_.connect_timeout_ms;
  http.max_attempts = options_.max_attempts;
  http_ = std::make_unique<HttpClient>(std::move(http));
}

GcsTokenSource::~GcsTokenSource() = default;

Result<std::string> GcsTokenSource::token() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (!token_.empty() && options_.clock->now_ms() < refresh_ms_) return token_;
    if (!fetching_) break;
    // Another caller is fetching: its outcome is ours too.
    uint64_t seen = fetches_done_;
    fetched_cv_.wait(lock, [&] { return fetches_done_ != seen; });
    // A fresh token (even one whose lifetime is shorter than our margins), or the one that still
    // serves after a failed refresh, or that failure.
    if (!token_.empty()) return token_;
    if (!last_error_.is_ok()) return last_error_;
    // invalidated since: fetch again
  }
  fetching_ = true;
  lock.unlock();
  Result<Fetched> got = fetch();
  lock.lock();
  fetching_ = false;
  ++fetches_done_;
  if (got) {
    token_ = std::move(got->token);
    expires_ms_ = got->expires_ms;
    refresh_ms_ = got->refresh_ms;
    last_error_ = Status();
  } else {
    last_error_ = got.status();
    int64_t now = options_.clock->now_ms();
    if (!token_.empty() && now < expires_ms_ - kExpiryMarginMs) {
      refresh_ms_ = std::min(expires_ms_ - kExpiryMarginMs, now + kRetryAfterFailureMs);
      spdlog::warn("cannot refresh the access token of {}, the current one serves until it expires: {}",
                   account_.client_email, last_error_.to_string());
    } else {
      token_.clear();
    }
  }
  fetched_cv_.notify_all();
  return token_.empty() ? Result<std::string>(last_error_) : Result<std::string>(token_);
}

void GcsTokenSource::invalidate(std::string_view rejected) {
  std::lock_guard lock(mu_);
  if (rejected.empty() || rejected == token_) {
    token_.clear();
    expires_ms_ = refresh_ms_ = 0;
  }
}

Result<GcsTokenSource::Fetched> GcsTokenSource::fetch() {
  const std::string what = "cannot get an access token for " + account_.client_email;
  int64_t sent_ms = options_.clock->now_ms();
  DLFS_ASSIGN(std::string assertion, gcs_jwt_assertion(account_, options_.scope, sent_ms / 1000));
  HttpRequest req;
  req.method = "POST";
  req.path = account_.token_uri;  // absolute: HttpClient::send takes it as it is
  req.content_type = "application/x-www-form-urlencoded";
  req.body = http_->form_encode(
      {{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"}, {"assertion", assertion}});
  req.accept_codes = {400, 401, 403};  // the OAuth error answers, read below
  req.timeout_ms = options_.timeout_ms;
  Result<HttpResponse> r = http_->send(req);
  if (!r) return r.status().wrap(what);  // its cause names the method and URL, never the body
  const std::string where = "HTTP " + std::to_string(r->code) + " from POST " + account_.token_uri;
  Result<json> doc = parse_json(r->body);
  if (r->code >= 400) {
    // RFC 6749 5.2: {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    std::string error = doc ? string_field(*doc, "error") : std::string();
    std::string description = doc ? string_field(*doc, "error_description") : std::string();
    std::string text = error.empty() ? shown(r->body, assertion)
                                     : shown(error, assertion) +
                                           (description.empty() ? "" : ": " + shown(description, assertion));
    if (text.empty()) text = "no reason given";
    return Status(EACCES, what + ": the token endpoint refused the service account: " + text, where);
  }
  if (r->code < 200 || r->code >= 300) return Status(EIO, what + ": an unexpected answer", where);
  if (!doc || !doc->is_object()) return Status(EIO, what + ": the token endpoint's answer is not JSON", where);
  Fetched out;
  out.token = string_field(*doc, "access_token");
  if (out.token.empty()) return Status(EIO, what + ": the token endpoint's answer has no access_token", where);
  if (std::string type = string_field(*doc, "token_type", "Bearer"); lower(type) != "bearer")
    return Status(EIO, what + ": a token of type \"" + shown(type, {}) + "\" (Bearer expected)", where);
  int64_t lifetime_s = kAssertionLifetimeS;  // when expires_in is absent (RFC 6749 makes it optional)
  if (auto it = doc->find("expires_in"); it != doc->end()) {
    if (!it->is_number() || !(it->get<double>() > 0))
      return Status(EIO, what + ": the token endpoint's expires_in is not a positive number", where);
    // Bounded before the conversion (a double beyond int64_t's range would be undefined).
    lifetime_s = std::max<int64_t>(1, int64_t(std::min(it->get<double>(), double(kMaxLifetimeS))));
  }
  int64_t lifetime_ms = lifetime_s * 1000;
  // Counted from before the request: the token may have been made at any time during it.
  out.expires_ms = sent_ms + lifetime_ms;
  out.refresh_ms = out.expires_ms - std::min(kRefreshBeforeMs, lifetime_ms / 2);
  spdlog::debug("got an access token for {}, valid {} s", account_.client_email, lifetime_s);
  return out;
}

}  // namespace dlfs
