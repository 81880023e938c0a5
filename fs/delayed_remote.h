// A Remote that forwards everything to another and makes each read wait first: what a stalled
// server looks like to the mount. Only for tests of blocked readers (-o debug_read_delay_ms);
// abort_waits() ends every wait at once so that shutting down never waits on it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "remote/remote.h"

namespace dlfs {

class DelayedRemote : public Remote {
 public:
  DelayedRemote(Remote& inner, std::chrono::milliseconds read_delay)
      : inner_(inner), delay_(read_delay) {}
  void abort_waits();

  const Dataset& dataset() const override { return inner_.dataset(); }
  Result<ItemPage> list(std::string_view dir, std::string_view after, size_t page_size) override {
    return inner_.list(dir, after, page_size);
  }
  Result<Item> get(std::string_view path) override { return inner_.get(path); }
  Result<Item> get_by_id(std::string_view id) override { return inner_.get_by_id(id); }
  Result<ItemPage> query(const json& dql) override { return inner_.query(dql); }
  Result<size_t> read(const Item& item, uint64_t offset, std::span<char> out) override;
  Result<std::string> thumbnail(const Item& item) override { return inner_.thumbnail(item); }
  Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                              const UploadOptions& options) override {
    return inner_.upload(local_file, remote_path, options);
  }
  Result<Item> patch(std::string_view id, const json& patch, bool system) override {
    return inner_.patch(id, patch, system);
  }
  Result<Item> move(std::string_view id, std::string_view new_path) override { return inner_.move(id, new_path); }
  Status remove(std::string_view id) override { return inner_.remove(id); }
  Result<Item> make_dir(std::string_view path) override { return inner_.make_dir(path); }

 private:
  Remote& inner_;
  std::chrono::milliseconds delay_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool aborted_ = false;
};

}  // namespace dlfs
