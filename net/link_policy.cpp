#include "net/link_policy.h"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <cstring>
#include <memory>

namespace dlfs {
namespace {

// a/bits as a host-order prefix check.
bool in_v4(uint32_t v, uint32_t net, int bits) {
  uint32_t mask = bits == 0 ? 0 : ~uint32_t(0) << (32 - bits);
  return (v & mask) == (net & mask);
}

constexpr uint32_t v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t(a) << 24 | uint32_t(b) << 16 | uint32_t(c) << 8 | d;
}

in_addr v4_at(const in6_addr& a, int at) {
  in_addr out{};
  std::memcpy(&out.s_addr, a.s6_addr + at, 4);
  return out;
}

// The first `n` bytes of `a` equal `prefix`.
bool starts(const in6_addr& a, std::initializer_list<uint8_t> prefix) {
  size_t i = 0;
  for (uint8_t b : prefix)
    if (a.s6_addr[i++] != b) return false;
  return true;
}

std::string ntop(int family, const void* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(family, addr, buf, sizeof buf)) return "?";
  return buf;
}

bool endpoint_matches(const Endpoint& e, const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    in_addr want{};
    return inet_pton(AF_INET, e.address.c_str(), &want) == 1 && want.s_addr == in->sin_addr.s_addr &&
           ntohs(in->sin_port) == e.port;
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
  in6_addr want{};
  return inet_pton(AF_INET6, e.address.c_str(), &want) == 1 &&
         std::memcmp(&want, &in6->sin6_addr, sizeof want) == 0 && ntohs(in6->sin6_port) == e.port;
}

std::string with_hint(std::string message, const std::string& hint) {
  if (!hint.empty()) message += "; " + hint;
  return message;
}

}  // namespace

std::string_view describe(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic: return "a public address";
    case AddressClass::kUnspecified: return "an unspecified (\"this host\") address";
    case AddressClass::kLoopback: return "a loopback address";
    case AddressClass::kPrivate: return "a private address";
    case AddressClass::kSharedCgnat: return "a shared (carrier-grade NAT) address";
    case AddressClass::kLinkLocal:
      return "a link-local address (where cloud metadata services such as 169.254.169.254 answer)";
    case AddressClass::kMetadata: return "the cloud metadata service's address (169.254.169.254, link-local)";
    case AddressClass::kUniqueLocal: return "a unique-local (private) IPv6 address";
    case AddressClass::kMulticast: return "a multicast address";
    case AddressClass::kBroadcast: return "the broadcast address";
    case AddressClass::kReserved: return "a reserved address";
  }
  return "an address of unknown kind";
}

AddressClass classify_ipv4(const in_addr& a) {
  uint32_t v = ntohl(a.s_addr);
  if (v == v4(169, 254, 169, 254)) return AddressClass::kMetadata;
  if (v == v4(255, 255, 255, 255)) return AddressClass::kBroadcast;
  struct Range {
    uint32_t net;
    int bits;
    AddressClass cls;
  };
  static constexpr Range ranges[] = {
      {v4(0, 0, 0, 0), 8, AddressClass::kUnspecified},
      {v4(10, 0, 0, 0), 8, AddressClass::kPrivate},
      {v4(100, 64, 0, 0), 10, AddressClass::kSharedCgnat},
      {v4(127, 0, 0, 0), 8, AddressClass::kLoopback},
      {v4(169, 254, 0, 0), 16, AddressClass::kLinkLocal},
      {v4(172, 16, 0, 0), 12, AddressClass::kPrivate},
      {v4(192, 0, 0, 0), 24, AddressClass::kReserved},    // IETF protocol assignments
      {v4(192, 0, 2, 0), 24, AddressClass::kReserved},    // documentation
      {v4(192, 168, 0, 0), 16, AddressClass::kPrivate},
      {v4(198, 18, 0, 0), 15, AddressClass::kReserved},   // benchmarking
      {v4(198, 51, 100, 0), 24, AddressClass::kReserved}, // documentation
      {v4(203, 0, 113, 0), 24, AddressClass::kReserved},  // documentation
      {v4(224, 0, 0, 0), 4, AddressClass::kMulticast},
      {v4(240, 0, 0, 0), 4, AddressClass::kReserved},
  };
  for (const Range& r : ranges)
    if (in_v4(v, r.net, r.bits)) return r.cls;
  return AddressClass::kPublic;
}

AddressClass classify_ipv6(const in6_addr& a) {
  static const in6_addr any = IN6ADDR_ANY_INIT, loopback = IN6ADDR_LOOPBACK_INIT;
  if (std::memcmp(&a, &any, sizeof a) == 0) return AddressClass::kUnspecified;
  if (std::memcmp(&a, &loopback, sizeof a) == 0) return AddressClass::kLoopback;
  const uint8_t* b = a.s6_addr;
  // Forms that carry an IPv4 address reach that address: judged by it.
  if (IN6_IS_ADDR_V4MAPPED(&a) || IN6_IS_ADDR_V4COMPAT(&a)) return classify_ipv4(v4_at(a, 12));
  if (starts(a, {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0})) return classify_ipv4(v4_at(a, 12));  // ::ffff:0:a.b.c.d
  if (starts(a, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})) return classify_ipv4(v4_at(a, 12));  // NAT64
  if (starts(a, {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01})) return AddressClass::kPrivate;  // local-use NAT64
  if (starts(a, {0x20, 0x02})) return classify_ipv4(v4_at(a, 2));                        // 6to4
  if (starts(a, {0x20, 0x01, 0x00, 0x00})) {  // Teredo: the client's IPv4, inverted
    in_addr client = v4_at(a, 12);
    client.s_addr = ~client.s_addr;
    return classify_ipv4(client);
  }
  in6_addr metadata{};
  inet_pton(AF_INET6, "fd00:ec2::254", &metadata);
  if (std::memcmp(&a, &metadata, sizeof a) == 0) return AddressClass::kMetadata;
  if ((b[0] & 0xfe) == 0xfc) return AddressClass::kUniqueLocal;                  // fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressClass::kLinkLocal;    // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressClass::kPrivate;      // fec0::/10, site-local
  if (b[0] == 0xff) return AddressClass::kMulticast;                             // ff00::/8
  if (starts(a, {0x01, 0x00, 0, 0, 0, 0, 0, 0})) return AddressClass::kReserved;  // 100::/64, discard
  if (starts(a, {0x20, 0x01, 0x0d, 0xb8})) return AddressClass::kReserved;       // documentation
  return AddressClass::kPublic;
}

Result<AddressClass> classify_address(std::string_view text) {
  std::string s(text);
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) return classify_ipv4(a4);
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) return classify_ipv6(a6);
  return Status(EINVAL, "not an IP address: '" + s + "'");
}

Status check_address(const LinkPolicy& policy, const sockaddr* addr, socklen_t len) {
  std::string text;
  AddressClass cls;
  if (addr->sa_family == AF_INET && len >= socklen_t(sizeof(sockaddr_in))) {
    auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    text = ntop(AF_INET, &in->sin_addr);
    cls = classify_ipv4(in->sin_addr);
  } else if (addr->sa_family == AF_INET6 && len >= socklen_t(sizeof(sockaddr_in6))) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    text = ntop(AF_INET6, &in6->sin6_addr);
    cls = classify_ipv6(in6->sin6_addr);
  } else {
    return Status(EACCES, "not an IP socket (family " + std::to_string(addr->sa_family) + ")");
  }
  if (cls == AddressClass::kPublic || policy.allow_private) return {};
  for (const Endpoint& e : policy.allowed_endpoints)
    if (endpoint_matches(e, addr)) return {};
  return Status(EACCES, with_hint(text + " is " + std::string(describe(cls)), policy.private_hint));
}

Status check_scheme(const LinkPolicy& policy, std::string_view url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
  if (!u) return Status(ENOMEM, "cannot parse a URL");
  std::string text(url);
  // Any scheme parses (so that an unsupported one is refused by name, not "bad URL").
  CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) return Status(EINVAL, "not a URL: '" + text + "'", curl_url_strerror(rc));
  char* scheme_c = nullptr;
  if (curl_url_get(u.get(), CURLUPART_SCHEME, &scheme_c, 0) != CURLUE_OK || !scheme_c)
    return Status(EINVAL, "URL without a scheme: '" + text + "'");
  std::string scheme(scheme_c);
  curl_free(scheme_c);
  if (scheme == "http" || scheme == "https") return {};
  if (scheme == "file") {
    if (policy.allow_file) return {};
    return Status(EACCES, with_hint("file:// links read this machine's own files", policy.file_hint));
  }
  return Status(EACCES, scheme + ":// links are not fetched (only http and https)");
}

Status check_link_target(std::string_view url) {
  // file:// is refused here even where a mount may fetch it: a link item is shared with every
  // machine that reads the dataset, and a local path means nothing (or something else) there.
  if (Status s = check_scheme(LinkPolicy{}, url); !s)
    return Status(EPERM, "a link item's target must be an http:// or https:// URL, not '" + std::string(url) + "'",
                  s.message());
  return {};
}

}  // namespace dlfs
