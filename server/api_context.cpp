#include "server/api_context.h"

#include <spdlog/spdlog.h>

#include "core/ids.h"
#include "server/jwt.h"
#include "server/web_session.h"

namespace dlfs {

std::string user_id_for(std::string_view email) {
  // (sha256_hex: the digest fetched once — EVP_sha256() in each call looked it up by name, under
  // a lock, in every request's authentication.)
  return sha256_hex(email, 24);
}

Result<Caller> ApiContext::authenticate(const httplib::Request& req) const {
  std::string header = req.get_header_value("Authorization");  // httplib compares names case-insensitively
  if (header.empty()) {
    // The web pages' script calls the API with the session cookie; every such call carries the
    // page's CSRF token too (a cookie alone is what another site's form would send).
    std::string session = cookie_value(req.get_header_value("Cookie"), kSessionCookie);
    if (session.empty()) return Status(EACCES, "missing token: send 'Authorization: Bearer <token>' (dlfsd token)");
    if (!csrf_valid(secret_, session, req.get_header_value("X-CSRF-Token")))
      return Status(EACCES, "a call with the web session's cookie needs the page's X-CSRF-Token header");
    return verify_token(session);
  }
  constexpr std::string_view kBearer = "bearer ";
  if (header.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), header.begin(),
                  [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); }))
    return Status(EACCES, "the Authorization header must be 'Bearer <token>'");
  return verify_token(std::string_view(header).substr(kBearer.size()));
}

Result<Caller> ApiContext::verify_token(std::string_view token) const {
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  DLFS_ASSIGN(std::string email, tokens_.email_of(token, now));
  return Caller{email, user_id_for(email)};
}

void ApiContext::enter() {
  std::lock_guard lock(mu_);
  ++inflight_;
}

void ApiContext::leave() {
  std::lock_guard lock(mu_);
  if (--inflight_ == 0) cv_.notify_all();
}

std::shared_ptr<void> ApiContext::hold_inflight() {
  enter();
  return std::shared_ptr<void>(nullptr, [this](void*) { leave(); });
}

bool ApiContext::drain(std::chrono::milliseconds timeout) {
  draining_ = true;
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return inflight_ == 0; });
}

template <typename F>
void ApiContext::guarded(const httplib::Request& req, httplib::Response& res, F&& body) {
  auto hold = hold_inflight();
  if (draining_) {
    res.set_header("Connection", "close");
    send_error(res, 503, "dlfsd is shutting down");
    return;
  }
  try {
    body();
  } catch (const std::exception& e) {
    spdlog::error("{} {}: {}", req.method, req.path, e.what());
    res.content_provider_ = nullptr;  // never stream after a failure
    send_error(res, 500, std::string("internal error: ") + e.what());
  } catch (...) {
    res.content_provider_ = nullptr;
    send_error(res, 500, "internal error");
  }
}

httplib::Server::Handler ApiContext::wrap(Handler handler, bool auth) {
  return [this, handler = std::move(handler), auth](const httplib::Request& req, httplib::Response& res) {
    guarded(req, res, [&] {
      Caller caller;
      if (auth) {
        auto who = authenticate(req);
        if (!who) return send_error(res, 401, who.status().message());
        caller = std::move(*who);
      }
      handler(req, res, caller);
    });
  };
}

httplib::Server::HandlerWithContentReader ApiContext::wrap_reader(ReaderHandler handler) {
  return [this, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                              const httplib::ContentReader& reader) {
    guarded(req, res, [&] {
      auto who = authenticate(req);
      if (!who) {
        drain_body(req, reader);
        return send_error(res, 401, who.status().message());
      }
      handler(req, res, reader, *who);
    });
  };
}

std::string ApiContext::base_url(const httplib::Request& req) {
  std::string host = req.get_header_value("Host");
  if (host.empty()) host = req.local_addr + ":" + std::to_string(req.local_port);
  return "http://" + host + "/api/v1";
}

void ApiContext::drain_body(const httplib::Request& req, const httplib::ContentReader& reader) {
  auto drop = [](const char*, size_t) { return true; };
  if (req.is_multipart_form_data()) reader([](const httplib::MultipartFormData&) { return true; }, drop);
  else reader(drop);
}

Result<json> ApiContext::json_body(const httplib::Request& req) {
  if (req.body.empty()) return json::object();
  return parse_json(req.body);
}

Result<uint64_t> ApiContext::count_body(const httplib::Request& req, const std::string& key, std::string_view shape) {
  DLFS_ASSIGN(json body, json_body(req));
  auto value = body.is_object() ? body.find(key) : body.end();
  if (value == body.end() || !(value->is_null() || value->is_number_unsigned()))
    return Status(EINVAL, "the body must be " + std::string(shape));
  return value->is_null() ? uint64_t(0) : value->get<uint64_t>();
}

Result<Dataset> ApiContext::writable_dataset(std::string_view dataset_id) {
  DLFS_ASSIGN(Dataset ds, platform.get_dataset(dataset_id));
  if (ds.readonly) return Status(EACCES, "dataset '" + ds.name + "' is read-only");
  return ds;
}

Result<Item> ApiContext::writable_item(std::string_view item_id) {
  DLFS_ASSIGN(Item item, platform.get_item(item_id));
  DLFS_TRY(writable_dataset(item.dataset_id).status());
  return item;
}

}  // namespace dlfs
