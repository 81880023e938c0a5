// Fetches a linked item's target bytes straight from its URL (not through the platform, and
// without the platform's token). Ranged reads so a large target is never downloaded whole.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace dlfs {

class LinkFetcher {
 public:
  virtual ~LinkFetcher() = default;
  // The target's size in bytes (a HEAD request). ENOTSUP when the server does not tell it.
  virtual Result<uint64_t> size(std::string_view url) = 0;
  // Up to out.size() bytes from `offset`; answers the count (0 at or past the end).
  virtual Result<size_t> read(std::string_view url, uint64_t offset, std::span<char> out) = 0;
};

struct CurlLinkOptions {
  long connect_timeout_s = 15;
  long low_speed_time_s = 30;  // abort a transfer slower than 1 byte/s for this long
};

// libcurl; http, https and file URLs. Thread-safe (one easy handle per call).
std::unique_ptr<LinkFetcher> make_curl_link_fetcher(const CurlLinkOptions& options = {});

}  // namespace dlfs
