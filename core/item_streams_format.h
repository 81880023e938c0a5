// Many items' bytes in one answer: dlfsd's POST /items/streams (API extension; the mount's
// prefetch of a folder's next small files, where one request per file cost most of the CPU of a
// cold read, on both sides).
//
// Request: {"items": [{"id": ID, "etag": ETAG}, ...]} (at most kMaxItemStreams; etag optional:
// the version the client has). Answer (200, application/x-dlfs-item-streams): for each item, in
// the order asked, one line of JSON and then its bytes:
//   {"id": ID, "size": N}\n  followed by N bytes: the item's, of version ETAG
//   {"id": ID, "status": CODE, "message": M}\n  and no bytes: what GET /items/ID/stream would
//      have answered (404, 400 for a folder, 412 for another version, 302 for an item read from
//      its bucket: the client asks its own stream for it)
// A failure after the answer started ends the connection (the body is short of its length).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/json_util.h"

namespace dlfs {

inline constexpr size_t kMaxItemStreams = 64;
inline constexpr const char* kItemStreamsType = "application/x-dlfs-item-streams";

// The header lines of one item in an answer.
inline std::string item_stream_header(std::string_view id, uint64_t size) {
  return json{{"id", id}, {"size", size}}.dump() + "\n";
}
inline std::string item_stream_error(std::string_view id, long status, std::string_view message) {
  return json{{"id", id}, {"status", status}, {"message", message}}.dump(-1, ' ', false,
                                                                         json::error_handler_t::replace) + "\n";
}

}  // namespace dlfs
