// A /metrics endpoint of its own (mount.dlfs -o metrics=HOST:PORT): prometheus-cpp's pull
// Exposer, an embedded civetweb server with a couple of threads, serving a Metrics' collect()
// at /metrics on the one address given.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "metrics/metrics.h"

namespace prometheus {
class Exposer;
}

namespace dlfs {

class MetricsServer {
 public:
  // Listens on `address` ("HOST:PORT"; port 0: any free one). EADDRINUSE (or the civetweb
  // error) when it cannot. `metrics` must outlive the server.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& address, const Metrics& metrics);
  ~MetricsServer();  // stops serving (waits for a scrape under way)

  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace dlfs
