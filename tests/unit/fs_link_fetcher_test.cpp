// The libcurl link fetcher, on file:// URLs (no network in unit tests).
#include <gtest/gtest.h>

#include "remote/link_fetcher.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;

TEST(CurlLinkFetcher, SizeAndRangedReadsOfAFileUrl) {
  TempDir dir;
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(char('a' + i % 26));
  write_file(dir.sub("target.bin"), data);
  std::string url = "file://" + dir.sub("target.bin");
  auto fetcher = make_curl_link_fetcher();
  auto size = fetcher->size(url);
  ASSERT_TRUE(size) << size.status().to_string();
  EXPECT_EQ(*size, 100000u);
  std::string buf(1000, '\0');
  auto n = fetcher->read(url, 5000, std::span<char>(buf.data(), buf.size()));
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(*n, 1000u);
  EXPECT_EQ(buf, data.substr(5000, 1000));
  auto tail = fetcher->read(url, 99990, std::span<char>(buf.data(), buf.size()));
  ASSERT_TRUE(tail);
  EXPECT_EQ(*tail, 10u);
  EXPECT_EQ(buf.substr(0, 10), data.substr(99990));
  EXPECT_FALSE(fetcher->size("file://" + dir.sub("missing")));
  EXPECT_FALSE(fetcher->read("file://" + dir.sub("missing"), 0, std::span<char>(buf.data(), 10)));
  // Only http, https and file: nothing else is fetched.
  EXPECT_FALSE(fetcher->size("gopher://localhost/x"));
}
