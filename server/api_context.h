// What every route of dlfsd shares: the platform, the token secret, the in-flight count that a
// graceful stop waits on, and the wrapper every handler runs in (auth, draining, exceptions).
#pragma once

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <httplib.h>

#include "core/item.h"
#include "platform/platform.h"
#include "server/jwt.h"
#include "server/http_errors.h"
#include "server/server_options.h"

namespace dlfs {

// Who is calling, from the token.
struct Caller {
  std::string email;
  std::string id;  // 24 hex digits derived from the email, stable
};

std::string user_id_for(std::string_view email);

class ApiContext {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&, const Caller&)>;
  using ReaderHandler = std::function<void(const httplib::Request&, httplib::Response&,
                                           const httplib::ContentReader&, const Caller&)>;

  ApiContext(Platform& platform, std::string secret, const ServerOptions& options)
      : platform(platform), options(options), secret_(std::move(secret)), tokens_(secret_) {}

  Platform& platform;
  const ServerOptions& options;

  // The handler httplib runs: counts the request in flight, answers 503 while draining, checks
  // the token (unless `auth` is false), and turns any escaping exception into a 500.
  httplib::Server::Handler wrap(Handler handler, bool auth = true);
  httplib::Server::HandlerWithContentReader wrap_reader(ReaderHandler handler);

  // "http://<Host>/api/v1": entities carry absolute self-URLs on the base the client used.
  static std::string base_url(const httplib::Request& req);
  // The caller a token names, checked as the API's Bearer tokens are (EACCES when not valid):
  // the web pages' session cookie holds one.
  Result<Caller> verify_token(std::string_view token) const;
  // The tokens' secret, which also keys the web pages' CSRF tokens (server/web_session.h).
  const std::string& secret() const { return secret_; }
  // The request body as JSON (EINVAL with the parse error).
  static Result<json> json_body(const httplib::Request& req);
  // A body {"<key>": N}: N a whole number, null read as 0 (EINVAL saying `shape` otherwise).
  static Result<uint64_t> count_body(const httplib::Request& req, const std::string& key, std::string_view shape);

  // Reads and drops a request body, so that an answer given before reading reaches a client
  // still sending (httplib needs the multipart form of the reader for a multipart body).
  static void drain_body(const httplib::Request& req, const httplib::ContentReader& reader);

  // The dataset, or EACCES when it is read-only (for every write).
  Result<Dataset> writable_dataset(std::string_view dataset_id);
  // The item, or EACCES when its dataset is read-only.
  Result<Item> writable_item(std::string_view item_id);

  // Held by a response that outlives its handler (a streamed download), so that a graceful
  // stop waits for it too.
  std::shared_ptr<void> hold_inflight();
  // Answers 503 to new requests, waits (at most `timeout`) for those in flight; true if all ended.
  bool drain(std::chrono::milliseconds timeout);
  bool draining() const { return draining_; }

 private:
  Result<Caller> authenticate(const httplib::Request& req) const;
  void enter();
  void leave();
  template <typename F>
  void guarded(const httplib::Request& req, httplib::Response& res, F&& body);

  std::string secret_;
  TokenVerifier tokens_;  // (after secret_: made from it)
  std::atomic<bool> draining_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int inflight_ = 0;
};

}  // namespace dlfs
