// A Remote that counts and times every call it passes on (mount.dlfs -o metrics): calls,
// errors and latency by call, and the bytes read. Each call's counters are made once, at
// construction; a call then costs a clock read and a few atomic adds.
#pragma once

#include <array>

#include "metrics/metrics.h"
#include "remote/forwarding_remote.h"

namespace dlfs {

class MeteredRemote : public ForwardingRemote {
 public:
  enum Call : uint8_t {
    kList, kListingIdAt, kGet, kGetById, kQuery, kRead, kReadItems, kOpenLocal, kThumbnail, kUpload, kUploadFiles,
    kPatch, kPatchMany, kMove, kRemove, kMakeDir, kQuota,
    kCalls
  };
  static const char* call_name(Call call);

  // Registers dlfs_remote_calls_total{call}, dlfs_remote_call_duration_seconds{call},
  // dlfs_remote_errors_total{call} and dlfs_remote_read_bytes_total.
  MeteredRemote(Remote& inner, Metrics& metrics);

  Result<ItemPage> list_range(std::string_view dir, std::string_view after, std::string_view until,
                              size_t page_size) override;
  Result<std::string> listing_id_at(std::string_view dir, uint64_t offset) override;
  Result<Item> get(std::string_view path) override;
  Result<Item> get_by_id(std::string_view id) override;
  Result<ItemPage> query(const json& dql) override;
  Result<size_t> read(const Item& item, uint64_t offset, std::span<char> out) override;
  // One call however many items (an error when any item's read failed); their bytes counted.
  void read_items(std::span<const Item> items, ItemBytesSink& sink) override;
  Result<int> open_local(const Item& item) override;
  Result<std::string> thumbnail(const Item& item) override;
  Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                              const UploadOptions& options) override;
  std::vector<Result<UploadResult>> upload_files(std::span<const FileUpload> files) override;
  Result<Item> patch(std::string_view id, const json& patch, bool system) override;
  std::vector<Result<Item>> patch_many(std::span<const ItemPatch> patches) override;
  Result<Item> move(std::string_view id, std::string_view new_path, std::string_view replace_id) override;
  Status remove(std::string_view id) override;
  Result<Item> make_dir(std::string_view path) override;
  Result<QuotaInfo> quota() override;

 private:
  // Runs `call`, counting it (and as an error when `ok(answer)` is false) and timing it.
  template <typename F, typename Ok>
  auto timed(Call call, F&& f, Ok&& ok);

  std::array<prometheus::Counter*, kCalls> calls_{};
  std::array<prometheus::Histogram*, kCalls> latency_{};
  std::array<prometheus::Counter*, kCalls> errors_{};
  prometheus::Counter* read_bytes_ = nullptr;
};

}  // namespace dlfs
