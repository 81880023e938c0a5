#include "cache/cache_admin.h"
#include "cache/cache_env.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include <spdlog/spdlog.h>

namespace dlfs {

using namespace cache_env;

namespace {

namespace fs = std::filesystem;

// An environment directory: one holding LMDB's files (never touch anything else).
bool is_env_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && (fs::exists(dir / "data.mdb", ec) || fs::exists(dir / "lock.mdb", ec));
}

Result<std::vector<fs::path>> env_dirs(std::string_view cache_dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::path root{std::string(cache_dir)};
  if (!fs::exists(root, ec)) return out;
  fs::directory_iterator it(root, ec), end;
  if (ec) return Status(ec.value(), "cannot list the cache directory " + root.string(), ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Status(ec.value(), "cannot list the cache directory " + root.string(), ec.message());
    if (is_env_dir(it->path())) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t disk_bytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) total += uint64_t(st.st_blocks) * 512;
  }
  return total;
}

}  // namespace

Result<std::vector<CacheEntryInfo>> list_caches(std::string_view cache_dir) {
  DLFS_ASSIGN(auto dirs, env_dirs(cache_dir));
  std::vector<CacheEntryInfo> out;
  for (const auto& dir : dirs) {
    CacheEntryInfo info;
    info.key = dir.filename().string();
    info.dataset_id = dataset_id_of_key(info.key);
    info.bytes_on_disk = disk_bytes(dir);
    std::string path = dir.string();
    if (char* real = ::realpath(path.c_str(), nullptr)) {  // as MetadataCache::open names it
      path = real;
      std::free(real);
    }
    Result<CacheStats> stats = inspect_cache_env(path);
    if (stats) {
      info.listings = stats->listings;
      info.items = stats->items;
      info.thumbnails = stats->thumbnails;
      info.bytes_used = stats->bytes_used;
      info.max_bytes = stats->max_bytes;
    } else {
      info.error = stats.status().to_string();
    }
    out.push_back(std::move(info));
  }
  return out;
}

Status clear_caches(std::string_view cache_dir, std::string_view dataset_id) {
  DLFS_ASSIGN(auto dirs, env_dirs(cache_dir));
  size_t removed = 0;
  for (const auto& dir : dirs) {
    std::string key = dir.filename().string();
    if (!dataset_id.empty() && dataset_id_of_key(key) != dataset_id && key != dataset_id) continue;
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) return Status(ec.value(), "cannot remove the cache " + dir.string(), ec.message());
    ++removed;
  }
  if (!dataset_id.empty() && removed == 0)
    return Status(ENOENT, "no cache for dataset '" + std::string(dataset_id) + "' in " + std::string(cache_dir));
  return {};
}

}  // namespace dlfs
