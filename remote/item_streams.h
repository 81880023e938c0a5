// The client of dlfsd's POST /items/streams (the answer's format: core/item_streams_format.h):
// many items' bytes in one request.
#pragma once

#include <atomic>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "core/item.h"
#include "core/item_streams_format.h"
#include "core/json_util.h"
#include "core/requests.h"
#include "core/result.h"

namespace dlfs {

class HttpClient;

// Reads an answer as it arrives, handing each item's bytes and end to a sink. Items answered
// with an error are done() with it; those answered 302 are left for the caller (redirected()).
class ItemStreamsParser {
 public:
  ItemStreamsParser(std::span<const Item> items, ItemBytesSink& sink) : items_(items), sink_(sink) {}
  // false: the answer is not one (a protocol error: error() tells); stop reading it.
  bool feed(std::string_view data);
  // Items not done(): the one under way when the answer ended and those after it (the caller
  // reads them another way), then the redirected ones.
  std::vector<size_t> left() const;
  const Status& error() const { return error_; }

 private:
  bool start_item();
  void end_item();

  std::span<const Item> items_;
  ItemBytesSink& sink_;
  size_t index_ = 0;  // the item the answer is at
  std::string header_;
  bool in_bytes_ = false;
  uint64_t offset_ = 0, left_ = 0;
  Status item_status_;  // the sink's answer for the item under way
  std::vector<size_t> redirected_;
  Status error_;
};

// What Remote::read_items does over HTTP: one POST /items/streams for up to kMaxItemStreams
// items at a time, and `one_by_one` for what it did not bring (a server without the call —
// remembered in `supported` —, an answer that is not one, items read from a bucket). An answer
// cut or never given at the transport fails the items it did not bring, at once.
using ReadOneByOne = std::function<void(std::span<const Item> items, ItemBytesSink& sink)>;
void read_item_streams(HttpClient& http, std::span<const Item> items, ItemBytesSink& sink,
                       std::atomic<bool>& supported, const ReadOneByOne& one_by_one);

}  // namespace dlfs
