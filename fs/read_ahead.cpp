#include "fs/read_ahead.h"

#include <algorithm>
#include <cstring>

namespace dlfs {

ReadAheadPool::ReadAheadPool(unsigned threads, size_t budget_parts) : budget_(budget_parts) {
  for (unsigned i = 0; i < threads; ++i)
    threads_.emplace_back([this] {
      for (;;) {
        std::function<void()> task;
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
          if (tasks_.empty()) return;  // (stopping, and nothing left to do)
          task = std::move(tasks_.front());
          tasks_.pop_front();
        }
        task();
      }
    });
}

ReadAheadPool::~ReadAheadPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ReadAheadPool::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

std::unique_ptr<std::vector<char>> ReadAheadPool::take() {
  std::lock_guard lock(mu_);
  if (out_ >= budget_) return nullptr;
  ++out_;
  if (!free_.empty()) {
    auto b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  return std::make_unique<std::vector<char>>(kPartBytes);
}

void ReadAheadPool::put(std::unique_ptr<std::vector<char>> buffer) {
  if (!buffer) return;
  std::lock_guard lock(mu_);
  --out_;
  constexpr size_t kKeptFree = 8;  // (32 MiB kept for the next reader; the rest goes back)
  if (free_.size() < kKeptFree) free_.push_back(std::move(buffer));
}

ReadAhead::~ReadAhead() {
  std::lock_guard lock(mu_);
  drop_locked();  // (nothing is under way: each fetch held this object)
}

void ReadAhead::drop_locked() {
  // A part under way keeps its buffer until its fetch ends (the task gives it back then).
  for (auto& p : parts_)
    if (p->done) pool_.put(std::move(p->bytes));
  parts_.clear();
  streaming_ = false;
  window_parts_ = 1;
}

void ReadAhead::top_up_locked(uint64_t offset) {
  uint64_t want_end = std::min<uint64_t>(size_, offset + window_parts_ * ReadAheadPool::kPartBytes);
  while (next_fetch_ < want_end) {
    auto bytes = pool_.take();
    if (!bytes) return;  // the budget is spent: read directly past what is fetched
    auto part = std::make_shared<Part>();
    part->offset = next_fetch_;
    part->size = size_t(std::min<uint64_t>(ReadAheadPool::kPartBytes, size_ - next_fetch_));
    part->bytes = std::move(bytes);
    next_fetch_ += part->size;
    parts_.push_back(part);
    pool_.submit([this, self = shared_from_this(), part] {
      // (The part's buffer is only touched here until done is set.)
      Result<size_t> n = fetch_(part->offset, std::span<char>(part->bytes->data(), part->size));
      std::lock_guard lock(mu_);
      part->done = true;
      part->failed = !n || *n != part->size;
      bool dropped = std::find(parts_.begin(), parts_.end(), part) == parts_.end();
      if (dropped) pool_.put(std::move(part->bytes));
      part_done_.notify_all();
    });
  }
}

std::optional<size_t> ReadAhead::read(uint64_t offset, std::span<char> out) {
  std::unique_lock lock(mu_);
  bool in_parts = !parts_.empty() && offset >= parts_.front()->offset && offset < next_fetch_;
  // Reads come from several threads: the kernel's next one may arrive before the one before it.
  uint64_t slack = 2 * std::max<uint64_t>(out.size(), 128 << 10);
  bool follows = last_end_ != UINT64_MAX && offset + slack >= last_end_ && offset <= last_end_ + slack;
  if (streaming_ && !in_parts && follows && !parts_.empty() && offset < parts_.front()->offset)
    return std::nullopt;  // a read lagging behind the parts (another thread's, late): directly
  if (!streaming_ || !in_parts) {
    if (streaming_ && !follows) drop_locked();  // a seek
    if (!follows || offset >= size_) {
      last_end_ = offset + out.size();
      return std::nullopt;
    }
    if (!streaming_ || !in_parts) {
      drop_locked();
      streaming_ = true;
      next_fetch_ = offset;
    }
  }
  // Parts wholly behind the reader are done with (a read lagging behind them is read directly).
  while (!parts_.empty() && parts_.front()->done && parts_.front()->offset + parts_.front()->size <= offset) {
    pool_.put(std::move(parts_.front()->bytes));
    parts_.pop_front();
    window_parts_ = std::min<size_t>(window_parts_ * 2, 8);
  }
  top_up_locked(offset);
  size_t filled = 0;
  while (filled < out.size() && offset + filled < size_) {
    uint64_t at = offset + filled;
    auto it = std::find_if(parts_.begin(), parts_.end(),
                           [&](const auto& p) { return at >= p->offset && at < p->offset + p->size; });
    if (it == parts_.end()) break;
    std::shared_ptr<Part> part = *it;
    part_done_.wait(lock, [&] { return part->done; });
    if (part->failed) {
      drop_locked();
      last_end_ = UINT64_MAX;
      return std::nullopt;
    }
    if (!part->bytes) break;  // (dropped meanwhile by another reader's seek)
    size_t from = size_t(at - part->offset);
    size_t n = std::min(out.size() - filled, part->size - from);
    std::memcpy(out.data() + filled, part->bytes->data() + from, n);
    filled += n;
  }
  if (filled == 0 && offset < size_) {
    last_end_ = offset + out.size();
    return std::nullopt;  // not fetched (no budget): directly
  }
  last_end_ = offset + filled;
  return filled;
}

}  // namespace dlfs
