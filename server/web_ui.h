// dlfsd's web dataset browser under /ui (README "Web browser"): server-rendered HTML and one
// script of dlfsd's own (server/web/dlfs.js: parallel resumable uploads, CSV import, sync), nothing
// from outside the machine. A session is a cookie holding one of dlfsd's tokens
// (HttpOnly, SameSite=Strict); every POST that changes something carries the session's CSRF
// token (server/web_session.h), checked before anything changes (403 otherwise).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <httplib.h>

#include "server/api_context.h"

namespace dlfs {

// The logged-in caller of a page, and the CSRF token its forms carry.
struct UiSession {
  Caller caller;
  std::string csrf;
};

using UiHandler = std::function<void(const httplib::Request&, httplib::Response&, const UiSession&)>;

// Runs `handler` in ctx.wrap (draining, exceptions) with a valid session, else redirects to the
// login page. `csrf`: the request must carry the session's CSRF token in its form field "csrf"
// (403, nothing done, otherwise).
httplib::Server::Handler ui_wrap(ApiContext& ctx, UiHandler handler, bool csrf = false);

// A whole page: `title` is escaped, `body` is HTML already. The navigation (datasets, log out)
// when `session` is given.
std::string ui_page(std::string_view title, std::string_view body, const UiSession* session);
void send_html(httplib::Response& res, std::string html, int status = 200);
// A page saying what went wrong (escaped), with the HTTP status of `status`.
void send_ui_error(httplib::Response& res, const Status& status, const UiSession* session);
void send_ui_error(httplib::Response& res, int http_status, std::string_view message, const UiSession* session);
void redirect(httplib::Response& res, const std::string& location);
// <input type=hidden name=csrf ...>
std::string csrf_field(const UiSession& session);
// A form field, from an urlencoded body or a multipart part ("" when absent).
std::string form_value(const httplib::Request& req, const std::string& key);

// Links: /ui/datasets/{id}?dir=..., /ui/items/{id}.
std::string folder_url(std::string_view dataset_id, std::string_view dir);
std::string item_url(std::string_view item_id);

// Login, datasets, folders, search (web_ui.cpp); item pages and uploads (web_items.cpp).
void register_web_ui_routes(httplib::Server& server, ApiContext& ctx);
void register_web_item_routes(httplib::Server& server, ApiContext& ctx);

}  // namespace dlfs
