// dlfsd's metrics: every HTTP request counted by method, route and status, with its latency
// and bytes; and, read at scrape time, the catalogue's size, the preprocessing queue and the
// commands (syncs, imports) — see add_platform_collector.
//
// A request's route is the pattern it matched, not its path: the parts a pattern captures (ids)
// become "{}", so the label's values are bounded by the routes (plus "unmatched").
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <httplib.h>

#include "metrics/metrics.h"
#include "platform/platform.h"

namespace dlfs {

// "/api/v1/datasets/{}/items" for a request routed by R"(/api/v1/datasets/([^/]+)/items)";
// "unmatched" when no route took it (a 404, or a request refused before routing).
std::string route_label(const httplib::Request& req);

class HttpMetrics {
 public:
  // Registers dlfsd_http_requests_total{method,route,code}, dlfsd_http_request_duration_seconds
  // {method,route}, dlfsd_http_request_bytes_total and dlfsd_http_response_bytes_total
  // {method,route}.
  explicit HttpMetrics(Metrics& metrics);

  // From httplib's pre-routing handler: the request's headers are read; its clock starts (kept
  // per worker thread, which runs the request to its last byte).
  static void started();
  // From httplib's logger, once the answer is sent (a streamed body too).
  void finished(const httplib::Request& req, const httplib::Response& res);

 private:
  struct Route {
    prometheus::Histogram* latency;
    prometheus::Counter* bytes_in;
    prometheus::Counter* bytes_out;
  };
  Route& route(const std::string& method, const std::string& label);
  prometheus::Counter& requests(const std::string& method, const std::string& label, int status);

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& bytes_in_;
  prometheus::Family<prometheus::Counter>& bytes_out_;
  // The children made so far, by "METHOD route" (and " code"): prometheus-cpp's Add() would
  // make a histogram before finding it has one.
  std::mutex mu_;
  std::unordered_map<std::string, Route> routes_;
  std::unordered_map<std::string, prometheus::Counter*> counts_;
};

// Adds a collector of the platform's state to `metrics`: dlfsd_datasets, dlfsd_items (the
// datasets' counts, no scan), dlfsd_preprocess_queue_length, dlfsd_preprocessed_items_total,
// dlfsd_commands_running{type} and dlfsd_commands_finished_total{type,outcome}.
void add_platform_collector(Metrics& metrics, Platform& platform);

}  // namespace dlfs
