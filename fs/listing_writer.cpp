#include "fs/listing_writer.h"

#include <spdlog/spdlog.h>

#include "core/item_pack.h"

namespace dlfs {

ListingWriter::ListingWriter(MetadataCache& cache, StillCurrent still_current, size_t max_queued_items)
    : cache_(cache), still_current_(std::move(still_current)), max_queued_items_(max_queued_items),
      thread_([this] { run(); }) {}

ListingWriter::~ListingWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void ListingWriter::store(std::string dir, std::shared_ptr<const PackedItems> items, uint64_t epoch,
                          int64_t fetched_ms) {
  std::unique_lock lock(mu_);
  // (one listing over the bound alone still goes in, once the queue is empty)
  changed_.wait(lock, [&] { return queue_.empty() || queued_items_ + items->size() <= max_queued_items_; });
  queued_items_ += items->size();
  ++queued_total_;
  queue_.push_back(Pending{std::move(dir), std::move(items), epoch, fetched_ms, queued_total_,
                           std::chrono::steady_clock::now() + kStoreDelay});
  changed_.notify_all();
}

void ListingWriter::hold(bool held) {
  {
    std::lock_guard lock(mu_);
    held_ = held;
  }
  changed_.notify_all();
}

void ListingWriter::flush() {
  std::unique_lock lock(mu_);
  held_ = false;
  hurry_to_ = queued_total_;
  changed_.notify_all();
  uint64_t target = queued_total_;
  changed_.wait(lock, [&] { return done_total_ >= target; });
}

void ListingWriter::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || (!held_ && !queue_.empty()); });
    if (queue_.empty()) return;  // stopping, and everything queued is stored
    auto due = queue_.front().due;
    if (!stopping_ && queue_.front().seq > hurry_to_ && std::chrono::steady_clock::now() < due) {
      changed_.wait_until(lock, due);
      continue;
    }
    Pending next = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    write(next);
    lock.lock();
    queued_items_ -= next.items->size();
    ++done_total_;
    changed_.notify_all();
  }
}

void ListingWriter::write(const Pending& p) {
  if (!still_current_(p.dir, p.epoch)) return;  // changed since the fetch: it would be stale
  Status s = cache_.put_listing(p.dir, *p.items, p.fetched_ms);
  if (!s && s.err() != EFBIG) spdlog::warn("cache: storing listing {}: {}", p.dir, s.to_string());
  if (!still_current_(p.dir, p.epoch)) {  // changed while storing: the listing and its items go
    (void)cache_.forget_listing(p.dir);
    for (size_t i = 0; i < p.items->size(); ++i) (void)cache_.forget_item(packed_item_filename(p.items->packed(i)));
  }
}

}  // namespace dlfs
