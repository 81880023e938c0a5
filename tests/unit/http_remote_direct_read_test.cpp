// Reads of items in a storage driver's bucket through HttpRemote: dlfsd answers /stream with a
// 302 to a presigned URL and the bytes come from the bucket (an in-test server), with the reader's
// Range and If-Match and without the API token; a bucket this machine cannot reach is read
// through the server (?redirect=false) from then on; one that refuses the URL, that once.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "remote/connect.h"
#include "remote/http_remote.h"
#include "http_test_server.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

const std::string kItem = "65f0c0ffee00000000000001";

// `data`, ranged by httplib itself (206 with Content-Range for a Range); 416 past the end.
void answer_range(const httplib::Request& req, httplib::Response& res, const std::string& data) {
  if (!req.ranges.empty() && req.ranges[0].first >= ssize_t(data.size())) {
    res.status = 416;
    return;
  }
  res.set_content(data, "application/octet-stream");
}

class DirectRead : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 5000; ++i) data_ += char('a' + i % 23);
    bucket_.svr().Get("/obj/x.bin", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      ++bucket_gets_;
      if (req.has_header("Authorization")) token_leaked_ = true;
      if_match_ = req.get_header_value("If-Match");
      if (bucket_answer_ != 0) {
        res.status = bucket_answer_;
        return;
      }
      answer_range(req, res, data_);
    });
    bucket_.start();
    serve_dataset(api_);
    api_.svr().Get("/api/v1/items/" + kItem + "/stream", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      if (req.get_param_value("redirect") == "false") {
        ++through_server_;
        return answer_range(req, res, data_);
      }
      ++redirects_;
      res.status = 302;
      if (max_age_ > 0) res.set_header("Cache-Control", "private, max-age=" + std::to_string(max_age_));
      res.set_header("Location", location_.empty() ? bucket_.origin() + "/obj/x.bin?X-Amz-Signature=abc" : location_);
    });
    api_.start();
  }
  std::unique_ptr<Remote> remote(bool direct_reads = true) {
    HttpOptions o = fast_options(api_.base(), 2);
    o.direct_reads = direct_reads;
    HttpConnection conn(o);
    auto r = conn.open(kDatasetId);
    EXPECT_TRUE(r) << r.status().to_string();
    return r ? std::move(r).value() : nullptr;
  }
  Result<std::string> read(Remote& r, uint64_t offset, size_t len) {
    Item item = make_item(kItem, "/x.bin", data_.size());
    item.system()["etag"] = "v1";
    std::string buf(len, '?');
    DLFS_ASSIGN(size_t n, r.read(item, offset, std::span<char>(buf)));
    buf.resize(n);
    return buf;
  }

  std::mutex mu_;
  std::string data_;
  int bucket_gets_ = 0, redirects_ = 0, through_server_ = 0;
  int bucket_answer_ = 0;  // an error code the bucket answers instead of bytes
  bool token_leaked_ = false;
  std::string if_match_;
  std::string location_;  // where the API redirects ("": the bucket)
  int max_age_ = 0;       // the redirect's Cache-Control max-age (0: none)
  TestServer bucket_, api_;
};

}  // namespace

TEST_F(DirectRead, TheBytesComeFromTheBucketWithTheRangeAndVersionButNotTheToken) {
  auto r = remote();
  ASSERT_TRUE(r);
  auto got = read(*r, 1000, 300);
  ASSERT_TRUE(got) << got.status().to_string();
  EXPECT_EQ(*got, data_.substr(1000, 300));
  std::lock_guard lock(mu_);
  EXPECT_EQ(redirects_, 1);
  EXPECT_EQ(bucket_gets_, 1);
  EXPECT_EQ(through_server_, 0);
  EXPECT_FALSE(token_leaked_);
  EXPECT_EQ(if_match_, "\"v1\"");
}

TEST_F(DirectRead, ABucketOutOfReachIsReadThroughTheServerFromThenOn) {
  location_ = "http://127.0.0.1:1/obj/x.bin?X-Amz-Signature=abc";  // nothing listens there
  auto r = remote();
  ASSERT_TRUE(r);
  for (uint64_t offset : {0, 4000}) {
    auto got = read(*r, offset, 500);
    ASSERT_TRUE(got) << got.status().to_string();
    EXPECT_EQ(*got, data_.substr(offset, 500));
  }
  std::lock_guard lock(mu_);
  EXPECT_EQ(redirects_, 1);  // the second read asks the server for the bytes at once
  EXPECT_EQ(through_server_, 2);
}

TEST_F(DirectRead, ABucketThatRefusesTheUrlIsReadThroughTheServerThatOnce) {
  bucket_answer_ = 403;  // an expired URL, a clock far off
  auto r = remote();
  ASSERT_TRUE(r);
  for (int i = 0; i < 2; ++i) {
    auto got = read(*r, 10, 20);
    ASSERT_TRUE(got) << got.status().to_string();
    EXPECT_EQ(*got, data_.substr(10, 20));
  }
  std::lock_guard lock(mu_);
  EXPECT_EQ(redirects_, 2);
  EXPECT_EQ(through_server_, 2);
}

TEST_F(DirectRead, AnObjectChangedInTheBucketIsEstaleAndTheEndIsZeroBytes) {
  auto r = remote();
  ASSERT_TRUE(r);
  auto end = read(*r, data_.size(), 10);
  ASSERT_TRUE(end) << end.status().to_string();
  EXPECT_EQ(*end, "");
  bucket_answer_ = 412;
  EXPECT_EQ(read(*r, 0, 10).err(), ESTALE);
}

TEST_F(DirectRead, ThroughServerAsksForTheBytesAtOnce) {
  auto r = remote(/*direct_reads=*/false);
  ASSERT_TRUE(r);
  auto got = read(*r, 0, 100);
  ASSERT_TRUE(got) << got.status().to_string();
  EXPECT_EQ(*got, data_.substr(0, 100));
  std::lock_guard lock(mu_);
  EXPECT_EQ(redirects_, 0);
  EXPECT_EQ(bucket_gets_, 0);
}

TEST_F(DirectRead, AUrlDlfsdSaysMayBeReusedGoesStraightToTheBucketUntilTheBucketRefusesIt) {
  max_age_ = 600;
  auto r = remote();
  ASSERT_TRUE(r);
  for (uint64_t offset : {0, 1000, 2000}) {
    auto got = read(*r, offset, 100);
    ASSERT_TRUE(got) << got.status().to_string();
    EXPECT_EQ(*got, data_.substr(offset, 100));
  }
  {
    std::lock_guard lock(mu_);
    EXPECT_EQ(redirects_, 1);  // one question to dlfsd for three reads
    EXPECT_EQ(bucket_gets_, 3);
    bucket_answer_ = 403;  // the URL expired early
  }
  auto got = read(*r, 3000, 100);
  ASSERT_TRUE(got) << got.status().to_string();
  EXPECT_EQ(*got, data_.substr(3000, 100));
  std::lock_guard lock(mu_);
  EXPECT_EQ(redirects_, 2);  // asked again, then through the server that once
  EXPECT_EQ(through_server_, 1);
}
