// Watched upstream sync: a driver's dataset with a sync interval (metadata.system.
// syncIntervalSeconds, set by PUT /datasets/{id}/watch or `dlfs dataset watch`) is synced with
// its bucket again every interval by the processes that serve the store (dlfsd, and mounts of the
// embedded platform), so that objects put in the bucket appear in mounts without anyone running a
// sync. Each sync is a command like a manual one (GET /commands/{id}); a dataset's next one starts
// only once the last has ended, and the watchers of several processes take turns (each interval's
// sync is claimed in the dataset's record: Platform::claim_watched_sync).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace dlfs {

class Platform;

class SyncWatcher {
 public:
  // Looks at the datasets every `tick`; the first sync of a watched dataset starts at once.
  SyncWatcher(Platform& platform, std::chrono::milliseconds tick);
  ~SyncWatcher();  // stops looking; syncs under way go on as commands

 private:
  void run();
  void look();

  struct Watched {
    int64_t last_start_ms = 0;
    std::string command_id;
  };
  Platform& platform_;
  std::chrono::milliseconds tick_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, Watched> watched_;  // by dataset id (only the watcher's thread)
  std::thread thread_;
};

}  // namespace dlfs
