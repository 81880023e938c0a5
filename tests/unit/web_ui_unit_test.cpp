// The web browser's escaping (server/html.h) and session helpers (server/web_session.h).
#include <gtest/gtest.h>

#include "server/html.h"
#include "server/web_session.h"

namespace dlfs {
namespace {

TEST(WebHtml, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(html_escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
  EXPECT_EQ(html_escape("plain é"), "plain é");
  EXPECT_EQ(html_escape(""), "");
}

TEST(WebHtml, UrlEncodesAllButUnreserved) {
  EXPECT_EQ(url_encode("/a b/c&d=e?#"), "%2Fa%20b%2Fc%26d%3De%3F%23");
  EXPECT_EQ(url_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(url_encode("\"<é>"), "%22%3C%C3%A9%3E");
}

TEST(WebSession, CookieValue) {
  EXPECT_EQ(cookie_value("a=1; dlfs_session=tok.en.x; b=2", "dlfs_session"), "tok.en.x");
  EXPECT_EQ(cookie_value("dlfs_session=v", "dlfs_session"), "v");
  EXPECT_EQ(cookie_value("xdlfs_session=v; dlfs_sessionx=w", "dlfs_session"), "");
  EXPECT_EQ(cookie_value("", "dlfs_session"), "");
  EXPECT_EQ(cookie_value("a", "a"), "");
}

TEST(WebSession, CsrfTokenIsBoundToSessionAndSecret) {
  std::string t = csrf_token("secret", "session-1");
  EXPECT_EQ(t.size(), 64u);
  EXPECT_EQ(t, csrf_token("secret", "session-1"));
  EXPECT_NE(t, csrf_token("secret", "session-2"));
  EXPECT_NE(t, csrf_token("other", "session-1"));
  EXPECT_TRUE(csrf_valid("secret", "session-1", t));
  EXPECT_FALSE(csrf_valid("secret", "session-2", t));
  EXPECT_FALSE(csrf_valid("secret", "session-1", t.substr(1)));
  EXPECT_FALSE(csrf_valid("secret", "session-1", ""));
  EXPECT_FALSE(csrf_valid("secret", "", csrf_token("secret", "")));
}

}  // namespace
}  // namespace dlfs
