// A Remote that forwards everything to another and makes each read wait first: what a stalled
// server looks like to the mount. Only for tests of blocked readers (-o debug_read_delay_ms);
// abort_waits() ends every wait at once so that shutting down never waits on it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "remote/forwarding_remote.h"

namespace dlfs {

class DelayedRemote : public ForwardingRemote {
 public:
  DelayedRemote(Remote& inner, std::chrono::milliseconds read_delay)
      : ForwardingRemote(inner), delay_(read_delay) {}
  void abort_waits();

  Result<size_t> read(const Item& item, uint64_t offset, std::span<char> out) override;
  // Every read goes through read() and its wait.
  void read_items(std::span<const Item> items, ItemBytesSink& sink) override { Remote::read_items(items, sink); }
  Result<int> open_local(const Item&) override { return Status(ENOTSUP, "reads are delayed"); }

 private:
  std::chrono::milliseconds delay_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool aborted_ = false;
};

}  // namespace dlfs
