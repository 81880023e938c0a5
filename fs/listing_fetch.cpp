#include "fs/listing_fetch.h"

#include <spdlog/spdlog.h>

#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dlfs {
namespace {

// One walk of the ids in (after, until] ("" until: to the end), page by page, into `out`.
Status walk(Remote& remote, const std::string& dir, std::string after, const std::string& until,
            const ListingFetch& how, PackedItems& out) {
  for (;;) {
    if (how.pages) ++*how.pages;
    DLFS_ASSIGN(ItemPage page, remote.list_range(dir, after, until, how.page_size));
    for (auto& item : page.items)
      if (!how.keep || how.keep(item)) out.add(std::move(item));
    if (!page.has_next()) return {};
    after = std::move(page.next_after);
  }
}

// The walks are no snapshot, and the platform lists in id order: an item moved or uploaded
// over a name the walks are already past (its id new, or further on) is met a second time under
// that name, its old holder still listed from before. A path holds one item: the newer state is
// kept, the later updatedAt (a move, an upload, sets it), then the later id.
PackedItems one_per_name(PackedItems items) {
  std::unordered_map<std::string_view, size_t> holder;
  holder.reserve(items.size());
  std::vector<bool> dropped;
  for (size_t i = 0; i < items.size(); ++i) {
    auto [it, first] = holder.emplace(items.name(i), i);
    if (first) continue;
    if (dropped.empty()) dropped.resize(items.size());
    auto a = items.item(it->second), b = items.item(i);
    bool newer = !a || (b && std::pair(b->updated_ms, b->id) > std::pair(a->updated_ms, a->id));
    dropped[newer ? it->second : i] = true;
    if (newer) it->second = i;
  }
  if (dropped.empty()) return items;
  PackedItems out;
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i)
    if (!dropped[i]) out.add_from(items, i);
  return out;
}

}  // namespace

Result<PackedItems> fetch_listing(Remote& remote, const std::string& dir, const ListingFetch& how) {
  PackedItems items;
  if (how.pages) ++*how.pages;
  DLFS_ASSIGN(ItemPage first, remote.list(dir, "", how.page_size));
  const uint64_t listed = first.items.size();
  if (first.total > listed && first.total < (1u << 24)) items.reserve(size_t(first.total));
  for (auto& item : first.items)
    if (!how.keep || how.keep(item)) items.add(std::move(item));
  if (!first.has_next()) return items;

  // The ids at the ends of the ranges: walk r covers (bounds[r], bounds[r + 1]], the last to the
  // end (""). Range r of `rest` items after the first page ends at offset listed + (r+1)·rest/k − 1.
  const uint64_t rest = first.total > listed ? first.total - listed : 0;
  const uint64_t k = std::min<uint64_t>(how.streams, rest / std::max<size_t>(how.page_size, 1));
  std::vector<std::string> bounds{first.next_after};
  for (uint64_t r = 1; r < k; ++r) {
    auto id = remote.listing_id_at(dir, listed + r * rest / k - 1);
    if (!id) {  // fewer walks, not a failed listing (the walks will say if the remote is away)
      spdlog::debug("listing {}: no split point at range {}: {}", dir, r, id.status().to_string());
      break;
    }
    // Out of order (the folder changed between the asks): left out, the ranges stay disjoint.
    if (!id->empty() && *id > bounds.back()) bounds.push_back(std::move(*id));
  }
  bounds.push_back("");

  const size_t ranges = bounds.size() - 1;
  std::vector<PackedItems> parts(ranges);
  std::vector<Status> results(ranges);
  auto walk_range = [&](size_t r) { results[r] = walk(remote, dir, bounds[r], bounds[r + 1], how, parts[r]); };
  std::vector<std::thread> walkers;
  size_t inline_from = ranges;  // ranges walked on this thread (all but the first get a thread)
  for (size_t r = 1; r < ranges; ++r) {
    try {
      walkers.emplace_back(walk_range, r);
    } catch (const std::system_error& e) {  // no thread to be had: this one walks the rest
      spdlog::warn("listing {}: walking {} ranges in one thread ({})", dir, ranges - r, e.what());
      inline_from = r;
      break;
    }
  }
  walk_range(0);
  for (size_t r = inline_from; r < ranges; ++r) walk_range(r);
  for (auto& t : walkers) t.join();
  for (const Status& s : results) DLFS_TRY(s);
  for (auto& part : parts) items.append(std::move(part));
  return one_per_name(std::move(items));
}

}  // namespace dlfs
