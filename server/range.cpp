#include "server/range.h"

#include <charconv>

namespace dlfs {
namespace {

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

ByteRange resolve_range(std::string_view header, uint64_t size) {
  ByteRange whole;
  constexpr std::string_view kBytes = "bytes=";
  if (!header.starts_with(kBytes)) return whole;
  std::string_view spec = header.substr(kBytes.size());
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  if (spec.find(',') != std::string_view::npos) return whole;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix: the last n bytes
    if (!parse_u64(b, last)) return whole;
    if (last == 0) return {ByteRange::kUnsatisfiable};
    if (size == 0) return whole;
    uint64_t n = std::min(last, size);
    return {ByteRange::kPart, size - n, n};
  }
  if (!parse_u64(a, first)) return whole;
  if (b.empty()) {
    last = UINT64_MAX;
  } else if (!parse_u64(b, last) || last < first) {
    return whole;
  }
  if (first >= size) return size == 0 && first == 0 ? whole : ByteRange{ByteRange::kUnsatisfiable};
  last = std::min(last, size - 1);
  return {ByteRange::kPart, first, last - first + 1};
}

}  // namespace dlfs
