// Requests per second that a running dlfsd answers: item GETs, and streams of a 100 KB item,
// from N clients (one kept-alive connection each) for S seconds.
// Usage: dlfsd_bench HOST:PORT TOKEN [CLIENTS=16] [SECONDS=5]   (bench/dlfsd_bench.sh runs it)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;

// Runs `request` from `clients` threads for `seconds`; answers requests/s (failures end a run).
template <typename F>
double rate(const std::string& host, const httplib::Headers& auth, int clients, int seconds, F request) {
  std::atomic<long> done{0}, failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&] {
      httplib::Client c(host);
      c.set_default_headers(auth);
      c.set_keep_alive(true);
      while (!stop) {
        if (request(c)) ++done;
        else ++failed;
      }
    });
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed) std::fprintf(stderr, "%ld requests failed\n", failed.load());
  return double(done) / s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: dlfsd_bench HOST:PORT TOKEN [CLIENTS] [SECONDS]\n");
    return 2;
  }
  std::string host = argv[1];
  httplib::Headers auth = {{"Authorization", std::string("Bearer ") + argv[2]}};
  int clients = argc > 3 ? std::atoi(argv[3]) : 16;
  int seconds = argc > 4 ? std::atoi(argv[4]) : 5;

  httplib::Client c(host);
  c.set_default_headers(auth);
  std::string name = "bench-" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  auto r = c.Post("/api/v1/datasets", json{{"name", name}}.dump(), "application/json");
  if (!r || r->status != 200) {
    std::fprintf(stderr, "cannot create a dataset: %s\n", r ? r->body.c_str() : "no answer");
    return 1;
  }
  std::string ds = json::parse(r->body)["id"];
  std::string bytes(100 * 1000, 'x');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = char(i * 7919 >> 3);
  r = c.Post("/api/v1/datasets/" + ds + "/items",
             httplib::MultipartFormDataItems{{"type", "file", "", ""}, {"path", "/b.bin", "", ""}, {"file", bytes, "b.bin", ""}});
  if (!r || r->status != 200) {
    std::fprintf(stderr, "cannot upload: %s\n", r ? r->body.c_str() : "no answer");
    return 1;
  }
  std::string item = "/api/v1/items/" + std::string(json::parse(r->body)["id"]);

  double gets = rate(host, auth, clients, seconds, [&](httplib::Client& cl) {
    auto res = cl.Get(item);
    return res && res->status == 200;
  });
  double streams = rate(host, auth, clients, seconds, [&](httplib::Client& cl) {
    auto res = cl.Get(item + "/stream");
    return res && res->status == 200 && res->body.size() == bytes.size();
  });
  std::printf("clients %d: item GET %.0f req/s; 100 KB stream %.0f req/s (%.0f MB/s)\n", clients, gets, streams,
              streams * double(bytes.size()) / 1e6);
  c.Delete("/api/v1/datasets/" + ds);
  return 0;
}
