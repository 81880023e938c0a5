// The platform's preprocessing service (API.md, "Preprocessing"; DESIGN.md, data flows): a pool
// of workers that takes jobs from the durable queue (platform/preprocess_queue.h), extracts the
// mimetype, size, EXIF and a thumbnail (platform/preprocess_extract.h), and writes them into the
// item's metadata.system in one write transaction that re-reads the item, so nothing else in it
// (user metadata, a concurrent patch) is lost. Thumbnails are hidden items under
// /.dataloop/thumbnails, named <item id>.jpg and referred to by metadata.system.thumbnailId.
//
// Platform::open starts no worker: the long-lived process (the mount, dlfsd) calls
// Platform::start_preprocessing, and `dlfs upload` / `dlfs preprocess` run workers while they
// wait. Any number of processes may run workers on one store: claims keep them apart.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/item.h"
#include "core/lmdb.h"
#include "platform/image_vips.h"
#include "platform/preprocess_extract.h"
#include "platform/preprocess_queue.h"
#include "platform/storage.h"

namespace dlfs {

class Platform;

struct PreprocessSettings {
  ImageLimits limits;
  // Images larger than this are not decoded (they end failed); other files are never read whole.
  uint64_t max_image_bytes = uint64_t(256) << 20;
  // A claim lasts this long (wall clock); a job's work is bounded well below it.
  int64_t lease_ms = 10 * 60 * 1000;
  // A job claimed this many times without finishing (its workers died) is given up as failed.
  int max_tries = 3;
  // How often idle workers look at the queue (other processes' uploads do not wake them).
  std::chrono::milliseconds idle_poll{200};
  // Jobs a worker claims at once; their results are written in one commit too. A durable
  // commit per job (two fsyncs for the claim, two for the results) was most of the CPU of
  // preprocessing 10,000 small files.
  size_t batch = 16;
};

class Preprocessor {
 public:
  explicit Preprocessor(Platform& platform);
  ~Preprocessor();  // stops the workers
  Preprocessor(const Preprocessor&) = delete;
  Preprocessor& operator=(const Preprocessor&) = delete;

  // Change only while no worker runs.
  PreprocessSettings& settings() { return settings_; }

  // Starts `workers` threads (0: one per core). EBUSY if already running.
  Status start(unsigned workers);
  // Stops them: a job in progress is abandoned (decoding is cancelled) and its claim released.
  void stop();
  bool running() const;
  // Wakes idle workers (something was queued by this process).
  void notify();

  // Queues `item` (its binary `blob_key`) inside the caller's write transaction.
  Status enqueue(LmdbTxn& txn, const Item& item, std::string_view blob_key);
  // Claims the next claimable job for this pool; nullopt when there is none.
  Result<std::optional<PreprocessJob>> claim();
  // Claims up to `max` claimable jobs in one commit, in queue order.
  Result<std::vector<PreprocessJob>> claim_batch(size_t max);
  // Processes a job (claimed or not) and writes its results if its binary is still the item's.
  // With `cancel` turning true the work stops and a claim is released.
  Status run(const PreprocessJob& job, const std::atomic<bool>* cancel = nullptr);
  // run() for several jobs, their results written in one commit (each job's in a nested
  // transaction: one that fails undoes only its own). Answers the first failure.
  Status run_batch(const std::vector<PreprocessJob>& jobs, const std::atomic<bool>* cancel = nullptr);

  // Jobs this pool ran to the end (results written or found stale).
  uint64_t processed() const { return processed_; }
  const std::string& token() const { return token_; }

 private:
  void worker_loop();
  // Whether a read transaction sees any claimable job (keeps idle polls off the write lock).
  bool anything_claimable();
  // What preprocessing learns of a job's item (nothing when it is gone or overwritten).
  Result<Extraction> extract(const PreprocessJob& job, const std::atomic<bool>* cancel);
  struct Finished {
    const PreprocessJob* job;
    Extraction ex;
  };
  Status finish(const std::vector<Finished>& done);
  // One job's results, inside finish()'s transaction.
  Status finish_one(LmdbTxn& txn, const PreprocessJob& job, const Extraction& ex, const std::optional<StoredBlob>& thumb,
                    std::vector<std::string>& dead_keys);
  Status release(const PreprocessJob& job);
  // Marks a job's item failed (when the job is still its binary's) and drops the job.
  Status give_up(LmdbTxn& txn, const PreprocessJob& job, const std::string& reason,
                 std::vector<std::string>& dead_keys);
  Result<std::string> read_blob(const PreprocessJob& job, uint64_t max_bytes);
  // A link item's target, fetched through Platform::link_fetcher() (preprocess_link.cpp).
  Extraction extract_link(const Item& item, const std::atomic<bool>* cancel);

  Platform& p_;
  PreprocessSettings settings_;
  std::string token_;
  std::atomic<uint64_t> processed_{0};
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t wake_seq_ = 0;
  std::vector<std::thread> threads_;
};

// The path of an item's thumbnail.
std::string thumbnail_path(std::string_view item_id);

}  // namespace dlfs
