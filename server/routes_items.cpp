// One item: get, patch, delete, its bytes (ranged, streamed), its thumbnail; and moving items
// into a folder.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/paths.h"
#include "server/range.h"
#include "server/routes.h"

namespace dlfs {
namespace {

using Req = httplib::Request;
using Res = httplib::Response;

constexpr size_t kStreamChunk = 256 * 1024;

// The version of an item's bytes (the platform's etag), quoted as an HTTP entity tag.
std::string entity_tag(const Item& item) {
  std::string etag = item.etag();
  return etag.empty() ? etag : "\"" + etag + "\"";
}

// Whether the request's If-Match (if any) names this version (`etag`, quoted) of the item: the
// version a ranged reader started on; another is answered 412, never a part of it.
bool if_match_holds(const Req& req, const std::string& etag) {
  std::string if_match = req.get_header_value("If-Match");
  return if_match.empty() || if_match == "*" || if_match == etag;
}

// Streams [first, first+length) of one version of the item, a chunk at a time: never the whole
// file in memory, and never bytes of two versions (an upload replacing it mid-stream).
void stream_item(ApiContext& ctx, const Req& req, Res& res, std::shared_ptr<Platform::ItemBinary> binary) {
  const Item& item = binary->item;
  uint64_t size = item.size();
  std::string etag = entity_tag(item);
  if (!etag.empty()) res.set_header("ETag", etag);
  if (!if_match_holds(req, etag))
    return send_error(res, 412, "'" + item.filename + "' changed since: its bytes are now version " +
                                    (etag.empty() ? "(none)" : etag) + ", not " + req.get_header_value("If-Match"));
  ByteRange range = resolve_range(req.get_header_value("Range"), size);
  res.set_header("Accept-Ranges", "bytes");
  if (range.kind == ByteRange::kUnsatisfiable) {
    res.set_header("Content-Range", "bytes */" + std::to_string(size));
    return send_error(res, 416, "range not satisfiable: '" + item.filename + "' has " + std::to_string(size) + " bytes");
  }
  uint64_t first = 0, length = size;
  if (range.kind == ByteRange::kPart) {
    first = range.first;
    length = range.length;
    res.status = 206;
    res.set_header("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(first + length - 1) + "/" +
                                        std::to_string(size));
  } else {
    res.status = 200;
  }
  std::string type = item.mimetype().empty() ? "application/octet-stream" : item.mimetype();
  if (length == 0) return res.set_content("", type);
  Platform& platform = ctx.platform;
  auto hold = ctx.hold_inflight();  // a graceful stop waits for this download to end
  // One buffer per download, reused for every chunk.
  auto buf = std::make_shared<std::vector<char>>(size_t(std::min<uint64_t>(length, kStreamChunk)));
  res.set_content_provider(
      size_t(length), type,
      [&platform, binary, first, hold, buf](size_t offset, size_t want, httplib::DataSink& sink) {
        auto n = platform.read_binary(*binary, first + offset, std::span<char>(buf->data(), std::min(want, buf->size())));
        if (!n || *n == 0) return false;  // storage failed or the file shrank: end the connection
        return sink.write(buf->data(), *n);
      });
}

// An item in a driver's bucket: 302 to a presigned URL of its object, so that the bytes go from
// the bucket to the client (API.md). The client's Range and If-Match go with it; the bucket
// checks If-Match against the object's ETag, which is the item's. Not for ?redirect=false (a
// client that cannot reach the bucket), nor where the store makes no URL.
bool redirect_to_bucket(ApiContext& ctx, const Req& req, Res& res, const Platform::ItemBinary& binary) {
  if (!ctx.options.presigned_reads || req.get_param_value("redirect") == "false") return false;
  std::string etag = entity_tag(binary.item);
  if (!if_match_holds(req, etag)) return false;  // stream_item answers 412
  auto url = ctx.platform.presigned_read_url(binary, ctx.options.presigned_read_s);
  if (!url) {
    if (url.err() != ENOTSUP) spdlog::warn("no presigned URL for '{}': {}", binary.item.filename, url.status().to_string());
    return false;
  }
  res.status = 302;
  res.set_header("Location", *url);
  if (!etag.empty()) res.set_header("ETag", etag);
  // Reusable by this client until shortly before it expires.
  res.set_header("Cache-Control", "private, max-age=" + std::to_string(std::max<int64_t>(0, ctx.options.presigned_read_s - 60)));
  return true;
}

}  // namespace

void register_item_routes(httplib::Server& svr, ApiContext& ctx) {
  Platform& p = ctx.platform;
  const std::string item_id = R"(/api/v1/items/([^/]+))";

  svr.Get(item_id, ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto item = p.get_item(req.matches[1].str());
    if (!item) return send_error(res, item.status());
    send_json(res, item_to_json(*item, ApiContext::base_url(req)));
  }));

  svr.Patch(item_id, ctx.wrap([&](const Req& req, Res& res, const Caller& caller) {
    auto item = ctx.writable_item(req.matches[1].str());
    if (!item) return send_error(res, item.status());
    auto body = ApiContext::json_body(req);
    if (!body) return send_error(res, body.status());
    bool system = req.get_param_value("system") == "true";
    // dlfs's extension: with a `filename`, ?replace=<id> lets the move replace that item (a file by
    // a file, an empty folder by a folder) in the same transaction: an atomic rename-over.
    auto patched = p.patch_item(item->id, *body, system, caller.email, req.get_param_value("replace"));
    if (!patched) return send_error(res, patched.status());
    send_json(res, item_to_json(*patched, ApiContext::base_url(req)));
  }));

  svr.Delete(item_id, ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto item = ctx.writable_item(req.matches[1].str());
    if (!item) return send_error(res, item.status());
    Status s = p.delete_item(item->id);
    if (!s) return send_error(res, s);
    send_json(res, json{{"message", "deleted"}});
  }));

  svr.Get(item_id + "/stream", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto binary = p.open_item_binary(req.matches[1].str());
    if (!binary) return send_error(res, binary.status());
    const Item& item = (*binary)->item;
    if (item.is_dir()) return send_error(res, 400, "'" + item.filename + "' is a folder: it has no bytes");
    if (redirect_to_bucket(ctx, req, res, **binary)) return;
    stream_item(ctx, req, res, std::shared_ptr<Platform::ItemBinary>(std::move(*binary)));
  }));

  svr.Get(item_id + "/thumbnail", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto item = p.get_item(req.matches[1].str());
    if (!item) return send_error(res, item.status());
    auto bytes = p.thumbnail(*item);
    if (!bytes) return send_error(res, bytes.status());
    res.set_content(*bytes, "image/jpeg");
  }));

  // Moves the items whose ids are in the JSON array into the folder {dirItemId}.
  svr.Put(R"(/api/v1/datasets/([^/]+)/items/([^/]+))", ctx.wrap([&](const Req& req, Res& res, const Caller& caller) {
    auto ds = ctx.writable_dataset(req.matches[1].str());
    if (!ds) return send_error(res, ds.status());
    auto dir = p.get_item(req.matches[2].str());
    if (!dir) return send_error(res, dir.status());
    if (dir->dataset_id != ds->id) return send_error(res, 404, "no folder '" + dir->id + "' in dataset '" + ds->name + "'");
    if (!dir->is_dir()) return send_error(res, 400, "'" + dir->filename + "' is not a folder");
    auto body = ApiContext::json_body(req);
    if (!body) return send_error(res, body.status());
    if (!body->is_array()) return send_error(res, 400, "the body must be a JSON array of item ids");
    json moved = json::array();
    for (const json& id : *body) {
      if (!id.is_string()) return send_error(res, 400, "the body must be a JSON array of item ids");
      auto item = p.get_item(id.get<std::string>());
      if (!item) return send_error(res, item.status());
      if (item->dataset_id != ds->id)
        return send_error(res, 404, "no item '" + item->id + "' in dataset '" + ds->name + "'");
      auto done = p.move_item(item->id, join_path(dir->filename, item->name), caller.email);
      if (!done) return send_error(res, done.status());
      moved.push_back(item_to_json(*done, ApiContext::base_url(req)));
    }
    send_json(res, moved);
  }));
}

}  // namespace dlfs
