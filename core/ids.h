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
// The first `hex_digits` (<= 64) lowercase hex digits of the SHA-256 of `bytes`: a name for
// something by its content (a data cache file, a version of an item's bytes).
std::string sha256_hex(std::string_view bytes, size_t hex_digits = 64);
// The lowercase hex digits of `bytes`.
std::string hex_of(std::string_view bytes);
// HMAC-SHA256 of `data` under `key`: the 32 raw bytes (JWT HS256, SigV4, Azure SharedKey).
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace dlfs
