// The web browser's pages (server/web_ui.h): the session (login, logout, the wrapper every page
// runs in), its script (server/web/dlfs.js), the datasets, a folder's items as a grid of thumbnails or a table, paged with the
// platform's keyset cursor (list_dir's `after`), and DQL search.
#include "server/web_ui.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "core/paths.h"
#include "server/html.h"
#include "server/web_script.h"
#include "server/web_session.h"

namespace dlfs {
namespace {

using Req = httplib::Request;
using Res = httplib::Response;

constexpr size_t kFolderPage = 200;  // items per folder page (?n=, at most kMaxFolderPage)
constexpr size_t kMaxFolderPage = 1000;
constexpr size_t kSearchPage = 100;

constexpr std::string_view kStyle =
    "body{font-family:sans-serif;margin:0}header{background:#234;color:#fff;padding:.5em 1em;display:flex;gap:1em;"
    "align-items:center}header a{color:#fff}main{padding:1em}.grid{display:flex;flex-wrap:wrap;gap:.6em}"
    ".tile{width:150px;border:1px solid #ccc;padding:4px;text-align:center;word-break:break-all;font-size:.85em}"
    ".tile img,.tile .ph{width:140px;height:140px;object-fit:contain;background:#eee;display:block;margin:auto}"
    ".tile .ph{line-height:140px;font-size:3em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
    "padding:2px 6px;text-align:left;vertical-align:top}.error{color:#a00;font-weight:bold}.ok{color:#060}"
    "textarea{width:100%;font-family:monospace}form.inline{display:inline}.drop{border:2px dashed #89a;"
    "padding:1.2em;text-align:center;margin:.5em 0}.drop.over{background:#def}#upload-list progress{width:12em}"
    "#upload-total{width:24em}li.upload[data-state=failed] .upload-status{color:#a00}";

std::string human_size(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string format_ms(int64_t ms) {
  std::time_t t = std::time_t(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string session_cookie(const ApiContext& ctx, std::string_view value, bool clear) {
  std::string c = std::string(kSessionCookie) + "=" + std::string(value) + "; HttpOnly; SameSite=Strict; Path=/";
  if (!ctx.options.tls_cert.empty()) c += "; Secure";
  if (clear) c += "; Max-Age=0";
  return c;
}

std::string login_page(std::string_view error) {
  std::string body = "<h1>dlfsd</h1>";
  if (!error.empty()) body += "<p class=error>" + html_escape(error) + "</p>";
  body +=
      "<form method=post action=\"/ui/login\"><p><label>Token (from <code>dlfsd token</code>)<br>"
      "<input type=password name=token id=token size=60 autocomplete=off required></label></p>"
      "<p><button type=submit id=login>Log in</button></p></form>";
  return ui_page("Log in", body, nullptr);
}

// The folder's path from the root, each part a link.
std::string breadcrumb(const Dataset& ds, std::string_view dir) {
  std::string out = "<p><a href=\"" + html_escape(folder_url(ds.id, "/")) + "\">" + html_escape(ds.name) + "</a>";
  std::string path;
  size_t pos = 1;
  while (pos < dir.size()) {
    size_t end = dir.find('/', pos);
    if (end == std::string_view::npos) end = dir.size();
    path += "/" + std::string(dir.substr(pos, end - pos));
    out += " / <a href=\"" + html_escape(folder_url(ds.id, path)) + "\">" + html_escape(dir.substr(pos, end - pos)) + "</a>";
    pos = end + 1;
  }
  return out + "</p>";
}

bool shows_as_image(const Item& item) {
  std::string type = item.is_link() ? item.link_mimetype() : item.mimetype();
  return type.starts_with("image/");
}

std::string item_href(const Item& item) {
  return item.is_dir() ? folder_url(item.dataset_id, item.filename) : item_url(item.id);
}

std::string item_label(const Item& item) {
  std::string mark = item.is_link() ? "<span class=link title=\"link item\">\U0001F517</span> " : "";
  return mark + html_escape(item.name) + (item.is_dir() ? "/" : "");
}

std::string grid(const std::vector<Item>& items) {
  std::string out = "<div class=grid>";
  for (const Item& item : items) {
    std::string href = html_escape(item_href(item));
    out += "<div class=tile><a href=\"" + href + "\">";
    if (item.is_dir()) out += "<span class=ph>\U0001F4C1</span>";
    else if (shows_as_image(item))
      out += "<img loading=lazy src=\"" + html_escape(item_url(item.id) + "/thumbnail") + "\" alt=\"" +
             html_escape(item.name) + "\">";
    else out += "<span class=ph>\U0001F4C4</span>";
    out += "</a><a href=\"" + href + "\">" + item_label(item) + "</a></div>";
  }
  return out + "</div>";
}

std::string table(const std::vector<Item>& items) {
  std::string out = "<table><tr><th>Name</th><th>Type</th><th>Size</th><th>Updated</th><th>Id</th></tr>";
  for (const Item& item : items) {
    out += "<tr><td><a href=\"" + html_escape(item_href(item)) + "\">" + item_label(item) + "</a></td><td>" +
           html_escape(item.is_dir() ? "folder" : item.mimetype()) + "</td><td>" +
           (item.is_dir() ? "" : human_size(item.size())) + "</td><td>" + format_ms(item.updated_ms) + "</td><td>" +
           html_escape(item.id) + "</td></tr>";
  }
  return out + "</table>";
}

std::string search_form(const Dataset& ds, std::string_view q) {
  return "<form method=get action=\"/ui/datasets/" + url_encode(ds.id) +
         "/search\"><label>DQL query (JSON, e.g. <code>{\"filter\": {\"metadata.user.tag\": \"a\"}}</code>)<br>"
         "<textarea name=q id=q rows=3>" + html_escape(q) + "</textarea></label><button type=submit id=search>Search</button></form>";
}

std::string upload_form(const Dataset& ds, std::string_view dir, const UiSession& s) {
  if (ds.readonly) return "<p>This dataset is read-only.</p>";
  // The forms work without script; server/web/dlfs.js takes the upload form over (in parallel, in
  // parts, resumable, with progress) and shows what needs it (drop zone, CSV import, sync).
  std::string out = "<section id=uploader data-dataset=\"" + html_escape(ds.id) + "\" data-dir=\"" + html_escape(dir) +
         "\"><form id=upload-form method=post enctype=\"multipart/form-data\" action=\"/ui/datasets/" +
         url_encode(ds.id) + "/upload\">" + csrf_field(s) + "<input type=hidden name=dir value=\"" + html_escape(dir) +
         "\"><label>Upload files here: <input type=file name=files id=files multiple></label> "
         "<label>or a folder: <input type=file name=files id=folder-files webkitdirectory multiple></label> "
         "<button type=submit id=upload>Upload</button></form>"
         "<div id=upload-js hidden><div id=drop class=drop>Drop files or folders here</div>"
         "<p hidden><progress id=upload-total value=0 max=1></progress> <span id=upload-total-text></span> "
         "<button type=button id=resume-uploads hidden>Resume</button></p><ol id=upload-list></ol></div></section>"
         "<form method=post action=\"/ui/datasets/" + url_encode(ds.id) + "/link\">" + csrf_field(s) +
         "<input type=hidden name=dir value=\"" + html_escape(dir) +
         "\">New link item: <input name=name id=link-name placeholder=name required> <input name=url id=link-url "
         "placeholder=\"https://...\" required> <input name=mimetype id=link-type placeholder=\"image/jpeg\"> "
         "<button type=submit id=make-link>Make link</button></form>"
         "<form id=csv-form hidden>Import a CSV here (a folder named after it, one item per row, as <code>dlfs "
         "import</code>): <input type=file id=csv-file accept=\".csv,text/csv\" required> "
         "<button type=submit id=csv-import>Import</button> <span id=csv-progress></span></form>";
  if (!ds.driver.empty())
    out += "<p id=sync-panel hidden>Storage driver <code>" + html_escape(ds.driver) +
           "</code>: <button type=button id=sync>Sync now</button> <span id=sync-progress></span></p>";
  return out;
}

void folder_page(ApiContext& ctx, const Req& req, Res& res, const UiSession& s) {
  auto ds = ctx.platform.get_dataset(req.matches[1].str());
  if (!ds) return send_ui_error(res, ds.status(), &s);
  std::string dir = req.has_param("dir") ? req.get_param_value("dir") : "/";
  auto normalized = normalize_path(dir);
  if (!normalized) return send_ui_error(res, normalized.status(), &s);
  dir = *normalized;
  std::string after = req.get_param_value("after");
  bool as_table = req.get_param_value("view") == "table";
  size_t page_size = kFolderPage;
  if (std::string n = req.get_param_value("n"); !n.empty()) {
    page_size = size_t(std::clamp(std::atoll(n.c_str()), 1LL, (long long)kMaxFolderPage));
  }
  auto page = ctx.platform.list_dir(ds->id, dir, after, page_size);
  if (!page) return send_ui_error(res, page.status(), &s);
  std::string here = folder_url(ds->id, dir);
  if (page_size != kFolderPage) here += "&n=" + std::to_string(page_size);
  std::string body = breadcrumb(*ds, dir);
  body += "<p>" + std::to_string(ds->items_count) + " files in the dataset. View: " +
          (as_table ? "<a id=view-grid href=\"" + html_escape(here) + "\">grid</a> | <b>table</b>"
                    : "<b>grid</b> | <a id=view-table href=\"" + html_escape(here + "&view=table") + "\">table</a>") +
          "</p>";
  body += upload_form(*ds, dir, s) + search_form(*ds, "");
  if (page->items.empty()) body += "<p>This folder is empty" + std::string(after.empty() ? "" : " past here") + ".</p>";
  body += as_table ? table(page->items) : grid(page->items);
  std::string view = as_table ? "&view=table" : "";
  body += "<p>";
  if (!after.empty()) body += "<a id=first-page href=\"" + html_escape(here + view) + "\">first page</a> ";
  if (page->has_next())
    body += "<a id=next-page href=\"" + html_escape(here + view + "&after=" + url_encode(page->next_after)) +
            "\">next page</a>";
  body += "</p>";
  send_html(res, ui_page(ds->name + " " + dir, body, &s));
}

void search_page(ApiContext& ctx, const Req& req, Res& res, const UiSession& s) {
  auto ds = ctx.platform.get_dataset(req.matches[1].str());
  if (!ds) return send_ui_error(res, ds.status(), &s);
  std::string q = req.get_param_value("q");
  std::string body = breadcrumb(*ds, "/") + search_form(*ds, q);
  if (q.empty()) return send_html(res, ui_page("Search " + ds->name, body, &s));
  auto parsed = parse_json(q);
  std::string error;
  if (!parsed) error = parsed.status().message();
  else if (!parsed->is_object()) error = "a query must be a JSON object";
  else if (parsed->contains("update") || parsed->contains("delete")) error = "search does not update or delete items";
  if (!error.empty()) {
    body += "<p class=error id=error>" + html_escape(error) + "</p>";
    return send_html(res, ui_page("Search " + ds->name, body, &s), 400);
  }
  json query = *parsed;
  uint64_t page_no = 0;
  try {
    page_no = std::stoull(req.get_param_value("page").empty() ? "0" : req.get_param_value("page"));
  } catch (const std::exception&) {
  }
  query["page"] = page_no;
  if (!query.contains("pageSize")) query["pageSize"] = kSearchPage;
  auto out = ctx.platform.query(ds->id, query, s.caller.email);
  if (!out) {
    body += "<p class=error id=error>" + html_escape(out.status().message()) + "</p>";
    return send_html(res, ui_page("Search " + ds->name, body, &s), 400);
  }
  body += "<p id=count>" + std::to_string(out->page.total) + " matches</p>" + table(out->page.items);
  std::string base = "/ui/datasets/" + url_encode(ds->id) + "/search?q=" + url_encode(q) + "&page=";
  if (page_no > 0) body += "<a href=\"" + html_escape(base + std::to_string(page_no - 1)) + "\">previous page</a> ";
  if (out->page.has_next())
    body += "<a id=next-page href=\"" + html_escape(base + std::to_string(page_no + 1)) + "\">next page</a>";
  send_html(res, ui_page("Search " + ds->name, body, &s));
}

}  // namespace

std::string ui_page(std::string_view title, std::string_view body, const UiSession* session) {
  std::string out =
      "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport "
      "content=\"width=device-width\"><title>" +
      html_escape(title) + " - dlfs</title><style>" + std::string(kStyle) + "</style>";
  // The page's script calls the API with the session cookie and this token (X-CSRF-Token).
  if (session)
    out += "<meta name=csrf-token content=\"" + html_escape(session->csrf) +
           "\"><script src=\"/ui/static/dlfs.js\" defer></script>";
  out += "</head><body><header><b>dlfs</b>";
  if (session) {
    out += "<a href=\"/ui\" id=nav-datasets>Datasets</a><span>" + html_escape(session->caller.email) +
           "</span><form class=inline method=post action=\"/ui/logout\">" + csrf_field(*session) +
           "<button type=submit id=logout>Log out</button></form>";
  }
  return out + "</header><main>" + std::string(body) + "</main></body></html>";
}

void send_html(Res& res, std::string html, int status) {
  res.status = status;
  // No script but dlfsd's own file (no inline script: a name that slipped through escaping runs
  // nothing), nothing from elsewhere, no framing.
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src 'self'; "
                 "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-store");
  res.set_content(std::move(html), "text/html; charset=utf-8");
}

void send_ui_error(Res& res, const Status& status, const UiSession* session) {
  send_ui_error(res, http_status_for(status.err()), status.message(), session);
}

void send_ui_error(Res& res, int http_status, std::string_view message, const UiSession* session) {
  send_html(res, ui_page("Error", "<p class=error id=error>" + html_escape(message) + "</p>", session), http_status);
}

void redirect(Res& res, const std::string& location) {
  res.status = 303;
  res.set_header("Location", location);
  res.set_header("Cache-Control", "no-store");
  res.set_content("See " + location + "\n", "text/plain; charset=utf-8");
}

std::string csrf_field(const UiSession& session) {
  return "<input type=hidden name=csrf value=\"" + html_escape(session.csrf) + "\">";
}

std::string form_value(const Req& req, const std::string& key) {
  if (req.has_file(key)) return req.get_file_value(key).content;
  return req.get_param_value(key);
}

std::string folder_url(std::string_view dataset_id, std::string_view dir) {
  return "/ui/datasets/" + url_encode(dataset_id) + "?dir=" + url_encode(dir);
}

std::string item_url(std::string_view item_id) { return "/ui/items/" + url_encode(item_id); }

httplib::Server::Handler ui_wrap(ApiContext& ctx, UiHandler handler, bool csrf) {
  return ctx.wrap(
      [&ctx, handler = std::move(handler), csrf](const Req& req, Res& res, const Caller&) {
        std::string token = cookie_value(req.get_header_value("Cookie"), kSessionCookie);
        auto who = token.empty() ? Result<Caller>(Status(EACCES, "no session")) : ctx.verify_token(token);
        if (!who) {
          if (req.method == "GET") return redirect(res, "/ui/login");
          return send_ui_error(res, 401, "not logged in (or the session expired): log in again at /ui/login", nullptr);
        }
        UiSession session{std::move(*who), csrf_token(ctx.secret(), token)};
        if (csrf && !csrf_valid(ctx.secret(), token, form_value(req, "csrf")))
          return send_ui_error(res, 403, "missing or wrong CSRF token: reload the page and try again", &session);
        handler(req, res, session);
      },
      false);
}

void register_web_ui_routes(httplib::Server& svr, ApiContext& ctx) {
  Platform& p = ctx.platform;
  svr.Get("/", ctx.wrap([](const Req&, Res& res, const Caller&) { redirect(res, "/ui"); }, false));

  svr.Get("/ui/static/dlfs.js", ctx.wrap(
                                   [](const Req&, Res& res, const Caller&) {
                                     res.set_header("X-Content-Type-Options", "nosniff");
                                     res.set_header("Cache-Control", "no-cache");
                                     res.set_content(std::string(web_script()), "text/javascript; charset=utf-8");
                                   },
                                   false));

  svr.Get("/ui/login", ctx.wrap([](const Req&, Res& res, const Caller&) { send_html(res, login_page("")); }, false));

  svr.Post("/ui/login", ctx.wrap(
                            [&ctx](const Req& req, Res& res, const Caller&) {
                              std::string token = req.get_param_value("token");
                              while (!token.empty() && isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
                              while (!token.empty() && isspace(static_cast<unsigned char>(token.front()))) token.erase(0, 1);
                              auto who = ctx.verify_token(token);
                              if (!who) return send_html(res, login_page(who.status().message()), 401);
                              res.set_header("Set-Cookie", session_cookie(ctx, token, false));
                              redirect(res, "/ui");
                            },
                            false));

  svr.Post("/ui/logout", ui_wrap(
                             ctx,
                             [&ctx](const Req&, Res& res, const UiSession&) {
                               res.set_header("Set-Cookie", session_cookie(ctx, "", true));
                               redirect(res, "/ui/login");
                             },
                             true));

  svr.Get("/ui", ui_wrap(ctx, [&p](const Req&, Res& res, const UiSession& s) {
    auto all = p.list_datasets();
    if (!all) return send_ui_error(res, all.status(), &s);
    std::string body = "<h1>Datasets</h1><table id=datasets><tr><th>Name</th><th>Files</th><th>Driver</th><th>Created</th><th>Id</th></tr>";
    for (const Dataset& ds : *all)
      body += "<tr><td><a href=\"" + html_escape(folder_url(ds.id, "/")) + "\">" + html_escape(ds.name) + "</a>" +
              (ds.readonly ? " (read-only)" : "") + "</td><td>" + std::to_string(ds.items_count) + "</td><td>" +
              html_escape(ds.driver) + "</td><td>" + format_ms(ds.created_ms) + "</td><td>" + html_escape(ds.id) +
              "</td></tr>";
    body += "</table>";
    if (all->empty()) body += "<p>No datasets yet.</p>";
    send_html(res, ui_page("Datasets", body, &s));
  }));

  svr.Get("/ui/", ui_wrap(ctx, [](const Req&, Res& res, const UiSession&) { redirect(res, "/ui"); }));

  svr.Get(R"(/ui/datasets/([^/]+))",
          ui_wrap(ctx, [&ctx](const Req& req, Res& res, const UiSession& s) { folder_page(ctx, req, res, s); }));
  svr.Get(R"(/ui/datasets/([^/]+)/search)",
          ui_wrap(ctx, [&ctx](const Req& req, Res& res, const UiSession& s) { search_page(ctx, req, res, s); }));

  register_web_item_routes(svr, ctx);
}

}  // namespace dlfs
