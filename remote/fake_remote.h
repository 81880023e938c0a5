// An in-memory Remote for unit tests: a tree of items with their bytes and thumbnails, a call
// counter per method (so a test can assert "no remote listing call"), and fault injection (the
// next N calls of a method fail with an errno; reads may be delayed to simulate a stalled
// server). Thread-safe like every Remote.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "remote/remote.h"

namespace dlfs {

enum class RemoteCall {
  kList, kGet, kGetById, kQuery, kRead, kThumbnail, kUpload, kPatch, kMove, kRemove, kMakeDir,
};
inline constexpr size_t kRemoteCallKinds = 11;
std::string_view to_string(RemoteCall call);

class FakeRemote : public Remote {
 public:
  explicit FakeRemote(std::string dataset_name = "fake");
  ~FakeRemote() override;

  // Building the tree (parent folders are made implicitly). Each answers the stored item.
  Item add_file(std::string_view path, std::string content, json user_metadata = nullptr);
  Item add_dir(std::string_view path);
  Item add_link(std::string_view path, std::string_view url, std::string_view mimetype = "image/jpeg");
  Item add_hidden_file(std::string_view path, std::string content);
  // Replaces the stored item at item.filename (keeps the bytes), bumping nothing.
  void put_item(const Item& item);
  // Replaces the bytes of a file, bumping updatedAt and size like a re-upload.
  Item rewrite_file(std::string_view path, std::string content);
  void set_thumbnail(std::string_view path, std::string jpeg);
  void erase(std::string_view path);  // the item and everything under it
  std::optional<Item> item_at(std::string_view path) const;

  // Counters.
  uint64_t calls(RemoteCall call) const { return calls_[size_t(call)].load(); }
  uint64_t total_calls() const;
  void reset_calls();

  // Faults: the next `count` calls of `call` fail with `err`.
  void fail_next(RemoteCall call, int count, int err);
  // Every read sleeps this long first (until release_reads() or the delay passes).
  void set_read_delay(std::chrono::milliseconds delay);
  // Wakes every delayed read now and disables the delay.
  void release_reads();
  // How many reads are sleeping in the delay right now.
  int blocked_reads() const { return blocked_reads_.load(); }
  // What server_away() answers (the calls themselves still work: faults are fail_next's).
  void set_away(bool away) { away_ = away; }

  // Remote
  const Dataset& dataset() const override { return dataset_; }
  bool server_away() const override { return away_.load(); }
  Result<ItemPage> list_range(std::string_view dir, std::string_view after, std::string_view until,
                              size_t page_size) override;
  Result<std::string> listing_id_at(std::string_view dir, uint64_t offset) override;
  Result<Item> get(std::string_view path) override;
  Result<Item> get_by_id(std::string_view id) override;
  Result<ItemPage> query(const json& dql) override;
  Result<size_t> read(const Item& item, uint64_t offset, std::span<char> out) override;
  Result<std::string> thumbnail(const Item& item) override;
  Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                              const UploadOptions& options) override;
  Result<Item> patch(std::string_view id, const json& patch, bool system = false) override;
  Result<Item> move(std::string_view id, std::string_view new_path, std::string_view replace_id) override;
  Status remove(std::string_view id) override;
  Result<Item> make_dir(std::string_view path) override;
  Result<QuotaInfo> quota() override;
  // A quota of file items (0: none), enforced by uploads that make an item, as the platform does.
  void set_items_quota(uint64_t items);

 private:
  struct Stored {
    Item item;
    std::string content;
    std::optional<std::string> thumbnail;
  };
  // Counts the call and answers the injected fault, if any.
  Status enter(RemoteCall call);
  Item make_item(std::string_view path, ItemType type);
  Item add_file_locked(std::string_view path, std::string content, json user_metadata);
  uint64_t file_items_locked() const;
  void ensure_parents_locked(std::string_view path);
  Stored* find_by_id_locked(std::string_view id);
  // The visible children of folder `dir` in id order (ENOENT, ENOTDIR).
  Result<std::vector<const Item*>> children_locked(std::string_view dir);
  int64_t next_time_locked() { return ++clock_ms_; }

  Dataset dataset_;
  std::array<std::atomic<uint64_t>, kRemoteCallKinds> calls_{};
  std::array<std::pair<int, int>, kRemoteCallKinds> faults_{};  // (remaining, errno)
  std::atomic<bool> away_{false};

  mutable std::mutex mu_;
  std::map<std::string, Stored, std::less<>> items_;  // by path
  int64_t clock_ms_ = 1704067200000;
  uint64_t items_quota_ = 0;

  std::mutex delay_mu_;
  std::condition_variable delay_cv_;
  std::chrono::milliseconds read_delay_{0};
  uint64_t delay_epoch_ = 0;  // bumped by release_reads()
  std::atomic<int> blocked_reads_{0};
};

}  // namespace dlfs
