// Stores the listings a mount fetched into the metadata cache on a thread of its own: the
// `opendir` that fetched a folder of 100,000 items answers without waiting ~0.5 s for the
// cache's write. A listing is stored kStoreDelay after it was queued, so that the readdirs that
// follow its opendir (a cold `ls -l` of 10,000 entries: ~0.1 s) do not share a small machine's
// cores with the write. What is queued is stored in order (one folder's listings are fetched
// one at a time, so a later fetch is never overwritten by an earlier one), and all of it at
// flush() and before the writer goes (a remount finds it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cache/metadata_cache.h"
#include "core/packed_items.h"

namespace dlfs {

class ListingWriter {
 public:
  // Whether `dir` is unchanged since `epoch` (read before its fetch): checked before storing a
  // listing, which is dropped if not, and after, which takes it out again if not.
  using StillCurrent = std::function<bool(const std::string& dir, uint64_t epoch)>;
  // At most `max_queued_items` items wait: past it, store() waits (as if it wrote them itself).
  static constexpr size_t kMaxQueuedItems = 1 << 18;
  static constexpr std::chrono::milliseconds kStoreDelay{500};

  ListingWriter(MetadataCache& cache, StillCurrent still_current, size_t max_queued_items = kMaxQueuedItems);
  ~ListingWriter();  // stores what is queued, then stops
  ListingWriter(const ListingWriter&) = delete;
  ListingWriter& operator=(const ListingWriter&) = delete;

  // `fetched_ms`: when the listing was fetched, what the cache records as its age (never the
  // time it is stored: stored late, under load, it would look fresher than it is).
  void store(std::string dir, std::shared_ptr<const PackedItems> items, uint64_t epoch, int64_t fetched_ms);
  // Returns once every listing queued before the call is stored (or dropped).
  void flush();
  // For tests: while held, nothing is stored (flush() ends the hold).
  void hold(bool held);

 private:
  struct Pending {
    std::string dir;
    std::shared_ptr<const PackedItems> items;
    uint64_t epoch;
    int64_t fetched_ms;
    uint64_t seq;  // queued_total_ once it was queued
    std::chrono::steady_clock::time_point due;
  };
  void run();
  void write(const Pending& p);

  MetadataCache& cache_;
  StillCurrent still_current_;
  const size_t max_queued_items_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Pending> queue_;
  size_t queued_items_ = 0;
  uint64_t queued_total_ = 0, done_total_ = 0;  // listings ever queued / stored or dropped
  uint64_t hurry_to_ = 0;  // listings queued up to this one are stored now (flush), not when due
  bool stopping_ = false;
  bool held_ = false;
  std::thread thread_;  // last: started once the rest is built
};

}  // namespace dlfs
