// Dataset-aware prefetch into the data cache (fs/folder_prefetch.h): what the filesystem tells it
// and how it fetches one file.
#include <spdlog/spdlog.h>

#include "core/paths.h"
#include "fs/filesystem.h"

namespace dlfs {

void Filesystem::prefetch_listed(const Item& dir, const PackedItems& items) {
  if (!prefetch_) return;
  std::vector<std::string> names;
  names.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) names.emplace_back(items.name(i));
  prefetch_->listed(dir.filename, std::move(names));
}

FolderPrefetchStats Filesystem::prefetch_stats() const {
  return prefetch_ ? prefetch_->stats() : FolderPrefetchStats{};
}

void Filesystem::prefetch_opened(const Item& item) {
  if (prefetch_ && !item.is_dir() && !item.is_link()) prefetch_->opened(item.dir, item.name);
}

bool Filesystem::prefetch_one(const std::string& folder, const std::string& name) {
  DataCache* cache = options_.data_cache;
  // What the mount knows of it (a listing just read: no remote call while it is fresh).
  auto found = source_.item(join_path(folder, name));
  if (!found) return false;
  const Item& item = found->item;
  if (item.is_dir() || item.is_link() || item.size() == 0 || !cache->keeps(item.size())) return false;
  if (!timed_out_just_now(item)) return false;  // (a server that just timed out is not asked again)
  auto brought = cache->prefetch(item, [&](uint64_t offset, std::span<char> into) {
    ++counters_.remote_reads;
    return remote_.read(item, offset, into);
  });
  if (!brought) {
    spdlog::debug("prefetch: {}: {}", item.filename, brought.status().to_string());
    if (brought.err() == ETIMEDOUT) note_timeout(item);
    return false;
  }
  return *brought;
}

}  // namespace dlfs
