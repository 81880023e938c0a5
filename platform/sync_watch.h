// Watched upstream sync: a driver's dataset with a sync interval (metadata.system.
// syncIntervalSeconds, set by PUT /datasets/{id}/watch or `dlfs dataset watch`) is synced with
// its bucket again every interval by the processes that serve the store (dlfsd, and mounts of the
// embedded platform), so that objects put in the bucket appear in mounts without anyone running a
// sync. Each sync is a command like a manual one (GET /commands/{id}); a dataset's next one starts
// only once the last has ended, and the watchers of several processes take turns (each interval's
// sync is claimed in the dataset's record: Platform::claim_watched_sync).
//
// Where the bucket's store sends change notifications (a local folder: inotify), a change also
// starts a sync, once the bucket has been quiet for a moment (kSettle) or at the latest kMaxWait
// after the first change — but a dataset's syncs take at most half of the time (the next one
// waits as long as the last one ran): the platform's own uploads into the bucket are changes too,
// and a sync of a large bucket that finds nothing new still lists it all. The interval stays:
// notifications can be missed (a change on another machine of a shared folder).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "platform/object_store.h"

namespace dlfs {

class Platform;
struct Dataset;

class SyncWatcher {
 public:
  static constexpr int64_t kSettleMs = 1'000;
  static constexpr int64_t kMaxWaitMs = 10'000;

  // Looks at the datasets every `tick`; the first sync of a watched dataset starts at once.
  SyncWatcher(Platform& platform, std::chrono::milliseconds tick);
  ~SyncWatcher();  // stops looking; syncs under way go on as commands

 private:
  void run();
  void look();

  struct Watched {
    int64_t last_start_ms = 0;
    int64_t last_end_ms = 0;  // (seen ended, to this watcher's tick)
    std::string command_id;
    std::unique_ptr<ObjectChanges> changes;  // the bucket's notifications, where its store sends them
    int64_t changes_retry_ms = 0;            // when to try to watch it again
    std::string changes_error;               // why it could not, last time
    int64_t changed_since_ms = 0;            // the first change no sync has started after (0: none)
    int64_t last_change_ms = 0;
  };
  void note_changes(const Dataset& ds, Watched& w, int64_t now);
  bool change_due(const Watched& w, int64_t now) const;
  Platform& platform_;
  std::chrono::milliseconds tick_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, Watched> watched_;  // by dataset id (only the watcher's thread)
  std::thread thread_;
};

}  // namespace dlfs
