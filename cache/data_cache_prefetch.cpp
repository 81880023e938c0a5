// DataCache::prefetch_many: many items fetched ahead of their readers in one read of the remote
// (cache/data_cache.h). Each item takes its fill slot first, as a single fill does, so a reader
// that opens it meanwhile waits for these bytes instead of fetching them again; each is kept (and
// its waiters woken) as soon as its own bytes are in, not at the end of the batch.
#include <fcntl.h>
#include <unistd.h>

#include "cache/data_cache.h"
#include "core/file_io.h"

namespace dlfs {

std::vector<Result<bool>> DataCache::prefetch_many(std::span<const Item> items, const ReadManyFn& read_many) {
  std::vector<Result<bool>> answers(items.size(), Result<bool>(false));
  flush_stats_every_while();
  struct Slot {
    size_t index = 0;  // in `items`
    std::string path;
    std::shared_ptr<Fill> fill;
    int fd = -1;
    std::string tmp;
    uint64_t fetched = 0;  // the furthest byte written
    Status failed;         // a write that failed (its later pieces are dropped)
    bool ended = false;
  };
  std::vector<Slot> slots;
  std::vector<Item> asked;
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& item = items[i];
    if (!keeps(item.size())) continue;
    std::string path = path_of(item);
    if (int kept = open_kept(path, item.size(), false); kept >= 0) {  // (another mount's too)
      ::close(kept);
      continue;
    }
    auto fill = std::make_shared<Fill>();
    {
      std::lock_guard lock(mu_);
      // Being fetched by another thread, or kept by a fill that ended since the look above.
      if (fills_.count(path) || index_.count(path)) continue;
      fills_.emplace(path, fill);
    }
    ++counters_.prefetches;
    Slot& slot = slots.emplace_back();
    slot.index = i;
    slot.path = std::move(path);
    slot.fill = std::move(fill);
    asked.push_back(item);
  }
  if (slots.empty()) return answers;

  auto end = [&](Slot& slot, Status status) {
    if (slot.ended) return;
    slot.ended = true;
    const Item& item = items[slot.index];
    Result<int> got = Status(EIO, "not fetched");
    if (!status) {
      if (slot.fd >= 0) drop_fetch(slot.fd, slot.tmp, {});
      got = std::move(status);
    } else if (slot.fd >= 0) {
      got = keep_fetch(item, slot.path, slot.fd, slot.tmp, slot.fetched, true);
    } else if (item.size() == 0) {  // (no piece comes for an empty item)
      got = start_fetch(0, slot.tmp);
      if (got) got = keep_fetch(item, slot.path, *got, slot.tmp, 0, true);
    } else {
      got = Status(ESTALE, "no bytes came for '" + item.filename + "'");
    }
    slot.fd = -1;
    if (got) ::close(*got);
    answers[slot.index] = got ? Result<bool>(true) : Result<bool>(got.status());
    end_fill(slot.path, *slot.fill, got ? Result<int>(0) : Result<int>(got.status()));
  };

  // (A local class: it may call the cache's private steps, as this function does.)
  struct Sink : ItemBytesSink {
    DataCache& cache;
    std::span<const Item> items;
    std::vector<Slot>& slots;
    const std::function<void(Slot&, Status)>& end;
    Sink(DataCache& cache, std::span<const Item> items, std::vector<Slot>& slots,
         const std::function<void(Slot&, Status)>& end)
        : cache(cache), items(items), slots(slots), end(end) {}
    Status bytes(size_t index, uint64_t offset, std::string_view piece) override {
      Slot& slot = slots.at(index);
      if (slot.ended) return Status(EALREADY, "this item's prefetch ended");
      if (!slot.failed) return slot.failed;
      if (slot.fd < 0) {
        Result<int> fd = cache.start_fetch(items[slot.index].size(), slot.tmp);
        if (!fd) return slot.failed = fd.status();
        slot.fd = *fd;
      }
      if (Status w = pwrite_all(slot.fd, offset, piece.data(), piece.size()); !w)
        return slot.failed = w.wrap("writing the data cache");
      slot.fetched = std::max(slot.fetched, offset + piece.size());
      return {};
    }
    void done(size_t index, Status status) override {
      Slot& slot = slots.at(index);
      end(slot, !slot.failed ? slot.failed : std::move(status));
    }
  };
  std::function<void(Slot&, Status)> end_fn = end;
  Sink sink(*this, items, slots, end_fn);
  read_many(asked, sink);
  // Every slot ends, whatever the remote did: a waiting reader must never wait for ever.
  for (Slot& slot : slots)
    if (!slot.ended) end(slot, Status(EIO, "the remote did not answer '" + items[slot.index].filename + "'"));
  return answers;
}

}  // namespace dlfs
