// The web browser's item pages (server/web_ui.h): an item's image or download link, its system
// metadata, its user metadata and description edited as a form (the platform's patch, as the
// API's PATCH /items/{id} validates it); its thumbnail and bytes for the pages; and uploads of
// files into a folder.
#include <memory>
#include <vector>

#include "core/paths.h"
#include "net/link_policy.h"
#include "server/html.h"
#include "server/web_ui.h"

namespace dlfs {
namespace {

using Req = httplib::Request;
using Res = httplib::Response;

constexpr size_t kStreamChunk = 256 * 1024;

// A JSON merge patch (RFC 7386) that turns `from` into `to`: keys of `from` missing from `to`
// become null (removed). (A null value in `to` cannot be told from a removal: it removes.)
json merge_patch_between(const json& from, const json& to) {
  if (!from.is_object() || !to.is_object()) return to;
  json patch = json::object();
  for (auto it = from.begin(); it != from.end(); ++it)
    if (!to.contains(it.key())) patch[it.key()] = nullptr;
  for (auto it = to.begin(); it != to.end(); ++it) {
    auto old = from.find(it.key());
    if (old == from.end()) patch[it.key()] = it.value();
    else if (*old != it.value()) patch[it.key()] = merge_patch_between(*old, it.value());
  }
  return patch;
}

// Where a form's file goes under `dir`: its name, or the relative path a folder upload
// (webkitdirectory) sends ("holiday/day1/a.jpg"); never above `dir` ("..", "." and empty parts
// refused).
Result<std::string> upload_path(const std::string& dir, const std::string& filename) {
  std::string path = dir;
  size_t pos = 0;
  while (pos <= filename.size()) {
    size_t end = filename.find('/', pos);
    if (end == std::string::npos) end = filename.size();
    std::string part = filename.substr(pos, end - pos);
    if (part.empty() || part == "." || part == "..")
      return Status(EINVAL, "'" + filename + "' is not a file name or a relative path below the folder");
    path = join_path(path, part);
    pos = end + 1;
  }
  return normalize_path(path);
}

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(2); }

std::string item_page(const Item& item, const Dataset& ds, const UiSession& s, std::string_view user_text,
                      std::string_view description, std::string_view error, bool saved) {
  std::string self = item_url(item.id);
  std::string body = "<p><a id=folder href=\"" + html_escape(folder_url(ds.id, item.dir)) + "\">" + html_escape(ds.name) +
                     " " + html_escape(item.dir) + "</a></p><h1 id=title>" +
                     (item.is_link() ? "\U0001F517 " : "") + html_escape(item.name) + "</h1>";
  if (item.is_link()) body += "<p>Link to <code id=link-url>" + html_escape(item.link_url()) + "</code></p>";
  std::string type = item.is_link() ? item.link_mimetype() : item.mimetype();
  if (type.starts_with("image/"))
    body += "<p><img id=image src=\"" + html_escape(self + "/stream") + "\" alt=\"" + html_escape(item.name) +
            "\" style=\"max-width:100%;max-height:70vh\"></p>";
  body += "<p><a id=download href=\"" + html_escape(self + "/stream?download=1") + "\">Download</a></p>";
  body += "<h2>System metadata</h2><table id=system><tr><th>id</th><td>" + html_escape(item.id) +
          "</td></tr><tr><th>path</th><td>" + html_escape(item.filename) + "</td></tr><tr><th>creator</th><td>" +
          html_escape(item.creator) + "</td></tr>";
  for (auto it = item.system().begin(); it != item.system().end(); ++it)
    body += "<tr><th>" + html_escape(it.key()) + "</th><td><pre>" + html_escape(value_text(it.value())) + "</pre></td></tr>";
  body += "</table><h2>User metadata and description</h2>";
  if (saved) body += "<p class=ok id=saved>Saved.</p>";
  if (!error.empty()) body += "<p class=error id=error>" + html_escape(error) + "</p>";
  if (ds.readonly) {
    body += "<p>This dataset is read-only.</p><pre id=user>" + html_escape(user_text) + "</pre>";
  } else {
    body += "<form method=post action=\"" + html_escape(self) + "\">" + csrf_field(s) +
            "<p><label>User metadata (JSON object)<br><textarea name=metadata id=metadata rows=12>" +
            html_escape(user_text) + "</textarea></label></p><p><label>Description<br><textarea name=description "
            "id=description rows=3>" + html_escape(description) +
            "</textarea></label></p><p><button type=submit id=save>Save</button></p></form>";
  }
  return ui_page(item.name, body, &s);
}

void show_item(ApiContext& ctx, const Req& req, Res& res, const UiSession& s) {
  auto item = ctx.platform.get_item(req.matches[1].str());
  if (!item) return send_ui_error(res, item.status(), &s);
  if (item->is_dir()) return redirect(res, folder_url(item->dataset_id, item->filename));
  auto ds = ctx.platform.get_dataset(item->dataset_id);
  if (!ds) return send_ui_error(res, ds.status(), &s);
  send_html(res, item_page(*item, *ds, s, item->user().dump(2), item->description.value_or(""), "",
                           req.get_param_value("saved") == "1"));
}

// The form's user metadata and description, patched as PATCH /items/{id} would; the page again
// with the platform's error (and what was typed) when refused.
void save_item(ApiContext& ctx, const Req& req, Res& res, const UiSession& s) {
  auto item = ctx.platform.get_item(req.matches[1].str());
  if (!item) return send_ui_error(res, item.status(), &s);
  auto ds = ctx.platform.get_dataset(item->dataset_id);
  if (!ds) return send_ui_error(res, ds.status(), &s);
  std::string text = form_value(req, "metadata");
  std::string description = form_value(req, "description");
  auto fail = [&](const Status& status) {
    send_html(res, item_page(*item, *ds, s, text, description, status.message(), false), http_status_for(status.err()));
  };
  if (ds->readonly) return fail(Status(EACCES, "dataset '" + ds->name + "' is read-only"));
  auto user = parse_json(text.empty() ? "{}" : text);
  if (!user) return fail(Status(EINVAL, "user metadata is not JSON: " + user.status().message()));
  json patch = json::object();
  patch["metadata"] = {{"user", merge_patch_between(item->user(), *user)}};
  if (description != item->description.value_or("")) patch["description"] = description.empty() ? json() : json(description);
  auto patched = ctx.platform.patch_item(item->id, patch, false, s.caller.email);
  if (!patched) return fail(patched.status());
  redirect(res, item_url(item->id) + "?saved=1");
}

// The item's bytes, whole, a chunk at a time; never run as a page of this origin (an uploaded
// HTML file): sandboxed, and as an attachment when asked.
void stream(ApiContext& ctx, const Req& req, Res& res, const UiSession& s) {
  auto binary = ctx.platform.open_item_binary(req.matches[1].str());
  if (!binary) return send_ui_error(res, binary.status(), &s);
  std::shared_ptr<Platform::ItemBinary> b(std::move(*binary));
  if (b->item.is_dir()) return send_ui_error(res, 400, "'" + b->item.filename + "' is a folder: it has no bytes", &s);
  res.set_header("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'");
  res.set_header("X-Content-Type-Options", "nosniff");
  if (req.get_param_value("download") == "1")
    res.set_header("Content-Disposition", "attachment; filename*=UTF-8''" + url_encode(b->item.name));
  std::string type = b->item.mimetype().empty() ? "application/octet-stream" : b->item.mimetype();
  uint64_t size = b->item.size();
  if (size == 0) return res.set_content("", type);
  Platform& platform = ctx.platform;
  auto hold = ctx.hold_inflight();
  auto buf = std::make_shared<std::vector<char>>(size_t(std::min<uint64_t>(size, kStreamChunk)));
  res.set_content_provider(size_t(size), type,
                           [&platform, b, hold, buf](size_t offset, size_t want, httplib::DataSink& sink) {
                             auto n = platform.read_binary(*b, offset, std::span<char>(buf->data(), std::min(want, buf->size())));
                             if (!n || *n == 0) return false;
                             return sink.write(buf->data(), *n);
                           });
}

// The files of the form's "files" parts, each into the form's folder, a folder's files under
// their relative paths (an item already there is left, and said so).
void upload(ApiContext& ctx, const Req& req, Res& res, const UiSession& s) {
  auto ds = ctx.writable_dataset(req.matches[1].str());
  if (!ds) return send_ui_error(res, ds.status(), &s);
  auto dir = normalize_path(form_value(req, "dir").empty() ? "/" : form_value(req, "dir"));
  if (!dir) return send_ui_error(res, dir.status(), &s);
  std::string list;
  int failed = 0, files = 0;
  auto [first, last] = req.files.equal_range("files");
  for (auto it = first; it != last; ++it) {
    const httplib::MultipartFormData& part = it->second;
    if (part.filename.empty()) continue;  // the empty input of a form sent without a file
    ++files;
    std::string name = part.filename;
    UploadOptions options;
    options.user = s.caller.email;
    auto path = upload_path(*dir, name);
    Result<UploadResult> done = path ? ctx.platform.upload_bytes(ds->id, part.content, *path, options)
                                     : Result<UploadResult>(path.status());
    list += "<li>" + html_escape(name) + ": ";
    if (!done) {
      ++failed;
      list += "<span class=error>" + html_escape(done.status().message()) + "</span>";
    } else if (done->op == UploadOp::kSkipped) {
      list += "not uploaded: <a href=\"" + html_escape(item_url(done->item.id)) + "\">an item is there already</a>";
    } else {
      list += "<a class=uploaded href=\"" + html_escape(item_url(done->item.id)) + "\">uploaded</a>";
    }
    list += "</li>";
  }
  if (files == 0) return send_ui_error(res, 400, "no file chosen", &s);
  std::string body = "<h1>Upload</h1><ul id=uploads>" + list + "</ul><p><a id=back href=\"" +
                     html_escape(folder_url(ds->id, *dir)) + "\">back to " + html_escape(ds->name) + " " +
                     html_escape(*dir) + "</a></p>";
  send_html(res, ui_page("Upload", body, &s), failed ? 400 : 200);
}

// A link item (a URL, as `dlfs link` makes one) named by the form in its folder; back to the
// folder when made.
void make_link(ApiContext& ctx, const Req& req, Res& res, const UiSession& s) {
  auto ds = ctx.writable_dataset(req.matches[1].str());
  if (!ds) return send_ui_error(res, ds.status(), &s);
  auto dir = normalize_path(form_value(req, "dir").empty() ? "/" : form_value(req, "dir"));
  if (!dir) return send_ui_error(res, dir.status(), &s);
  std::string name = form_value(req, "name"), url = form_value(req, "url");
  if (name.empty() || name.find('/') != std::string::npos)
    return send_ui_error(res, 400, "a link item needs a name (without '/')", &s);
  if (Status ok = check_link_target(url); !ok) return send_ui_error(res, ok, &s);
  auto path = upload_path(*dir, name);
  if (!path) return send_ui_error(res, path.status(), &s);
  UploadOptions options;
  options.user = s.caller.email;
  auto done = ctx.platform.upload_bytes(ds->id, make_link_json(url, form_value(req, "mimetype")).dump(), *path, options);
  if (!done) return send_ui_error(res, done.status(), &s);
  if (done->op == UploadOp::kSkipped) return send_ui_error(res, 409, "an item is at '" + *path + "' already", &s);
  redirect(res, folder_url(ds->id, *dir));
}

}  // namespace

void register_web_item_routes(httplib::Server& svr, ApiContext& ctx) {
  const std::string item_id = R"(/ui/items/([^/]+))";
  svr.Get(item_id, ui_wrap(ctx, [&ctx](const Req& req, Res& res, const UiSession& s) { show_item(ctx, req, res, s); }));
  svr.Post(item_id,
           ui_wrap(ctx, [&ctx](const Req& req, Res& res, const UiSession& s) { save_item(ctx, req, res, s); }, true));
  svr.Get(item_id + "/stream",
          ui_wrap(ctx, [&ctx](const Req& req, Res& res, const UiSession& s) { stream(ctx, req, res, s); }));
  svr.Get(item_id + "/thumbnail", ui_wrap(ctx, [&ctx](const Req& req, Res& res, const UiSession& s) {
            auto item = ctx.platform.get_item(req.matches[1].str());
            if (!item) return send_ui_error(res, item.status(), &s);
            auto bytes = ctx.platform.thumbnail(*item);
            if (!bytes) return send_ui_error(res, bytes.status(), &s);
            res.set_header("Cache-Control", "private, max-age=60");
            res.set_content(*bytes, "image/jpeg");
          }));
  svr.Post(R"(/ui/datasets/([^/]+)/link)",
           ui_wrap(ctx, [&ctx](const Req& req, Res& res, const UiSession& s) { make_link(ctx, req, res, s); }, true));
  svr.Post(R"(/ui/datasets/([^/]+)/upload)",
           ui_wrap(ctx, [&ctx](const Req& req, Res& res, const UiSession& s) { upload(ctx, req, res, s); }, true));
}

}  // namespace dlfs
