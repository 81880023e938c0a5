#include "metrics/metrics.h"
#include "server/routes.h"

namespace dlfs {

void register_metrics_route(httplib::Server& svr, ApiContext& ctx, const Metrics& metrics) {
  using Access = ServerOptions::MetricsAccess;
  if (ctx.options.metrics == Access::kOff) return;  // httplib's 404
  bool auth = ctx.options.metrics == Access::kToken;
  svr.Get("/metrics", ctx.wrap([&metrics](const httplib::Request&, httplib::Response& res, const Caller&) {
    res.set_content(metrics.serialize(), Metrics::kContentType);
  }, auth));
}

}  // namespace dlfs
