#include "server/api_server.h"

#include <httplib.h>

#include <thread>
#include <spdlog/spdlog.h>

#include "metrics/metrics.h"
#include "server/api_context.h"
#include "server/http_metrics.h"
#include "server/routes.h"
#include "server/web_ui.h"

namespace dlfs {

ApiServer::ApiServer(Platform& platform, std::string secret, ServerOptions options)
    : options_(std::move(options)),
      metrics_(std::make_unique<Metrics>()),
      http_metrics_(std::make_unique<HttpMetrics>(*metrics_)),
      ctx_(std::make_unique<ApiContext>(platform, std::move(secret), options_)),
      server_(options_.tls_cert.empty() ? std::make_unique<httplib::Server>()
                                        : std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(),
                                                                               options_.tls_key.c_str())) {
  httplib::Server& svr = *server_;
  unsigned workers = options_.workers;
  svr.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  svr.set_payload_max_length(size_t(options_.max_upload));
  svr.set_read_timeout(time_t(options_.read_timeout_s), 0);
  svr.set_write_timeout(time_t(options_.write_timeout_s), 0);
  svr.set_keep_alive_timeout(time_t(options_.keep_alive_s));
  svr.set_keep_alive_max_count(1000);
  // httplib writes the headers and a small body separately: with Nagle's algorithm on, the body
  // waits for the client's delayed ACK (~40 ms per request; measured 363 item GETs/s).
  svr.set_tcp_nodelay(true);

  // httplib 0.11 applies a Range header itself to every answer it sends (slicing even JSON
  // error bodies, and without bounds checks on streamed ones); the stream route reads the
  // header and answers ranges itself, so the parsed ranges are dropped before routing. The
  // Request is httplib's own non-const object, handed to handlers as const.
  svr.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    HttpMetrics::started();
    const_cast<httplib::Request&>(req).ranges.clear();
    // Only uploads stream their body to disk; every other body is read into memory, so a
    // declared length beyond what a JSON request needs is refused before it is read.
    constexpr uint64_t kMaxJsonBody = 64 << 20;
    bool upload = (req.method == "POST" && (req.path.ends_with("/items") || req.path.ends_with("/items/batch"))) ||
                  (req.method == "PUT" && req.path.find("/parts/") != std::string::npos);
    if (!upload && req.get_header_value<uint64_t>("Content-Length") > kMaxJsonBody) {
      send_error(res, 413, "request body too large (at most 64 MiB outside uploads)");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // httplib's own errors (no route, a malformed request) get the API's {"message"} body too.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty() || res.content_provider_) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, res.status, res.status == 404 ? "no such endpoint" : "HTTP error " + std::to_string(res.status));
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, 500, "internal error");
  });
  // Called once the answer is sent, every answer (httplib's own errors too): where it is counted.
  svr.set_logger([metrics = http_metrics_.get()](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("{} {} -> {}", req.method, req.path, res.status);
    metrics->finished(req, res);
  });
  add_platform_collector(*metrics_, platform);

  register_dataset_routes(svr, *ctx_);
  register_item_streams_route(svr, *ctx_);
  register_item_routes(svr, *ctx_);
  register_upload_routes(svr, *ctx_);
  register_batch_upload_routes(svr, *ctx_);
  register_upload_session_routes(svr, *ctx_);
  register_driver_routes(svr, *ctx_);
  register_metrics_route(svr, *ctx_, *metrics_);
  register_web_ui_routes(svr, *ctx_);
}

ApiServer::~ApiServer() = default;

Result<int> ApiServer::bind() {
  if (options_.tls_cert.empty() != options_.tls_key.empty())
    return Status(EINVAL, "https needs both --tls-cert and --tls-key");
  // httplib's SSLServer reads both files when made; a bad one leaves it invalid.
  if (!server_->is_valid())
    return Status(EINVAL, "cannot serve https with certificate " + options_.tls_cert + " and key " + options_.tls_key +
                              " (unreadable, not PEM, or they do not match)");
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
    if (port <= 0) return Status(EADDRNOTAVAIL, "cannot listen on " + options_.host + " (any port)");
  } else if (!server_->bind_to_port(options_.host, port)) {
    return Status(EADDRINUSE, "cannot listen on " + options_.host + ":" + std::to_string(port) +
                                  " (in use, or not an address of this machine)");
  }
  return port;
}

Status ApiServer::serve() {
  bool ok = server_->listen_after_bind();
  serve_done_ = true;
  if (!ok && !ctx_->draining()) return Status(EIO, "the HTTP server stopped unexpectedly");
  return {};
}

void ApiServer::stop() {
  if (!ctx_->drain(std::chrono::seconds(options_.drain_timeout_s)))
    spdlog::warn("requests still in flight after {} s; stopping anyway", options_.drain_timeout_s);
  // httplib's stop() does nothing before its loop runs: a signal right after bind() would be
  // lost, so ask again until serve() has returned (bounded, in case it never started).
  for (int i = 0; i < 500 && !serve_done_; ++i) {
    server_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace dlfs
