// The metrics module (metrics/): counters and histograms that move, collectors read at scrape
// time, the text prometheus-cpp's serializer writes (read back for the families and labels);
// the mount's FUSE and remote metrics, dlfsd's route labels, HTTP counts and platform gauges.
#include <gtest/gtest.h>
#include <httplib.h>

#include <regex>
#include <thread>

#include "cache/data_cache.h"
#include "fs/fuse_metrics.h"
#include "fs/mount_metrics.h"
#include "metrics/metrics.h"
#include "metrics/metrics_server.h"
#include "platform/commands.h"
#include "platform/platform.h"
#include "remote/fake_remote.h"
#include "remote/metered_remote.h"
#include "server/http_metrics.h"
#include "server/server_options.h"
#include "support/fs_fixture.h"
#include "support/metrics_scrape.h"
#include "support/temp_dir.h"

namespace dlfs::test {
namespace {

using namespace std::chrono_literals;

TEST(Metrics, SerializesRegistryAndCollectorsInTheTextFormat) {
  Metrics m;
  auto& family = prometheus::BuildCounter().Name("t_requests_total").Help("requests").Register(m.registry());
  family.Add({{"route", "/a"}}).Increment(3);
  family.Add({{"route", "/b"}}).Increment();
  auto& hist = prometheus::BuildHistogram().Name("t_seconds").Help("latency").Register(m.registry());
  auto& h = hist.Add({{"op", "x"}}, latency_buckets());
  h.Observe(0.0003);
  h.Observe(0.2);
  m.add_collector([](std::vector<prometheus::MetricFamily>& out) {
    auto g = gauge_family("t_size", "a size");
    add_sample(g, 42, {{"kind", "items"}});
    add_sample(g, 7, {{"kind", "datasets"}});
    out.push_back(std::move(g));
  });

  std::string text = m.serialize();
  auto types = metric_types(text);
  EXPECT_EQ(types["t_requests_total"], "counter");
  EXPECT_EQ(types["t_seconds"], "histogram");
  EXPECT_EQ(types["t_size"], "gauge");
  auto s = parse_metrics(text);
  EXPECT_EQ(metric_value(s, "t_requests_total", {{"route", "/a"}}), 3);
  EXPECT_EQ(metric_value(s, "t_requests_total", {{"route", "/b"}}), 1);
  EXPECT_EQ(metric_value(s, "t_seconds_count", {{"op", "x"}}), 2);
  EXPECT_NEAR(*metric_value(s, "t_seconds_sum", {{"op", "x"}}), 0.2003, 1e-9);
  EXPECT_EQ(metric_value(s, "t_seconds_bucket", {{"op", "x"}, {"le", "0.0005"}}), 1);
  EXPECT_EQ(metric_value(s, "t_seconds_bucket", {{"op", "x"}, {"le", "+Inf"}}), 2);
  EXPECT_EQ(metric_value(s, "t_size", {{"kind", "items"}}), 42);
  EXPECT_EQ(metric_value(s, "t_size", {{"kind", "datasets"}}), 7);
  EXPECT_FALSE(metric_value(s, "t_absent"));

  // Collectors run at every scrape: their values are read then.
  family.Add({{"route", "/a"}}).Increment();
  EXPECT_EQ(metric_value(parse_metrics(m.serialize()), "t_requests_total", {{"route", "/a"}}), 4);
}

TEST(Metrics, ServerServesTheScrapeOnTheAddressGiven) {
  Metrics m;
  prometheus::BuildCounter().Name("t_total").Help("t").Register(m.registry()).Add({}).Increment(5);
  auto server = MetricsServer::start("127.0.0.1:0", m);
  ASSERT_TRUE(server) << server.status().to_string();
  ASSERT_GT((*server)->port(), 0);
  std::string text = scrape_metrics("127.0.0.1:" + std::to_string((*server)->port()));
  EXPECT_EQ(metric_value(parse_metrics(text), "t_total"), 5);
  // A second server on the same port cannot listen: an error, not an exception.
  auto again = MetricsServer::start("127.0.0.1:" + std::to_string((*server)->port()), m);
  EXPECT_FALSE(again);
  EXPECT_EQ(again.err(), EADDRINUSE);
}

TEST(Metrics, FuseOpsCountedByOpWithLatency) {
  Metrics m;
  FuseMetrics fuse(m);
  for (int i = 0; i < 3; ++i) fuse.request(FuseOp::kRead, 0.001);
  fuse.request(FuseOp::kLookup, 0.00002);
  fuse.error(FuseOp::kLookup);
  fuse.read_bytes(4096);
  fuse.read_bytes(10);
  fuse.write_bytes(7);
  auto s = parse_metrics(m.serialize());
  EXPECT_EQ(metric_value(s, "dlfs_fuse_requests_total", {{"op", "read"}}), 3);
  EXPECT_EQ(metric_value(s, "dlfs_fuse_request_duration_seconds_count", {{"op", "read"}}), 3);
  EXPECT_EQ(metric_value(s, "dlfs_fuse_requests_total", {{"op", "lookup"}}), 1);
  EXPECT_EQ(metric_value(s, "dlfs_fuse_errors_total", {{"op", "lookup"}}), 1);
  EXPECT_EQ(metric_value(s, "dlfs_fuse_errors_total", {{"op", "read"}}), 0);
  // Every op is there from the start (pre-made), at 0.
  EXPECT_EQ(metric_value(s, "dlfs_fuse_requests_total", {{"op", "removexattr"}}), 0);
  EXPECT_EQ(metric_value(s, "dlfs_fuse_read_bytes_total"), 4106);
  EXPECT_EQ(metric_value(s, "dlfs_fuse_write_bytes_total"), 7);
  for (size_t i = 0; i < kFuseOps; ++i) EXPECT_STRNE(fuse_op_name(FuseOp(i)), "unknown");
}

TEST(Metrics, MeteredRemoteCountsCallsErrorsAndBytes) {
  FakeRemote fake;
  Item file = fake.add_file("/a.txt", "hello world");
  Metrics m;
  MeteredRemote remote(fake, m);
  ASSERT_TRUE(remote.get("/a.txt"));
  EXPECT_FALSE(remote.get("/missing"));
  char buf[64];
  auto n = remote.read(file, 0, std::span<char>(buf, sizeof buf));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 11u);
  ASSERT_TRUE(remote.list("/", "", 100));
  auto s = parse_metrics(m.serialize());
  EXPECT_EQ(metric_value(s, "dlfs_remote_calls_total", {{"call", "get"}}), 2);
  EXPECT_EQ(metric_value(s, "dlfs_remote_errors_total", {{"call", "get"}}), 1);
  EXPECT_EQ(metric_value(s, "dlfs_remote_calls_total", {{"call", "read"}}), 1);
  EXPECT_EQ(metric_value(s, "dlfs_remote_call_duration_seconds_count", {{"call", "read"}}), 1);
  EXPECT_EQ(metric_value(s, "dlfs_remote_calls_total", {{"call", "list"}}), 1);
  EXPECT_EQ(metric_value(s, "dlfs_remote_read_bytes_total"), 11);
}

TEST(Metrics, MountCollectorReadsTheCoreCounters) {
  FsFixture f;
  f.remote.add_file("/d/x.bin", std::string(100, 'x'));
  f.mount();
  Metrics m;
  add_mount_collector(m, *f.fs);
  auto before = parse_metrics(m.serialize());
  EXPECT_EQ(metric_value(before, "dlfs_uploads", {{"state", "pending"}}), 0);
  EXPECT_EQ(metric_value(before, "dlfs_spool_bytes"), 0);
  ASSERT_TRUE(f.walk("/d/x.bin"));
  ASSERT_TRUE(f.list(f.walk("/d")->ino));
  EXPECT_FALSE(f.walk("/d/nope"));
  EXPECT_FALSE(f.walk("/d/nope"));
  auto after = parse_metrics(m.serialize());
  const SourceCounters& sc = f.fs->source_counters();
  EXPECT_EQ(metric_value(after, "dlfs_metadata_listing_fetches_total"), double(sc.listing_fetches.load()));
  EXPECT_EQ(metric_value(after, "dlfs_metadata_hits_total", {{"kind", "listing_memory"}}),
            double(sc.listing_memory_hits.load()));
  EXPECT_EQ(metric_value(after, "dlfs_metadata_hits_total", {{"kind", "negative"}}), double(sc.negative_hits.load()));
  EXPECT_GT(*metric_value(after, "dlfs_metadata_hits_total") + *metric_value(after, "dlfs_metadata_listing_fetches_total"),
            0);
  EXPECT_GE(*metric_value(after, "dlfs_inodes"), 2);
  EXPECT_TRUE(metric_value(after, "dlfs_uploads_landed_total"));
}

TEST(Metrics, DataCacheCountsAReadOfAPrefetchedFileOnce) {
  TempDir dir("dlfs-metrics-dc");
  DataCacheOptions o;
  o.dir = dir.sub("data");
  o.space = "s";
  auto cache = DataCache::open(o);
  ASSERT_TRUE(cache) << cache.status().to_string();
  FakeRemote fake;
  Item a = fake.add_file("/a", "aaaa"), b = fake.add_file("/b", "bbbb");
  auto reader = [&](const Item& it) {
    return [&fake, it](uint64_t off, std::span<char> out) { return fake.read(it, off, out); };
  };
  ASSERT_TRUE((*cache)->prefetch(a, reader(a)));
  for (int i = 0; i < 2; ++i) {
    auto fd = (*cache)->get(a, reader(a));
    ASSERT_TRUE(fd);
    ::close(*fd);
  }
  auto fd = (*cache)->get(b, reader(b));  // a miss, not a prefetch's
  ASSERT_TRUE(fd);
  ::close(*fd);
  const auto& c = (*cache)->counters();
  EXPECT_EQ(c.prefetches.load(), 1u);
  EXPECT_EQ(c.prefetch_hits.load(), 1u);
  EXPECT_EQ(c.hits.load(), 2u);
  EXPECT_EQ(c.misses.load(), 1u);
}

httplib::Request routed(const std::string& pattern, const std::string& path) {
  httplib::Request req;
  req.method = "GET";
  req.path = path;
  std::regex_match(req.path, req.matches, std::regex(pattern));
  return req;
}

TEST(Metrics, RouteLabelIsThePatternNotThePath) {
  EXPECT_EQ(route_label(routed(R"(/api/v1/datasets/([^/]+)/items)", "/api/v1/datasets/65f1c0ffee/items")),
            "/api/v1/datasets/{}/items");
  EXPECT_EQ(route_label(routed(R"(/api/v1/uploads/([^/]+)/parts/(\d+))", "/api/v1/uploads/u1/parts/17")),
            "/api/v1/uploads/{}/parts/{}");
  EXPECT_EQ(route_label(routed("/api/v1/datasets", "/api/v1/datasets")), "/api/v1/datasets");
  EXPECT_EQ(route_label(routed("/api/v1/datasets", "/api/v1/nothing")), "unmatched");
  httplib::Request none;
  none.path = "/whatever/123";
  EXPECT_EQ(route_label(none), "unmatched");
}

TEST(Metrics, HttpRequestsCountedByRouteAndStatus) {
  Metrics m;
  HttpMetrics http(m);
  for (int i = 0; i < 2; ++i) {
    HttpMetrics::started();
    auto req = routed(R"(/api/v1/items/([^/]+))", "/api/v1/items/id" + std::to_string(i));
    httplib::Response res;
    res.status = 200;
    res.body = "12345";
    http.finished(req, res);
  }
  auto req = routed(R"(/api/v1/items/([^/]+))", "/api/v1/items/zz");
  httplib::Response missing;
  missing.status = 404;
  http.finished(req, missing);  // (never started: counted, latency 0)
  auto s = parse_metrics(m.serialize());
  std::map<std::string, std::string> route{{"method", "GET"}, {"route", "/api/v1/items/{}"}};
  auto with = [&](std::map<std::string, std::string> more) {
    more.insert(route.begin(), route.end());
    return more;
  };
  EXPECT_EQ(metric_value(s, "dlfsd_http_requests_total", with({{"code", "200"}})), 2);
  EXPECT_EQ(metric_value(s, "dlfsd_http_requests_total", with({{"code", "404"}})), 1);
  EXPECT_EQ(metric_value(s, "dlfsd_http_request_duration_seconds_count", route), 3);
  EXPECT_EQ(metric_value(s, "dlfsd_http_response_bytes_total", route), 10);
}

TEST(Metrics, PlatformCollectorReadsCatalogueQueueAndCommands) {
  TempDir dir("dlfs-metrics-platform");
  auto p = Platform::open(PlatformOptions{dir.sub("store")});
  ASSERT_TRUE(p) << p.status().to_string();
  Platform& platform = **p;
  auto a = platform.create_dataset("a", "dev@local");
  auto b = platform.create_dataset("b", "dev@local");
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(platform.upload_bytes(a->id, "x", "/f" + std::to_string(i), {}));
  ASSERT_TRUE(platform.upload_bytes(b->id, "y", "/dir/g", {}));
  Metrics m;
  add_platform_collector(m, platform);

  auto ok = platform.commands().start("sync", json::object(), [](CommandContext&) -> Result<json> { return json::object(); });
  auto bad = platform.commands().start("sync", json::object(), [](CommandContext&) -> Result<json> {
    return Status(EIO, "bucket gone");
  });
  ASSERT_TRUE(platform.commands().wait(ok.id, 10s)->finished());
  ASSERT_TRUE(platform.commands().wait(bad.id, 10s)->finished());

  auto s = parse_metrics(m.serialize());
  EXPECT_EQ(metric_value(s, "dlfsd_datasets"), 2);
  EXPECT_EQ(metric_value(s, "dlfsd_items"), 4);
  // No worker runs here: the four uploads wait in the queue.
  EXPECT_EQ(metric_value(s, "dlfsd_preprocess_queue_length"), 4);
  EXPECT_EQ(metric_value(s, "dlfsd_preprocessed_items_total"), 0);
  EXPECT_EQ(metric_value(s, "dlfsd_commands_running", {{"type", "sync"}}), 0);
  EXPECT_EQ(metric_value(s, "dlfsd_commands_finished_total", {{"type", "sync"}, {"outcome", "success"}}), 1);
  EXPECT_EQ(metric_value(s, "dlfsd_commands_finished_total", {{"type", "sync"}, {"outcome", "failed"}}), 1);

  ASSERT_TRUE(platform.start_preprocessing(1));
  for (int i = 0; i < 200; ++i) {
    auto now = parse_metrics(m.serialize());
    if (metric_value(now, "dlfsd_preprocess_queue_length") == 0 && metric_value(now, "dlfsd_preprocessed_items_total") == 4)
      break;
    std::this_thread::sleep_for(50ms);
  }
  platform.stop_preprocessing();
  s = parse_metrics(m.serialize());
  EXPECT_EQ(metric_value(s, "dlfsd_preprocess_queue_length"), 0);
  EXPECT_EQ(metric_value(s, "dlfsd_preprocessed_items_total"), 4);
}

TEST(Metrics, DlfsdMetricsAccessIsOpenByDefault) {
  using Access = ServerOptions::MetricsAccess;
  EXPECT_EQ(parse_server_args({"--store", "x"})->metrics, Access::kOpen);
  EXPECT_EQ(parse_server_args({"--store", "x", "--metrics", "token"})->metrics, Access::kToken);
  EXPECT_EQ(parse_server_args({"--store", "x", "--metrics=off"})->metrics, Access::kOff);
  EXPECT_EQ(parse_server_args({"--store", "x", "--metrics", "on"}).err(), EINVAL);
}

}  // namespace
}  // namespace dlfs::test
