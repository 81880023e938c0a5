#include "remote/metered_remote.h"

#include <chrono>

namespace dlfs {

namespace {

// An answer is an error when it carries one (an upload batch: when any of its files does).
template <typename R>
bool answered_ok(const R& r) {
  return r.is_ok();
}
bool answered_ok(const Status& s) { return s.is_ok(); }
// A batch's answers (upload_files, patch_many): an error when any of them is one.
template <typename R>
bool all_answered_ok(const std::vector<R>& answers) {
  for (const auto& a : answers)
    if (!a) return false;
  return true;
}

}  // namespace

const char* MeteredRemote::call_name(Call call) {
  static constexpr const char* kNames[kCalls] = {"list", "listing_id_at", "get", "get_by_id", "query",
                                                 "read", "read_items", "open_local", "thumbnail", "upload", "upload_files",
                                                 "patch", "patch_many", "move", "remove", "make_dir", "quota"};
  return call < kCalls ? kNames[call] : "unknown";
}

MeteredRemote::MeteredRemote(Remote& inner, Metrics& metrics) : ForwardingRemote(inner) {
  auto& reg = metrics.registry();
  auto& calls = prometheus::BuildCounter()
                    .Name("dlfs_remote_calls_total")
                    .Help("Calls of the mount to its platform (a server's API, or the embedded store), by call")
                    .Register(reg);
  auto& latency = prometheus::BuildHistogram()
                      .Name("dlfs_remote_call_duration_seconds")
                      .Help("Time of a call to the platform (its retries included), by call")
                      .Register(reg);
  auto& errors = prometheus::BuildCounter()
                     .Name("dlfs_remote_errors_total")
                     .Help("Calls to the platform that answered an error (ENOENT included), by call")
                     .Register(reg);
  for (size_t i = 0; i < kCalls; ++i) {
    prometheus::Labels labels{{"call", call_name(Call(i))}};
    calls_[i] = &calls.Add(labels);
    latency_[i] = &latency.Add(labels, latency_buckets());
    errors_[i] = &errors.Add(labels);
  }
  read_bytes_ = &prometheus::BuildCounter()
                     .Name("dlfs_remote_read_bytes_total")
                     .Help("Bytes of items read from the platform")
                     .Register(reg)
                     .Add({});
}

template <typename F, typename Ok>
auto MeteredRemote::timed(Call call, F&& f, Ok&& ok) {
  auto start = std::chrono::steady_clock::now();
  auto answer = f();
  latency_[call]->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  calls_[call]->Increment();
  if (!ok(answer)) errors_[call]->Increment();
  return answer;
}

#define DLFS_METERED(call, expr) timed(call, [&] { return expr; }, [](const auto& r) { return answered_ok(r); })

Result<ItemPage> MeteredRemote::list_range(std::string_view dir, std::string_view after, std::string_view until,
                                           size_t page_size) {
  return DLFS_METERED(kList, inner_.list_range(dir, after, until, page_size));
}

Result<std::string> MeteredRemote::listing_id_at(std::string_view dir, uint64_t offset) {
  return DLFS_METERED(kListingIdAt, inner_.listing_id_at(dir, offset));
}

Result<Item> MeteredRemote::get(std::string_view path) { return DLFS_METERED(kGet, inner_.get(path)); }

Result<Item> MeteredRemote::get_by_id(std::string_view id) { return DLFS_METERED(kGetById, inner_.get_by_id(id)); }

Result<ItemPage> MeteredRemote::query(const json& dql) { return DLFS_METERED(kQuery, inner_.query(dql)); }

Result<size_t> MeteredRemote::read(const Item& item, uint64_t offset, std::span<char> out) {
  Result<size_t> n = DLFS_METERED(kRead, inner_.read(item, offset, out));
  if (n) read_bytes_->Increment(double(*n));
  return n;
}

void MeteredRemote::read_items(std::span<const Item> items, ItemBytesSink& sink) {
  struct Counting : ItemBytesSink {
    ItemBytesSink& to;
    prometheus::Counter* bytes_read;
    bool failed = false;
    Counting(ItemBytesSink& to, prometheus::Counter* bytes_read) : to(to), bytes_read(bytes_read) {}
    Status bytes(size_t index, uint64_t offset, std::string_view piece) override {
      bytes_read->Increment(double(piece.size()));
      return to.bytes(index, offset, piece);
    }
    void done(size_t index, Status status) override {
      failed = failed || !status;
      to.done(index, std::move(status));
    }
  } counting(sink, read_bytes_);
  timed(kReadItems, [&] {
    inner_.read_items(items, counting);
    return !counting.failed;
  }, [](bool ok) { return ok; });
}

Result<int> MeteredRemote::open_local(const Item& item) {
  return DLFS_METERED(kOpenLocal, inner_.open_local(item));
}

Result<std::string> MeteredRemote::thumbnail(const Item& item) {
  return DLFS_METERED(kThumbnail, inner_.thumbnail(item));
}

Result<UploadResult> MeteredRemote::upload(const std::string& local_file, std::string_view remote_path,
                                           const UploadOptions& options) {
  return DLFS_METERED(kUpload, inner_.upload(local_file, remote_path, options));
}

// (Passed on whole: the inner remote's batch is one call, not one per file.)
std::vector<Result<UploadResult>> MeteredRemote::upload_files(std::span<const FileUpload> files) {
  return timed(kUploadFiles, [&] { return inner_.upload_files(files); },
               all_answered_ok<Result<UploadResult>>);
}

Result<Item> MeteredRemote::patch(std::string_view id, const json& patch, bool system) {
  return DLFS_METERED(kPatch, inner_.patch(id, patch, system));
}

// (Passed on whole, as upload_files.)
std::vector<Result<Item>> MeteredRemote::patch_many(std::span<const ItemPatch> patches) {
  return timed(kPatchMany, [&] { return inner_.patch_many(patches); }, all_answered_ok<Result<Item>>);
}

Result<Item> MeteredRemote::move(std::string_view id, std::string_view new_path, std::string_view replace_id) {
  return DLFS_METERED(kMove, inner_.move(id, new_path, replace_id));
}

Status MeteredRemote::remove(std::string_view id) { return DLFS_METERED(kRemove, inner_.remove(id)); }

Result<Item> MeteredRemote::make_dir(std::string_view path) { return DLFS_METERED(kMakeDir, inner_.make_dir(path)); }

Result<QuotaInfo> MeteredRemote::quota() { return DLFS_METERED(kQuota, inner_.quota()); }

#undef DLFS_METERED

}  // namespace dlfs
