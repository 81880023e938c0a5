// Google service-account credentials (platform/gcs_oauth.h): key files, RS256 assertions, and
// access tokens from an in-test token endpoint that checks each assertion as Google's does (the
// signature by the public key it knows, the header, the claims).
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "core/base64.h"
#include "core/clock.h"
#include "support/gcs_token_endpoint.h"
#include "platform/gcs_oauth.h"

namespace dlfs {
namespace {

using test::PKey;
using test::TestServer;
using test::TokenEndpoint;
using test::key_file_json;
using test::pem_of;
using test::public_key_of;
using test::rs256_verifies;
const std::string& kEmail = test::kGcsTestEmail;
const std::string& kKid = test::kGcsTestKid;

// RSA keys are slow to make (more so under the sanitizers): two, made once.
class GcsOauth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_a = new PKey(EVP_RSA_gen(2048), EVP_PKEY_free);
    key_b = new PKey(EVP_RSA_gen(2048), EVP_PKEY_free);
    ASSERT_TRUE(key_a->get() && key_b->get());
  }
  static void TearDownTestSuite() {
    delete key_a;
    delete key_b;
  }
  static inline PKey* key_a = nullptr;
  static inline PKey* key_b = nullptr;

  static GcsServiceAccount account_for(EVP_PKEY* key, const std::string& token_uri) {
    auto account = parse_gcs_service_account(key_file_json(key, token_uri));
    EXPECT_TRUE(account) << account.status().to_string();
    return account ? std::move(account).value() : GcsServiceAccount{};
  }
};

GcsTokenOptions fast_options(const Clock& clock) {
  GcsTokenOptions o;
  o.connect_timeout_ms = 1000;
  o.timeout_ms = 5000;
  o.max_attempts = 1;
  o.clock = &clock;
  return o;
}

int64_t real_now_ms() { return SystemClock::instance().now_ms(); }

TEST_F(GcsOauth, KeyFileParses) {
  auto account = parse_gcs_service_account(key_file_json(key_a->get(), "https://oauth2.googleapis.com/token"));
  ASSERT_TRUE(account) << account.status().to_string();
  EXPECT_EQ(account->client_email, kEmail);
  EXPECT_EQ(account->private_key_id, kKid);
  EXPECT_EQ(account->project_id, "proj-1");
  EXPECT_EQ(account->token_uri, "https://oauth2.googleapis.com/token");
  ASSERT_TRUE(account->private_key);
  EXPECT_EQ(EVP_PKEY_eq(account->private_key.get(), key_a->get()), 1);

  // Without token_uri: Google's. A PKCS#1 key, and one whose line ends came as "\n" text, parse too.
  json doc = key_file_json(key_a->get(), "");
  doc.erase("token_uri");
  doc["private_key"] = pem_of(key_a->get(), false, true);
  auto pkcs1 = parse_gcs_service_account(doc);
  ASSERT_TRUE(pkcs1) << pkcs1.status().to_string();
  EXPECT_EQ(pkcs1->token_uri, kGcsDefaultTokenUri);
  std::string flat = pem_of(key_a->get());
  for (size_t at = 0; (at = flat.find('\n', at)) != std::string::npos;) flat.replace(at, 1, "\\n");
  doc["private_key"] = flat;
  EXPECT_TRUE(parse_gcs_service_account(doc));
}

TEST_F(GcsOauth, KeyFileErrorsNameTheField) {
  const json good = key_file_json(key_a->get(), "https://oauth2.googleapis.com/token");
  auto refused = [](const json& doc, const std::string& needle) {
    auto r = parse_gcs_service_account(doc);
    ASSERT_FALSE(r) << needle;
    EXPECT_EQ(r.err(), EINVAL) << needle;
    EXPECT_NE(r.status().to_string().find(needle), std::string::npos) << r.status().to_string();
    // Nothing of a key: no PEM armour, no base64 of one.
    for (const char* key_text : {"-----", "bm90IGEga2V5", "MII"})
      EXPECT_EQ(r.status().to_string().find(key_text), std::string::npos) << r.status().to_string();
    EXPECT_EQ(ERR_peek_error(), 0ul) << "OpenSSL errors left in the thread's queue";
  };
  refused(json::array(), "JSON object");
  json doc = good;
  doc.erase("client_email");
  refused(doc, "client_email");
  doc = good;
  doc["client_email"] = 42;
  refused(doc, "client_email");
  doc = good;
  doc["type"] = "authorized_user";
  refused(doc, "service_account");
  doc.erase("type");
  refused(doc, "type");
  doc = good;
  doc.erase("private_key");
  refused(doc, "private_key");
  doc["private_key"] = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
  refused(doc, "private_key");
  doc["private_key"] = "garbage";
  refused(doc, "private_key");
  // Encrypted: refused at once (OpenSSL's default would ask for a passphrase on the terminal).
  doc["private_key"] = pem_of(key_a->get(), false, false, "secret passphrase");
  refused(doc, "private_key");
  PKey ec(EVP_EC_gen("P-256"), EVP_PKEY_free);
  doc["private_key"] = pem_of(ec.get());
  refused(doc, "RSA");
  doc = good;
  doc["token_uri"] = "http://oauth2.example.com/token";
  refused(doc, "token_uri");
}

TEST_F(GcsOauth, Rs256SignatureVerifiesWithThePublicKey) {
  GcsServiceAccount account = account_for(key_a->get(), "https://oauth2.googleapis.com/token");
  auto sig = gcs_rs256_sign(account, "GOOG4-RSA-SHA256\n20240101T000000Z\n...");
  ASSERT_TRUE(sig) << sig.status().to_string();
  EXPECT_EQ(sig->size(), 256u);
  PKey pub = public_key_of(key_a->get());
  EXPECT_TRUE(rs256_verifies(pub.get(), "GOOG4-RSA-SHA256\n20240101T000000Z\n...", *sig));
  EXPECT_FALSE(rs256_verifies(pub.get(), "GOOG4-RSA-SHA256\n20240101T000000Z\n..!", *sig));
  PKey other = public_key_of(key_b->get());
  EXPECT_FALSE(rs256_verifies(other.get(), "GOOG4-RSA-SHA256\n20240101T000000Z\n...", *sig));
  auto again = gcs_rs256_sign(account, "GOOG4-RSA-SHA256\n20240101T000000Z\n...");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *sig);  // PKCS#1 v1.5 is deterministic
}

TEST_F(GcsOauth, AssertionHasGooglesHeaderAndClaims) {
  GcsServiceAccount account = account_for(key_a->get(), "https://oauth2.googleapis.com/token");
  auto jwt = gcs_jwt_assertion(account, "https://www.googleapis.com/auth/devstorage.read_only", 1'700'000'000);
  ASSERT_TRUE(jwt) << jwt.status().to_string();
  size_t d1 = jwt->find('.'), d2 = jwt->rfind('.');
  ASSERT_NE(d1, d2);
  EXPECT_EQ(jwt->find_first_of("+/= "), std::string::npos);
  json h = json::parse(*base64url_decode(jwt->substr(0, d1)));
  json c = json::parse(*base64url_decode(jwt->substr(d1 + 1, d2 - d1 - 1)));
  EXPECT_EQ(h, (json{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kKid}}));
  EXPECT_EQ(c, (json{{"iss", kEmail},
                     {"scope", "https://www.googleapis.com/auth/devstorage.read_only"},
                     {"aud", "https://oauth2.googleapis.com/token"},
                     {"iat", 1'700'000'000},
                     {"exp", 1'700'003'600}}));
  PKey pub = public_key_of(key_a->get());
  EXPECT_TRUE(rs256_verifies(pub.get(), jwt->substr(0, d2), *base64url_decode(jwt->substr(d2 + 1))));
}

TEST_F(GcsOauth, TokenIsFetchedOnceAndCached) {
  TokenEndpoint endpoint(key_a->get(), SystemClock::instance());
  auto source = GcsTokenSource::make(account_for(key_a->get(), endpoint.url()), fast_options(SystemClock::instance()));
  ASSERT_TRUE(source) << source.status().to_string();
  auto t1 = (*source)->token();
  ASSERT_TRUE(t1) << t1.status().to_string();
  EXPECT_EQ(*t1, "ya29.token-1");
  auto t2 = (*source)->token();
  ASSERT_TRUE(t2);
  EXPECT_EQ(*t2, "ya29.token-1");
  EXPECT_EQ(endpoint.requests, 1);
  EXPECT_EQ(endpoint.problems(), std::vector<std::string>{});
}

TEST_F(GcsOauth, TokenIsRefreshedFiveMinutesBeforeItExpires) {
  FakeClock clock(real_now_ms());
  TokenEndpoint endpoint(key_a->get(), clock);
  auto source = *GcsTokenSource::make(account_for(key_a->get(), endpoint.url()), fast_options(clock));
  EXPECT_EQ(source->token().value(), "ya29.token-1");
  clock.advance_ms((3599 - 300) * 1000 - 1);
  EXPECT_EQ(source->token().value(), "ya29.token-1");
  EXPECT_EQ(endpoint.requests, 1);
  clock.advance_ms(1);
  EXPECT_EQ(source->token().value(), "ya29.token-2");  // its assertion issued at the clock's time
  EXPECT_EQ(endpoint.requests, 2);

  // A token that lives less than twice the margin is refreshed at half its life.
  endpoint.expires_in = 10;
  clock.advance_ms(3600 * 1000);
  EXPECT_EQ(source->token().value(), "ya29.token-3");
  clock.advance_ms(4999);
  EXPECT_EQ(source->token().value(), "ya29.token-3");
  clock.advance_ms(1);
  EXPECT_EQ(source->token().value(), "ya29.token-4");
  EXPECT_EQ(endpoint.problems(), std::vector<std::string>{});
}

TEST_F(GcsOauth, InvalidateForcesARefresh) {
  TokenEndpoint endpoint(key_a->get(), SystemClock::instance());
  auto source = *GcsTokenSource::make(account_for(key_a->get(), endpoint.url()), fast_options(SystemClock::instance()));
  EXPECT_EQ(source->token().value(), "ya29.token-1");
  source->invalidate("ya29.an-older-token");  // refused earlier: the current one stays
  EXPECT_EQ(source->token().value(), "ya29.token-1");
  EXPECT_EQ(endpoint.requests, 1);
  source->invalidate("ya29.token-1");
  EXPECT_EQ(source->token().value(), "ya29.token-2");
  source->invalidate();
  EXPECT_EQ(source->token().value(), "ya29.token-3");
  EXPECT_EQ(endpoint.requests, 3);
}

TEST_F(GcsOauth, ConcurrentCallersShareOneFetch) {
  TokenEndpoint endpoint(key_a->get(), SystemClock::instance());
  endpoint.delay_ms = 300;  // so that all 8 ask while the fetch is under way
  auto source = *GcsTokenSource::make(account_for(key_a->get(), endpoint.url()), fast_options(SystemClock::instance()));
  std::latch start(8);
  std::vector<std::string> got(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto t = source->token();
      got[i] = t ? *t : t.status().to_string();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, "ya29.token-1");
  EXPECT_EQ(endpoint.requests, 1);
  EXPECT_EQ(endpoint.problems(), std::vector<std::string>{});
}

TEST_F(GcsOauth, ConcurrentCallersShareOneFailure) {
  TokenEndpoint endpoint(key_a->get(), SystemClock::instance());
  endpoint.delay_ms = 500;
  endpoint.fail_with = 403;
  auto source = *GcsTokenSource::make(account_for(key_a->get(), endpoint.url()), fast_options(SystemClock::instance()));
  std::latch start(8);
  std::vector<int> errs(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      errs[i] = source->token().err();
    });
  }
  for (auto& t : threads) t.join();
  for (int e : errs) EXPECT_EQ(e, EACCES);
  // Callers that came during the fetch took its outcome; one that came after it ended tried again.
  EXPECT_LE(endpoint.requests, 2);
}

TEST_F(GcsOauth, KeyTheEndpointDoesNotKnowIsEaccesWithItsReason) {
  TokenEndpoint endpoint(key_a->get(), SystemClock::instance());
  auto options = fast_options(SystemClock::instance());
  options.max_attempts = 3;
  auto source = *GcsTokenSource::make(account_for(key_b->get(), endpoint.url()), options);
  auto t = source->token();
  ASSERT_FALSE(t);
  EXPECT_EQ(t.err(), EACCES);
  std::string text = t.status().to_string();
  EXPECT_NE(text.find("invalid_grant: Invalid JWT Signature."), std::string::npos) << text;
  EXPECT_NE(text.find(kEmail), std::string::npos) << text;
  std::string assertion = endpoint.last_assertion();
  ASSERT_FALSE(assertion.empty());
  EXPECT_EQ(text.find(assertion.substr(assertion.rfind('.') + 1, 40)), std::string::npos) << text;
  EXPECT_EQ(text.find(assertion.substr(0, 40)), std::string::npos) << text;
  EXPECT_EQ(text.find("-----"), std::string::npos) << text;
  EXPECT_EQ(endpoint.requests, 1);  // a refusal is not tried again

  // An endpoint that quotes the assertion back: not in our message either.
  TokenEndpoint echoing(key_a->get(), SystemClock::instance());
  echoing.echo_assertion = true;
  auto source2 = *GcsTokenSource::make(account_for(key_a->get(), echoing.url()), fast_options(SystemClock::instance()));
  auto t2 = source2->token();
  ASSERT_FALSE(t2);
  EXPECT_EQ(t2.err(), EACCES);
  std::string text2 = t2.status().to_string();
  EXPECT_NE(text2.find("unauthorized_client: assertion <assertion> refused"), std::string::npos) << text2;
  EXPECT_EQ(text2.find(echoing.last_assertion()), std::string::npos) << text2;
}

TEST_F(GcsOauth, TokenInHandServesWhileARefreshFails) {
  FakeClock clock(real_now_ms());
  TokenEndpoint endpoint(key_a->get(), clock);
  auto source = *GcsTokenSource::make(account_for(key_a->get(), endpoint.url()), fast_options(clock));
  EXPECT_EQ(source->token().value(), "ya29.token-1");
  endpoint.fail_with = 400;
  clock.advance_ms((3599 - 300) * 1000);
  EXPECT_EQ(source->token().value(), "ya29.token-1");
  EXPECT_EQ(endpoint.requests, 2);
  EXPECT_EQ(source->token().value(), "ya29.token-1");  // not tried again at once
  EXPECT_EQ(endpoint.requests, 2);
  clock.advance_ms(15 * 1000);
  EXPECT_EQ(source->token().value(), "ya29.token-1");
  EXPECT_EQ(endpoint.requests, 3);
  clock.advance_ms(300 * 1000);  // past its expiry (less a minute): the failure shows
  EXPECT_EQ(source->token().err(), EACCES);
  endpoint.fail_with = 0;
  EXPECT_EQ(source->token().value(), "ya29.token-5");
}

TEST_F(GcsOauth, UnreachableEndpointFailsInBoundedTime) {
  std::string closed_url;
  {
    TestServer gone;
    gone.start();
    closed_url = gone.origin() + "/token";
  }  // stopped: its port refuses connections
  auto options = fast_options(SystemClock::instance());
  options.max_attempts = 2;
  auto t0 = std::chrono::steady_clock::now();
  auto source = *GcsTokenSource::make(account_for(key_a->get(), closed_url), options);
  auto t = source->token();
  ASSERT_FALSE(t);
  EXPECT_NE(t.status().to_string().find(kEmail), std::string::npos) << t.status().to_string();

  // An endpoint that accepts and never answers: the per-try bound ends it.
  TokenEndpoint stalled(key_a->get(), SystemClock::instance());
  stalled.stall_ms = 20000;
  options.timeout_ms = 300;
  auto source2 = *GcsTokenSource::make(account_for(key_a->get(), stalled.url()), options);
  auto t2 = source2->token();
  ASSERT_FALSE(t2);
  EXPECT_EQ(t2.err(), ETIMEDOUT) << t2.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

}  // namespace
}  // namespace dlfs
