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

FolderPrefetch::Fetched Filesystem::prefetch_files(const std::string& folder, std::span<const std::string_view> names) {
  DataCache* cache = options_.data_cache;
  FolderPrefetch::Fetched did;
  std::vector<Item> items;
  items.reserve(names.size());
  for (std::string_view name : names) {
    // What the mount knows of it (a listing just read: no remote call while it is fresh).
    auto found = source_.item(join_path(folder, name));
    if (!found) continue;
    const Item& item = found->item;
    if (item.is_dir() || item.is_link()) continue;
    ++did.files;
    did.bytes += item.size();
    if (item.size() == 0 || !cache->keeps(item.size())) continue;
    if (!timed_out_just_now(item)) continue;  // (a server that just timed out is not asked again)
    items.push_back(item);
  }
  if (items.empty()) return did;
  auto answers = cache->prefetch_many(items, [&](std::span<const Item> asked, ItemBytesSink& sink) {
    counters_.remote_reads += asked.size();
    remote_.read_items(asked, sink);
  });
  for (size_t i = 0; i < items.size(); ++i) {
    if (answers[i]) {
      did.brought += *answers[i] ? 1 : 0;
      continue;
    }
    spdlog::debug("prefetch: {}: {}", items[i].filename, answers[i].status().to_string());
    if (answers[i].err() == ETIMEDOUT) note_timeout(items[i]);
  }
  return did;
}

}  // namespace dlfs
