// dlfs's extension to the API: uploads in parts (server/upload_sessions.h), for large files —
// several parts in flight at once, and a client that stopped sends only what the server lacks.
//
//   POST   /datasets/{id}/uploads        {"path", "size", "partSize", "key"?, "mode"?, "replace"?,
//                                         "metadata"?, "description"?}  -> the session
//   GET    /uploads/{uid}                -> the session
//   PUT    /uploads/{uid}/parts/{n}      the part's bytes (offset n*partSize; every part is
//                                         partSize long but the last)  -> {"part", "size"}
//   POST   /uploads/{uid}/complete       -> the item, as POST /datasets/{id}/items answers it;
//                                         409 {"message", "missing": [n...]} while parts lack
//   DELETE /uploads/{uid}
//
// A session is {"id", "path", "size", "partSize", "parts", "received": [n...]}. The same caller
// opening a session with the same key, dataset, path, size and partSize gets the one it has.
#include <unistd.h>


#include <memory>

#include "core/file_io.h"
#include "core/json_util.h"
#include "server/routes.h"
#include "server/upload_sessions.h"

namespace dlfs {
namespace {

using Req = httplib::Request;
using Res = httplib::Response;

json session_json(const UploadSessionState& s) {
  return {{"id", s.id},
          {"path", s.request.path},
          {"size", s.request.size},
          {"partSize", s.request.part_size},
          {"parts", s.parts},
          {"received", s.received}};
}

Result<UploadSessionRequest> session_request(const json& body, std::string dataset_id, const Caller& caller,
                                             uint64_t max_upload) {
  UploadSessionRequest r;
  r.dataset_id = std::move(dataset_id);
  if (!body.is_object()) return Status(EINVAL, "the body must be a JSON object");
  auto path = body.find("path");
  auto size = body.find("size");
  auto part_size = body.find("partSize");
  if (path == body.end() || !path->is_string() || path->get<std::string>().empty())
    return Status(EINVAL, "missing 'path' (the full remote path)");
  if (size == body.end() || !size->is_number_unsigned()) return Status(EINVAL, "missing 'size' (bytes)");
  if (part_size == body.end() || !part_size->is_number_unsigned()) return Status(EINVAL, "missing 'partSize' (bytes)");
  r.path = path->get<std::string>();
  r.size = size->get<uint64_t>();
  r.part_size = part_size->get<uint64_t>();
  if (r.size > max_upload)
    return Status(EFBIG, "the upload is larger than this server's limit of " + std::to_string(max_upload) + " bytes");
  r.key = string_field(body, "key");
  std::string mode = string_field(body, "mode", "skip");
  if (mode != "skip" && mode != "overwrite") return Status(EINVAL, "mode must be skip or overwrite, not '" + mode + "'");
  r.options.mode = mode == "overwrite" ? UploadMode::kOverwrite : UploadMode::kSkip;
  r.options.replace_id = string_field(body, "replace");
  if (auto meta = body.find("metadata"); meta != body.end() && !meta->is_null()) r.options.metadata = *meta;
  if (auto d = body.find("description"); d != body.end() && d->is_string()) r.options.description = d->get<std::string>();
  r.options.user = caller.email;
  return r;
}

}  // namespace

void register_upload_session_routes(httplib::Server& svr, ApiContext& ctx) {
  Platform& p = ctx.platform;
  // (owned by the handlers, which the server keeps as long as it runs)
  auto sessions = std::make_shared<UploadSessions>(p.store_dir() + "/tmp");

  svr.Post(R"(/api/v1/datasets/([^/]+)/uploads)", ctx.wrap([&ctx, sessions](const Req& req, Res& res, const Caller& caller) {
    auto ds = ctx.writable_dataset(req.matches[1].str());
    if (!ds) return send_error(res, ds.status());
    auto body = ApiContext::json_body(req);
    if (!body) return send_error(res, body.status());
    auto request = session_request(*body, ds->id, caller, ctx.options.max_upload);
    if (!request) return send_error(res, request.status());
    auto opened = sessions->open(*request);
    if (!opened) return send_error(res, opened.status());
    send_json(res, session_json(*opened));
  }));

  svr.Get(R"(/api/v1/uploads/([^/]+))", ctx.wrap([sessions](const Req& req, Res& res, const Caller& caller) {
    auto s = sessions->get(req.matches[1].str(), caller.email);
    if (!s) return send_error(res, s.status());
    send_json(res, session_json(*s));
  }));

  svr.Put(R"(/api/v1/uploads/([^/]+)/parts/(\d+))",
          ctx.wrap_reader([sessions](const Req& req, Res& res, const httplib::ContentReader& reader,
                                     const Caller& caller) {
            uint64_t n = std::stoull(req.matches[2].str());
            bool read = false;  // (the body, read to its end whatever happens once it is started)
            uint64_t got = 0;
            Status put = sessions->put_part(
                req.matches[1].str(), caller.email, n, [&](int fd, uint64_t offset, uint64_t length) -> Result<uint64_t> {
                  read = true;
                  uint64_t wrote = 0;
                  Status failed;
                  bool ok = reader([&](const char* data, size_t size) {
                    if (!failed) return true;  // (the rest is read and dropped: the answer follows it)
                    if (wrote + size > length) {
                      failed = Status(EINVAL, "part " + std::to_string(n) + " is longer than " + std::to_string(length) +
                                                  " bytes");
                      return true;
                    }
                    if (Status w = pwrite_all(fd, offset + wrote, data, size); !w) {
                      failed = Status(w.err(), "cannot write the upload session file", w.cause());
                      return true;
                    }
                    wrote += size;
                    return true;
                  });
                  if (!failed) return failed;
                  if (!ok) return Status(EIO, "the part's body was cut short");
                  got = wrote;
                  return wrote;
                });
            if (!read) ApiContext::drain_body(req, reader);
            if (!put) return send_error(res, put);
            send_json(res, {{"part", n}, {"size", got}});
          }));

  svr.Post(R"(/api/v1/uploads/([^/]+)/complete)", ctx.wrap([&p, sessions](const Req& req, Res& res, const Caller& caller) {
    std::string id = req.matches[1].str();
    std::vector<uint64_t> missing;
    auto begun = sessions->begin_complete(id, caller.email, &missing);
    if (!begun) {
      json body = error_body(begun.status());
      if (!missing.empty()) body["missing"] = missing;
      return send_json(res, body, http_status_for(begun.err()));
    }
    if (!begun->completed_item.empty()) {  // asked again (an answer lost, a client that gave up waiting)
      auto item = p.get_item(begun->completed_item);
      if (!item) return send_error(res, item.status());
      res.set_header("x-item-op", begun->completed_op);
      return send_json(res, item_to_json(*item, ApiContext::base_url(req)));
    }
    const std::string& file = begun->file;
    // (the session's file is moved into the store: its removal by finish() then finds nothing)
    auto up = p.upload_owned_file(begun->request.dataset_id, file, begun->request.path, begun->request.options);
    if (!up) {
      sessions->finish(id, /*keep=*/::access(file.c_str(), F_OK) == 0);
      return send_error(res, up.status());
    }
    std::string op(to_string(up->op));
    sessions->finish(id, false, up->item.id, op);
    res.set_header("x-item-op", op);
    send_json(res, item_to_json(up->item, ApiContext::base_url(req)));
  }));

  svr.Delete(R"(/api/v1/uploads/([^/]+))", ctx.wrap([sessions](const Req& req, Res& res, const Caller& caller) {
    Status s = sessions->abort(req.matches[1].str(), caller.email);
    if (!s) return send_error(res, s);
    send_json(res, json::object());
  }));
}

}  // namespace dlfs
