// The cache directory as a whole: what `dlfs cache stat` and `dlfs cache clear [DATASET]` show
// and do.
#pragma once


#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cache/metadata_cache.h"
#include "core/result.h"

namespace dlfs {

struct CacheEntryInfo {
  std::string key;         // the environment's directory name
  std::string dataset_id;  // from the key ("" if the key is not in cache_key's shape)
  uint64_t bytes_on_disk = 0;  // allocated size of the directory's files
  uint64_t listings = 0, items = 0, thumbnails = 0;
  uint64_t bytes_used = 0, max_bytes = 0;  // max_bytes: as last opened (0 if unknown)
  std::string error;  // set when the environment could not be read (counts are then 0)
};

// Every cache environment under cache_dir, sorted by key. A missing cache_dir is an empty list.
// Reads only: a corrupt environment is reported (error), not repaired.
Result<std::vector<CacheEntryInfo>> list_caches(std::string_view cache_dir);

// Removes the environments of one dataset (matched by dataset_id_of_key, or by the whole key),
// or all of them when dataset_id is empty. Only directories holding LMDB files are touched.
// ENOENT if a dataset was named and nothing matched.
//
// A mount that has a removed environment open keeps working: on Linux its mapping and file
// descriptors keep the unlinked files alive, so it sees its old entries until it unmounts and
// its later writes simply vanish with it; the next mount starts with a fresh, empty cache.
Status clear_caches(std::string_view cache_dir, std::string_view dataset_id);

// Counts of one environment, read without creating or repairing anything.
Result<CacheStats> inspect_cache_env(const std::string& env_dir);

}  // namespace dlfs
