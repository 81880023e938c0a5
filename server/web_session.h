// The web pages' session (server/web_ui.cpp): the cookie holds one of dlfsd's tokens (the API's
// JWTs, checked the same way); every form that changes something carries a CSRF token derived
// from that cookie with the server's secret, checked before anything changes.
#pragma once

#include <string>
#include <string_view>

namespace dlfs {

inline constexpr std::string_view kSessionCookie = "dlfs_session";

// The value of cookie `name` in a Cookie header ("a=1; b=2"); "" when absent.
std::string cookie_value(std::string_view header, std::string_view name);
// hex(HMAC-SHA256(secret, "dlfs-csrf\n" + session)): the same for every page of one session.
std::string csrf_token(std::string_view secret, std::string_view session);
// Whether `token` is csrf_token(secret, session), compared in constant time; never for an empty
// session or token.
bool csrf_valid(std::string_view secret, std::string_view session, std::string_view token);

}  // namespace dlfs
