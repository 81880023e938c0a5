// Reading Prometheus metrics in tests: a reader of the text format's sample lines (what the
// tests compare; the daemons write it with prometheus-cpp's TextSerializer), a scrape of
// http://HOST:PORT/metrics.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/loopback_port.h"

namespace dlfs::test {

struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// The sample lines of an exposition ("# HELP" and "# TYPE" lines skipped).
std::vector<MetricSample> parse_metrics(const std::string& text);
// The sum of the samples named `name` whose labels include `labels`; nullopt when none is.
std::optional<double> metric_value(const std::vector<MetricSample>& samples, const std::string& name,
                                   const std::map<std::string, std::string>& labels = {});
// The "# TYPE name kind" lines: name -> kind.
std::map<std::string, std::string> metric_types(const std::string& text);

// GET http://host_port/metrics (`token` as a Bearer token when given); the body, or "" with a
// test failure added when the answer is not 200.
std::string scrape_metrics(const std::string& host_port, const std::string& token = "");
// Scrapes until `done` holds of the samples, at most 5 s; the last scrape's text. (Both daemons
// count a request or an op once it has answered: a client may have the answer a moment before
// it is counted.)
std::string scrape_metrics_until(const std::string& host_port,
                                 const std::function<bool(const std::vector<MetricSample>&)>& done);

}  // namespace dlfs::test
