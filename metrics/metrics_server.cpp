#include "metrics/metrics_server.h"

#include <prometheus/exposer.h>

#include <exception>

namespace dlfs {

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& address, const Metrics& metrics) {
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  // civetweb throws (CivetException) when it cannot listen; nothing of it may escape.
  try {
    // listening_ports is civetweb's address syntax (127.0.0.1:9100, [::1]:9100); two threads:
    // a scrape every few seconds needs no more.
    server->exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", address, "num_threads", "2"});
    server->exposer_->RegisterCollectable(metrics.collectable());
    auto ports = server->exposer_->GetListeningPorts();
    server->port_ = ports.empty() ? 0 : ports.front();
  } catch (const std::exception& e) {
    return Status(EADDRINUSE, "cannot serve metrics on " + address + " (in use, or not an address of this machine)",
                  e.what());
  }
  return server;
}

MetricsServer::~MetricsServer() = default;

}  // namespace dlfs
