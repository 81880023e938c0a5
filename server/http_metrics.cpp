#include "server/http_metrics.h"

#include <spdlog/spdlog.h>

#include "platform/commands.h"
#include "platform/preprocess.h"

namespace dlfs {

namespace {

// When the request this worker thread serves was routed (unset: it never was, e.g. a 400 for
// a malformed request line).
thread_local std::optional<std::chrono::steady_clock::time_point> t_started;

// httplib takes only these methods; anything else would be an unbounded label.
std::string method_label(const std::string& method) {
  for (const char* m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
    if (method == m) return method;
  return "other";
}

}  // namespace

std::string route_label(const httplib::Request& req) {
  // httplib leaves `matches` empty unless a route's pattern matched the whole path.
  if (req.matches.empty()) return "unmatched";
  const std::string& path = req.path;
  std::string label;
  size_t at = 0;
  for (size_t i = 1; i < req.matches.size(); ++i) {
    const auto& group = req.matches[i];
    if (!group.matched) continue;
    size_t begin = size_t(group.first - path.begin()), end = size_t(group.second - path.begin());
    if (begin < at) continue;  // nested in the previous group
    label.append(path, at, begin - at);
    label += "{}";
    at = end;
  }
  label.append(path, at, std::string::npos);
  return label;
}

HttpMetrics::HttpMetrics(Metrics& metrics)
    : requests_(prometheus::BuildCounter()
                    .Name("dlfsd_http_requests_total")
                    .Help("HTTP requests answered, by method, route pattern and status code")
                    .Register(metrics.registry())),
      latency_(prometheus::BuildHistogram()
                   .Name("dlfsd_http_request_duration_seconds")
                   .Help("Time from a request's headers to the last byte of its answer, by method and route")
                   .Register(metrics.registry())),
      bytes_in_(prometheus::BuildCounter()
                    .Name("dlfsd_http_request_bytes_total")
                    .Help("Bytes of request bodies (as their Content-Length declares), by method and route")
                    .Register(metrics.registry())),
      bytes_out_(prometheus::BuildCounter()
                     .Name("dlfsd_http_response_bytes_total")
                     .Help("Bytes of response bodies (a streamed one as its length declares), by method and route")
                     .Register(metrics.registry())) {}

void HttpMetrics::started() { t_started = std::chrono::steady_clock::now(); }

HttpMetrics::Route& HttpMetrics::route(const std::string& method, const std::string& label) {
  std::string key = method + " " + label;
  std::lock_guard lock(mu_);
  auto it = routes_.find(key);
  if (it != routes_.end()) return it->second;
  prometheus::Labels labels{{"method", method}, {"route", label}};
  Route r{&latency_.Add(labels, latency_buckets()), &bytes_in_.Add(labels), &bytes_out_.Add(labels)};
  return routes_.emplace(std::move(key), r).first->second;
}

prometheus::Counter& HttpMetrics::requests(const std::string& method, const std::string& label, int status) {
  std::string code = std::to_string(status);
  std::string key = method + " " + label + " " + code;
  std::lock_guard lock(mu_);
  auto it = counts_.find(key);
  if (it != counts_.end()) return *it->second;
  prometheus::Counter* c = &requests_.Add({{"method", method}, {"route", label}, {"code", code}});
  counts_.emplace(std::move(key), c);
  return *c;
}

void HttpMetrics::finished(const httplib::Request& req, const httplib::Response& res) {
  auto now = std::chrono::steady_clock::now();
  double seconds = t_started ? std::chrono::duration<double>(now - *t_started).count() : 0;
  t_started.reset();
  std::string method = method_label(req.method);
  std::string label = route_label(req);
  requests(method, label, res.status).Increment();
  Route& r = route(method, label);
  r.latency->Observe(seconds);
  // A body read whole is in req.body; an upload's streamed body (read by its route) only declared.
  uint64_t in = req.body.size();
  if (in == 0 && !req.matches.empty()) in = req.get_header_value<uint64_t>("Content-Length");
  uint64_t out = req.method == "HEAD" ? 0 : res.body.size() + (res.content_provider_ ? res.content_length_ : 0);
  if (in) r.bytes_in->Increment(double(in));
  if (out) r.bytes_out->Increment(double(out));
}

void add_platform_collector(Metrics& metrics, Platform& platform) {
  metrics.add_collector([&platform](std::vector<prometheus::MetricFamily>& out) {
    if (auto size = platform.catalog_size()) {
      auto datasets = gauge_family("dlfsd_datasets", "Datasets in the store");
      add_sample(datasets, double(size->datasets));
      out.push_back(std::move(datasets));
      auto items = gauge_family("dlfsd_items", "File items in the store (every dataset's items count)");
      add_sample(items, double(size->items));
      out.push_back(std::move(items));
    } else {
      spdlog::warn("metrics: cannot read the catalogue's size: {}", size.status().to_string());
    }
    if (auto queued = platform.preprocess_queue_length()) {
      auto f = gauge_family("dlfsd_preprocess_queue_length", "Items waiting for preprocessing (any process's)");
      add_sample(f, double(*queued));
      out.push_back(std::move(f));
    }
    auto done = counter_family("dlfsd_preprocessed_items_total", "Items this server's workers preprocessed");
    add_sample(done, double(platform.preprocessor().processed()));
    out.push_back(std::move(done));

    auto tally = platform.commands().tally();
    tally.try_emplace("sync");  // shown (as 0) before the first sync
    auto running = gauge_family("dlfsd_commands_running", "Commands (syncs, imports) running, by type");
    auto finished = counter_family("dlfsd_commands_finished_total", "Commands finished, by type and outcome");
    for (const auto& [type, t] : tally) {
      add_sample(running, double(t.running), {{"type", type}});
      add_sample(finished, double(t.succeeded), {{"type", type}, {"outcome", "success"}});
      add_sample(finished, double(t.failed), {{"type", type}, {"outcome", "failed"}});
    }
    out.push_back(std::move(running));
    out.push_back(std::move(finished));
  });
}

}  // namespace dlfs
