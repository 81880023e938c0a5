// Preprocessing throughput and latency on the embedded platform (bench/preprocess_bench.sh makes
// the images and runs this): usage  preprocess_bench STORE_DIR IMAGES_DIR [WORKERS] [SINGLES]
//
//   1. upload -> done: every image uploaded one after another while the workers run, as a copy
//      into a mount would; per item, done time (updatedAt of the results) minus upload commit
//      (createdAt); overall items/s from the first upload to the last result.
//   2. preprocessing alone: everything queued again, workers started, time to drain: items/s.
//   3. one file on an idle service: SINGLES uploads, each waited for; latency.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "platform/platform.h"

using namespace dlfs;
using Steady = std::chrono::steady_clock;

namespace {

double seconds_since(Steady::time_point t) { return std::chrono::duration<double>(Steady::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5))];
}

int fail(const Status& s, const char* what) {
  fprintf(stderr, "preprocess_bench: %s: %s\n", what, s.to_string().c_str());
  return 1;
}

void print_latency(const char* label, const std::vector<double>& ms) {
  printf("  %-34s p50 %7.0f ms   p90 %7.0f ms   max %7.0f ms\n", label, percentile(ms, 0.5), percentile(ms, 0.9),
         percentile(ms, 1.0));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: preprocess_bench STORE_DIR IMAGES_DIR [WORKERS] [SINGLES]\n");
    return 2;
  }
  std::string store = argv[1], images = argv[2];
  unsigned workers = argc > 3 ? unsigned(std::atoi(argv[3])) : 0;
  int singles = argc > 4 ? std::atoi(argv[4]) : 20;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(images))
    if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (files.size() < size_t(singles) + 1) return fail(Status(EINVAL, "too few images"), images.c_str());
  std::vector<std::string> bulk(files.begin(), files.end() - singles);
  std::vector<std::string> single(files.end() - singles, files.end());

  auto opened = Platform::open(PlatformOptions{store});
  if (!opened) return fail(opened.status(), "open");
  Platform& p = **opened;
  auto ds = p.create_dataset("bench", "bench@local");
  if (!ds) return fail(ds.status(), "dataset");
  unsigned n_workers = workers ? workers : std::max(1u, std::thread::hardware_concurrency());
  printf("preprocess_bench: %zu images, %u workers\n", bulk.size(), n_workers);

  // 1. upload -> done, with the workers running.
  if (Status s = p.start_preprocessing(workers); !s) return fail(s, "start");
  std::vector<std::string> ids;
  auto t0 = Steady::now();
  for (size_t i = 0; i < bulk.size(); ++i) {
    auto r = p.upload_file(ds->id, bulk[i], "/bulk/" + std::to_string(i) + ".jpg", UploadOptions{});
    if (!r) return fail(r.status(), bulk[i].c_str());
    ids.push_back(r->item.id);
  }
  double upload_s = seconds_since(t0);
  auto tally = p.wait_preprocessed(ids, std::chrono::minutes(60));
  if (!tally) return fail(tally.status(), "wait");
  double all_s = seconds_since(t0);
  std::vector<double> latency;
  int64_t first_created = INT64_MAX, last_done = 0;
  for (const auto& id : ids) {
    auto item = p.get_item(id);
    if (!item) return fail(item.status(), "get");
    latency.push_back(double(item->updated_ms - item->created_ms));
    first_created = std::min(first_created, item->created_ms);
    last_done = std::max(last_done, item->updated_ms);
  }
  printf("1. upload while preprocessing: %zu uploaded in %.1f s (%.0f items/s); all done after %.1f s\n", ids.size(),
         upload_s, double(ids.size()) / upload_s, all_s);
  printf("  %zu done, %zu failed, %zu pending; %.1f items/s preprocessed end to end\n", tally->done, tally->failed,
         tally->pending, double(ids.size()) * 1000.0 / double(std::max<int64_t>(1, last_done - first_created)));
  print_latency("upload -> done (queue included)", latency);

  // 2. preprocessing alone.
  p.stop_preprocessing();
  auto requeued = p.requeue_preprocessing(ds->id, "/bulk");
  if (!requeued) return fail(requeued.status(), "requeue");
  auto t1 = Steady::now();
  if (Status s = p.start_preprocessing(workers); !s) return fail(s, "start");
  tally = p.wait_preprocessed(*requeued, std::chrono::minutes(60));
  if (!tally) return fail(tally.status(), "wait");
  double drain_s = seconds_since(t1);
  printf("2. preprocessing alone: %zu items in %.1f s: %.1f items/s (%.1f per worker)\n", requeued->size(), drain_s,
         double(requeued->size()) / drain_s, double(requeued->size()) / drain_s / n_workers);

  // 3. one upload at a time on an idle service.
  std::vector<double> one;
  for (int i = 0; i < singles; ++i) {
    auto r = p.upload_file(ds->id, single[size_t(i)], "/single/" + std::to_string(i) + ".jpg", UploadOptions{});
    if (!r) return fail(r.status(), single[size_t(i)].c_str());
    auto w = p.wait_preprocessed({r->item.id}, std::chrono::minutes(1));
    if (!w || w->pending) return fail(Status(ETIMEDOUT, "not done"), "single");
    auto item = p.get_item(r->item.id);
    one.push_back(double(item->updated_ms - item->created_ms));
  }
  printf("3. one file on an idle service (%d files):\n", singles);
  print_latency("upload -> done", one);
  p.stop_preprocessing();
  return 0;
}
