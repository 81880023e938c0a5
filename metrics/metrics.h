// Prometheus metrics, on prometheus-cpp (Debian's prometheus-cpp-dev, the standard Prometheus
// client for C++). A process keeps one Metrics: the counters and histograms it moves as it goes
// live in registry(), made once up front (a hot path then only touches atomics); collectors add,
// at every scrape, values read from counters kept elsewhere (the filesystem's atomics, the
// catalogue's sizes) so that nothing is counted twice. serialize() answers the text exposition
// format, written by prometheus-cpp's own TextSerializer.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

namespace dlfs {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  prometheus::Registry& registry() { return *registry_; }

  // Called at every scrape, adding families to `out`. Must be cheap (a scrape comes every few
  // seconds) and must not throw. Add collectors before the first scrape.
  using Collector = std::function<void(std::vector<prometheus::MetricFamily>& out)>;
  void add_collector(Collector collector);

  // Everything: the registry's families and the collectors'.
  std::vector<prometheus::MetricFamily> collect() const;
  // collect() in the Prometheus text format (version 0.0.4).
  std::string serialize() const;
  // collect() as JSON, for `dlfs status` (through a mount's user.dl.metrics): {family: {"type",
  // "samples": [{"labels": {...}, "value"} or, for a histogram, {"labels", "count", "sum"}]}}.
  std::string to_json() const;
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // collect() as a prometheus::Collectable (for prometheus::Exposer); valid while this lives.
  std::shared_ptr<prometheus::Collectable> collectable() const { return collectable_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> collectable_;
  mutable std::mutex mu_;
  std::vector<Collector> collectors_;
};

// Families built at scrape time by collectors.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;
prometheus::MetricFamily counter_family(std::string name, std::string help);
prometheus::MetricFamily gauge_family(std::string name, std::string help);
// Adds one sample (a counter's or a gauge's value, by the family's type) with these labels.
void add_sample(prometheus::MetricFamily& family, double value, const MetricLabels& labels = {});

// Bucket bounds (seconds) for latencies from tens of microseconds (a FUSE op answered from
// memory) to tens of seconds (a remote call that retries).
const prometheus::Histogram::BucketBoundaries& latency_buckets();

}  // namespace dlfs
