#include "fs/folder_prefetch.h"

#include <algorithm>

namespace dlfs {

FolderPrefetch::FolderPrefetch(FolderPrefetchOptions options, Fetch fetch)
    : options_(options), fetch_(std::move(fetch)) {}

FolderPrefetch::~FolderPrefetch() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void FolderPrefetch::listed(const std::string& folder, std::vector<std::string> names) {
  if (options_.threads == 0) return;
  auto find = [&] {
    return std::find_if(folders_.begin(), folders_.end(), [&](const auto& f) { return f->path == folder; });
  };
  std::shared_ptr<Folder> known;
  {
    std::lock_guard lock(mu_);
    auto same = find();
    if (same != folders_.end()) known = *same;
    if (names.size() < options_.min_files) {
      if (same != folders_.end()) forget(same);
      return;
    }
  }
  // (A folder's names never change once listed: compared, and a new index built — tens of ms
  // for 100,000 names — without holding up the opens meanwhile.)
  if (known && known->names == names) {  // listed again, unchanged: the walk goes on
    std::lock_guard lock(mu_);
    if (auto same = find(); same != folders_.end() && *same == known) {
      folders_.splice(folders_.begin(), folders_, same);
      return;
    }
  }
  auto f = std::make_shared<Folder>();
  f->path = folder;
  f->names = std::move(names);
  f->recent_max = std::clamp<size_t>(f->names.size() / 16, 4, kRecent);
  f->index.reserve(f->names.size());
  for (uint32_t i = 0; i < f->names.size(); ++i) f->index.emplace(f->names[i], i);
  std::lock_guard lock(mu_);
  if (auto same = find(); same != folders_.end()) forget(same);
  names_ += f->names.size();
  folders_.push_front(std::move(f));
  while (folders_.size() > 1 && (folders_.size() > options_.folders || names_ > options_.max_names))
    forget(std::prev(folders_.end()));
}

void FolderPrefetch::forget(std::list<std::shared_ptr<Folder>>::iterator folder) {
  names_ -= (*folder)->names.size();
  folders_.erase(folder);
}

bool FolderPrefetch::near_recent(const Folder& f, uint32_t i) const {
  for (size_t d = 1; d <= kNear; ++d) {
    if (i >= d && f.recent_set.count(uint32_t(i - d))) return true;
    if (f.recent_set.count(uint32_t(i + d))) return true;  // (readers in parallel: a later file first)
  }
  return false;
}

void FolderPrefetch::note_recent(Folder& f, uint32_t i) {
  f.recent.push_back(i);
  f.recent_set.insert(i);
  if (f.recent.size() > f.recent_max) {
    f.recent_set.erase(f.recent_set.find(f.recent.front()));
    f.recent.pop_front();
  }
}

void FolderPrefetch::opened(std::string_view folder, std::string_view name) {
  if (options_.threads == 0) return;
  std::unique_lock lock(mu_);
  auto fit = std::find_if(folders_.begin(), folders_.end(), [&](const auto& f) { return f->path == folder; });
  if (fit == folders_.end()) return;
  Folder& f = **fit;
  auto it = f.index.find(name);
  if (it == f.index.end()) return;
  uint32_t i = it->second;
  // A jump further than a walk's readers spread (a new epoch from the top, another part of the
  // folder): a new walk from here.
  int64_t spread = int64_t(options_.ahead) + int64_t(kRecent);
  if (f.high >= 0 && (int64_t(i) > f.high + spread || int64_t(i) < f.high - spread)) {
    f.high = f.queued_to = i;
    f.score = 0;
    f.walking = false;
  }
  bool in_order = near_recent(f, i);
  bool again = f.recent_set.count(i) > 0;  // (a reader that opens a file twice in a row: PIL does)
  note_recent(f, i);
  f.score = in_order ? std::min(f.score + 1, kScoreMax) : std::max(f.score - 3, 0);
  f.high = std::max<int64_t>(f.high, i);
  bool added = sweep(*fit, i, again);
  if (f.score >= kScoreWalk) {
    if (!f.walking) {
      f.walking = true;
      ++stats_.walks;
    }
    int64_t to = std::min<int64_t>(f.high + int64_t(options_.ahead), int64_t(f.names.size()) - 1);
    for (int64_t j = std::max(f.queued_to, f.high) + 1; j <= to && queue_.size() < options_.max_queued; ++j) {
      queue_.push_back(Job{*fit, uint32_t(j)});
      f.queued_to = j;
      ++stats_.queued;
      added = true;
    }
  }
  if (!added) return;
  start_threads();
  lock.unlock();
  cv_.notify_all();
}

bool FolderPrefetch::sweep(const std::shared_ptr<Folder>& folder, uint32_t i, bool again) {
  Folder& f = *folder;
  if (f.opened.empty()) f.opened.assign(f.names.size(), false);
  if (f.opened[i] && !again) {  // opened twice: this pass is over (an epoch ended, or it was none)
    std::fill(f.opened.begin(), f.opened.end(), false);
    f.distinct = 0;
    f.sweeping = false;
  }
  if (!f.opened[i]) {
    f.opened[i] = true;
    ++f.distinct;
    if (f.sweep_lead > 0) --f.sweep_lead;
  }
  if (!f.sweeping && !f.walking && f.distinct >= std::max(options_.min_files, f.names.size() / 8)) {
    f.sweeping = true;
    f.sweep_next = 0;
    f.sweep_lead = 0;
    ++stats_.sweeps;
  }
  if (!f.sweeping || f.walking) return false;
  bool added = false;
  while (f.sweep_lead < options_.ahead && f.sweep_next < f.names.size() && queue_.size() < options_.max_queued) {
    uint32_t j = f.sweep_next++;
    if (f.opened[j]) continue;
    queue_.push_back(Job{folder, j, true});
    ++f.sweep_lead;
    ++stats_.queued;
    added = true;
  }
  return added;
}

void FolderPrefetch::start_threads() {
  if (threads_.empty())
    for (unsigned t = 0; t < options_.threads; ++t) threads_.emplace_back([this] { work(); });
}

void FolderPrefetch::work() {
  std::vector<Job> jobs;
  std::vector<std::string_view> names;
  for (;;) {
    jobs.clear();
    names.clear();
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      // The next files of one folder, as they were queued (a walk's are consecutive), several
      // once its files are known to be small (the first fetches tell).
      const Folder& first = *queue_.front().folder;
      bool small = first.fetched_files > 0 && first.fetched_bytes / first.fetched_files <= options_.small_file;
      size_t batch = small ? std::max<size_t>(options_.batch, 1) : 1;
      while (!queue_.empty() && jobs.size() < batch) {
        if (!jobs.empty() && queue_.front().folder != jobs.front().folder) break;
        Job job = std::move(queue_.front());
        queue_.pop_front();
        // Far behind the walk, or opened since the sweep queued it (its readers fetched it
        // themselves): not worth a look.
        if (job.sweep ? job.folder->opened[job.index] : int64_t(job.index) + int64_t(kRecent) < job.folder->high)
          continue;
        jobs.push_back(std::move(job));
      }
      if (jobs.empty()) continue;
    }
    // (names never change once listed: read without the lock; the jobs hold their folder)
    for (const Job& job : jobs) names.push_back(job.folder->names[job.index]);
    Fetched did = fetch_(jobs.front().folder->path, names);
    std::lock_guard lock(mu_);
    stats_.fetched += did.brought;
    jobs.front().folder->fetched_files += did.files;
    jobs.front().folder->fetched_bytes += did.bytes;
  }
}

FolderPrefetchStats FolderPrefetch::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace dlfs
