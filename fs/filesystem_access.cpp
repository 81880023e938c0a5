// The filesystem core's access times: a read open (a folder's listing) sets the item's atime as
// relatime does — at once in what stat shows, on the platform later. The patches are held while
// the mount is busy and sent once it pauses (FsOptions::access_quiet_ms without a read, an open
// or a close), at most FsOptions::access_hold_ms after the first was held, when kAccessHoldCap are
// held, and at unmount (wait_uploads) — as Linux's lazytime keeps them in memory: a first pass
// over a dataset records one per file, and sending them meanwhile (on the embedded platform a
// commit per batch, over HTTP a request each) shares the cores with the reads that made them.
#include <spdlog/spdlog.h>

#include "core/clock.h"
#include "core/posix_attrs.h"
#include "fs/filesystem.h"

namespace dlfs {

namespace {

// relatime: an access is recorded only when the last one is older than the last change, or than
// this. (Reads are most of what a dataset sees: each file costs one patch a day at most.)
constexpr int64_t kRelatimeNs = 24LL * 3600 * 1000000000;

}  // namespace

void Filesystem::note_busy() {
  // (stored at most every 50 ms: readers on every core would share one cache line otherwise)
  int64_t now = steady_now_ms();
  if (now - busy_ms_.load(std::memory_order_relaxed) >= 50) busy_ms_.store(now, std::memory_order_relaxed);
}

std::optional<int64_t> Filesystem::shown_atime(const std::string& id) {
  std::lock_guard lock(atimes_mu_);
  if (atimes_.empty()) return std::nullopt;
  auto it = atimes_.find(id);
  if (it == atimes_.end()) return std::nullopt;
  return it->second;
}

void Filesystem::accessed(const Item& item) {
  note_busy();
  if (!options_.atime || !options_.posix_attrs || !can_write() || is_spool_id(item.id))
    return;
  int64_t now = now_ns();
  PosixAttrs kept = posix_attrs(item);
  int64_t updated = item.updated_ms * 1000000;
  int64_t mtime = kept.mtime_ns.value_or(updated), ctime = kept.ctime_ns.value_or(updated);
  bool times_due = false;  // a folder whose changed time is on its way (run_folder_times sends it)
  if (item.is_dir()) {
    if (auto changed = folder_changed_ns(item.filename)) mtime = std::max(mtime, *changed), ctime = std::max(ctime, *changed);
    std::lock_guard lock(folder_times_mu_);
    times_due = folder_times_due_.count(item.filename) > 0;
  }
  int64_t atime = kept.atime_ns.value_or(mtime);
  {
    std::lock_guard lock(atimes_mu_);
    if (auto it = atimes_.find(item.id); it != atimes_.end()) {
      if (kept.atime_ns >= it->second) atimes_.erase(it);  // the platform's item has it now
      else atime = std::max(atime, it->second);
    }
    if (atime > mtime && atime > ctime && now - atime < kRelatimeNs) return;
    // (bounded: the times shown go back to what the platform's items said when fetched, until
    // they are fetched again; every access is still recorded)
    if (atimes_.size() >= 100000) atimes_.clear();
    atimes_[item.id] = now;
  }
  // The times shown so far go along where the item has none: a patch moves updatedAt, which
  // stands for them otherwise (and a moved mtime would make `make` rebuild).
  PosixAttrs times;
  times.atime_ns = now;
  if (!kept.mtime_ns && !times_due) times.mtime_ns = mtime;
  if (!kept.ctime_ns && !times_due) times.ctime_ns = ctime;
  Task task{nullptr, item.id, item.filename, std::chrono::steady_clock::now(),
            json{{"metadata", {{"system", {{kPosixKey, posix_json(times)}}}}}}, false};
  std::lock_guard lock(write_mu_);
  if (stopping_) return;
  if (held_access_.empty()) {
    held_since_ = task.ready;
    work_cv_.notify_one();  // (a worker asleep with nothing due learns when to look again)
  }
  held_access_.insert_or_assign(item.id, std::move(task));
  if (held_access_.size() >= kAccessHoldCap) work_cv_.notify_one();
}

std::optional<std::chrono::steady_clock::time_point> Filesystem::release_held_access_locked(bool now) {
  if (held_access_.empty()) return std::nullopt;
  using std::chrono::milliseconds;
  auto at = std::chrono::steady_clock::now();
  auto quiet = std::chrono::steady_clock::time_point(milliseconds(busy_ms_.load(std::memory_order_relaxed))) +
               milliseconds(options_.access_quiet_ms);
  auto latest = held_since_ + milliseconds(options_.access_hold_ms);
  if (!now && at < quiet && at < latest && held_access_.size() < kAccessHoldCap) return std::min(quiet, latest);
  access_in_flight_ += held_access_.size();
  for (auto& [id, task] : held_access_) push_ready_locked(std::move(task));
  held_access_.clear();
  work_cv_.notify_all();
  return std::nullopt;
}

void Filesystem::drop_held_access(const std::string& id, bool only_with_times) {
  // This mount changes the item: a held patch sent after the change would put back the times it
  // carries (an mtime taken from updatedAt, an atime older than one set by hand). The next read
  // records the access again (relatime: the change made it due).
  {
    std::lock_guard lock(write_mu_);
    auto it = held_access_.find(id);
    if (it == held_access_.end()) return;
    if (only_with_times) {
      const json* posix = find_dotted(it->second.access_patch, std::string("metadata.system.") + kPosixKey);
      if (posix && !posix->contains("mtime") && !posix->contains("ctime")) return;
    }
    held_access_.erase(it);
  }
  std::lock_guard lock(atimes_mu_);
  atimes_.erase(id);
}

void Filesystem::run_access_patches(std::vector<Task> tasks) {
  // One try, by id (a rename since does not matter): an access time is worth no retries. Its
  // answer is not learned: it may have been made before a rename, an unlink or a patch of this
  // mount that landed first, and would put the older state back. The time stays shown from
  // atimes_ until the platform's item, fetched again, has it.
  std::vector<ItemPatch> patches;
  patches.reserve(tasks.size());
  for (Task& t : tasks) patches.push_back(ItemPatch{t.item_id, std::move(t.access_patch), true});
  std::vector<Result<Item>> answers = remote_.patch_many(patches);
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (i < answers.size() && answers[i]) continue;
    spdlog::debug("{}: access time not kept: {}", tasks[i].path,
                  i < answers.size() ? answers[i].status().to_string() : "no answer");
    std::lock_guard lock(atimes_mu_);
    atimes_.erase(tasks[i].item_id);  // tried again at the next open
  }
  std::lock_guard lock(write_mu_);
  access_in_flight_ -= std::min(access_in_flight_, tasks.size());
  write_cv_.notify_all();
}

}  // namespace dlfs
