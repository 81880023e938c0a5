// Sequential reads of a large item of a remote platform (one the data cache does not keep whole),
// fetched ahead: once reads come one after another, ranged reads of 4 MiB parts, several at once
// on a shared pool of threads, stay a growing window ahead of the reader (one part, doubling to
// eight), as mountpoint-s3's prefetcher does. A read elsewhere (a seek) drops what was fetched
// and starts over; random reads never start it. Memory is bounded by the pool's budget (parts
// are recycled, not allocated per read: fresh pages cost more than the copy here).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "core/result.h"

namespace dlfs {

class ReadAheadPool {
 public:
  static constexpr size_t kPartBytes = 4 << 20;
  // `threads` fetch at once; at most `budget_parts` parts (of every reader) exist at a time.
  ReadAheadPool(unsigned threads, size_t budget_parts);
  ~ReadAheadPool();  // waits for the fetches under way

  void submit(std::function<void()> task);
  // A part's buffer (kPartBytes), or null when the budget is spent; give it back with put().
  std::unique_ptr<std::vector<char>> take();
  void put(std::unique_ptr<std::vector<char>> buffer);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::unique_ptr<std::vector<char>>> free_;
  size_t budget_, out_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Made with std::make_shared: a fetch under way holds its reader, so dropping the last handle
// never waits for the server.
class ReadAhead : public std::enable_shared_from_this<ReadAhead> {
 public:
  // Reads [offset, offset + out.size()) of the item from the remote; answers the count.
  using Fetch = std::function<Result<size_t>(uint64_t offset, std::span<char> out)>;
  ReadAhead(uint64_t size, Fetch fetch, ReadAheadPool& pool) : size_(size), fetch_(std::move(fetch)), pool_(pool) {}
  ~ReadAhead();

  // The read answered from parts fetched ahead (waiting for one under way), or nullopt: read it
  // directly (not sequential yet, a seek, no budget, or a part failed: the direct read then
  // answers the error itself).
  std::optional<size_t> read(uint64_t offset, std::span<char> out);

 private:
  struct Part {
    uint64_t offset = 0;
    size_t size = 0;
    std::unique_ptr<std::vector<char>> bytes;
    bool done = false, failed = false;
  };
  void drop_locked();
  void top_up_locked(uint64_t offset);

  const uint64_t size_;
  Fetch fetch_;
  ReadAheadPool& pool_;
  std::mutex mu_;
  std::condition_variable part_done_;
  std::deque<std::shared_ptr<Part>> parts_;  // in order, contiguous from parts_.front()->offset
  uint64_t last_end_ = UINT64_MAX;           // where the previous read ended
  bool streaming_ = false;
  uint64_t next_fetch_ = 0;  // the end of what was asked for
  size_t window_parts_ = 1;
};

}  // namespace dlfs
