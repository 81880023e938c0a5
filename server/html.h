// Escaping for dlfsd's web pages (server/web_ui.cpp): every string a user controls (names,
// paths, metadata, error messages) goes through html_escape in text and attributes, and through
// url_encode in the query strings of links.
#pragma once

#include <string>
#include <string_view>

namespace dlfs {

// & < > " ' as entities: safe in element text and in quoted attribute values.
std::string html_escape(std::string_view text);
// Percent-encodes every byte but A-Z a-z 0-9 - . _ ~ (a query parameter's value, a path part).
std::string url_encode(std::string_view text);

}  // namespace dlfs
