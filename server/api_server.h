// dlfsd's HTTP server: the API of API.md over one Platform, on cpp-httplib with a bounded
// thread pool. bind() then serve() (blocks); stop() from another thread drains and ends serve().
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "core/result.h"
#include "platform/platform.h"
#include "server/server_options.h"

namespace httplib {
class Server;
}

namespace dlfs {

class ApiContext;
class HttpMetrics;
class Metrics;

class ApiServer {
 public:
  ApiServer(Platform& platform, std::string secret, ServerOptions options);
  ~ApiServer();

  // Binds options.host:options.port (port 0: any free port); answers the port bound.
  Result<int> bind();
  // Serves until stop(); answers once every connection has ended.
  Status serve();
  // Graceful: new requests get 503, requests in flight (downloads included) get up to
  // options.drain_timeout_s to end, then the listener closes and serve() returns.
  void stop();

 private:
  ServerOptions options_;
  std::atomic<bool> serve_done_{false};
  std::unique_ptr<Metrics> metrics_;  // GET /metrics
  std::unique_ptr<HttpMetrics> http_metrics_;
  std::unique_ptr<ApiContext> ctx_;
  std::unique_ptr<httplib::Server> server_;
};

}  // namespace dlfs
