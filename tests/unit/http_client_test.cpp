// The HTTP transport against in-test servers: retries (503, 429, transport errors) and none on
// 4xx, errno mapping with the server's message, a stalled body, redirects that keep the token at
// home, ranged reads into the caller's buffer.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <thread>

#include "net/http_client.h"
#include "remote/http_remote.h"
#include "support/loopback_port.h"
#include "http_test_server.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

const std::string kItemId = "65f1c0ffee0000000000a001";

std::string item_body() { return item_to_json(make_item(kItemId, "/a/b.bin", 10)).dump(); }

// GET `path` with these options; the answer and how long it took.
struct Timed {
  Result<HttpResponse> result;
  std::chrono::steady_clock::duration took;
};
Timed timed_get(const HttpOptions& o, const std::string& path) {
  HttpClient http(o);
  HttpRequest req;
  req.path = path;
  auto start = std::chrono::steady_clock::now();
  Result<HttpResponse> r = http.send(req);
  return {std::move(r), std::chrono::steady_clock::now() - start};
}

}  // namespace

TEST(HttpClient, RetriesOn503ThenSucceedsWithTheTokenEveryTime) {
  TestServer server;
  std::atomic<int> count{0}, with_token{0};
  server.svr().Get("/api/v1/items/" + kItemId, [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") == "Bearer tok-123") ++with_token;
    if (++count <= 2) {
      res.status = 503;
      res.set_content(R"({"message":"busy"})", "application/json");
      return;
    }
    res.set_content(item_body(), "application/json");
  });
  server.start();
  HttpClient http(fast_options(server.base()));
  HttpRequest req;
  req.path = "/items/" + kItemId;
  auto doc = http.send_json(req);
  ASSERT_TRUE(doc) << doc.status().to_string();
  EXPECT_EQ((*doc)["filename"], "/a/b.bin");
  EXPECT_EQ(count, 3);
  EXPECT_EQ(with_token, 3);
}

TEST(HttpClient, RetriesOn429ThenSucceeds) {
  TestServer server;
  std::atomic<int> count{0};
  server.svr().Post("/api/v1/datasets/query", [&](const httplib::Request&, httplib::Response& res) {
    if (++count == 1) {
      res.status = 429;
      res.set_header("Retry-After", "0");
      return;
    }
    res.set_content(R"({"totalItemsCount":0,"hasNextPage":false,"items":[]})", "application/json");
  });
  server.start();
  HttpConnection conn(fast_options(server.base()));
  auto list = conn.list_datasets();
  ASSERT_TRUE(list) << list.status().to_string();
  EXPECT_TRUE(list->empty());
  EXPECT_EQ(count, 2);
}

TEST(HttpClient, GivesUpAfterMaxAttemptsOn5xx) {
  TestServer server;
  std::atomic<int> count{0};
  server.svr().Get("/api/v1/users/me", [&](const httplib::Request&, httplib::Response& res) {
    ++count;
    res.status = 500;
    res.set_content(R"({"message":"database on fire"})", "application/json");
  });
  server.start();
  auto [r, took] = timed_get(fast_options(server.base()), "/users/me");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err(), EIO);
  EXPECT_EQ(r.status().message(), "database on fire");
  EXPECT_EQ(count, 3);
}

TEST(HttpClient, NoRetryOn4xxAndErrnoMapped) {
  TestServer server;
  std::atomic<int> count{0};
  server.svr().Get(R"(/api/v1/code/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
    ++count;
    res.status = std::stoi(req.matches[1]);
    res.set_content(R"({"message":"told you: )" + std::string(req.matches[1]) + R"("})", "application/json");
  });
  server.start();
  HttpClient http(fast_options(server.base()));
  std::pair<int, int> cases[] = {{404, ENOENT}, {409, EEXIST}, {401, EACCES}, {403, EACCES},
                                 {413, EFBIG},  {400, EINVAL}, {408, ETIMEDOUT}, {422, EIO}};
  for (auto [code, err] : cases) {
    count = 0;
    HttpRequest req;
    req.path = "/code/" + std::to_string(code);
    auto r = http.send(req);
    ASSERT_FALSE(r) << code;
    EXPECT_EQ(r.err(), err) << code;
    EXPECT_EQ(r.status().message(), "told you: " + std::to_string(code));
    EXPECT_NE(r.status().cause().find("HTTP " + std::to_string(code)), std::string::npos) << r.status().cause();
    EXPECT_EQ(count, 1) << code;
  }
}

TEST(HttpClient, MakeDirConflictIsEexistWithoutRetry) {
  TestServer server;
  serve_dataset(server);
  std::atomic<int> count{0};
  std::string form;
  server.svr().Post(std::string("/api/v1/datasets/") + kDatasetId + "/items",
                    [&](const httplib::Request& req, httplib::Response& res) {
                      ++count;
                      form = req.get_param_value("type") + " " + req.get_param_value("path");
                      res.status = 409;
                      res.set_content(R"({"message":"'/a b' exists"})", "application/json");
                    });
  server.start();
  HttpConnection conn(fast_options(server.base()));
  auto remote = conn.open(kDatasetId);
  ASSERT_TRUE(remote) << remote.status().to_string();
  auto made = (*remote)->make_dir("/a b");
  ASSERT_FALSE(made);
  EXPECT_EQ(made.err(), EEXIST);
  EXPECT_EQ(made.status().message(), "'/a b' exists");
  EXPECT_EQ(form, "dir /a b");
  EXPECT_EQ(count, 1);
}

TEST(HttpClient, ConnectionRefusedRetriesThenFails) {
  int port;
  {
    TestServer gone;
    gone.start();
    port = gone.port();
  }  // nothing listens there any more
  HttpOptions o = fast_options("http://127.0.0.1:" + std::to_string(port) + "/api/v1");
  o.backoff_base_ms = 100;
  o.backoff_max_ms = 100;
  auto [r, took] = timed_get(o, "/users/me");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err(), EIO);
  EXPECT_EQ(r.status().message(), "cannot reach the server");
  // Two backoffs of 50-100 ms each between the three tries.
  EXPECT_GE(took, 100ms);
  EXPECT_LT(took, 5s);
}

TEST(HttpClient, StallMidBodyAnswersEtimedoutWithinTheBound) {
  TestServer server;
  std::atomic<int> count{0};
  server.svr().Get("/api/v1/slow", [&](const httplib::Request&, httplib::Response& res) {
    ++count;
    res.set_content_provider(
        1000, "application/octet-stream", [&](size_t offset, size_t, httplib::DataSink& sink) {
          if (offset == 0) {
            std::string half(500, 'x');
            sink.write(half.data(), half.size());
            return true;
          }
          // Stall (until the test ends) without closing: only stall detection gets the client out.
          for (int i = 0; i < 1000 && !server.stopping; ++i) std::this_thread::sleep_for(10ms);
          return false;
        });
  });
  server.start();
  HttpOptions o = fast_options(server.base());
  o.max_attempts = 2;
  auto [r, took] = timed_get(o, "/slow");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err(), ETIMEDOUT) << r.status().to_string();
  EXPECT_EQ(count, 2);
  EXPECT_LT(took, 8s);  // two tries of ~1-2 s stall detection each
}

// A create or delete done by a try whose answer was lost (the server stalled past the stall bound,
// or died after doing it): the retry's 409 or 404 means done, not an error.
namespace {
// The first call stalls past the client's 1 s bound (until the server stops at the latest).
bool stall_once(TestServer& server, std::atomic<int>& count) {
  if (++count > 1) return false;
  for (int i = 0; i < 150 && !server.stopping; ++i) std::this_thread::sleep_for(10ms);
  return true;
}
}  // namespace

TEST(HttpClient, ACreateOrDeleteWhoseAnswerWasLostIsDone) {
  // Declared before the server: a stalled handler may still run them while the server stops.
  std::atomic<int> posts{0}, deletes{0};
  TestServer server;
  serve_dataset(server);
  const std::string items = std::string("/api/v1/datasets/") + kDatasetId + "/items";
  server.svr().Post(items, [&](const httplib::Request&, httplib::Response& res) {
    if (stall_once(server, posts)) return;
    res.status = 409;
    res.set_content(R"({"message":"'/d' exists"})", "application/json");
  });
  server.svr().Post(std::string("/api/v1/datasets/") + kDatasetId + "/query",
                    [&](const httplib::Request&, httplib::Response& res) {
                      res.set_content(page_json({make_item(kItemId, "/d", 0, ItemType::kDir)}, false, 1), "application/json");
                    });
  server.svr().Delete("/api/v1/items/" + kItemId, [&](const httplib::Request&, httplib::Response& res) {
    if (stall_once(server, deletes)) return;
    res.status = 404;
    res.set_content(R"({"message":"no such item"})", "application/json");
  });
  server.start();
  auto remote = open_remote(server);
  ASSERT_TRUE(remote);
  auto made = remote->make_dir("/d");
  ASSERT_TRUE(made) << made.status().to_string();
  EXPECT_EQ(made->id, kItemId);
  EXPECT_TRUE(made->is_dir());
  EXPECT_EQ(posts, 2);
  EXPECT_TRUE(remote->remove(kItemId));
  EXPECT_EQ(deletes, 2);
  // Without a lost answer, they are errors as ever.
  EXPECT_EQ(remote->make_dir("/d").err(), EEXIST);
  EXPECT_EQ(remote->remove(kItemId).err(), ENOENT);
}

// A server whose kernel accepts connections but that never reads or writes a byte (a stopped
// process): the stall bound covers the wait for the first byte of the answer too.
TEST(HttpClient, AServerThatNeverAnswersIsBoundedByTheStallTime) {
  int port = 0;
  int fd = loopback_socket(true, port);  // never accepted: the kernel completes the handshakes
  ASSERT_GE(fd, 0);
  HttpOptions o = fast_options("http://127.0.0.1:" + std::to_string(port) + "/api/v1");
  o.max_attempts = 2;
  o.low_speed_time_s = 1;
  auto [r, took] = timed_get(o, "/items/x");
  EXPECT_EQ(r.err(), ETIMEDOUT) << r.status().to_string();
  EXPECT_GE(took, 1900ms);  // two whole stall periods
  EXPECT_LT(took, 6s);
  // A POST with a body (a query) too.
  HttpClient http(o);
  HttpRequest post;
  post.method = "POST";
  post.path = "/datasets/x/query";
  post.body = R"({"filter":{}})";
  post.content_type = "application/json";
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(http.send(post).err(), ETIMEDOUT);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 6s);
  ::close(fd);
}

// A request may wait longer than the client's stall bound (S3's Complete of a big upload: the
// store works long before its first byte): its own low_speed_time_s bounds it instead.
TEST(HttpClient, ARequestsOwnStallBoundOutlastsTheClients) {
  int port = 0;
  int fd = loopback_socket(true, port);  // never answers
  ASSERT_GE(fd, 0);
  HttpOptions o = fast_options("http://127.0.0.1:" + std::to_string(port) + "/api/v1");
  o.max_attempts = 1;
  o.low_speed_time_s = 1;
  HttpClient http(o);
  HttpRequest req;
  req.method = "POST";
  req.path = "/complete";
  req.body = "x";
  req.low_speed_time_s = 3;
  auto start = std::chrono::steady_clock::now();
  auto r = http.send(req);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.err(), ETIMEDOUT);
  EXPECT_NE(r.status().to_string().find("no byte moved for 3 s"), std::string::npos) << r.status().to_string();
  EXPECT_GE(took, 2900ms);
  EXPECT_LT(took, 8s);
  ::close(fd);
}

namespace {

// A server that answers ranged GETs of `data` (httplib makes the 206 and its Content-Range),
// 416 past the end, and counts requests that carried a token. `ignore_range`: a 200 with the
// whole body (chunked, so that httplib does not apply the range itself).
void serve_ranged(TestServer& s, const std::string& path, const std::string& data, std::atomic<int>* with_token,
                  bool ignore_range = false) {
  s.svr().Get(path, [=, &data](const httplib::Request& req, httplib::Response& res) {
    if (with_token && req.has_header("Authorization")) ++*with_token;
    if (ignore_range) {
      res.status = 200;
      res.set_chunked_content_provider("application/octet-stream", [&data](size_t offset, httplib::DataSink& sink) {
        if (offset < data.size()) sink.write(data.data() + offset, std::min<size_t>(1000, data.size() - offset));
        else sink.done();
        return true;
      });
      return;
    }
    if (!req.ranges.empty() && req.ranges[0].first >= ssize_t(data.size())) {
      res.status = 416;
      return;
    }
    res.set_content(data, "application/octet-stream");
  });
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char('a' + (i * 7 + i / 251) % 26);
  return s;
}

}  // namespace

TEST(HttpClient, RangedReadsLandInTheCallersBuffer) {
  static const std::string data = pattern(100000);
  TestServer server;
  serve_dataset(server);
  serve_ranged(server, "/api/v1/items/" + kItemId + "/stream", data, nullptr);
  server.start();
  auto remote = open_remote(server);
  ASSERT_TRUE(remote);
  for (auto [off, len] : {std::pair<uint64_t, size_t>{0, 10}, {12345, 4096}, {99990, 100}, {0, 100000}})
    EXPECT_EQ(read_range(*remote, kItemId, data.size(), off, len), data.substr(off, len)) << off;
  EXPECT_EQ(read_range(*remote, kItemId, data.size(), data.size(), 10), "");  // 416: at the end
}

TEST(HttpClient, AServerThatIgnoresRangeStillAnswersTheRightBytes) {
  static const std::string data = pattern(5000);
  TestServer server;
  serve_dataset(server);
  serve_ranged(server, "/api/v1/items/" + kItemId + "/stream", data, nullptr, /*ignore_range=*/true);
  server.start();
  auto remote = open_remote(server);
  ASSERT_TRUE(remote);
  EXPECT_EQ(read_range(*remote, kItemId, data.size(), 1234, 100), data.substr(1234, 100));
}

TEST(HttpClient, RedirectToStorageIsFollowedWithoutTheToken) {
  static const std::string data = pattern(20000);
  TestServer storage, api;
  std::atomic<int> storage_with_token{0}, storage_hits{0}, same_host_with_token{0};
  storage.svr().Get("/bucket/blob", [&](const httplib::Request& req, httplib::Response& res) {
    ++storage_hits;
    if (req.has_header("Authorization")) ++storage_with_token;
    res.set_content(data, "application/octet-stream");
  });
  storage.start();
  serve_dataset(api);
  api.svr().Get("/api/v1/items/" + kItemId + "/stream", [&](const httplib::Request&, httplib::Response& res) {
    res.set_redirect(storage.origin() + "/bucket/blob?sig=secret", 302);
  });
  // A redirect that stays on the API's own origin keeps the token.
  const std::string other = "65f1c0ffee0000000000a002";
  api.svr().Get("/api/v1/items/" + other + "/stream", [&](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/api/v1/local/blob", 302);
  });
  serve_ranged(api, "/api/v1/local/blob", data, &same_host_with_token);
  api.start();

  auto remote = open_remote(api);
  ASSERT_TRUE(remote);
  EXPECT_EQ(read_range(*remote, kItemId, data.size(), 777, 300), data.substr(777, 300));
  EXPECT_EQ(storage_hits, 1);
  EXPECT_EQ(storage_with_token, 0);
  EXPECT_EQ(read_range(*remote, other, data.size(), 10, 300), data.substr(10, 300));
  EXPECT_EQ(same_host_with_token, 1);
}

TEST(HttpClient, MalformedJsonIsEioNotAnException) {
  TestServer server;
  server.svr().Get("/api/v1/users/me", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{not json", "application/json");
  });
  server.start();
  HttpClient http(fast_options(server.base()));
  HttpRequest req;
  req.path = "/users/me";
  auto r = http.send_json(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err(), EIO);
  HttpConnection conn(fast_options(server.base()));
  EXPECT_EQ(conn.user(), "");
}

// A mount's client (probe_path set): a stall or a refused connection marks the server away at
// once; a probe in the background brings it back as soon as the server answers, without any
// caller's request. A client without probe_path is never away.
namespace {
// While `stalled`: answers nothing for 1.5 s (past the client's 1 s bound), or until the server stops.
void stall_while(const std::atomic<bool>& stalled, const TestServer& server) {
  for (int i = 0; i < 150 && stalled && !server.stopping; ++i) std::this_thread::sleep_for(10ms);
}
}  // namespace

TEST(HttpClient, AServerThatStallsIsAwayUntilAProbeHasAnAnswer) {
  std::atomic<bool> stalled{false};
  std::atomic<int> probes{0};
  TestServer server;
  server.svr().Get("/api/v1/items/x", [&stalled, &server](const httplib::Request&, httplib::Response& res) {
    stall_while(stalled, server);
    res.set_content(item_body(), "application/json");
  });
  server.svr().Get("/api/v1/users/me", [&stalled, &server, &probes](const httplib::Request&, httplib::Response& res) {
    ++probes;
    stall_while(stalled, server);
    res.set_content(R"({"id":"u","email":"u@x"})", "application/json");
  });
  server.start();
  HttpOptions o = fast_options(server.base(), 1);
  o.probe_path = "/users/me";
  o.probe_interval_ms = 50;
  HttpClient http(o);
  HttpRequest get;
  get.path = "/items/x";
  ASSERT_TRUE(http.send(get));
  EXPECT_FALSE(http.away());
  EXPECT_EQ(probes, 0);  // nobody probes a server that answers

  stalled = true;
  EXPECT_EQ(http.send(get).err(), ETIMEDOUT);
  EXPECT_TRUE(http.away());
  EXPECT_NE(http.away_reason().find("did not answer in time"), std::string::npos) << http.away_reason();
  // Still stalled: the probes keep failing and it stays away.
  for (int i = 0; i < 500 && probes < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(probes, 2);
  EXPECT_TRUE(http.away());

  stalled = false;  // back: a probe has an answer within an interval or two
  auto start = std::chrono::steady_clock::now();
  while (http.away() && std::chrono::steady_clock::now() - start < 5s) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(http.away());
  EXPECT_EQ(http.away_reason(), "");
  int probes_when_back = probes;
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(probes, probes_when_back);  // and the prober stops

  // An error answer is an answer: the server is there.
  stalled = true;
  EXPECT_FALSE(http.send(get));
  EXPECT_TRUE(http.away());
  stalled = false;
  HttpRequest missing;
  missing.path = "/items/none";
  EXPECT_EQ(http.send(missing).err(), ENOENT);
  EXPECT_FALSE(http.away());

  // A client destroyed while its probe waits on a stalled server returns within the probe's bound.
  stalled = true;
  auto gone_start = std::chrono::steady_clock::now();
  {
    HttpClient other(o);
    EXPECT_FALSE(other.send(get));
    EXPECT_TRUE(other.away());
    std::this_thread::sleep_for(100ms);  // a probe is in flight
  }
  EXPECT_LT(std::chrono::steady_clock::now() - gone_start, 6s);
  stalled = false;

  // Without probe_path: never away.
  HttpOptions plain = fast_options(server.base(), 1);
  HttpClient no_probe(plain);
  stalled = true;
  EXPECT_FALSE(no_probe.send(get));
  EXPECT_FALSE(no_probe.away());
  stalled = false;
}

TEST(HttpClient, ARefusedConnectionMarksTheServerAway) {
  int port = 0;
  int fd = loopback_socket(false, port);  // a port nothing listens on
  ASSERT_GE(fd, 0);
  HttpOptions o = fast_options("http://127.0.0.1:" + std::to_string(port) + "/api/v1", 1);
  o.probe_path = "/users/me";
  HttpClient http(o);
  HttpRequest get;
  get.path = "/items/x";
  EXPECT_EQ(http.send(get).err(), EIO);
  EXPECT_TRUE(http.away());
  EXPECT_NE(http.away_reason().find("cannot reach the server"), std::string::npos) << http.away_reason();
  ::close(fd);
}
