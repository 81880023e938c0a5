// Google Cloud Storage drivers (platform/driver.cpp, type "gcs"): the XML API spoken by the S3
// store, tested on s3rver — with an HMAC key (SigV4, GCS's interoperability mode), and with a
// service account whose tokens come from an in-test OAuth endpoint that checks each assertion's
// signature (tests/support/gcs_token_endpoint.h) and are the only ones s3rver takes
// (tests/emulators/s3rver-fixes.js answers any other Bearer token 401, as GCS does).
#include <gtest/gtest.h>

#include "platform/driver.h"
#include "platform/platform.h"
#include "platform/sigv4_presign.h"
#include "support/gcs_token_endpoint.h"
#include "support/object_store_contract.h"
#include "support/s3_emulator.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

class GcsDriver : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { key_ = new PKey(EVP_RSA_gen(2048), EVP_PKEY_free); }
  static void TearDownTestSuite() {
    delete key_;
    key_ = nullptr;
  }

  json hmac_driver(const S3Emulator& s3) {
    return {{"name", "gcs-hmac"}, {"type", "gcs"}, {"bucketName", kS3Bucket}, {"path", "hmac"},
            {"endpoint", s3.endpoint()}, {"credentials", {{"key", kS3Login}, {"secret", kS3Login}}}};
  }
  json account_driver(const S3Emulator& s3, const std::string& token_uri, bool as_text = false) {
    json key_file = key_file_json(key_->get(), token_uri);
    return {{"name", "gcs-sa"}, {"type", "gcs"}, {"bucketName", kS3Bucket}, {"path", "sa"},
            {"endpoint", s3.endpoint()},
            {"credentials", {{"serviceAccount", as_text ? json(key_file.dump()) : key_file}}}};
  }
  std::unique_ptr<ObjectStore> open(const json& body) {
    auto d = driver_from_request(body);
    EXPECT_TRUE(d) << d.status().to_string();
    if (!d) return nullptr;
    auto store = open_driver_store(*d);
    EXPECT_TRUE(store) << store.status().to_string();
    return store ? std::move(*store) : nullptr;
  }

  static inline PKey* key_ = nullptr;
  TempDir tmp_;
};

}  // namespace

TEST_F(GcsDriver, AnHmacKeySpeaksTheXmlApiAsS3Does) {
  S3Emulator s3;
  ASSERT_EQ(s3.start(), "");
  auto store = open(hmac_driver(s3));
  ASSERT_TRUE(store);
  check_object_store_basics(*store, tmp_.path(), 100'000);
  check_object_store_copy(*store);
  // HMAC keys sign URLs too (X-Amz-*, region "auto").
  ASSERT_TRUE(store->put_bytes("pre/x", "signed"));
  auto url = store->presigned_read_url("pre/x", 60);
  ASSERT_TRUE(url) << url.status().to_string();
  EXPECT_NE(url->find("%2Fauto%2Fs3%2Faws4_request"), std::string::npos) << *url;
}

TEST_F(GcsDriver, AServiceAccountsTokenIsFetchedOnceAndSentAsBearer) {
  TokenEndpoint tokens(key_->get(), SystemClock::instance());
  S3Emulator s3;
  ASSERT_EQ(s3.start({"ya29.token-1"}), "");
  auto store = open(account_driver(s3, tokens.url()));
  ASSERT_TRUE(store);
  check_object_store_basics(*store, tmp_.path(), 100'000);
  check_object_store_listing(*store, 12);
  EXPECT_EQ(tokens.requests.load(), 1);
  EXPECT_TRUE(tokens.problems().empty()) << tokens.problems().front();
  // Read URLs are signed by the account (GOOG4-RSA-SHA256): the signature verifies with its
  // public key over the V4 string to sign.
  auto url = store->presigned_read_url("sa/a b.txt", 60);
  ASSERT_TRUE(url) << url.status().to_string();
  std::string prefix = s3.endpoint() + "/" + kS3Bucket + "/sa/a%20b.txt?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=";
  ASSERT_EQ(url->rfind(prefix, 0), 0u) << *url;
  auto param = [&](const std::string& name) {
    size_t at = url->find(name + "=") + name.size() + 1;
    return url->substr(at, url->find('&', at) - at);
  };
  EXPECT_NE(param("X-Goog-Credential").find("%2Fauto%2Fstorage%2Fgoog4_request"), std::string::npos) << *url;
  SigV4Presign signed_as;
  signed_as.host = s3.endpoint().substr(7);
  signed_as.canonical_uri = "/" + kS3Bucket + "/sa/a%20b.txt";
  signed_as.region = "auto";
  signed_as.service = "storage";
  signed_as.access_key = kGcsTestEmail;
  struct tm tm {};
  ASSERT_TRUE(strptime(param("X-Goog-Date").c_str(), "%Y%m%dT%H%M%SZ", &tm));
  signed_as.now_s = timegm(&tm);
  signed_as.expires_s = 60;
  signed_as.rsa_sign = [](std::string_view) -> Result<std::string> { return std::string(); };  // (GOOG4's form)
  std::string hex = param("X-Goog-Signature"), signature;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) signature += char(std::stoi(hex.substr(i, 2), nullptr, 16));
  PKey pub = public_key_of(key_->get());
  EXPECT_TRUE(rs256_verifies(pub.get(), sigv4_string_to_sign(signed_as), signature)) << *url;
}

TEST_F(GcsDriver, ATokenTheStoreRefusesIsReplacedOnce) {
  TokenEndpoint tokens(key_->get(), SystemClock::instance());
  S3Emulator s3;
  ASSERT_EQ(s3.start({"ya29.token-2"}), "");  // the first token the endpoint gives is refused (401)
  auto store = open(account_driver(s3, tokens.url(), /*as_text=*/true));
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put_bytes("sa/a", "alpha"));
  EXPECT_EQ(tokens.requests.load(), 2);
  auto head = store->head("sa/a");
  ASSERT_TRUE(head) << head.status().to_string();
  EXPECT_EQ(tokens.requests.load(), 2);
  // A store that takes no token the endpoint gives: EACCES, after one more token.
  S3Emulator strict;
  ASSERT_EQ(strict.start({"ya29.nothing"}), "");
  auto refused = open(account_driver(strict, tokens.url()));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->put_bytes("sa/b", "b").err(), EACCES);
}

TEST_F(GcsDriver, AKeyTheEndpointDoesNotTrustIsRefusedWhenTheDriverIsMade) {
  PKey other(EVP_RSA_gen(2048), EVP_PKEY_free);
  TokenEndpoint tokens(other.get(), SystemClock::instance());
  S3Emulator s3;
  ASSERT_EQ(s3.start({"ya29.token-1"}), "");
  TempDir dir;
  auto p = Platform::open(PlatformOptions{dir.sub("store")});
  ASSERT_TRUE(p) << p.status().to_string();
  auto refused = (*p)->create_driver(account_driver(s3, tokens.url()), "t");
  EXPECT_EQ(refused.err(), EACCES) << refused.status().to_string();
  EXPECT_NE(refused.status().to_string().find("Invalid JWT Signature"), std::string::npos)
      << refused.status().to_string();
  EXPECT_EQ(refused.status().to_string().find("PRIVATE KEY"), std::string::npos);
  // The trusted key: the permission test passes, a dataset's uploads land in the bucket.
  TokenEndpoint trusting(key_->get(), SystemClock::instance());
  auto driver = (*p)->create_driver(account_driver(s3, trusting.url()), "t");
  ASSERT_TRUE(driver) << driver.status().to_string();
  EXPECT_EQ(driver_to_json(*driver).dump().find("PRIVATE KEY"), std::string::npos);
  auto ds = (*p)->create_dataset("on-gcs", "t", driver->id);
  ASSERT_TRUE(ds) << ds.status().to_string();
  ASSERT_TRUE((*p)->upload_bytes(ds->id, "bytes in gcs", "/dir/a.txt", {}));
  auto hmac = open(hmac_driver(s3));
  ASSERT_TRUE(hmac);
  char buf[32];
  auto n = hmac->read("sa/dir/a.txt", 0, buf);
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(std::string(buf, *n), "bytes in gcs");
}

TEST_F(GcsDriver, BadCredentialsAreRefusedNamingWhatIsWrong) {
  json body = {{"name", "g"}, {"type", "gcs"}, {"bucketName", "b"}};
  EXPECT_EQ(driver_from_request(body).err(), EINVAL);
  body["credentials"] = {{"serviceAccount", "not json"}};
  auto bad = driver_from_request(body);
  EXPECT_EQ(bad.err(), EINVAL);
  EXPECT_NE(bad.status().to_string().find("serviceAccount"), std::string::npos) << bad.status().to_string();
  body["credentials"] = {{"serviceAccount", {{"type", "service_account"}, {"client_email", "a@b"}}}};
  bad = driver_from_request(body);
  EXPECT_EQ(bad.err(), EINVAL);
  EXPECT_NE(bad.status().to_string().find("private_key"), std::string::npos) << bad.status().to_string();
  body["credentials"] = {{"key", "GOOG1E"}};  // no secret
  EXPECT_EQ(driver_from_request(body).err(), EINVAL);
}
