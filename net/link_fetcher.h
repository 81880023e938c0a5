// Fetches a linked item's target bytes straight from its URL (not through the platform, and
// without the platform's token), through the guard of net/link_policy.h. Ranged reads so a large
// target is never downloaded whole; a server that ignores Range (answers 200 with the whole
// body, as `python3 -m http.server` and many static servers do) is read by skipping to the
// offset while streaming and stopping once the buffer is full.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "net/link_policy.h"

namespace dlfs {

// What a HEAD tells of a target (LinkFetcher::stat); empty strings when the server does not say.
struct LinkStat {
  std::optional<uint64_t> size;
  std::string etag;
  std::string last_modified;  // as the server wrote it (an HTTP date)
  std::string content_type;
};

class LinkFetcher {
 public:
  virtual ~LinkFetcher() = default;
  // The target's size in bytes (a HEAD request). ENOTSUP when the server does not tell it.
  virtual Result<uint64_t> size(std::string_view url) = 0;
  // The target's size, ETag, Last-Modified and Content-Type (a HEAD request); same errors as
  // size() except that an unknown size is no error. The default asks size() only.
  virtual Result<LinkStat> stat(std::string_view url);
  // Up to out.size() bytes from `offset`; answers the count (0 at or past the end).
  // Errors: EACCES when the policy refuses the URL, a redirect or an address connected to (the
  // message says why and how to allow it); EIO or ETIMEDOUT when the target cannot be reached;
  // ENOENT, EACCES, ... for HTTP error answers.
  virtual Result<size_t> read(std::string_view url, uint64_t offset, std::span<char> out) = 0;
  // The whole target, streamed to `sink` in one request whatever the server does with Range
  // (an import that stores the target, where ranged reads of a server that ignores Range would
  // receive it many times over). Answers the byte count. EFBIG past the policy's max_bytes; a
  // sink's error stops the transfer and is answered as is; else the errors of read().
  using Sink = std::function<Status(std::string_view)>;
  virtual Result<uint64_t> fetch_all(std::string_view url, const Sink& sink) = 0;
};

// libcurl: http and https (file with policy.allow_file), no proxy (see link_fetcher.cpp).
// Thread-safe (one easy handle per call).
std::unique_ptr<LinkFetcher> make_curl_link_fetcher(LinkPolicy policy = {});

}  // namespace dlfs
