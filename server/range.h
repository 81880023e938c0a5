// The one byte range a download asks for (`Range: bytes=a-b`, `bytes=a-`, `bytes=-n`).
#pragma once

#include <cstdint>
#include <string_view>

namespace dlfs {

struct ByteRange {
  enum Kind { kWhole, kPart, kUnsatisfiable } kind = kWhole;
  uint64_t first = 0;   // kPart: the first byte
  uint64_t length = 0;  // kPart: how many bytes
};

// kWhole when there is no header, or one this server ignores (RFC 9110 allows it): not bytes,
// several ranges, malformed. kUnsatisfiable (416) when the range starts at or past the end —
// except `bytes=0-` of an empty file, answered whole (clients always start downloads so).
ByteRange resolve_range(std::string_view header, uint64_t size);

}  // namespace dlfs
