// What the platform's preprocessing found (size, mimetype, width, height, a thumbnail) reaches a
// mount that uploaded the file by polling: the item landed with preprocessPhase "pending", and
// the user's `getfattr` should show "done" once it is, before the entry would expire. A poll per
// file (as before) cost a request per file per poll — a copy of 100,000 files left as many polls
// behind it, each asking up to 40 times. Now the items awaited are kept by id, and one poll task
// asks after up to kPollIds of those due in one query (by id: the platform looks each up, no
// scan), backing off per item (the poll interval, then twice, four and eight times as long) and
// giving up on one after preprocess_polls tries; at most kMaxAwaited are awaited (more are left
// to the listing's expiry).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "fs/filesystem.h"

namespace dlfs {

namespace {
constexpr size_t kMaxAwaited = 10000;
constexpr size_t kPollIds = 500;
}  // namespace

void Filesystem::await_preprocess_locked(const Item& item) {
  auto now = std::chrono::steady_clock::now();
  auto first = std::chrono::milliseconds(options_.preprocess_poll_ms);
  if (awaited_.size() >= kMaxAwaited && !awaited_.count(item.id)) return;
  awaited_[item.id] = AwaitedPreprocess{item.filename, 0, now + first};
  if (poll_queued_ || stopping_) return;
  poll_queued_ = true;
  push_task_locked(Task{nullptr, {}, {}, now + first, nullptr, false});
}

void Filesystem::run_poll() {
  std::vector<std::pair<std::string, std::string>> due;  // (id, path)
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(write_mu_);
    for (const auto& [id, a] : awaited_) {
      if (a.due > now) continue;
      due.emplace_back(id, a.path);
      if (due.size() == kPollIds) break;
    }
  }
  std::map<std::string, Item> got;
  bool answered = true;
  // What the mount sets on a node after this (a landing, a patch, a truncate) is newer than the
  // answer: the answer is then not taken (InodeTable::mark, as a lookup's refetch).
  const uint64_t asked = inodes_.mark();
  if (!due.empty()) {
    json ids = json::array();
    for (const auto& [id, path] : due) ids.push_back(id);
    json dql = {{"filter", {{"$and", json::array({{{"id", {{"$in", ids}}}}})}}},
                {"sort", {{"id", "ascending"}}},
                {"page", 0},
                {"pageSize", kPollIds},
                {"resource", "items"}};
    auto page = remote_.query(dql);
    if (page) {
      for (Item& item : page->items) got.emplace(item.id, std::move(item));
    } else {
      answered = false;  // each tried again later, the try counted
      spdlog::debug("preprocessing poll failed: {}", page.status().to_string());
    }
  }
  std::vector<std::pair<Item, std::string>> done;  // (item, where it landed)
  {
    std::lock_guard lock(write_mu_);
    now = std::chrono::steady_clock::now();
    for (const auto& [id, path] : due) {
      auto a = awaited_.find(id);
      if (a == awaited_.end() || a->second.path != path) continue;  // (landed again since: awaited anew)
      auto g = got.find(id);
      if (answered && g == got.end()) {
        awaited_.erase(a);  // gone: whoever deleted it knows
      } else if (!answered || g->second.preprocessing()) {
        if (++a->second.polls >= options_.preprocess_polls) {
          awaited_.erase(a);
        } else {
          a->second.due = now + std::chrono::milliseconds(options_.preprocess_poll_ms << std::min(a->second.polls, 3u));
        }
      } else {
        done.emplace_back(std::move(g->second), path);
        awaited_.erase(a);
      }
    }
  }
  for (auto& [item, path] : done) {
    // Under its path's lock, as an upload's landing: a rename, unlink, upload or patch of it by
    // this mount happened before (then its node no longer shows it there, or was set since the
    // query: the answer is older than that, and must not undo it) or waits for this.
    auto guard = path_locks_.lock(path);
    if (item.filename != path) continue;  // moved by someone else: whoever did it knows
    if (pending_at(path)) continue;       // written again since: its own upload will tell
    auto ino = inodes_.find(NodeKind::kItem, item.id);
    if (!ino) continue;  // the kernel forgot it: its next lookup asks anyway
    auto node = inodes_.get(*ino);
    if (!node || node->unlinked || node->item->filename != path || node->learned_seq > asked) continue;
    learned(item);
    if (Invalidator* inv = invalidator_.load()) inv->inode_changed(*ino);
  }
  std::lock_guard lock(write_mu_);
  poll_queued_ = false;
  if (awaited_.empty() || stopping_) return;
  auto next = std::min_element(awaited_.begin(), awaited_.end(),
                               [](const auto& a, const auto& b) { return a.second.due < b.second.due; });
  poll_queued_ = true;
  // (at the earliest awaited item's time; a poll interval at least, so that a failing remote is
  // not asked in a loop)
  auto at = std::max(next->second.due, std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.preprocess_poll_ms));
  push_task_locked(Task{nullptr, {}, {}, at, nullptr, false});
}

}  // namespace dlfs
