// Stores the listings a mount fetched into the metadata cache on a thread of its own: the
// `opendir` that fetched a folder of 100,000 items answers without waiting ~0.5 s for the
// cache's write. What is queued is stored in order (one folder's listings are fetched one at a
// time, so a later fetch is never overwritten by an earlier one), and all of it before the
// writer goes (a remount finds it).
#pragma once

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
  bool stopping_ = false;
  bool held_ = false;
  std::thread thread_;  // last: started once the rest is built
};

}  // namespace dlfs
