// dlfs's extension to the API: many items' bytes in one answer (POST /items/streams; the format
// in core/item_streams_format.h). A mount prefetching a folder's next small files pays one
// request for many instead of one each: per request, the HTTP exchange, the token check and the
// wake-up of a worker cost dlfsd more than reading and sending 100 KB.
//
// Every item asked for is opened (its version pinned, as GET /items/ID/stream does) before the
// answer starts, so the answer's length is known; the bytes are then streamed a chunk at a time.
#include <spdlog/spdlog.h>

#include <memory>
#include <vector>

#include "core/item_streams_format.h"
#include "platform/platform.h"
#include "server/http_errors.h"
#include "server/routes.h"

namespace dlfs {
namespace {

using Req = httplib::Request;
using Res = httplib::Response;

constexpr size_t kItemStreamsChunk = 256 * 1024;

// One item of the answer: its header line, then (unless it is an error) its bytes.
struct StreamedPart {
  std::string header;
  std::unique_ptr<Platform::ItemBinary> binary;  // null for an error
  uint64_t size = 0;
};

// Where the answer's provider is: httplib asks for the body in order, from where it stopped.
struct StreamsCursor {
  std::vector<StreamedPart> parts;
  size_t part = 0;
  uint64_t in_part = 0;  // bytes of the part (header, then bytes) sent
  uint64_t sent = 0;
  std::vector<char> buf;
};

StreamedPart part_for(ApiContext& ctx, const Req& req, const json& asked) {
  StreamedPart part;
  if (!asked.is_object() || !asked.contains("id") || !asked["id"].is_string()) return part;
  const std::string& id = asked["id"].get_ref<const std::string&>();
  auto error = [&](long status, std::string message) {
    part.header = item_stream_error(id, status, message);
    return std::move(part);
  };
  auto binary = ctx.platform.open_item_binary(id);
  if (!binary) return error(http_status_for(binary.err()), binary.status().message());
  const Item& item = (*binary)->item;
  if (item.is_dir()) return error(400, "'" + item.filename + "' is a folder: it has no bytes");
  std::string etag = item.etag();
  auto want = asked.find("etag");
  if (want != asked.end() && want->is_string() && !want->get_ref<const std::string&>().empty() &&
      want->get_ref<const std::string&>() != etag)
    return error(412, "'" + item.filename + "' changed since: its bytes are now version " + etag);
  // An item in a bucket: its bytes go from the bucket to the client (as GET /stream redirects).
  if ((*binary)->fd < 0 && ctx.options.presigned_reads && req.get_param_value("redirect") != "false" &&
      ctx.platform.presigned_read_url(**binary, ctx.options.presigned_read_s))
    return error(302, "read '" + item.filename + "' from its bucket");
  part.size = item.size();
  part.header = item_stream_header(id, part.size);
  part.binary = std::move(*binary);
  return part;
}

}  // namespace

void register_item_streams_route(httplib::Server& svr, ApiContext& ctx) {
  svr.Post("/api/v1/items/streams", ctx.wrap([&](const Req& req, Res& res, const Caller&) {
    auto body = ApiContext::json_body(req);
    if (!body) return send_error(res, body.status());
    auto items = body->is_object() ? body->find("items") : body->end();
    if (items == body->end() || !items->is_array() || items->empty())
      return send_error(res, 400, "the body must be {\"items\": [{\"id\": ..., \"etag\": ...}, ...]}");
    if (items->size() > kMaxItemStreams)
      return send_error(res, 400, "at most " + std::to_string(kMaxItemStreams) + " items in one request");
    auto cursor = std::make_shared<StreamsCursor>();
    uint64_t length = 0;
    for (const json& asked : *items) {
      StreamedPart part = part_for(ctx, req, asked);
      if (part.header.empty()) return send_error(res, 400, "each item must be {\"id\": ..., \"etag\": ...}");
      length += part.header.size() + part.size;
      cursor->parts.push_back(std::move(part));
    }
    cursor->buf.resize(kItemStreamsChunk);
    Platform& platform = ctx.platform;
    auto hold = ctx.hold_inflight();  // a graceful stop waits for this answer to end
    res.status = 200;
    res.set_content_provider(
        size_t(length), kItemStreamsType,
        [&platform, cursor, hold](size_t offset, size_t want, httplib::DataSink& sink) {
          StreamsCursor& c = *cursor;
          if (offset != c.sent) return false;  // (never: httplib asks in order)
          while (c.part < c.parts.size()) {
            StreamedPart& p = c.parts[c.part];
            if (c.in_part < p.header.size()) {
              size_t n = p.header.size() - size_t(c.in_part);
              if (!sink.write(p.header.data() + c.in_part, n)) return false;
              c.in_part += n;
              c.sent += n;
              return true;
            }
            uint64_t done = c.in_part - p.header.size();
            if (done < p.size) {
              size_t n = size_t(std::min<uint64_t>({p.size - done, c.buf.size(), std::max<size_t>(want, 1)}));
              auto got = platform.read_binary(*p.binary, done, std::span<char>(c.buf.data(), n));
              if (!got || *got == 0) {  // storage failed or the file shrank: end the connection
                spdlog::warn("item streams: cannot read '{}': {}", p.binary->item.filename,
                             got ? "it is shorter than its size" : got.status().to_string());
                return false;
              }
              if (!sink.write(c.buf.data(), *got)) return false;
              c.in_part += *got;
              c.sent += *got;
              return true;
            }
            p.binary.reset();  // (its descriptor closed as soon as it is sent)
            ++c.part;
            c.in_part = 0;
          }
          return true;
        });
  }));
}

}  // namespace dlfs
