// Dataset-aware prefetch: when the files of a folder are opened in its listing's order — by one
// reader, or by several walking it together as DataLoader workers or `cp -r` do — the next
// files' bytes are fetched (into the data cache) on a pool of threads before anyone opens them,
// a fixed number of files ahead of the furthest open. An open counts as "in order" when a file
// within two places of it in the listing was opened among the last few dozen opens; a score
// rises by one for each in-order open, falls by three for any other, and the folder is walked
// while it stays high. ("A few dozen": a 16th of the folder, 4 to 48, so that in a small folder a
// random file is not near one by chance.) A far jump (a new epoch from the first file) starts
// the walk over.
//
// A shuffled epoch (DataLoader's shuffle=True: every file once, in random order) is swept: once
// an eighth of the folder's files (at least min_files) were opened with none opened twice, the
// files not opened yet are fetched in listing order, `ahead` at most ahead of the opens. A few
// random opens never start it, nor do random reads that come back to a file (sampling with
// replacement repeats within ~sqrt(n) opens, long before n/8); a file opened again ends the
// pass (unless among the last few opens: PIL opens an image twice), and the next pass (the next
// epoch) counts again. (Measured: ImageFolder's shuffled epoch 1 through dlfsd was 1.15-1.35x
// the local disk reading each file as it was asked, 0.96x with the folder fetched alongside.)
//
// The folder's order is the one its last listing (opendir) showed; only its names are kept, for
// the last folders listed (64, 256 Ki names together). Bounded: `ahead` files per walk or sweep,
// a queue of at most `max_queued` fetches; the fetch itself bounds its memory (the data cache
// streams to disk).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace dlfs {

struct FolderPrefetchOptions {
  unsigned threads = 8;      // fetches at once
  // Files of one folder, queued one after another, fetched together (one request to dlfsd for
  // all: per-request work on both sides was most of a cold read's CPU for small files) — while
  // the folder's files fetched so far average at most small_file bytes. Larger ones go one per
  // fetch: a reader of the 8th must not wait for 7 large files in one stream before it.
  size_t batch = 8;
  uint64_t small_file = 1 << 20;
  size_t ahead = 64;         // files fetched ahead of the furthest open
  // Listings remembered (the most recently listed), and their names together at most: an
  // ImageFolder of 10 classes lists 10 folders before its shuffled epoch reads them all.
  size_t folders = 64;
  size_t max_names = 256 * 1024;
  size_t min_files = 8;      // smaller folders are not worth it
  size_t max_queued = 512;   // fetches waiting, for every folder together
};

struct FolderPrefetchStats {
  uint64_t walks = 0;      // times a folder was seen walked in order
  uint64_t sweeps = 0;     // times a folder was seen read in a shuffled epoch
  uint64_t queued = 0;     // fetches asked for
  uint64_t fetched = 0;    // files fetched that brought bytes (not there already)
};

class FolderPrefetch {
 public:
  // What a fetch did: how many files it brought bytes of (not: kept already, not a file, not kept
  // at all, or failed), and the sizes of the files among the names (whether brought or not).
  struct Fetched {
    size_t brought = 0;
    size_t files = 0;
    uint64_t bytes = 0;
  };
  // Fetches files of a folder (folder path, names: the listing's, in its order). Runs on the
  // pool's threads.
  using Fetch = std::function<Fetched(const std::string& folder, std::span<const std::string_view> names)>;

  FolderPrefetch(FolderPrefetchOptions options, Fetch fetch);
  ~FolderPrefetch();  // drops what is queued, waits for the fetches under way

  // A listing of `folder` (its entries' names, in the order readdir hands them out).
  void listed(const std::string& folder, std::vector<std::string> names);
  // A file of `folder` opened for reading.
  void opened(std::string_view folder, std::string_view name);

  FolderPrefetchStats stats() const;

 private:
  static constexpr size_t kRecent = 48;  // opens remembered per folder, at most
  static constexpr size_t kNear = 2;     // places either side that count as in order
  static constexpr int kScoreMax = 16, kScoreWalk = 6;

  struct Folder {
    std::string path;
    std::vector<std::string> names;
    std::unordered_map<std::string_view, uint32_t> index;  // views into names
    size_t recent_max = kRecent;
    std::deque<uint32_t> recent;
    std::unordered_multiset<uint32_t> recent_set;
    int score = 0;
    int64_t high = -1;       // the furthest index opened in this walk
    int64_t queued_to = -1;  // the furthest index queued in this walk
    bool walking = false;
    // The sweep of a shuffled epoch: the files opened in this pass, how many, where the sweep
    // goes on, and how many it queued that no open has caught up with (at most `ahead`).
    std::vector<bool> opened;
    size_t distinct = 0;
    bool sweeping = false;
    uint32_t sweep_next = 0;
    size_t sweep_lead = 0;
    // The files fetched so far and their bytes: whether this folder's files are fetched together.
    uint64_t fetched_files = 0, fetched_bytes = 0;
  };
  struct Job {
    std::shared_ptr<Folder> folder;
    uint32_t index;
    bool sweep = false;
  };

  bool near_recent(const Folder& f, uint32_t i) const;
  void note_recent(Folder& f, uint32_t i);
  // Counts the open of file i in the folder's pass (`again`: it is among the last few opens, the
  // same reader's second look, not a second pass); queues the sweep's next files. Answers whether
  // it queued any.
  bool sweep(const std::shared_ptr<Folder>& f, uint32_t i, bool again);
  void start_threads();
  void forget(std::list<std::shared_ptr<Folder>>::iterator folder);
  void work();

  const FolderPrefetchOptions options_;
  const Fetch fetch_;
  mutable std::mutex mu_;  // everything below
  std::condition_variable cv_;
  std::list<std::shared_ptr<Folder>> folders_;  // most recently listed first
  size_t names_ = 0;                             // their names, together
  std::deque<Job> queue_;
  FolderPrefetchStats stats_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;  // started at the first walk
};

}  // namespace dlfs
