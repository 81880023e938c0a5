// The metrics endpoints of the real daemons: dlfsd's GET /metrics (requests by route and status,
// their latency histogram and bytes, the catalogue's size; open, or behind the token with
// --metrics token), and a mount's -o metrics=127.0.0.1:PORT (FUSE ops and bytes read and
// written, remote calls, uploads), on both backends.
#include <gtest/gtest.h>
#include <httplib.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/json_util.h"
#include "support/dlfsd_process.h"
#include "support/metrics_scrape.h"
#include "support/mounted_dataset.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

using Labels = std::map<std::string, std::string>;

double value_or_0(const std::vector<MetricSample>& s, const std::string& name, const Labels& labels = {}) {
  return metric_value(s, name, labels).value_or(0);
}

std::unique_ptr<httplib::Client> client_for(const DlfsdProcess& server) {
  signal(SIGPIPE, SIG_IGN);
  auto c = std::make_unique<httplib::Client>(server.host_port());
  c->set_connection_timeout(10, 0);
  c->set_read_timeout(60, 0);
  c->set_default_headers(server.auth_headers());
  return c;
}

TEST(DlfsdMetrics, RequestsByRouteAndStatusLatencyAndCatalogueSize) {
  DlfsdProcess server;
  ASSERT_TRUE(server.ok()) << server.error();
  auto http = client_for(server);
  auto made = http->Post(DlfsdProcess::path("/datasets"), json{{"name", "m"}}.dump(), "application/json");
  ASSERT_TRUE(made && made->status == 200) << (made ? made->body : "no answer");
  std::string ds = json::parse(made->body)["id"].get<std::string>();

  // Before: open (no token), as a scraper asks.
  auto before = parse_metrics(scrape_metrics(server.host_port()));
  const Labels upload{{"method", "POST"}, {"route", "/api/v1/datasets/{}/items"}};
  const Labels get_ds{{"method", "GET"}, {"route", "/api/v1/datasets/{}"}};
  const Labels get_item{{"method", "GET"}, {"route", "/api/v1/items/{}"}};
  auto with = [](Labels l, const std::string& code) {
    l["code"] = code;
    return l;
  };

  uint64_t sent = 0;
  for (int i = 0; i < 3; ++i) {
    std::string bytes(1000 * (i + 1), char('a' + i));
    sent += bytes.size();
    httplib::MultipartFormDataItems items = {{"path", "/f" + std::to_string(i) + ".bin", "", ""},
                                             {"file", bytes, "f.bin", "application/octet-stream"}};
    auto r = http->Post(DlfsdProcess::path("/datasets/" + ds + "/items"), items);
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  }
  for (int i = 0; i < 2; ++i) {
    auto r = http->Get(DlfsdProcess::path("/datasets/" + ds));
    ASSERT_TRUE(r && r->status == 200);
  }
  auto missing = http->Get(DlfsdProcess::path("/items/000000000000000000000000"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto nowhere = http->Get("/api/v1/no/such/route/1234");
  ASSERT_TRUE(nowhere);
  EXPECT_EQ(nowhere->status, 404);

  // A request is counted once its answer is sent (httplib's logger), and each request here is a
  // connection of its own: scraped until all are counted — the flake seen under ctest -j3.
  auto delta_in = [&](const std::vector<MetricSample>& now, const std::string& name, const Labels& l) {
    return value_or_0(now, name, l) - value_or_0(before, name, l);
  };
  std::string text = scrape_metrics_until(server.host_port(), [&](const std::vector<MetricSample>& now) {
    return delta_in(now, "dlfsd_http_requests_total", with(upload, "200")) >= 3 &&
           delta_in(now, "dlfsd_http_requests_total", with(get_ds, "200")) >= 2 &&
           delta_in(now, "dlfsd_http_requests_total", with(get_item, "404")) >= 1 &&
           delta_in(now, "dlfsd_http_requests_total", {{"route", "unmatched"}, {"code", "404"}}) >= 1;
  });
  auto after = parse_metrics(text);
  auto delta = [&](const std::string& name, const Labels& l) { return delta_in(after, name, l); };
  EXPECT_EQ(delta("dlfsd_http_requests_total", with(upload, "200")), 3) << text;
  EXPECT_EQ(delta("dlfsd_http_request_duration_seconds_count", upload), 3);
  EXPECT_GT(delta("dlfsd_http_request_duration_seconds_sum", upload), 0);
  EXPECT_GE(delta("dlfsd_http_request_bytes_total", upload), double(sent));
  EXPECT_EQ(delta("dlfsd_http_requests_total", with(get_ds, "200")), 2);
  EXPECT_EQ(delta("dlfsd_http_request_duration_seconds_count", get_ds), 2);
  EXPECT_GT(delta("dlfsd_http_response_bytes_total", get_ds), 0);
  EXPECT_EQ(delta("dlfsd_http_requests_total", with(get_item, "404")), 1);
  EXPECT_EQ(delta("dlfsd_http_requests_total", {{"route", "unmatched"}, {"code", "404"}}), 1);
  // No raw path is a label value: ids never make new series. (Not a search for "1234" alone: a
  // latency sum or a byte count may hold those digits.)
  EXPECT_EQ(text.find(ds), std::string::npos);
  EXPECT_EQ(text.find("no/such/route"), std::string::npos);

  // The catalogue's size is the real one.
  auto list = http->Get(DlfsdProcess::path("/datasets"));
  ASSERT_TRUE(list && list->status == 200);
  json datasets = json::parse(list->body);
  double items = 0;
  for (const json& d : datasets) items += d.value("itemsCount", 0.0);
  EXPECT_EQ(metric_value(after, "dlfsd_datasets"), double(datasets.size()));
  EXPECT_EQ(metric_value(after, "dlfsd_items"), items);
  EXPECT_EQ(items, 3);
  EXPECT_TRUE(metric_value(after, "dlfsd_preprocess_queue_length"));
  EXPECT_EQ(metric_value(after, "dlfsd_commands_running", {{"type", "sync"}}), 0);
}

TEST(DlfsdMetrics, BehindTheTokenWhenAsked) {
  DlfsdOptions o;
  o.extra_args = {"--metrics", "token"};
  DlfsdProcess server(o);
  ASSERT_TRUE(server.ok()) << server.error();
  httplib::Client http(server.host_port());
  http.set_connection_timeout(10, 0);
  auto open = http.Get("/metrics");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 401);
  auto text = scrape_metrics(server.host_port(), server.token());
  EXPECT_TRUE(metric_value(parse_metrics(text), "dlfsd_datasets"));
}

class MountMetrics : public MountedDatasetTest {};

INSTANTIATE_TEST_SUITE_P(Backends, MountMetrics, kBackends, backend_name);

TEST_P(MountMetrics, FuseOpsRemoteCallsAndUploadsMove) {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"a.txt", std::string(10, 'a')}, {"b.bin", std::string(5000, 'b')}, {"c.bin", std::string(70000, 'c')}};
  uint64_t total = 0;
  for (const auto& [name, bytes] : files) total += bytes.size();

  // Written through a mount that serves its metrics: the writes and uploads are counted.
  std::string w_addr = "127.0.0.1:" + std::to_string(free_loopback_port());
  {
    auto w = mount("w", "wcache", "metrics=" + w_addr);
    ASSERT_TRUE(w);
    auto idle = parse_metrics(scrape_metrics(w_addr));
    EXPECT_EQ(metric_value(idle, "dlfs_fuse_requests_total", {{"op", "write"}}), 0);  // made up front
    for (const auto& [name, bytes] : files) write_file(w->mountpoint() + "/" + name, bytes);
    ASSERT_TRUE(sync(w->mountpoint()).ok());
    std::string text = scrape_metrics(w_addr);
    auto s = parse_metrics(text);
    EXPECT_EQ(metric_value(s, "dlfs_fuse_write_bytes_total"), double(total)) << text;
    EXPECT_GE(value_or_0(s, "dlfs_fuse_requests_total", {{"op", "create"}}), 3);
    EXPECT_GE(value_or_0(s, "dlfs_uploads_landed_total"), 3);
    EXPECT_EQ(metric_value(s, "dlfs_uploads", {{"state", "pending"}}), 0);
    EXPECT_EQ(metric_value(s, "dlfs_uploads", {{"state", "failed"}}), 0);
    EXPECT_GE(value_or_0(s, "dlfs_remote_calls_total", {{"call", "upload"}}) +
                  value_or_0(s, "dlfs_remote_calls_total", {{"call", "upload_files"}}),
              1);
    EXPECT_TRUE(w->unmount());
  }

  // Read through a fresh mount (nothing in the kernel's cache or its own).
  std::string r_addr = "127.0.0.1:" + std::to_string(free_loopback_port());
  auto r = mount("r", "rcache", "metrics=" + r_addr);
  ASSERT_TRUE(r);
  auto before = parse_metrics(scrape_metrics(r_addr));
  for (const auto& [name, bytes] : files) EXPECT_EQ(read_file(r->mountpoint() + "/" + name), bytes);
  // An op is counted once it has answered the kernel:
  // scraped until the reads' ops are counted — a lookup was once seen uncounted on a loaded machine.
  auto delta_in = [&](const std::vector<MetricSample>& now, const std::string& name, const Labels& l = {}) {
    return value_or_0(now, name, l) - value_or_0(before, name, l);
  };
  std::string text = scrape_metrics_until(r_addr, [&](const std::vector<MetricSample>& now) {
    for (const char* op : {"lookup", "read"})
      if (delta_in(now, "dlfs_fuse_requests_total", {{"op", op}}) < 3) return false;
    return delta_in(now, "dlfs_fuse_request_duration_seconds_count", {{"op", "read"}}) ==
               delta_in(now, "dlfs_fuse_requests_total", {{"op", "read"}}) &&
           delta_in(now, "dlfs_fuse_read_bytes_total") >= double(total);
  });
  auto after = parse_metrics(text);
  auto delta = [&](const std::string& name, const Labels& l = {}) { return delta_in(after, name, l); };
  EXPECT_GE(delta("dlfs_fuse_requests_total", {{"op", "lookup"}}), 3) << text;
  // no_open: the first open and the first flush are answered ENOSYS, and the kernel sends no
  // other, nor a release.
  EXPECT_LE(delta("dlfs_fuse_requests_total", {{"op", "open"}}), 1);
  EXPECT_EQ(delta("dlfs_fuse_requests_total", {{"op", "release"}}), 0);
  EXPECT_LE(delta("dlfs_fuse_requests_total", {{"op", "flush"}}), 1);
  double reads = delta("dlfs_fuse_requests_total", {{"op", "read"}});
  EXPECT_GE(reads, 3);
  EXPECT_EQ(delta("dlfs_fuse_request_duration_seconds_count", {{"op", "read"}}), reads);
  EXPECT_EQ(delta("dlfs_fuse_read_bytes_total"), double(total));
  EXPECT_EQ(delta("dlfs_fuse_errors_total", {{"op", "read"}}), 0);
  EXPECT_GT(delta("dlfs_remote_calls_total"), 0);  // (reads, or local files opened, by backend)
  // A name that is not there: a lookup answered ENOENT counts as an error.
  EXPECT_FALSE(std::filesystem::exists(r->mountpoint() + "/nope"));
  auto later = parse_metrics(scrape_metrics(r_addr));
  EXPECT_GE(value_or_0(later, "dlfs_fuse_errors_total", {{"op", "lookup"}}) -
                value_or_0(after, "dlfs_fuse_errors_total", {{"op", "lookup"}}),
            1);
}

TEST_P(MountMetrics, AnAddressInUseFailsTheMount) {
  int port = free_loopback_port();
  std::string addr = "127.0.0.1:" + std::to_string(port);
  auto first = mount("one", "c1", "metrics=" + addr);
  ASSERT_TRUE(first);
  std::string dir = work.sub("two");
  std::filesystem::create_directories(dir);
  auto res = run({std::string(DLFS_BIN_DIR) + "/mount.dlfs", platform->source(dataset), dir, "-o",
                  platform->mount_options() + ",cache=" + work.sub("c2") + ",metrics=" + addr},
                 60s);
  MountGuard guard(dir, find_process("mount.dlfs", dir));
  EXPECT_FALSE(res.ok());
  EXPECT_NE(res.err.find("metrics"), std::string::npos) << res.err;
  EXPECT_FALSE(is_mounted(dir));
}

}  // namespace

namespace dlfs::test {

// `dlfs status` shows a mount's activity without -o metrics (the root's user.dl.metrics): the
// bytes read through it exactly, its requests, and with --watch the rates over each interval.
TEST_P(MountMetrics, StatusShowsTheMountsActivityAndWatchShowsRates) {
  auto w = mount("w", "wcache");
  ASSERT_TRUE(w);
  write_file(w->mountpoint() + "/a.bin", std::string(123456, 'a'));
  ASSERT_TRUE(sync(w->mountpoint()).ok());
  EXPECT_TRUE(w->unmount());
  auto r = mount("r", "rcache");
  ASSERT_TRUE(r);
  EXPECT_EQ(read_file(r->mountpoint() + "/a.bin").size(), 123456u);

  auto as_json = dlfs({"status", r->mountpoint(), "--json"});
  ASSERT_TRUE(as_json.ok()) << as_json.err;
  json state = json::parse(as_json.out, nullptr, false);
  ASSERT_TRUE(state.is_object()) << as_json.out;
  double read = 0;
  for (const json& s : state["metrics"]["dlfs_fuse_read_bytes_total"]["samples"]) read += s.value("value", 0.0);
  EXPECT_EQ(read, 123456) << as_json.out;
  auto text = dlfs({"status", r->mountpoint()});
  ASSERT_TRUE(text.ok()) << text.err;
  EXPECT_NE(text.out.find("since mounted: "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("123.5 KB read"), std::string::npos) << text.out;

  // Two refreshes; the file read again (from the kernel's cache or not) between them.
  std::thread reader([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    (void)run({"cat", r->mountpoint() + "/a.bin"}, std::chrono::seconds(10));
  });
  auto watched = dlfs({"status", r->mountpoint(), "--watch", "0.5", "--count", "2"});
  reader.join();
  ASSERT_TRUE(watched.ok()) << watched.err;
  size_t lines = 0;
  for (size_t at = 0; (at = watched.out.find("last 0.", at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 2u) << watched.out;
  EXPECT_NE(watched.out.find(" requests/s ("), std::string::npos) << watched.out;
  EXPECT_NE(watched.out.find("remote calls/s"), std::string::npos) << watched.out;
  EXPECT_EQ(dlfs({"status", r->mountpoint(), "--watch", "0"}).exit_code, 1);
  EXPECT_TRUE(r->unmount());
}

}  // namespace dlfs::test
