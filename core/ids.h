// Item and dataset ids: 24 lowercase hex digits in the MongoDB ObjectId layout — 4 bytes of
// seconds since the epoch, 5 random bytes chosen once per process, a 3-byte counter — so ids
// sort by creation time and two threads or two processes never make the same one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dlfs {

std::string new_id();
bool is_valid_id(std::string_view id);
// The seconds part of an id (its creation time).
uint32_t id_seconds(std::string_view id);

}  // namespace dlfs
