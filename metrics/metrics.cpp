#include "metrics/metrics.h"

#include <nlohmann/json.hpp>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace dlfs {

namespace {

class MetricsCollectable : public prometheus::Collectable {
 public:
  explicit MetricsCollectable(const Metrics& metrics) : metrics_(metrics) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return metrics_.collect(); }

 private:
  const Metrics& metrics_;
};

prometheus::MetricFamily make_family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      collectable_(std::make_shared<MetricsCollectable>(*this)) {}

Metrics::~Metrics() = default;

void Metrics::add_collector(Collector collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::vector<prometheus::MetricFamily> Metrics::collect() const {
  std::vector<prometheus::MetricFamily> out = registry_->Collect();
  std::lock_guard lock(mu_);
  for (const Collector& c : collectors_) c(out);
  return out;
}

std::string Metrics::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const prometheus::MetricFamily& family : collect()) {
    nlohmann::json samples = nlohmann::json::array();
    for (const prometheus::ClientMetric& m : family.metric) {
      nlohmann::json labels = nlohmann::json::object();
      for (const auto& label : m.label) labels[label.name] = label.value;
      nlohmann::json sample = {{"labels", std::move(labels)}};
      switch (family.type) {
        case prometheus::MetricType::Counter: sample["value"] = m.counter.value; break;
        case prometheus::MetricType::Gauge: sample["value"] = m.gauge.value; break;
        case prometheus::MetricType::Histogram:
          sample["count"] = m.histogram.sample_count;
          sample["sum"] = m.histogram.sample_sum;
          break;
        default: sample["value"] = m.untyped.value; break;
      }
      samples.push_back(std::move(sample));
    }
    const char* type = family.type == prometheus::MetricType::Counter     ? "counter"
                       : family.type == prometheus::MetricType::Gauge     ? "gauge"
                       : family.type == prometheus::MetricType::Histogram ? "histogram"
                                                                          : "untyped";
    out[family.name] = {{"type", type}, {"samples", std::move(samples)}};
  }
  return out.dump();
}

std::string Metrics::serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, collect());
  return out.str();
}

prometheus::MetricFamily counter_family(std::string name, std::string help) {
  return make_family(std::move(name), std::move(help), prometheus::MetricType::Counter);
}

prometheus::MetricFamily gauge_family(std::string name, std::string help) {
  return make_family(std::move(name), std::move(help), prometheus::MetricType::Gauge);
}

void add_sample(prometheus::MetricFamily& family, double value, const MetricLabels& labels) {
  prometheus::ClientMetric m;
  for (const auto& [name, v] : labels) m.label.push_back({name, v});
  if (family.type == prometheus::MetricType::Counter) m.counter.value = value;
  else if (family.type == prometheus::MetricType::Gauge) m.gauge.value = value;
  else m.untyped.value = value;
  family.metric.push_back(std::move(m));
}

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  return kBuckets;
}

}  // namespace dlfs
