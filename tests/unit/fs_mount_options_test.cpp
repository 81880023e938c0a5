// mount.dlfs's command line (the mount(8) helper convention).
#include <gtest/gtest.h>

#include "fs/mount_options.h"
#include "net/http_client.h"

using namespace dlfs;

namespace {
Result<MountOptions> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "mount.dlfs");
  return parse_mount_args(args);
}
}  // namespace

TEST(MountOptions, SourceFolderAndMountpoint) {
  auto o = parse({"cars", "/mnt/cars"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->source, "cars");
  EXPECT_EQ(o->folder, "/");
  EXPECT_EQ(o->mountpoint, "/mnt/cars");
  EXPECT_FALSE(o->foreground);
  auto f = parse({"cars:/a/b/", "/mnt", "-f"});
  EXPECT_EQ(f->source, "cars:/a/b/");  // as given (the mount's fsname)
  EXPECT_EQ(f->folder, "/a/b");        // parsed by parse_source (remote/connect.h), normalized
  EXPECT_EQ(parse({":/a", "/mnt"}).err(), EINVAL);
  EXPECT_EQ(parse({"dlfs#:/a", "/mnt"}).err(), EINVAL);
  EXPECT_EQ(parse({"cars:/a/../b", "/mnt"}).err(), EINVAL);
  EXPECT_TRUE(f->foreground);
  EXPECT_EQ(parse({"cars"}).err(), EINVAL);
  EXPECT_EQ(parse({"a", "b", "c"}).err(), EINVAL);
}

TEST(MountOptions, FstabStyleOptionsAreIgnoredOrPassed) {
  // What mount(8) hands a helper for an fstab line "cars /mnt dlfs ro,noauto,_netdev,x-foo,nofail,user 0 0".
  auto o = parse({"cars", "/mnt", "-n", "-o", "ro,noauto,_netdev,x-systemd.automount,nofail,user,allow_other,default_permissions,nosuid,nodev"});
  ASSERT_TRUE(o) << o.status().to_string();
  EXPECT_TRUE(o->read_only);
  EXPECT_EQ(o->kernel_options,
            (std::vector<std::string>{"ro", "allow_other", "default_permissions", "nosuid", "nodev"}));
  EXPECT_TRUE(o->resolved_no_open());
  auto t = parse({"cars", "/mnt", "-t", "dlfs", "-o", "rw", "-s", "-v"});
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->read_only);
  EXPECT_TRUE(t->resolved_no_open());
}

TEST(MountOptions, WhatMountPassesAHelper) {
  // As util-linux's mount(8) runs /sbin/mount.dlfs (seen with a stub helper): `mount -t dlfs -o
  // store=/s cars /mnt`, then an fstab line "cars /mnt dlfs store=/s,noauto,user,_netdev,
  // x-systemd.automount,defaults,rw,nofail,comment=x 0 0", then a user mount of a "users" line.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"cars", "/mnt", "-o", "rw,store=/s"},
        std::vector<std::string>{"cars", "/mnt", "-o", "rw,noexec,nosuid,nodev,store=/s,user,_netdev,nofail"},
        std::vector<std::string>{"cars", "/mnt", "-n", "-s", "-v", "-o", "rw,noexec,nosuid,nodev,users,store=/s,user=me"}}) {
    auto o = parse(args);
    ASSERT_TRUE(o) << o.status().to_string() << " for " << ::testing::PrintToString(args);
    EXPECT_EQ(o->store_dir, "/s");
    EXPECT_FALSE(o->read_only);
    EXPECT_FALSE(o->foreground);
  }
  // What "user" adds reaches the kernel mount.
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "rw,noexec,nosuid,nodev,user"})->kernel_options,
            (std::vector<std::string>{"noexec", "nosuid", "nodev"}));
}

TEST(MountOptions, OptionsGoBeforeOrAfterSourceAndMountpoint) {
  // The rule of every dlfs tool: the same mount, wherever the options stand.
  for (const std::vector<std::string>& args : {std::vector<std::string>{"-f", "-o", "store=/s,ro", "cars:/a", "/mnt"},
                                               std::vector<std::string>{"cars:/a", "-ostore=/s", "/mnt", "-o", "ro", "-f"},
                                               std::vector<std::string>{"cars:/a", "/mnt", "-f", "-o", "store=/s,ro"}}) {
    auto o = parse(args);
    ASSERT_TRUE(o) << o.status().to_string() << " for " << ::testing::PrintToString(args);
    EXPECT_EQ(o->source, "cars:/a");
    EXPECT_EQ(o->folder, "/a");
    EXPECT_EQ(o->mountpoint, "/mnt");
    EXPECT_EQ(o->store_dir, "/s");
    EXPECT_TRUE(o->read_only);
    EXPECT_TRUE(o->foreground);
  }
}

TEST(MountOptions, ValuesAndDefaults) {
  auto o = parse({"cars", "/mnt", "-o", "store=/s,cache=/c,cache_size=512M,dir_ttl=60,uid=10,gid=20",
                  "-olog=/l,stats=/st,debug,attr_timeout=2.5,max_threads=4,no_open=0"});
  ASSERT_TRUE(o) << o.status().to_string();
  EXPECT_EQ(o->store_dir, "/s");
  EXPECT_EQ(o->cache_dir, "/c");
  EXPECT_EQ(o->cache_size, 512ull << 20);
  EXPECT_EQ(o->dir_ttl_ms, 60000);
  EXPECT_EQ(*o->uid, 10u);
  EXPECT_EQ(*o->gid, 20u);
  EXPECT_EQ(o->log_file, "/l");
  EXPECT_EQ(o->stats_file, "/st");
  EXPECT_TRUE(o->debug);
  EXPECT_EQ(o->resolved_attr_timeout(), 2.5);
  EXPECT_EQ(o->resolved_entry_timeout(), 2.5);
  EXPECT_EQ(o->max_threads, 4u);
  EXPECT_FALSE(o->resolved_no_open());

  auto d = parse({"cars", "/mnt"});
  EXPECT_EQ(d->dir_ttl_ms, 30000);
  EXPECT_EQ(d->resolved_attr_timeout(), 5);  // rw: a few seconds
  EXPECT_EQ(d->resolved_negative_timeout(), 1);
  auto ro = parse({"cars", "/mnt", "-o", "ro,dir_ttl=inf"});
  EXPECT_EQ(ro->dir_ttl_ms, -1);
  EXPECT_EQ(ro->resolved_attr_timeout(), 86400);  // ro: as long as the TTL allows
  auto ro30 = parse({"cars", "/mnt", "-o", "ro"});
  EXPECT_EQ(ro30->resolved_attr_timeout(), 30);
  EXPECT_TRUE(parse({"cars", "/mnt", "-o", "cache=none"})->no_cache);
  EXPECT_EQ(d->link_revalidate_ms, 30000);
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "link_revalidate=0.5"})->link_revalidate_ms, 500);
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "link_revalidate=never"})->link_revalidate_ms, -1);
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "link_revalidate=often"}).err(), EINVAL);
  EXPECT_FALSE(d->no_posix_attrs);  // kept by default
  EXPECT_TRUE(parse({"cars", "/mnt", "-o", "no_posix_attrs"})->no_posix_attrs);
  EXPECT_FALSE(d->through_server);  // bucket items read from the bucket by default
  EXPECT_TRUE(parse({"cars", "/mnt", "-o", "through_server"})->through_server);
}

TEST(MountOptions, BadOptionsAreClearErrors) {
  auto bad = parse({"cars", "/mnt", "-o", "frobnicate"});
  EXPECT_EQ(bad.err(), EINVAL);
  EXPECT_NE(bad.status().message().find("frobnicate"), std::string::npos);
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "dir_ttl=soon"}).err(), EINVAL);
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "uid=-1"}).err(), EINVAL);
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "cache_size=12Q"}).err(), EINVAL);
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "store="}).err(), EINVAL);
  EXPECT_EQ(parse({"cars", "/mnt", "-x"}).err(), EINVAL);
  EXPECT_EQ(parse({"cars", "/mnt", "-o"}).err(), EINVAL);
  EXPECT_EQ(*parse_size("1G"), 1ull << 30);
  EXPECT_EQ(*parse_size("4096"), 4096u);
}

TEST(MountOptions, UrlSourceWithFolderAndTokenFile) {
  auto o = parse({"http://127.0.0.1:8080/api/v1/datasets/cars:/a/b", "/mnt", "-o", "token_file=/etc/dlfs/token"});
  ASSERT_TRUE(o) << o.status().to_string();
  EXPECT_EQ(o->source, "http://127.0.0.1:8080/api/v1/datasets/cars:/a/b");
  EXPECT_EQ(o->folder, "/a/b");
  EXPECT_EQ(o->token_file, "/etc/dlfs/token");
  auto plain = parse({"https://gate/api/v1/datasets/65f0c0ffee0000000000abcd", "/mnt", "-o", "ca_file=/etc/dlfs/ca.pem"});
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->ca_file, "/etc/dlfs/ca.pem");
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "ca_file="}).err(), EINVAL);
  EXPECT_EQ(plain->source, "https://gate/api/v1/datasets/65f0c0ffee0000000000abcd");
  EXPECT_EQ(plain->folder, "/");
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "token_file="}).err(), EINVAL);
}

TEST(MountOptions, HttpClientOptions) {
  auto o = parse({"http://h/api/v1/datasets/cars", "/mnt", "-o", "http_timeout=2.5,http_stall=3,http_retries=7"});
  ASSERT_TRUE(o) << o.status().to_string();
  EXPECT_EQ(o->http_timeout_ms, 2500);
  EXPECT_EQ(o->http_stall_s, 3);
  EXPECT_EQ(o->http_retries, 7u);
  // The defaults are the HTTP client's own.
  auto d = parse({"cars", "/mnt", "-o", "http_retries=1"});
  ASSERT_TRUE(d) << d.status().to_string();
  HttpOptions h;
  EXPECT_EQ(d->http_timeout_ms, h.connect_timeout_ms);
  EXPECT_EQ(d->http_stall_s, h.low_speed_time_s);
  EXPECT_EQ(parse({"cars", "/mnt"})->http_retries, unsigned(h.max_attempts));
  EXPECT_EQ(d->http_retries, 1u);
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "http_retries=100"})->http_retries, 100u);
}

TEST(MountOptions, BadHttpOptionsAreOneLineErrors) {
  for (const char* bad : {"http_timeout=0", "http_timeout=-1", "http_timeout=soon", "http_timeout=",
                          "http_timeout=90000", "http_stall=0", "http_stall=1.5", "http_stall=x",
                          "http_stall=100000", "http_retries=0", "http_retries=101", "http_retries=-2",
                          "http_retries=two", "http_retries"}) {
    auto r = parse({"cars", "/mnt", "-o", bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.err(), EINVAL) << bad;
    std::string msg = r.status().to_string();
    std::string key = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(msg.find(key), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(MountOptions, LinkOptions) {
  auto o = parse({"cars", "/mnt"});
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->link_allow_private);  // refused unless asked for
  EXPECT_FALSE(o->link_allow_file);
  auto p = parse({"cars", "/mnt", "-o", "link_allow_private,link_allow_file"});
  ASSERT_TRUE(p) << p.status().to_string();
  EXPECT_TRUE(p->link_allow_private);
  EXPECT_TRUE(p->link_allow_file);
  EXPECT_TRUE(p->kernel_options.empty());  // ours, not the kernel's
  EXPECT_TRUE(parse({"cars", "/mnt", "-o", "link_allow_private,allow_other"}));
  // file:// links with allow_other: every user would read the mounting user's files. Refused in
  // either order.
  for (auto opts : {"link_allow_file,allow_other", "allow_other,ro,link_allow_file"}) {
    auto r = parse({"cars", "/mnt", "-o", opts});
    EXPECT_EQ(r.err(), EINVAL) << opts;
    EXPECT_NE(r.status().message().find("link_allow_file cannot be used with allow_other"), std::string::npos)
        << r.status().message();
  }
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "link_allow_file", "-o", "allow_other"}).err(), EINVAL);
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "link_allow_private=1"}).err(), EINVAL);
}

TEST(MountOptions, MetricsAddress) {
  EXPECT_TRUE(parse({"cars", "/mnt"})->metrics_address.empty());  // off unless asked
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "metrics=127.0.0.1:9101"})->metrics_address, "127.0.0.1:9101");
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "metrics=9101"})->metrics_address, "127.0.0.1:9101");
  EXPECT_EQ(parse({"cars", "/mnt", "-o", "metrics=[::1]:9101"})->metrics_address, "[::1]:9101");
  for (std::string bad : {"metrics", "metrics=", "metrics=host:", "metrics=:9101", "metrics=1.2.3.4:70000",
                          "metrics=127.0.0.1:9x"})
    EXPECT_EQ(parse({"cars", "/mnt", "-o", bad}).err(), EINVAL) << bad;
}
