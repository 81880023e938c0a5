// POST /datasets/{id}/items: a multipart upload (fields type, path, metadata, description, file)
// streamed to a temp file in the store, then handed to the platform; or a form type=dir&path=
// that makes a folder. POST /datasets/{id}/imports/csv: a CSV file the same way (fields name,
// to, file), imported by a Command. A body may arrive chunked, without Content-Length; it never
// sits in memory (only the small text fields do).
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <optional>

#include "core/ids.h"
#include "platform/commands.h"
#include "platform/csv_rows.h"
#include "server/routes.h"
#include "server/temp_upload.h"

namespace dlfs {
namespace {

using Req = httplib::Request;
using Res = httplib::Response;


// What was read of a request body, and why reading stopped early.
struct UploadForm {
  std::map<std::string, std::string> fields;
  uint64_t body_bytes = 0;
  bool too_large = false;  // over --max-upload (413)
  Status failure;          // another reason (a field too big, storage full)
};

// Reads the body: multipart parts (the file part into `temp`), or an urlencoded form.
bool read_form(const Req& req, Res& res, const httplib::ContentReader& reader, uint64_t max_body, TempUpload& temp,
               UploadForm& form) {
  std::string current;  // the part being read
  size_t field_bytes = 0;
  auto count = [&](size_t n) {
    form.body_bytes += n;
    if (form.body_bytes > max_body) form.too_large = true;
    return !form.too_large;
  };
  if (req.is_multipart_form_data()) {
    return reader(
        [&](const httplib::MultipartFormData& part) {
          current = part.name;
          if (current != "file") return true;
          if (temp.opened()) {
            form.failure = Status(EINVAL, "more than one 'file' part");
            return false;
          }
          form.failure = temp.open();
          return form.failure.is_ok();
        },
        [&](const char* data, size_t n) {
          if (!count(n)) return false;
          if (current == "file") {
            form.failure = temp.write(data, n);
            return form.failure.is_ok();
          }
          // All text fields together, not each: a body of many parts stays small too.
          field_bytes += n;
          if (field_bytes > kMaxFieldBytes) {
            form.failure = Status(EINVAL, "the form's text fields are larger than 1 MiB together");
            return false;
          }
          form.fields[current].append(data, n);
          return true;
        });
  }
  std::string body;
  bool ok = reader([&](const char* data, size_t n) {
    if (!count(n)) return false;
    if (body.size() + n > kMaxFieldBytes) {
      form.failure = Status(EINVAL, "a form body larger than 1 MiB (send files as multipart/form-data)");
      return false;
    }
    body.append(data, n);
    return true;
  });
  httplib::Params params;
  httplib::detail::parse_query_text(body, params);
  for (auto& [k, v] : params) form.fields[k] = v;
  (void)res;
  return ok;
}

std::string field(const UploadForm& form, const std::string& key) {
  auto it = form.fields.find(key);
  return it == form.fields.end() ? std::string() : it->second;
}

// The writable dataset of the route (its id the first match) and the request's body read into
// `temp` and `form` (read_form); nullopt once an error is answered: the dataset refused (the body
// drained), too large (413), a failed write or field, a malformed body.
std::optional<Dataset> receive_form(const Req& req, Res& res, const httplib::ContentReader& reader, ApiContext& ctx,
                                    TempUpload& temp, UploadForm& form) {
  auto ds = ctx.writable_dataset(req.matches[1].str());
  if (!ds) {
    ApiContext::drain_body(req, reader);
    send_error(res, ds.status());
    return std::nullopt;
  }
  bool ok = read_form(req, res, reader, ctx.options.max_upload, temp, form);
  Status failed;
  if (form.too_large || res.status == 413) {
    send_error(res, 413, "the upload is larger than this server's limit of " + std::to_string(ctx.options.max_upload) +
                             " bytes");
    return std::nullopt;
  }
  if (!form.failure) failed = form.failure;
  else if (!ok) failed = Status(EINVAL, "malformed request body (expected multipart/form-data or a form)");
  else failed = temp.close();
  if (!failed) {
    send_error(res, failed);
    return std::nullopt;
  }
  return std::move(*ds);
}

}  // namespace

void register_upload_routes(httplib::Server& svr, ApiContext& ctx) {
  Platform& p = ctx.platform;
  // A CSV bulk import (Platform::start_csv_import): the file part is the CSV, `name` its file
  // name (the folder's, less .csv), `to` the folder it goes under ("/" by default). Answers the
  // Command; the file is the command's until it ends.
  svr.Post(R"(/api/v1/datasets/([^/]+)/imports/csv)", ctx.wrap_reader([&](const Req& req, Res& res,
                                                                          const httplib::ContentReader& reader,
                                                                          const Caller& caller) {
    TempUpload temp(p.store_dir());
    UploadForm form;
    auto ds = receive_form(req, res, reader, ctx, temp, form);
    if (!ds) return;
    if (!temp.opened()) return send_error(res, 400, "missing the 'file' part (the CSV file) of a multipart/form-data body");
    std::string name = field(form, "name");
    if (name.empty()) return send_error(res, 400, "missing form field 'name' (the CSV file's name)");
    auto folder = csv_import_folder(field(form, "to"), name);
    if (!folder) return send_error(res, folder.status());
    auto command = p.start_csv_import(ds->id, temp.release(), *folder, caller.email, true);
    if (!command) return send_error(res, command.status());
    send_json(res, command_to_json(*command, ApiContext::base_url(req)));
  }));

  svr.Post(R"(/api/v1/datasets/([^/]+)/items)", ctx.wrap_reader([&](const Req& req, Res& res,
                                                                    const httplib::ContentReader& reader,
                                                                    const Caller& caller) {
    std::string mode_text = req.has_param("mode") ? req.get_param_value("mode") : "skip";
    if (mode_text != "skip" && mode_text != "overwrite") {
      ApiContext::drain_body(req, reader);
      return send_error(res, 400, "mode must be skip or overwrite, not '" + mode_text + "'");
    }
    TempUpload temp(p.store_dir());
    UploadForm form;
    auto ds = receive_form(req, res, reader, ctx, temp, form);
    if (!ds) return;

    std::string type = field(form, "type");
    std::string path = field(form, "path");
    if (path.empty()) return send_error(res, 400, "missing form field 'path' (the full remote path)");
    if (type == "dir") {
      auto dir = p.make_dir(ds->id, path, caller.email);
      if (!dir) return send_error(res, dir.status());
      return send_json(res, item_to_json(*dir, ApiContext::base_url(req)));
    }
    if (!type.empty() && type != "file") return send_error(res, 400, "form field 'type' must be file or dir");
    if (!temp.opened()) return send_error(res, 400, "missing the 'file' part of the upload");

    UploadOptions options;
    options.mode = mode_text == "overwrite" ? UploadMode::kOverwrite : UploadMode::kSkip;
    options.user = caller.email;
    // dlfs's extension: mode=skip&replace=<id> makes the item even where that file item is, which
    // goes in the same transaction (a rename over a file, then the upload of a new one).
    options.replace_id = req.get_param_value("replace");
    if (std::string meta = field(form, "metadata"); !meta.empty()) {
      auto doc = parse_json(meta);
      if (!doc) return send_error(res, doc.status().wrap("form field 'metadata'"));
      options.metadata = std::move(*doc);
    }
    if (form.fields.count("description")) options.description = field(form, "description");
    // (the temp file is moved into the store: its removal below then finds nothing)
    auto up = p.upload_owned_file(ds->id, temp.path(), path, options);
    if (!up) return send_error(res, up.status());
    res.set_header("x-item-op", std::string(to_string(up->op)));
    send_json(res, item_to_json(up->item, ApiContext::base_url(req)));
  }));
}

}  // namespace dlfs
