// dlfs cache stat | clear [DATASET] — the mount's local cache (cache/).
#include <cstdio>

#include "cache/cache_admin.h"
#include "tools/dlfs/cli.h"

namespace dlfs::cli {

Status cmd_cache(const Globals& g, const Args& args) {
  if (args.size() == 1 && args[0] == "stat") {
    DLFS_ASSIGN(auto caches, list_caches(g.cache_dir));
    if (caches.empty()) printf("no caches in %s\n", g.cache_dir.c_str());
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
    if (!caches.empty()) printf("total %s in %s\n", human_bytes(total).c_str(), g.cache_dir.c_str());
    return {};
  }
  if (!args.empty() && args[0] == "clear" && args.size() <= 2) {
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
    DLFS_TRY(clear_caches(g.cache_dir, id));
    printf("cleared %s\n", id.empty() ? "every cache" : ("the cache of " + args[1]).c_str());
    return {};
  }
  return usage_error("dlfs cache stat | dlfs cache clear [DATASET]");
}

}  // namespace dlfs::cli
