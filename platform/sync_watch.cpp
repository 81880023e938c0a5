#include "platform/sync_watch.h"

#include <spdlog/spdlog.h>

#include "platform/commands.h"
#include "platform/platform.h"

namespace dlfs {

SyncWatcher::SyncWatcher(Platform& platform, std::chrono::milliseconds tick)
    : platform_(platform), tick_(tick), thread_([this] { run(); }) {}

SyncWatcher::~SyncWatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void SyncWatcher::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    look();
    lock.lock();
    wake_.wait_for(lock, tick_, [&] { return stopping_; });
  }
}

void SyncWatcher::look() {
  auto datasets = platform_.list_datasets();
  if (!datasets) {
    spdlog::warn("watched syncs: cannot list the datasets: {}", datasets.status().to_string());
    return;
  }
  std::map<std::string, Watched> still;
  int64_t now = platform_.clock().now_ms();
  for (const Dataset& ds : *datasets) {
    uint64_t interval_s = dataset_sync_interval(ds);
    if (ds.driver.empty() || interval_s == 0) continue;  // not watched (any more): forgotten
    Watched w = watched_.count(ds.id) ? watched_[ds.id] : Watched{};
    bool running = false;
    if (!w.command_id.empty())
      if (auto c = platform_.commands().get(w.command_id)) running = c->status == "created" || c->status == "in-progress";
    if (!running && (w.last_start_ms == 0 || now - w.last_start_ms >= int64_t(interval_s) * 1000)) {
      // Claimed in the dataset's record: another process watching the store may have started
      // this interval's sync already.
      auto claimed = platform_.claim_watched_sync(ds.id);
      if (!claimed) spdlog::warn("watched sync of dataset '{}': {}", ds.name, claimed.status().to_string());
      if (!claimed || !*claimed) {
        still[ds.id] = std::move(w);
        continue;
      }
      auto command = platform_.start_sync(ds.id, "watched sync");
      w.last_start_ms = now;  // a failure to start is tried again an interval later, not every tick
      if (command) {
        w.command_id = command->id;
      } else {
        spdlog::warn("watched sync of dataset '{}': {}", ds.name, command.status().to_string());
      }
    }
    still[ds.id] = std::move(w);
  }
  watched_ = std::move(still);
}

}  // namespace dlfs
