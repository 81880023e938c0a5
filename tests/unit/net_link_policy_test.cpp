// The link guard's address classifier and checks (net/link_policy.h), without a network.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "net/link_policy.h"

using namespace dlfs;
using C = AddressClass;

namespace {

struct Case {
  const char* address;
  AddressClass cls;
};

const Case kCases[] = {
    // IPv4
    {"0.0.0.0", C::kUnspecified},
    {"0.1.2.3", C::kUnspecified},
    {"10.0.0.1", C::kPrivate},
    {"10.255.255.255", C::kPrivate},
    {"100.63.255.255", C::kPublic},
    {"100.64.0.1", C::kSharedCgnat},
    {"100.127.255.254", C::kSharedCgnat},
    {"100.128.0.0", C::kPublic},
    {"127.0.0.1", C::kLoopback},
    {"127.255.0.9", C::kLoopback},
    {"169.254.0.1", C::kLinkLocal},
    {"169.254.169.254", C::kMetadata},
    {"172.15.255.255", C::kPublic},
    {"172.16.0.1", C::kPrivate},
    {"172.31.255.255", C::kPrivate},
    {"172.32.0.0", C::kPublic},
    {"192.0.0.8", C::kReserved},
    {"192.0.2.1", C::kReserved},
    {"192.168.1.1", C::kPrivate},
    {"192.169.0.1", C::kPublic},
    {"198.18.0.1", C::kReserved},
    {"198.51.100.7", C::kReserved},
    {"203.0.113.7", C::kReserved},
    {"224.0.0.1", C::kMulticast},
    {"239.255.255.250", C::kMulticast},
    {"240.0.0.1", C::kReserved},
    {"255.255.255.255", C::kBroadcast},
    {"8.8.8.8", C::kPublic},
    {"1.1.1.1", C::kPublic},
    {"93.184.216.34", C::kPublic},
    // IPv6
    {"::", C::kUnspecified},
    {"::1", C::kLoopback},
    {"fc00::1", C::kUniqueLocal},
    {"fdff:ffff::1", C::kUniqueLocal},
    {"fd00:ec2::254", C::kMetadata},
    {"fe80::1", C::kLinkLocal},
    {"febf::1", C::kLinkLocal},
    {"fec0::1", C::kPrivate},
    {"ff02::1", C::kMulticast},
    {"100::1", C::kReserved},
    {"2001:db8::1", C::kReserved},
    {"2606:4700:4700::1111", C::kPublic},
    {"2a00:1450:4001:80b::200e", C::kPublic},
    // IPv6 forms that carry an IPv4 address: judged by it
    {"::ffff:127.0.0.1", C::kLoopback},
    {"::ffff:7f00:1", C::kLoopback},
    {"::ffff:10.1.2.3", C::kPrivate},
    {"::ffff:169.254.169.254", C::kMetadata},
    {"::ffff:8.8.8.8", C::kPublic},
    {"::ffff:0:127.0.0.1", C::kLoopback},
    {"::127.0.0.1", C::kLoopback},
    {"::192.168.0.1", C::kPrivate},
    {"64:ff9b::127.0.0.1", C::kLoopback},
    {"64:ff9b::a9fe:a9fe", C::kMetadata},
    {"64:ff9b::8.8.8.8", C::kPublic},
    {"64:ff9b:1::1.2.3.4", C::kPrivate},
    {"2002:7f00:1::1", C::kLoopback},
    {"2002:c0a8:101::1", C::kPrivate},
    {"2002:808:808::1", C::kPublic},
};

sockaddr_in v4(const char* text, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, text, &a.sin_addr);
  return a;
}

sockaddr_in6 v6(const char* text, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, text, &a.sin6_addr);
  return a;
}

Status check(const LinkPolicy& p, const sockaddr_in& a) {
  return check_address(p, reinterpret_cast<const sockaddr*>(&a), sizeof a);
}
Status check(const LinkPolicy& p, const sockaddr_in6& a) {
  return check_address(p, reinterpret_cast<const sockaddr*>(&a), sizeof a);
}

}  // namespace

TEST(LinkPolicy, ClassifiesAddresses) {
  for (const Case& c : kCases) {
    auto got = classify_address(c.address);
    ASSERT_TRUE(got) << c.address << ": " << got.status().to_string();
    EXPECT_EQ(int(*got), int(c.cls)) << c.address << " is " << describe(*got) << ", expected " << describe(c.cls);
  }
  EXPECT_EQ(classify_address("localhost").err(), EINVAL);  // names are resolved, not classified
  EXPECT_EQ(classify_address("127.1").err(), EINVAL);      // inet_pton: only the dotted quad
  EXPECT_EQ(classify_address("").err(), EINVAL);
}

TEST(LinkPolicy, RefusesEveryNonPublicClassUnlessAllowed) {
  LinkPolicy strict;
  strict.private_hint = "mount with -o link_allow_private to allow it";
  LinkPolicy open;
  open.allow_private = true;
  for (const Case& c : kCases) {
    std::string text = c.address;
    bool is_v6 = text.find(':') != std::string::npos;
    Status refused = is_v6 ? check(strict, v6(c.address, 80)) : check(strict, v4(c.address, 80));
    Status allowed = is_v6 ? check(open, v6(c.address, 80)) : check(open, v4(c.address, 80));
    EXPECT_TRUE(allowed) << c.address;
    if (c.cls == C::kPublic) {
      EXPECT_TRUE(refused) << c.address;
    } else {
      EXPECT_EQ(refused.err(), EACCES) << c.address;
      EXPECT_NE(refused.message().find(" is " + std::string(describe(c.cls))), std::string::npos) << refused.message();
      EXPECT_NE(refused.message().find("link_allow_private"), std::string::npos) << refused.message();
    }
  }
  EXPECT_EQ(check(strict, v4("127.0.0.1", 8080)).message(),
            "127.0.0.1 is a loopback address; mount with -o link_allow_private to allow it");
  // The metadata service is named as such, and so is the link-local range it lives in.
  EXPECT_NE(check(strict, v4("169.254.169.254", 80)).message().find("metadata"), std::string::npos);
  EXPECT_NE(check(strict, v4("169.254.1.1", 80)).message().find("169.254.169.254"), std::string::npos);
  EXPECT_NE(check(strict, v6("fd00:ec2::254", 80)).message().find("metadata"), std::string::npos);
  // Not an IP socket at all.
  sockaddr unix_like{};
  unix_like.sa_family = AF_UNIX;
  EXPECT_EQ(check_address(open, &unix_like, sizeof unix_like).err(), EACCES);
}

TEST(LinkPolicy, AllowsOneExactEndpoint) {
  LinkPolicy p;
  p.allowed_endpoints = {{"127.0.0.1", 4000}, {"::1", 5000}};
  EXPECT_TRUE(check(p, v4("127.0.0.1", 4000)));
  EXPECT_EQ(check(p, v4("127.0.0.1", 4001)).err(), EACCES);  // another port
  EXPECT_EQ(check(p, v4("127.0.0.2", 4000)).err(), EACCES);  // another address
  EXPECT_TRUE(check(p, v6("::1", 5000)));
  EXPECT_EQ(check(p, v6("::1", 4000)).err(), EACCES);
  EXPECT_EQ(check(p, v6("::ffff:127.0.0.1", 4000)).err(), EACCES);  // only the exact form
}

TEST(LinkPolicy, SchemesAreParsedByLibcurl) {
  LinkPolicy p;
  p.file_hint = "mount with -o link_allow_file to allow them";
  EXPECT_TRUE(check_scheme(p, "http://example.com/a.jpg"));
  EXPECT_TRUE(check_scheme(p, "HTTPS://example.com/a.jpg"));
  Status file = check_scheme(p, "file:///etc/passwd");
  EXPECT_EQ(file.err(), EACCES);
  EXPECT_NE(file.message().find("link_allow_file"), std::string::npos) << file.message();
  EXPECT_EQ(check_scheme(p, "FILE:///etc/passwd").err(), EACCES);
  EXPECT_EQ(check_scheme(p, "gopher://example.com/").err(), EACCES);
  EXPECT_EQ(check_scheme(p, "dict://example.com/").err(), EACCES);
  EXPECT_EQ(check_scheme(p, "ftp://example.com/x").err(), EACCES);
  EXPECT_EQ(check_scheme(p, "/etc/passwd").err(), EINVAL);  // no scheme: not a URL
  EXPECT_EQ(check_scheme(p, "").err(), EINVAL);
  p.allow_file = true;
  EXPECT_TRUE(check_scheme(p, "file:///etc/passwd"));
  EXPECT_EQ(check_scheme(p, "gopher://example.com/").err(), EACCES);  // still only http(s) and file
}

TEST(LinkPolicy, OnlyHttpAndHttpsBecomeLinkItems) {
  EXPECT_TRUE(check_link_target("https://example.com/cat.jpg"));
  EXPECT_TRUE(check_link_target("http://127.0.0.1:8000/a.bin"));  // fetching it is the guard's call
  for (const char* bad : {"file:///etc/passwd", "/etc/passwd", "cat.jpg", "ftp://example.com/x", ""}) {
    Status s = check_link_target(bad);
    EXPECT_EQ(s.err(), EPERM) << bad;
    EXPECT_NE(s.message().find("http:// or https://"), std::string::npos) << s.message();
  }
}
