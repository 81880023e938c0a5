#include "core/ids.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <unistd.h>

namespace dlfs {
namespace {

struct ProcessPart {
  uint8_t random[5] = {};
  std::atomic<uint32_t> counter{0};
  std::atomic<pid_t> pid{0};
  std::mutex mu;
};

ProcessPart& process_part() {
  static ProcessPart part;
  // (Re)seed on first use and after a fork, so that a child never repeats its parent's ids.
  if (part.pid.load(std::memory_order_acquire) != getpid()) {
    std::lock_guard lock(part.mu);
    if (part.pid.load() != getpid()) {
      std::random_device rd;
      std::mt19937_64 rng((uint64_t(rd()) << 32) ^ rd() ^ uint64_t(getpid()));
      for (auto& b : part.random) b = uint8_t(rng());
      part.counter.store(uint32_t(rng()) & 0xffffff);
      part.pid.store(getpid(), std::memory_order_release);
    }
  }
  return part;
}

}  // namespace

std::string new_id() {
  ProcessPart& p = process_part();
  uint32_t secs = uint32_t(std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
  uint32_t count = p.counter.fetch_add(1) & 0xffffff;
  uint8_t bytes[12] = {uint8_t(secs >> 24), uint8_t(secs >> 16), uint8_t(secs >> 8), uint8_t(secs),
                       p.random[0], p.random[1], p.random[2], p.random[3], p.random[4],
                       uint8_t(count >> 16), uint8_t(count >> 8), uint8_t(count)};
  static const char* hex = "0123456789abcdef";
  std::string out(24, '0');
  for (int i = 0; i < 12; ++i) {
    out[2 * i] = hex[bytes[i] >> 4];
    out[2 * i + 1] = hex[bytes[i] & 15];
  }
  return out;
}

bool is_valid_id(std::string_view id) {
  if (id.size() != 24) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

uint32_t id_seconds(std::string_view id) {
  if (!is_valid_id(id)) return 0;
  return uint32_t(std::stoul(std::string(id.substr(0, 8)), nullptr, 16));
}

std::string sha256_hex(std::string_view bytes, size_t hex_digits) {
  // (Fetched once: OpenSSL 3's SHA256() looks the digest up by name, under a lock, on every call —
  // the data cache names each file it opens by one.)
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char md[SHA256_DIGEST_LENGTH];
  if (!sha256 || !EVP_Digest(bytes.data(), bytes.size(), md, nullptr, sha256, nullptr))
    SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  std::string out = hex_of(std::string_view(reinterpret_cast<const char*>(md), sizeof md));
  out.resize(std::min(out.size(), hex_digits));
  return out;
}

std::string hex_of(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

}  // namespace dlfs
