// Presigned read URLs (ObjectStore::presigned_read_url): fetched by a client that holds no
// credential — whole, in ranges, with If-Match — on s3rver and on Azurite (which checks a SAS's
// signature, expiry and scope: a forged, expired or re-aimed URL is refused).
#include <gtest/gtest.h>

#include "net/http_client.h"
#include "platform/object_store_azure.h"
#include "platform/object_store_s3.h"
#include "support/azurite.h"
#include "support/s3_emulator.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

// GET `url` with nothing but the URL (no token, no signer): the code, and the body.
std::pair<long, std::string> fetch(const std::string& url, std::vector<std::string> headers = {},
                                   std::optional<std::pair<uint64_t, size_t>> range = std::nullopt) {
  HttpOptions o;
  o.max_attempts = 1;
  HttpClient http(o);
  HttpRequest req;
  req.path = url;
  req.headers = std::move(headers);
  req.accept_codes = {400, 403, 404, 412};
  std::string buf;
  if (range) {
    buf.resize(range->second);
    req.sink = std::span<char>(buf.data(), buf.size());
    req.ranged = true;
    req.range_offset = range->first;
  }
  auto r = http.send(req);
  EXPECT_TRUE(r) << r.status().to_string();
  if (!r) return {0, ""};
  if (range) buf.resize(r->received);
  return {r->code, range ? buf : r->body};
}

std::string with_param(std::string url, const std::string& param, const std::string& value) {
  size_t at = url.find(param + "=");
  size_t end = url.find('&', at);
  return url.replace(at, (end == std::string::npos ? url.size() : end) - at, param + "=" + value);
}

}  // namespace

TEST(PresignedRead, S3UrlReadsTheObjectWithoutCredentials) {
  S3Emulator s3;
  ASSERT_EQ(s3.start(), "");
  auto store = open_s3_store(s3.config());
  ASSERT_TRUE(store);
  std::string bytes = random_bytes(100'000, 5);
  auto put = (*store)->put_bytes("pre/a b+c.bin", bytes);
  ASSERT_TRUE(put);
  auto url = (*store)->presigned_read_url("pre/a b+c.bin", 600);
  ASSERT_TRUE(url) << url.status().to_string();
  EXPECT_EQ(url->rfind(s3.endpoint() + "/" + kS3Bucket + "/pre/a%20b%2Bc.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256", 0), 0u)
      << *url;
  EXPECT_NE(url->find("X-Amz-Expires=600&"), std::string::npos) << *url;
  EXPECT_EQ(url->find(kS3Login + "%2F") != std::string::npos && url->find("SECRET") == std::string::npos, true);
  auto whole = fetch(*url);
  EXPECT_EQ(whole.first, 200);
  EXPECT_TRUE(whole.second == bytes);
  auto part = fetch(*url, {}, std::pair<uint64_t, size_t>{4096, 1000});
  EXPECT_EQ(part.first, 206);
  EXPECT_TRUE(part.second == bytes.substr(4096, 1000));
  // An expired URL is refused (s3rver checks the time, not the signature: the signature is
  // checked against AWS's published example in sigv4_presign_test).
  auto expired = (*store)->presigned_read_url("pre/a b+c.bin", -3600);
  ASSERT_TRUE(expired);
  EXPECT_EQ(fetch(*expired).first, 403);
  EXPECT_EQ((*store)->presigned_read_url("../x", 60).err(), EINVAL);
}

TEST(PresignedRead, AzureSasReadsOneBlobUntilItExpires) {
  Azurite azurite;
  ASSERT_TRUE(azurite.ok()) << azurite.error();
  auto store = open_azure_store(azurite.config());
  ASSERT_TRUE(store);
  std::string bytes = random_bytes(70'000, 6);
  auto put = (*store)->put_bytes("pre/é x.bin", bytes);
  ASSERT_TRUE(put);
  ASSERT_TRUE((*store)->put_bytes("pre/other.bin", "other"));
  auto url = (*store)->presigned_read_url("pre/é x.bin", 600);
  ASSERT_TRUE(url) << url.status().to_string();
  EXPECT_EQ(url->find(kAzureKey), std::string::npos);
  auto whole = fetch(*url);
  EXPECT_EQ(whole.first, 200) << whole.second;
  EXPECT_TRUE(whole.second == bytes);
  auto part = fetch(*url, {}, std::pair<uint64_t, size_t>{1000, 5000});
  EXPECT_EQ(part.first, 206);
  EXPECT_TRUE(part.second == bytes.substr(1000, 5000));
  // The version read is the one asked for: another ETag is 412.
  EXPECT_EQ(fetch(*url, {"If-Match: \"" + put->etag + "\""}).first, 200);
  EXPECT_EQ(fetch(*url, {"If-Match: \"0x8DEADBEEF\""}).first, 412);
  // Only this blob, only until it expires, only as signed.
  std::string other = *url;
  other.replace(other.find("/pre/"), other.find('?') - other.find("/pre/"), "/pre/other.bin");
  EXPECT_EQ(fetch(other).first, 403);
  auto expired = (*store)->presigned_read_url("pre/é x.bin", -60);
  ASSERT_TRUE(expired);
  EXPECT_EQ(fetch(*expired).first, 403);
  EXPECT_EQ(fetch(with_param(*url, "sp", "rw")).first, 403);
  // A store reached with a SAS token does not hand its token out.
  AzureStoreConfig c = azurite.config();
  c.key.clear();
  c.sas = azurite_account_sas("rl");
  auto sas_store = open_azure_store(c);
  ASSERT_TRUE(sas_store);
  EXPECT_EQ((*sas_store)->presigned_read_url("pre/other.bin", 60).err(), ENOTSUP);
}
