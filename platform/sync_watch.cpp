#include "platform/sync_watch.h"

#include <spdlog/spdlog.h>

#include <cstdint>

#include "platform/commands.h"
#include "platform/driver.h"
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
    auto node = watched_.extract(ds.id);
    Watched w = node.empty() ? Watched{} : std::move(node.mapped());
    bool running = false;
    if (!w.command_id.empty())
      if (auto c = platform_.commands().get(w.command_id)) running = c->status == "created" || c->status == "in-progress";
    if (!running && w.last_start_ms > w.last_end_ms) w.last_end_ms = now;
    note_changes(ds, w, now);
    bool interval_due = w.last_start_ms == 0 || now - w.last_start_ms >= int64_t(interval_s) * 1000;
    bool changed = change_due(w, now);
    if (!running && (interval_due || changed)) {
      // Claimed in the dataset's record: another process watching the store may have started
      // this interval's sync already, or one since the change.
      auto claimed = platform_.claim_watched_sync(ds.id, changed ? w.changed_since_ms : 0);
      if (!claimed) spdlog::warn("watched sync of dataset '{}': {}", ds.name, claimed.status().to_string());
      if (!claimed || !*claimed) {
        if (claimed && changed) w.changed_since_ms = 0;  // another process's sync, begun after the change, sees it
        still[ds.id] = std::move(w);
        continue;
      }
      auto command = platform_.start_sync(ds.id, changed && !interval_due ? "watched sync (the bucket changed)" : "watched sync");
      w.last_start_ms = now;  // a failure to start is tried again an interval later, not every tick
      w.changed_since_ms = 0;
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

bool SyncWatcher::change_due(const Watched& w, int64_t now) const {
  if (w.changed_since_ms == 0) return false;
  if (now - w.last_change_ms < kSettleMs && now - w.changed_since_ms < kMaxWaitMs) return false;
  // At most half of the time syncing: after a sync of d ms, the next waits d ms.
  return w.last_start_ms == 0 || now - w.last_end_ms >= w.last_end_ms - w.last_start_ms;
}

void SyncWatcher::note_changes(const Dataset& ds, Watched& w, int64_t now) {
  if (!w.changes && now >= w.changes_retry_ms) {
    Driver driver;
    auto store = platform_.driver_store(ds.driver, &driver);
    auto changes = !store ? Result<std::unique_ptr<ObjectChanges>>(store.status())
                          : (*store)->watch_changes(driver.path, [driver](std::string_view key) {
                              auto path = item_path_for(driver, key);
                              return !path || is_hidden_path(*path);  // the platform's own files in the bucket
                            });
    if (changes) {
      w.changes = std::move(*changes);
      // What changed while it was not watched (a watch lost, or not there yet) is not known.
      if (w.last_start_ms != 0 && !w.changed_since_ms) w.changed_since_ms = w.last_change_ms = now;
    } else if (changes.err() == ENOTSUP) {
      w.changes_retry_ms = INT64_MAX;  // the store has none: interval only
    } else {
      std::string why = changes.status().to_string();
      if (why != w.changes_error)  // (said once, not every minute)
        spdlog::warn("watched sync of dataset '{}': {} (synced on its interval only; tried again every minute)",
                     ds.name, why);
      w.changes_error = std::move(why);
      w.changes_retry_ms = now + 60'000;
    }
  }
  if (!w.changes) return;
  auto changed = w.changes->take();
  if (!changed) {
    spdlog::warn("watched sync of dataset '{}': {}", ds.name, changed.status().to_string());
    w.changes.reset();
    w.changes_retry_ms = now + 60'000;
    return;
  }
  if (!*changed) return;
  if (!w.changed_since_ms) w.changed_since_ms = now;
  w.last_change_ms = now;
}

}  // namespace dlfs
