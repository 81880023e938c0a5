// dlfsd's tokens (server/jwt.h) and settings (server/server_options.h), and the Range rules.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "server/api_context.h"
#include "server/jwt.h"
#include "server/range.h"
#include "server/server_options.h"
#include "support/temp_dir.h"

namespace dlfs {
namespace {

constexpr int64_t kNow = 1'700'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef";

TEST(Jwt, Base64urlRoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    auto back = base64url_decode(base64url_encode(bytes));
    ASSERT_TRUE(back) << i;
    EXPECT_EQ(*back, bytes);
    bytes += char(i * 37 + 250);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("a+b"));
  EXPECT_FALSE(base64url_decode("abcde"));
}

TEST(Jwt, SignedTokenVerifiesWithItsClaims) {
  std::string token = make_token(kSecret, "ann@example.com", 2, kNow);
  auto claims = jwt_verify(kSecret, token, kNow + 86400);
  ASSERT_TRUE(claims) << claims.status().to_string();
  EXPECT_EQ(claims->email, "ann@example.com");
  EXPECT_EQ(claims->exp, kNow + 2 * 86400);
}

TEST(Jwt, OtherSecretIsRefused) {
  std::string token = make_token(kSecret, "ann@example.com", 1, kNow);
  auto claims = jwt_verify("another secret another secret xx", token, kNow);
  ASSERT_FALSE(claims);
  EXPECT_EQ(claims.err(), EACCES);
  EXPECT_NE(claims.status().message().find("bad signature"), std::string::npos);
}

TEST(Jwt, ExpiredTokenIsRefused) {
  std::string token = make_token(kSecret, "ann@example.com", 1, kNow);
  EXPECT_TRUE(jwt_verify(kSecret, token, kNow + 86399));
  auto claims = jwt_verify(kSecret, token, kNow + 86400);
  ASSERT_FALSE(claims);
  EXPECT_NE(claims.status().message().find("expired"), std::string::npos);
}

TEST(Jwt, TamperedPayloadIsRefused) {
  std::string token = make_token(kSecret, "ann@example.com", 1, kNow);
  size_t d1 = token.find('.'), d2 = token.rfind('.');
  std::string forged = base64url_encode(json{{"email", "root@example.com"}, {"exp", kNow + 999999}}.dump());
  auto claims = jwt_verify(kSecret, token.substr(0, d1 + 1) + forged + token.substr(d2), kNow);
  ASSERT_FALSE(claims);
  EXPECT_EQ(claims.err(), EACCES);
}

TEST(Jwt, MalformedTokensAndOtherAlgorithmsAreRefused) {
  for (std::string bad : {"", "abc", "a.b", "a.b.c.d", "..", "!!.!!.!!"}) EXPECT_FALSE(jwt_verify(kSecret, bad, kNow)) << bad;
  // alg "none" with the claims of a good token and an empty signature.
  std::string token = make_token(kSecret, "ann@example.com", 1, kNow);
  std::string payload = token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
  EXPECT_FALSE(jwt_verify(kSecret, base64url_encode(R"({"alg":"none"})") + "." + payload + ".", kNow));
  // A header whose alg is not a string (it threw: a 500 for anyone, before any signature check).
  for (const char* header : {R"({"alg":5})", R"({"alg":["HS256"]})", R"({"alg":null})"}) {
    auto r = jwt_verify(kSecret, base64url_encode(header) + "." + payload + ".", kNow);
    ASSERT_FALSE(r) << header;
    EXPECT_EQ(r.err(), EACCES) << header;
  }
  // A signed token without an email claim.
  EXPECT_FALSE(jwt_verify(kSecret, jwt_sign(kSecret, json{{"exp", kNow + 100}}), kNow));
}

TEST(Jwt, SecretIsMadeOnceWithMode0600) {
  test::TempDir dir;
  auto first = load_or_create_secret(dir.sub("store"));
  ASSERT_TRUE(first) << first.status().to_string();
  EXPECT_GE(first->size(), 32u);
  auto again = load_or_create_secret(dir.sub("store"));
  ASSERT_TRUE(again);
  EXPECT_EQ(*first, *again);
  struct stat st{};
  ASSERT_EQ(stat(dir.sub("store/dlfsd.secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(ServerOptions, FlagsOverrideTheConfigFile) {
  test::TempDir dir;
  test::write_file(dir.sub("dlfsd.conf"), "# comment\nstore = /srv/a\nlisten = 0.0.0.0:9000\nworkers=4\nmax-upload = 2G\n");
  auto o = parse_server_args({"--config", dir.sub("dlfsd.conf"), "--workers", "8", "--preprocess-workers=3"});
  ASSERT_TRUE(o) << o.status().to_string();
  EXPECT_TRUE(o->preprocess);
  EXPECT_EQ(o->preprocess_workers, 3u);
  auto none = parse_server_args({"--store", dir.path(), "--preprocess-workers", "none"});
  ASSERT_TRUE(none) << none.status().to_string();
  EXPECT_FALSE(none->preprocess);
  EXPECT_EQ(o->store, "/srv/a");
  EXPECT_EQ(o->host, "0.0.0.0");
  EXPECT_EQ(o->port, 9000);
  EXPECT_EQ(o->workers, 8u);
  EXPECT_EQ(o->preprocess_workers, 3u);
  EXPECT_EQ(o->max_upload, 2ull << 30);
  EXPECT_FALSE(parse_server_args({"--store", "x", "--bogus", "1"}));
  EXPECT_FALSE(parse_server_args({"--store", "x", "--listen", "nohost"}));
  EXPECT_FALSE(parse_server_args({"--workers", "2"}));  // no store
}

TEST(DlfsdCommandLine, OptionsGoBeforeOrAfterTheCommand) {
  // The rule of every dlfs tool: the same line, whichever side of the command word the options are.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--store", "/s", "token", "--email", "me@x", "--days=7"},
        std::vector<std::string>{"token", "--store", "/s", "--email", "me@x", "--days", "7"},
        std::vector<std::string>{"--email=me@x", "--store=/s", "--days", "7", "token"}}) {
    auto line = parse_dlfsd_args(args);
    ASSERT_TRUE(line) << line.status().to_string() << " for " << ::testing::PrintToString(args);
    EXPECT_EQ(line->command, "token");
    EXPECT_EQ(line->options.store, "/s");
    EXPECT_EQ(line->email, "me@x");
    EXPECT_EQ(line->days, 7);
  }
  auto expired = parse_dlfsd_args({"token", "--store", "/s", "--email", "e", "--days", "-1"});
  ASSERT_TRUE(expired) << expired.status().to_string();
  EXPECT_EQ(expired->days, -1);
  // Serving: no command word; the settings as parse_server_args takes them.
  auto serve = parse_dlfsd_args({"--listen", "127.0.0.1:0", "--store", "/s"});
  ASSERT_TRUE(serve) << serve.status().to_string();
  EXPECT_EQ(serve->command, "");
  EXPECT_EQ(serve->options.port, 0);
  EXPECT_TRUE(parse_dlfsd_args({"token", "--help"})->help);
}

TEST(DlfsdCommandLine, TokenReadsTheStoreFromTheConfigFile) {
  test::TempDir dir;
  test::write_file(dir.sub("dlfsd.conf"), "store = /srv/dlfs\nlisten = 127.0.0.1:8080\n");
  auto line = parse_dlfsd_args({"--config", dir.sub("dlfsd.conf"), "token", "--email", "me@x"});
  ASSERT_TRUE(line) << line.status().to_string();
  EXPECT_EQ(line->options.store, "/srv/dlfs");
  EXPECT_EQ(line->days, 30);
}

TEST(DlfsdCommandLine, BadLinesAreClearErrors) {
  auto message = [](const std::vector<std::string>& args) {
    auto line = parse_dlfsd_args(args);
    EXPECT_FALSE(line) << ::testing::PrintToString(args);
    return line ? std::string() : line.status().message();
  };
  EXPECT_EQ(message({"--store", "/s", "frobnicate"}), "unknown command 'frobnicate'");
  EXPECT_EQ(message({"--store", "/s", "token", "extra", "--email", "e"}), "unexpected argument 'extra'");
  EXPECT_EQ(message({"token", "--store", "/s"}), "token needs --email");
  EXPECT_EQ(message({"token", "--email", "e"}), "no store given (--store DIR)");
  EXPECT_EQ(message({"token", "--store", "/s", "--email", "e", "--days", "x"}), "--days needs a number, not 'x'");
  EXPECT_EQ(message({"--store", "/s", "--email", "e"}), "unknown setting 'email'");  // serving has no --email
  EXPECT_EQ(message({"--store"}), "'--store' needs a value");
}

TEST(TokenVerifier, RemembersAcceptedTokensButNotPastTheirExpiry) {
  TokenVerifier verifier("s3cret", 4);
  std::string token = make_token("s3cret", "ann@example.com", 1, 1000);  // exp 1000 + 86400
  auto first = verifier.email_of(token, 1000);
  ASSERT_TRUE(first) << first.status().to_string();
  EXPECT_EQ(*first, "ann@example.com");
  EXPECT_EQ(verifier.remembered(), 1u);
  auto again = verifier.email_of(token, 2000);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, "ann@example.com");
  // Remembered, and expired now: refused, and forgotten.
  auto late = verifier.email_of(token, 1000 + 86400);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.err(), EACCES);
  EXPECT_EQ(verifier.remembered(), 0u);
}

TEST(TokenVerifier, AnyOtherByteIsCheckedAnew) {
  TokenVerifier verifier("s3cret", 4);
  std::string token = make_token("s3cret", "ann@example.com", 1, 1000);
  ASSERT_TRUE(verifier.email_of(token, 1000));
  std::string forged = token;
  char& c = forged[forged.size() - 10];  // within the signature (its last character holds padding bits)
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(verifier.email_of(forged, 1000).err(), EACCES);
  EXPECT_EQ(verifier.email_of(token + "x", 1000).err(), EACCES);
  EXPECT_EQ(verifier.email_of(token.substr(0, token.size() - 1), 1000).err(), EACCES);
  EXPECT_EQ(verifier.email_of(make_token("other", "eve@example.com", 1, 1000), 1000).err(), EACCES);
  EXPECT_EQ(verifier.remembered(), 1u);  // only the good one
}

TEST(TokenVerifier, StaysBounded) {
  TokenVerifier verifier("s3cret", 8);
  for (int i = 0; i < 100; ++i) {
    std::string email = "user" + std::to_string(i) + "@example.com";
    auto got = verifier.email_of(make_token("s3cret", email, 1, 1000), 1000);
    ASSERT_TRUE(got);
    ASSERT_EQ(*got, email);
    ASSERT_LE(verifier.remembered(), 8u);
  }
}

TEST(ApiCaller, AUsersIdIsTheFirst24HexDigitsOfTheSha256OfTheEmail) {
  // (stable: ids in the store were made with it; python3 -c "import hashlib;
  // print(hashlib.sha256(b'ann@example.com').hexdigest()[:24])")
  EXPECT_EQ(user_id_for("ann@example.com"), "71d4f55f72fa128dfb468a1a");
}

TEST(ByteRange, Rules) {
  auto r = resolve_range("bytes=2-5", 10);
  EXPECT_EQ(r.kind, ByteRange::kPart);
  EXPECT_EQ(r.first, 2u);
  EXPECT_EQ(r.length, 4u);
  r = resolve_range("bytes=7-", 10);
  EXPECT_EQ(r.kind, ByteRange::kPart);
  EXPECT_EQ(r.length, 3u);
  r = resolve_range("bytes=5-100", 10);
  EXPECT_EQ(r.length, 5u);
  r = resolve_range("bytes=-4", 10);
  EXPECT_EQ(r.first, 6u);
  EXPECT_EQ(resolve_range("bytes=10-", 10).kind, ByteRange::kUnsatisfiable);
  EXPECT_EQ(resolve_range("bytes=0-", 0).kind, ByteRange::kWhole);
  EXPECT_EQ(resolve_range("", 10).kind, ByteRange::kWhole);
  EXPECT_EQ(resolve_range("bytes=0-1,4-5", 10).kind, ByteRange::kWhole);
  EXPECT_EQ(resolve_range("bytes=5-2", 10).kind, ByteRange::kWhole);
}

}  // namespace
}  // namespace dlfs
