// A Remote that behaves like a platform on a bad network, for the reference-model tests: every
// call waits a random while before it reaches the platform and again before its answer arrives
// (so concurrent calls land in another order than they were made, and a listing taken before a
// change can arrive after it), and a call that changes something may fail before it reaches the platform (EIO) or
// after (the change is made, the answer is lost: ETIMEDOUT) — the cases a client must retry
// without doing a change twice. A thread never sees more than `max_failures_in_a_row` failures
// in a row, so that a client retrying a few times always gets through.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>

#include "remote/forwarding_remote.h"

namespace dlfs::test {

struct ChaosOptions {
  uint64_t seed = 1;
  int max_delay_us = 1500;
  double fail_before = 0.04;  // a change refused before it is made
  double lost_answer = 0.04;  // a change made whose answer is lost
  int max_failures_in_a_row = 2;
};

struct ChaosCounters {
  std::atomic<uint64_t> calls{0}, refused{0}, lost{0};
};

class ChaosRemote : public ForwardingRemote {
 public:
  ChaosRemote(Remote& inner, ChaosOptions options) : ForwardingRemote(inner), options_(options), rng_(options.seed) {}
  const ChaosCounters& counters() const { return counters_; }
  // Off: every call goes straight through (the final checks).
  void set_enabled(bool on) { enabled_ = on; }

  Result<ItemPage> list_range(std::string_view dir, std::string_view after, std::string_view until,
                              size_t page_size) override {
    return answer([&] { return inner_.list_range(dir, after, until, page_size); });
  }
  Result<std::string> listing_id_at(std::string_view dir, uint64_t offset) override {
    return answer([&] { return inner_.listing_id_at(dir, offset); });
  }
  Result<Item> get(std::string_view path) override {
    return answer([&] { return inner_.get(path); });
  }
  Result<Item> get_by_id(std::string_view id) override {
    return answer([&] { return inner_.get_by_id(id); });
  }
  Result<size_t> read(const Item& item, uint64_t offset, std::span<char> out) override {
    delay();
    return inner_.read(item, offset, out);
  }
  Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                              const UploadOptions& options) override {
    return change([&] { return inner_.upload(local_file, remote_path, options); });
  }
  Result<Item> patch(std::string_view id, const json& patch, bool system) override {
    return change([&] { return inner_.patch(id, patch, system); });
  }
  Result<Item> move(std::string_view id, std::string_view new_path, std::string_view replace_id) override {
    return change([&] { return inner_.move(id, new_path, replace_id); });
  }
  Status remove(std::string_view id) override {
    return change([&] { return inner_.remove(id); });
  }
  Result<Item> make_dir(std::string_view path) override {
    return change([&] { return inner_.make_dir(path); });
  }

 private:
  enum class Fate { kThrough, kRefused, kLost };
  double uniform();
  void delay();  // counts the call, then waits
  void late();   // an answer's wait on its way back
  Fate fate();

  template <typename F>
  auto answer(F call) -> decltype(call()) {
    delay();
    auto result = call();
    late();
    return result;
  }

  template <typename F>
  auto change(F call) -> decltype(call()) {
    delay();
    Fate f = fate();
    if (f == Fate::kRefused) return Status(EIO, "chaos: refused before it reached the platform");
    auto result = call();
    late();
    if (f == Fate::kLost) return Status(ETIMEDOUT, "chaos: the platform's answer was lost");
    return result;
  }

  ChaosOptions options_;
  ChaosCounters counters_;
  std::atomic<bool> enabled_{true};
  std::mutex mu_;
  std::mt19937_64 rng_;
};

}  // namespace dlfs::test
