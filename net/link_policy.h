// What a link fetch may reach. A link item's URL is written by whoever can put a JSON into a
// dataset, and fetched by every machine that reads it: without a guard it is a way in (a
// mount's local files through file://, the cloud metadata service, services on loopback or the
// private network). The guard is applied by net/link_fetcher.cpp at the socket libcurl actually
// opens (names resolving to private addresses and DNS rebinding do not pass), and is shared by
// every place that fetches links (the mount today, the platform later).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace dlfs {

// The kind of an IP address, for the guard. Everything but kPublic is refused by default.
enum class AddressClass {
  kPublic,
  kUnspecified,  // 0.0.0.0/8, ::
  kLoopback,     // 127/8, ::1
  kPrivate,      // 10/8, 172.16/12, 192.168/16, fec0::/10 (site-local)
  kSharedCgnat,  // 100.64/10
  kLinkLocal,    // 169.254/16, fe80::/10
  kMetadata,     // 169.254.169.254, fd00:ec2::254: cloud instance metadata services
  kUniqueLocal,  // fc00::/7
  kMulticast,    // 224/4, ff00::/8
  kBroadcast,    // 255.255.255.255
  kReserved,     // 240/4, 192.0.0/24, documentation and benchmarking ranges, 100::/64, 2001:db8::/32
};

// "a loopback address", "the cloud metadata service's address", ... (for messages).
std::string_view describe(AddressClass c);

// Classifies an address. IPv6 forms that carry an IPv4 address (mapped ::ffff:a.b.c.d,
// compatible ::a.b.c.d, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16) are classified by
// the IPv4 address they carry, since that is what they reach.
AddressClass classify_ipv4(const in_addr& a);
AddressClass classify_ipv6(const in6_addr& a);
// A numeric address as text ("10.0.0.1", "::ffff:127.0.0.1"), parsed with inet_pton. EINVAL if
// it is not one.
Result<AddressClass> classify_address(std::string_view text);

// One exact address and port let through despite its class (tests reach their own servers on
// 127.0.0.1 this way without opening all of loopback).
struct Endpoint {
  std::string address;  // numeric, as inet_pton takes it
  uint16_t port = 0;
};

struct LinkPolicy {
  bool allow_private = false;  // every class above, not only kPublic
  bool allow_file = false;     // file:// links (the fetching machine's own files)
  std::vector<Endpoint> allowed_endpoints;
  long max_redirects = 5;
  // Most bytes one fetch receives, those skipped to reach the offset of a server that ignores
  // Range included (it sends the whole body from byte 0).
  uint64_t max_bytes = 1ull << 30;
  long connect_timeout_ms = 15000;
  long timeout_ms = 300000;      // a whole transfer
  long low_speed_time_s = 30;    // slower than 1 byte/s for this long: aborted
  // Appended to refusals, telling how to allow what was refused (each user of the guard has its
  // own switch: "mount with -o link_allow_private to allow it").
  std::string private_hint;
  std::string file_hint;
};

// Whether a connection to this socket address may be made. EACCES with why if not
// ("127.0.0.1 is a loopback address; <private_hint>").
Status check_address(const LinkPolicy& policy, const sockaddr* addr, socklen_t len);

// Whether the URL's scheme may be fetched (http, https; file with allow_file). Parsed with
// libcurl's URL API. EACCES with why if not, EINVAL if it is not a URL.
Status check_scheme(const LinkPolicy& policy, std::string_view url);

// Whether `url` may become a link item (`dlfs link`, `ln -s URL` in a mount): an http or https
// URL, whatever a fetcher's policy would later allow. EPERM with why if not.
Status check_link_target(std::string_view url);

}  // namespace dlfs
