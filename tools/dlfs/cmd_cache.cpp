// dlfs cache stat | clear [DATASET] | warm DATASET[:/folder] — the mounts' local caches: the
// metadata cache (cache/metadata_cache.h) and the data cache (cache/data_cache.h).
#include <cstdio>
#include <filesystem>
#include <thread>

#include "cache/cache_admin.h"
#include "cache/data_cache.h"
#include "fs/mount_options.h"
#include "remote/connect.h"
#include "tools/dlfs/cli.h"
#include "tools/dlfs/progress.h"

namespace dlfs::cli {
namespace {

std::string data_dir(const Globals& g) { return g.cache_dir + "/data"; }

Status stat_caches(const Globals& g) {
  DLFS_ASSIGN(auto caches, list_caches(g.cache_dir));
  auto spaces = list_data_spaces(data_dir(g));
  if (caches.empty() && spaces.empty()) printf("no caches in %s\n", g.cache_dir.c_str());
  uint64_t total = 0;
  for (const auto& c : caches) {
    total += c.bytes_on_disk;
    if (!c.error.empty()) {
      printf("%-40s %10s  unreadable: %s\n", c.key.c_str(), human_bytes(c.bytes_on_disk).c_str(), c.error.c_str());
      continue;
    }
    printf("%-40s %10s on disk  %llu listings  %llu items  %llu thumbnails  %s of %s used\n", c.key.c_str(),
           human_bytes(c.bytes_on_disk).c_str(), (unsigned long long)c.listings, (unsigned long long)c.items,
           (unsigned long long)c.thumbnails, human_bytes(c.bytes_used).c_str(), human_bytes(c.max_bytes).c_str());
  }
  for (const auto& s : spaces) {
    total += s.bytes;
    uint64_t asked = s.hits + s.misses;
    printf("%-40s %10s data    %llu files  %llu hits  %llu misses  hit rate %s  %s fetched\n", s.key.c_str(),
           human_bytes(s.bytes).c_str(), (unsigned long long)s.files, (unsigned long long)s.hits,
           (unsigned long long)s.misses,
           asked ? (std::to_string(s.hits * 100 / asked) + "%").c_str() : "-", human_bytes(s.fill_bytes).c_str());
  }
  if (!caches.empty() || !spaces.empty()) printf("total %s in %s\n", human_bytes(total).c_str(), g.cache_dir.c_str());
  return {};
}

Status clear(const Globals& g, const Args& args) {
  std::string id;
  if (args.size() == 2) {
    // A dataset name is resolved to its id through the store; an id is taken as it is.
    auto conn = connect(g);
    if (conn) {
      auto ds = (*conn)->find_dataset(args[1]);
      id = ds ? ds->id : args[1];
    } else {
      id = args[1];
    }
  }
  DLFS_ASSIGN(size_t data_removed, clear_data_spaces(data_dir(g), id));
  Status s = clear_caches(g.cache_dir, id);
  if (!s && !(s.err() == ENOENT && data_removed > 0)) return s;
  printf("cleared %s\n", id.empty() ? "every cache" : ("the caches of " + args[1]).c_str());
  return {};
}

// Fetches every file under a folder into the data cache, as a mount of the same source would
// keep it, so that the first epoch of a training run reads local files.
Status warm(const Globals& g, const Args& args) {
  const char* usage = "dlfs cache warm DATASET[:/folder] [--jobs N] [--size SIZE]";
  std::string target_text;
  int jobs = 8;
  uint64_t size = 4ull << 30;  // (mount.dlfs's data_cache_size default)
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--jobs" || a == "--size") && i + 1 >= args.size()) return usage_error(a + " needs a value");
    if (a == "--jobs") {
      jobs = std::atoi(args[++i].c_str());
      if (jobs < 1 || jobs > 256) return usage_error("--jobs takes a number from 1 to 256");
    } else if (a == "--size") {
      DLFS_ASSIGN(size, parse_size(args[++i]));
    } else if (!a.empty() && a[0] == '-') {
      return usage_error("unknown option '" + a + "'");
    } else if (target_text.empty()) {
      target_text = a;
    } else {
      return usage_error(usage);
    }
  }
  if (target_text.empty()) return usage_error(usage);
  DLFS_ASSIGN(Target target, parse_target(target_text));
  DLFS_ASSIGN(auto conn, connect(g));
  DLFS_ASSIGN(std::unique_ptr<Remote> remote, conn->open(target.dataset));
  if (g.server.empty() && remote->dataset().driver.empty()) {
    printf("nothing to warm: the embedded platform's items are local files already\n");
    return {};
  }
  // The data cache a mount of the same source opens (tools/mount.dlfs/main.cpp).
  std::string source;
  if (!g.server.empty()) {
    DLFS_ASSIGN(source, normalize_server_url(g.server));
  } else {
    std::error_code ec;
    source = std::filesystem::weakly_canonical(g.store, ec).string();
  }
  DataCacheOptions o = mount_data_cache(g.cache_dir, source, remote->dataset().id, size);
  DLFS_TRY(ensure_private_dir(g.cache_dir));
  DLFS_ASSIGN(auto cache, DataCache::open(o));

  // Every file under the folder (links are their targets' business, not the platform's bytes).
  std::vector<Item> files;
  std::vector<std::string> dirs{target.path};
  DLFS_ASSIGN(Item top, remote->get(target.path));
  if (!top.is_dir()) {
    files.push_back(top);
    dirs.clear();
  }
  while (!dirs.empty()) {
    std::string dir = std::move(dirs.back());
    dirs.pop_back();
    DLFS_ASSIGN(auto items, list_all(*remote, dir));
    for (Item& item : items) {
      if (item.is_dir()) dirs.push_back(item.filename);
      else if (!item.is_link()) files.push_back(std::move(item));
    }
  }
  uint64_t total_bytes = 0, too_large = 0;
  std::vector<const Item*> kept;
  for (const Item& f : files) {
    if (cache->keeps(f.size())) {
      kept.push_back(&f);
      total_bytes += f.size();
    } else {
      ++too_large;
    }
  }
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> failed{0};
  std::mutex err_mu;
  std::string first_error;
  {
    Progress progress("warming", kept.size(), total_bytes);
    std::vector<std::thread> pool;
    for (int t = 0; t < std::min<int>(jobs, int(std::max<size_t>(1, kept.size()))); ++t)
      pool.emplace_back([&] {
        for (size_t i; (i = next.fetch_add(1)) < kept.size();) {
          const Item& item = *kept[i];
          auto fd = cache->get(item, [&](uint64_t offset, std::span<char> out) { return remote->read(item, offset, out); });
          if (fd) {
            ::close(*fd);
          } else {
            ++failed;
            std::lock_guard lock(err_mu);
            if (first_error.empty()) first_error = item.filename + ": " + fd.status().to_string();
          }
          progress.add(1, item.size());
        }
      });
    for (auto& t : pool) t.join();
  }
  const auto& c = cache->counters();
  printf("warmed %s: %llu files fetched (%s), %llu already kept, %llu too large to keep (over %s), %llu failed\n",
         target_text.c_str(), (unsigned long long)c.fills.load(), human_bytes(c.fill_bytes.load()).c_str(),
         (unsigned long long)c.hits.load(), (unsigned long long)too_large, human_bytes(o.max_file_bytes).c_str(),
         (unsigned long long)failed.load());
  if (failed > 0) return Status(EIO, std::to_string(failed.load()) + " file(s) could not be fetched", first_error);
  return {};
}

}  // namespace

Status cmd_cache(const Globals& g, const Args& args) {
  if (args.size() == 1 && args[0] == "stat") return stat_caches(g);
  if (!args.empty() && args[0] == "clear" && args.size() <= 2) return clear(g, args);
  if (!args.empty() && args[0] == "warm") return warm(g, args);
  return usage_error("dlfs cache stat | dlfs cache clear [DATASET] | dlfs cache warm DATASET[:/folder] [--jobs N]");
}

}  // namespace dlfs::cli
