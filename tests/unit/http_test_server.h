// An in-test HTTP server (cpp-httplib) on 127.0.0.1, on a port the kernel picks, serving from a
// thread; stopped (and its thread joined) by the destructor on every path out of a test.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace dlfs::test {

class TestServer {
 public:
  TestServer() = default;
  ~TestServer() { stop(); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  httplib::Server& svr() { return svr_; }
  // Binds (the socket listens from here on, so clients may connect at once) and serves.
  void start() {
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    stopping = true;
    // stop() does nothing before the loop runs: wait (bounded) until it does.
    for (int i = 0; i < 500 && !svr_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    svr_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string base() const { return origin() + "/api/v1"; }

  std::atomic<bool> stopping{false};  // handlers that stall poll this

 private:
  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace dlfs::test

#include <gtest/gtest.h>

#include "core/item.h"
#include "remote/http_remote.h"

namespace dlfs::test {

inline constexpr const char* kDatasetId = "65f0c0ffee0000000000abcd";

// Answers GET /api/v1/datasets/<kDatasetId> with a dataset named `name`.
inline void serve_dataset(TestServer& server, const std::string& name = "ds") {
  server.svr().Get(std::string("/api/v1/datasets/") + kDatasetId, [name](const httplib::Request&, httplib::Response& res) {
    Dataset ds;
    ds.id = kDatasetId;
    ds.name = name;
    res.set_content(dataset_to_json(ds).dump(), "application/json");
  });
}

inline Item make_item(const std::string& id, const std::string& path, uint64_t size, ItemType type = ItemType::kFile) {
  Item item;
  item.id = id;
  item.dataset_id = kDatasetId;
  item.set_path(path);
  item.type = type;
  if (type == ItemType::kFile) item.system()["size"] = size;
  return item;
}

inline std::string page_json(const std::vector<Item>& items, bool has_next, uint64_t total) {
  json doc = {{"totalItemsCount", total}, {"totalPagesCount", 1}, {"hasNextPage", has_next}, {"items", json::array()}};
  for (const auto& i : items) doc["items"].push_back(item_to_json(i));
  return doc.dump();
}

// Transport options for tests: short timeouts and backoffs.
inline HttpOptions fast_options(const std::string& base, int attempts = 3) {
  HttpOptions o;
  o.base_url = base;
  o.token = "tok-123";
  o.connect_timeout_ms = 1000;
  o.low_speed_time_s = 1;
  o.max_attempts = attempts;
  o.backoff_base_ms = 10;
  o.backoff_max_ms = 40;
  return o;
}

// The Remote of the server's dataset (serve_dataset), or nullptr with a test failure.
inline std::unique_ptr<Remote> open_remote(const TestServer& server) {
  HttpConnection conn(fast_options(server.base()));
  auto r = conn.open(kDatasetId);
  EXPECT_TRUE(r) << r.status().to_string();
  return r ? std::move(r).value() : nullptr;
}

// Reads `len` bytes from `offset` of the item `id`; "<error>" with a test failure if it fails.
inline std::string read_range(Remote& remote, const std::string& id, uint64_t size, uint64_t offset, size_t len) {
  std::string buf(len, '?');
  auto n = remote.read(make_item(id, "/x", size), offset, std::span<char>(buf));
  EXPECT_TRUE(n) << n.status().to_string();
  if (!n) return "<error>";
  buf.resize(*n);
  return buf;
}

}  // namespace dlfs::test
