// Fetching a folder's whole listing from the remote: one keyset walk page by page, or, for a
// folder of many pages, several walks of id ranges at once. A listing of 100,000 items through
// dlfsd is ~100 round trips in which the server builds a page while the mount waits and the
// mount decodes it while the server waits; walks side by side keep both busy (and, embedded,
// both cores decoding).
//
// The ranges split where the remote says the ids at even offsets are (Remote::listing_id_at);
// each walk is as consistent as a single walk is (no snapshot: an item made or deleted during
// the fetch may or may not show), and the ranges cover every id exactly once whatever the
// split points turn out to be, since each starts where the one before ends.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "core/packed_items.h"
#include "core/result.h"
#include "remote/remote.h"

namespace dlfs {

struct ListingFetch {
  size_t page_size = 1000;
  // How many walks at most (each at least a page long); 1: one walk.
  size_t streams = 4;
  // Which items go in the listing (all when unset).
  std::function<bool(const Item&)> keep;
  // Counts the pages asked for (may be null).
  std::atomic<uint64_t>* pages = nullptr;
};

// Every item of `dir` that `keep` takes, in id order.
Result<PackedItems> fetch_listing(Remote& remote, const std::string& dir, const ListingFetch& how);

}  // namespace dlfs
