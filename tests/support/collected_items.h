// A sink of Remote::read_items for tests: what it saw of each item.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "core/requests.h"

namespace dlfs::test {

// What a sink saw: each item's bytes (written at their offsets, as the data cache does) and end.
struct CollectedItems : ItemBytesSink {
  std::mutex mu;
  std::map<size_t, std::string> bytes_of;
  std::map<size_t, Status> ended;
  std::map<size_t, int> ends;  // done() calls per item
  Status bytes(size_t index, uint64_t offset, std::string_view piece) override {
    std::lock_guard lock(mu);
    std::string& b = bytes_of[index];
    if (b.size() < offset + piece.size()) b.resize(offset + piece.size());
    b.replace(offset, piece.size(), piece);
    return {};
  }
  void done(size_t index, Status status) override {
    std::lock_guard lock(mu);
    ended[index] = std::move(status);
    ++ends[index];
  }
};

}  // namespace dlfs::test
