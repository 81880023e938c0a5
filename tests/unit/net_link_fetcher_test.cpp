// The libcurl link fetcher and its guard, against real HTTP servers on 127.0.0.1 started by the
// tests (cpp-httplib) and file:// URLs. Each refusal is checked on what the server saw: a
// refused fetch never reaches it.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "net/link_fetcher.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "http_test_server.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

std::string payload(size_t n) {
  std::string data;
  data.reserve(n);
  for (size_t i = 0; i < n; ++i) data.push_back(char('a' + (i * 7 + i / 26) % 26));
  return data;
}

LinkPolicy policy() {
  LinkPolicy p;
  p.private_hint = "mount with -o link_allow_private to allow it";
  p.file_hint = "mount with -o link_allow_file to allow them";
  p.connect_timeout_ms = 2000;
  p.timeout_ms = 20000;
  return p;
}

LinkPolicy allow_private() {
  LinkPolicy p = policy();
  p.allow_private = true;
  return p;
}

// "<error>" on failure (the status in `failure`).
Result<std::string> read_at(LinkFetcher& f, const std::string& url, uint64_t offset, size_t len) {
  std::string buf(len, '\0');
  DLFS_ASSIGN(size_t n, f.read(url, offset, std::span<char>(buf.data(), buf.size())));
  buf.resize(n);
  return buf;
}

// A server of `data` at /data (cpp-httplib answers Range with 206) and /chunked, redirects at /to?url=U and
// /loop/N (to /loop/N+1) and /chain/N (N redirects, then /data), counting every request.
struct DataServer {
  std::string data = payload(100000);
  std::atomic<int> hits{0};
  // Last: destroyed first, its threads joined before the data its handlers send goes (a client
  // that stopped reading early left a handler writing while ASan saw the data freed).
  TestServer server;

  DataServer() {
    server.svr().set_pre_routing_handler([this](const httplib::Request&, httplib::Response&) {
      ++hits;
      return httplib::Server::HandlerResponse::Unhandled;
    });
    server.svr().Get("/data", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(data, "application/octet-stream");
    });
    server.svr().Get("/tagged", [this](const httplib::Request&, httplib::Response& res) {
      res.set_header("ETag", "\"v7\"");
      res.set_header("Last-Modified", "Fri, 04 Dec 2026 10:00:00 GMT");
      res.set_content(data, "image/png");
    });
    server.svr().Get("/chunked", [this](const httplib::Request&, httplib::Response& res) {  // no Content-Length
      res.set_chunked_content_provider("application/octet-stream", [this](size_t offset, httplib::DataSink& sink) {
        if (offset >= data.size()) {
          sink.done();
          return true;
        }
        return sink.write(data.data() + offset, std::min<size_t>(10000, data.size() - offset));
      });
    });
    server.svr().Get("/to", [](const httplib::Request& req, httplib::Response& res) {
      res.set_redirect(req.get_param_value("url"));
    });
    server.svr().Get(R"(/loop/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      res.set_redirect("/loop/" + std::to_string(std::stoi(req.matches[1]) + 1));
    });
    server.svr().Get(R"(/chain/(\d+))", [](const httplib::Request& req, httplib::Response& res) {  // N redirects
      int n = std::stoi(req.matches[1]);
      res.set_redirect(n <= 1 ? "/data" : "/chain/" + std::to_string(n - 1));
    });
    server.start();
  }
  std::string url(const std::string& path) const { return server.origin() + path; }
};

}  // namespace

TEST(LinkFetcher, FileUrlsOnlyWithAllowFile) {
  TempDir dir;
  std::string data = payload(100000);
  write_file(dir.sub("target.bin"), data);
  std::string url = "file://" + dir.sub("target.bin");
  // Refused by default, with how to allow it.
  auto strict = make_curl_link_fetcher(policy());
  auto refused = read_at(*strict, url, 0, 100);
  ASSERT_EQ(refused.err(), EACCES);
  EXPECT_EQ(refused.status().message(), "link target " + url +
                                            " refused: file:// links read this machine's own files; mount with -o "
                                            "link_allow_file to allow them");
  EXPECT_EQ(strict->size(url).err(), EACCES);
  // Allowed with allow_file: sizes and ranged reads.
  LinkPolicy p = policy();
  p.allow_file = true;
  auto fetcher = make_curl_link_fetcher(p);
  auto size = fetcher->size(url);
  ASSERT_TRUE(size) << size.status().to_string();
  EXPECT_EQ(*size, 100000u);
  auto mid = read_at(*fetcher, url, 5000, 1000);
  ASSERT_TRUE(mid) << mid.status().to_string();
  EXPECT_EQ(*mid, data.substr(5000, 1000));
  auto tail = read_at(*fetcher, url, 99990, 1000);
  ASSERT_TRUE(tail) << tail.status().to_string();
  EXPECT_EQ(*tail, data.substr(99990));
  EXPECT_EQ(fetcher->size("file://" + dir.sub("missing")).err(), ENOENT);
  EXPECT_FALSE(read_at(*fetcher, "file://" + dir.sub("missing"), 0, 10));
  // Only http, https and file: nothing else is fetched.
  EXPECT_EQ(fetcher->size("gopher://localhost/x").err(), EACCES);
  EXPECT_EQ(fetcher->size("dict://localhost/x").err(), EACCES);
}

TEST(LinkFetcher, LoopbackRefusedByDefault) {
  DataServer s;
  auto fetcher = make_curl_link_fetcher(policy());
  std::string url = s.url("/data");
  auto r = read_at(*fetcher, url, 0, 100);
  ASSERT_EQ(r.err(), EACCES) << r.status().to_string();
  EXPECT_EQ(r.status().message(), "link target " + url +
                                      " refused: 127.0.0.1 is a loopback address; mount with -o link_allow_private "
                                      "to allow it");
  EXPECT_EQ(fetcher->size(url).err(), EACCES);
  EXPECT_EQ(s.hits.load(), 0);  // never reached
}

TEST(LinkFetcher, AllowedWithAllowPrivate) {
  DataServer s;
  auto fetcher = make_curl_link_fetcher(allow_private());
  std::string url = s.url("/data");
  auto size = fetcher->size(url);
  ASSERT_TRUE(size) << size.status().to_string();
  EXPECT_EQ(*size, 100000u);
  for (uint64_t offset : {0u, 1u, 4095u, 65536u, 99000u}) {
    auto r = read_at(*fetcher, url, offset, 3000);
    ASSERT_TRUE(r) << offset << ": " << r.status().to_string();
    EXPECT_EQ(*r, s.data.substr(offset, 3000)) << offset;
  }
  EXPECT_EQ(read_at(*fetcher, url, 100000, 10)->size(), 0u);  // at the end
  EXPECT_EQ(read_at(*fetcher, url, 200000, 10)->size(), 0u);  // past it (416)
  EXPECT_EQ(read_at(*fetcher, s.url("/none"), 0, 10).err(), ENOENT);
  EXPECT_GT(s.hits.load(), 0);
}

TEST(LinkFetcher, NamesResolvingToLoopbackRefused) {
  DataServer s;
  std::string url = "http://localhost:" + std::to_string(s.server.port()) + "/data";
  auto r = read_at(*make_curl_link_fetcher(policy()), url, 0, 100);
  ASSERT_EQ(r.err(), EACCES) << r.status().to_string();
  EXPECT_NE(r.status().message().find("is a loopback address"), std::string::npos) << r.status().message();
  EXPECT_EQ(s.hits.load(), 0);
  // The name itself works: only the guard stopped it.
  auto allowed = read_at(*make_curl_link_fetcher(allow_private()), url, 10, 100);
  ASSERT_TRUE(allowed) << allowed.status().to_string();
  EXPECT_EQ(*allowed, s.data.substr(10, 100));
}

TEST(LinkFetcher, RedirectToARefusedAddressRefused) {
  DataServer first, second;
  LinkPolicy p = policy();  // only the first server's exact address and port
  p.allowed_endpoints = {{"127.0.0.1", uint16_t(first.server.port())}};
  auto fetcher = make_curl_link_fetcher(p);
  auto direct = read_at(*fetcher, first.url("/data"), 0, 100);
  ASSERT_TRUE(direct) << direct.status().to_string();
  EXPECT_EQ(*direct, first.data.substr(0, 100));
  EXPECT_EQ(read_at(*fetcher, second.url("/data"), 0, 100).err(), EACCES);
  // A redirect from the allowed first hop to the second server: checked again, refused.
  std::string target = second.url("/data");
  auto r = read_at(*fetcher, first.url("/to?url=" + target), 0, 100);
  ASSERT_EQ(r.err(), EACCES) << r.status().to_string();
  EXPECT_NE(r.status().message().find("it redirects to " + target + ", and 127.0.0.1 is a loopback address"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(second.hits.load(), 0);
  // A redirect within the allowed endpoint is followed.
  auto same = read_at(*fetcher, first.url("/to?url=/data"), 50, 10);
  ASSERT_TRUE(same) << same.status().to_string();
  EXPECT_EQ(*same, first.data.substr(50, 10));
}

TEST(LinkFetcher, RedirectToAFileUrlRefusedEvenWithAllowFile) {
  TempDir dir;
  write_file(dir.sub("secret.txt"), "root only");
  DataServer s;
  LinkPolicy p = allow_private();
  p.allow_file = true;
  auto r = read_at(*make_curl_link_fetcher(p), s.url("/to?url=file://" + dir.sub("secret.txt")), 0, 100);
  ASSERT_EQ(r.err(), EACCES) << r.status().to_string();
  EXPECT_NE(r.status().message().find("redirects to a URL that is not http or https"), std::string::npos)
      << r.status().to_string();
}

TEST(LinkFetcher, RedirectsAreBounded) {
  DataServer s;
  LinkPolicy p = allow_private();
  p.max_redirects = 5;
  auto fetcher = make_curl_link_fetcher(p);
  auto r = read_at(*fetcher, s.url("/loop/0"), 0, 100);
  ASSERT_EQ(r.err(), EIO) << r.status().to_string();
  EXPECT_NE(r.status().message().find("more than 5 redirects"), std::string::npos) << r.status().message();
  EXPECT_EQ(s.hits.load(), 6);  // the link and 5 redirects, then it stopped
  // Up to the bound is fine.
  auto ok = read_at(*fetcher, s.url("/chain/5"), 0, 10);
  ASSERT_TRUE(ok) << ok.status().to_string();
  EXPECT_EQ(*ok, s.data.substr(0, 10));
  EXPECT_EQ(read_at(*fetcher, s.url("/chain/6"), 0, 10).err(), EIO);
}

TEST(LinkFetcher, UnreachableAndStalledTargets) {
  int closed_port;
  {
    TestServer gone;
    gone.start();
    closed_port = gone.port();
  }
  LinkPolicy p = allow_private();
  p.timeout_ms = 500;
  auto fetcher = make_curl_link_fetcher(p);
  auto r = read_at(*fetcher, "http://127.0.0.1:" + std::to_string(closed_port) + "/x", 0, 10);
  EXPECT_EQ(r.err(), EIO) << r.status().to_string();
  TestServer stalled;
  stalled.svr().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    for (int i = 0; i < 300 && !stalled.stopping; ++i) std::this_thread::sleep_for(10ms);
    res.set_content("late", "text/plain");
  });
  stalled.start();
  auto t = read_at(*fetcher, stalled.origin() + "/slow", 0, 10);
  EXPECT_EQ(t.err(), ETIMEDOUT) << t.status().to_string();
}

// A server that ignores Range and sends the whole body with 200 (as `python3 -m http.server`
// does): read correctly at any offset, and without downloading the rest of the body.
TEST(LinkFetcher, ServerIgnoringRangeReadAtOffsets) {
  constexpr size_t kSize = 64u << 20;
  const std::string data = payload(kSize);
  std::atomic<uint64_t> sent_max{0};
  std::atomic<int> done{0}, ranged_asks{0};
  TestServer s;
  s.svr().Get("/whole", [&](const httplib::Request& req, httplib::Response& res) {
    if (!req.ranges.empty()) ++ranged_asks;
    // cpp-httplib would apply the Range itself; this server ignores it (the request is the
    // server's own object, only handed to us as const).
    const_cast<httplib::Request&>(req).ranges.clear();
    res.set_content_provider(
        kSize, "application/octet-stream",
        [&](size_t offset, size_t length, httplib::DataSink& sink) {
          size_t n = std::min<size_t>(length, 64 * 1024);
          if (!sink.write(data.data() + offset, n)) return false;
          uint64_t end = offset + n, seen = sent_max.load();
          while (end > seen && !sent_max.compare_exchange_weak(seen, end)) {
          }
          return true;
        },
        [&](bool) { ++done; });
  });
  s.start();
  std::string url = s.origin() + "/whole";
  auto fetcher = make_curl_link_fetcher(allow_private());
  auto size = fetcher->size(url);
  ASSERT_TRUE(size) << size.status().to_string();
  EXPECT_EQ(*size, kSize);
  ASSERT_TRUE(wait_until([&] { return done.load() == 1; }, 10s));  // the HEAD's response
  int transfers = 1;
  for (uint64_t offset : {uint64_t(0), uint64_t(1), uint64_t(1) << 20, uint64_t(3000001)}) {
    sent_max = 0;
    auto r = read_at(*fetcher, url, offset, 5000);
    ASSERT_TRUE(r) << offset << ": " << r.status().to_string();
    EXPECT_EQ(*r, data.substr(offset, 5000)) << offset;
    ++transfers;
    ASSERT_TRUE(wait_until([&] { return done.load() == transfers; }, 10s));
    // Stopped once the buffer was full: what the server managed to send is bounded by the
    // sockets' buffers, far below the body's 64 MiB.
    EXPECT_LT(sent_max.load(), offset + 5000 + (24u << 20)) << offset;
  }
  EXPECT_GT(ranged_asks.load(), 0);  // we did ask for ranges
  auto tail = read_at(*fetcher, url, kSize - 100, 5000);
  ASSERT_TRUE(tail) << tail.status().to_string();
  EXPECT_EQ(*tail, data.substr(kSize - 100));
  // Reaching an offset costs receiving everything before it: bounded by max_bytes.
  LinkPolicy small = allow_private();
  small.max_bytes = 1u << 20;
  auto bounded = read_at(*make_curl_link_fetcher(small), url, 2u << 20, 100);
  ASSERT_EQ(bounded.err(), EIO);
  EXPECT_NE(bounded.status().message().find("ignores ranged requests"), std::string::npos) << bounded.status().message();
}

// Proxies from the environment are not used: through one, the guard would see the proxy's
// address, not the target's.
TEST(LinkFetcher, ProxiesFromTheEnvironmentAreNotUsed) {
  DataServer target, proxy;
  LinkPolicy p = policy();
  p.allowed_endpoints = {{"127.0.0.1", uint16_t(target.server.port())}};
  for (const char* var : {"http_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"}) setenv(var, proxy.server.origin().c_str(), 1);
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
  auto r = read_at(*make_curl_link_fetcher(p), target.url("/data"), 0, 10);
  for (const char* var : {"http_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"}) unsetenv(var);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(*r, target.data.substr(0, 10));
  EXPECT_EQ(proxy.hits.load(), 0);
  EXPECT_EQ(target.hits.load(), 1);
}

// stat(): what preprocessing records of a link target (one HEAD), redirects followed.
TEST(LinkFetcher, StatTellsSizeAndValidators) {
  DataServer s;
  auto fetcher = make_curl_link_fetcher(allow_private());
  auto st = fetcher->stat(s.url("/tagged"));
  ASSERT_TRUE(st) << st.status().to_string();
  ASSERT_TRUE(st->size);
  EXPECT_EQ(*st->size, 100000u);
  EXPECT_EQ(st->etag, "\"v7\"");
  EXPECT_EQ(st->last_modified, "Fri, 04 Dec 2026 10:00:00 GMT");
  EXPECT_EQ(st->content_type, "image/png");
  auto plain = fetcher->stat(s.url("/data"));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->etag, "");
  EXPECT_EQ(make_curl_link_fetcher(policy())->stat(s.url("/tagged")).err(), EACCES);  // guarded too
}

// fetch_all(): the whole target in one request (an import storing it), bounded by max_bytes
// whether the server says the length up front or streams it chunked; guarded like read().
TEST(LinkFetcher, FetchAllStreamsTheWholeTargetInOneRequest) {
  DataServer s;
  auto fetch = [](LinkFetcher& f, const std::string& url, std::string& got) {
    got.clear();
    return f.fetch_all(url, [&](std::string_view bytes) {
      got.append(bytes);
      return Status();
    });
  };
  auto fetcher = make_curl_link_fetcher(allow_private());
  std::string got;
  for (const char* path : {"/data", "/chain/2", "/chunked"}) {
    int before = s.hits.load();
    auto n = fetch(*fetcher, s.url(path), got);
    ASSERT_TRUE(n) << path << ": " << n.status().to_string();
    EXPECT_EQ(*n, s.data.size()) << path;
    EXPECT_EQ(got, s.data) << path;
    EXPECT_EQ(s.hits.load() - before, std::string(path) == "/chain/2" ? 3 : 1) << path;  // no HEAD, no ranges
  }
  EXPECT_EQ(fetch(*fetcher, s.url("/none"), got).err(), ENOENT);
  EXPECT_EQ(got, "");  // an error page is not the target

  // Too large: refused at the Content-Length, before a byte of it; or once a chunked body
  // passes the bound.
  LinkPolicy small = allow_private();
  small.max_bytes = 50000;
  auto bounded = make_curl_link_fetcher(small);
  auto big = fetch(*bounded, s.url("/data"), got);
  ASSERT_EQ(big.err(), EFBIG) << big.status().to_string();
  EXPECT_NE(big.status().message().find("larger than 50000 bytes"), std::string::npos) << big.status().message();
  EXPECT_EQ(got, "");
  auto streamed = fetch(*bounded, s.url("/chunked"), got);
  ASSERT_EQ(streamed.err(), EFBIG) << streamed.status().to_string();
  EXPECT_LE(got.size(), 50000u);

  // A sink's error stops the transfer and is what the caller sees.
  int calls = 0;
  auto stopped = fetcher->fetch_all(s.url("/chunked"), [&](std::string_view) {
    ++calls;
    return Status(ENOSPC, "scratch disk full");
  });
  ASSERT_EQ(stopped.err(), ENOSPC);
  EXPECT_EQ(stopped.status().message(), "scratch disk full");
  EXPECT_EQ(calls, 1);

  // Guarded: loopback refused by default, never reached.
  int before = s.hits.load();
  auto refused = fetch(*make_curl_link_fetcher(policy()), s.url("/data"), got);
  ASSERT_EQ(refused.err(), EACCES);
  EXPECT_NE(refused.status().message().find("loopback"), std::string::npos);
  EXPECT_EQ(s.hits.load(), before);
}
