#include "support/metrics_scrape.h"

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

namespace dlfs::test {

namespace {

// One sample line: name{label="value",...} value [timestamp]
bool parse_line(const std::string& line, MetricSample& out) {
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  out.name = line.substr(0, i);
  out.labels.clear();
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t eq = line.find('=', i);
      if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return false;
      std::string key = line.substr(i, eq - i);
      std::string value;
      size_t j = eq + 2;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size()) {
          ++j;
          value += line[j] == 'n' ? '\n' : line[j];
        } else {
          value += line[j];
        }
      }
      if (j >= line.size()) return false;
      out.labels[key] = value;
      i = j + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return false;
    ++i;  // '}'
  }
  while (i < line.size() && line[i] == ' ') ++i;
  size_t end = line.find(' ', i);
  std::string number = line.substr(i, end == std::string::npos ? std::string::npos : end - i);
  if (number.empty()) return false;
  char* stop = nullptr;
  out.value = std::strtod(number.c_str(), &stop);  // (also reads +Inf, NaN)
  return stop && *stop == '\0';
}

}  // namespace

std::vector<MetricSample> parse_metrics(const std::string& text) {
  std::vector<MetricSample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    MetricSample s;
    if (parse_line(line, s)) out.push_back(std::move(s));
    else ADD_FAILURE() << "not a sample line: " << line;
  }
  return out;
}

std::optional<double> metric_value(const std::vector<MetricSample>& samples, const std::string& name,
                                   const std::map<std::string, std::string>& labels) {
  std::optional<double> sum;
  for (const MetricSample& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) match = false;
    }
    if (match) sum = sum.value_or(0) + s.value;
  }
  return sum;
}

std::map<std::string, std::string> metric_types(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string hash, kind, name, type;
    if (words >> hash >> kind >> name >> type && hash == "#" && kind == "TYPE") out[name] = type;
  }
  return out;
}

std::string scrape_metrics(const std::string& host_port, const std::string& token) {
  httplib::Client http(host_port);
  http.set_connection_timeout(5, 0);
  http.set_read_timeout(10, 0);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  auto r = http.Get("/metrics", headers);
  if (!r || r->status != 200) {
    ADD_FAILURE() << "GET http://" << host_port << "/metrics: " << (r ? std::to_string(r->status) + " " + r->body : "no answer");
    return "";
  }
  return r->body;
}

std::string scrape_metrics_until(const std::string& host_port,
                                 const std::function<bool(const std::vector<MetricSample>&)>& done) {
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text = scrape_metrics(host_port);
    if (done(parse_metrics(text))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return text;
}

}  // namespace dlfs::test
