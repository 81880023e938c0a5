// dlfs's extension to the API: many small uploads in one request, so that a client with
// thousands of small files pays one round trip, and the platform one store sync and one
// catalogue commit, per batch instead of per file.
//
//   POST /datasets/{id}/items/batch?mode=skip|overwrite
//   multipart/form-data; per upload, in order: `path` (starts the upload), then optionally
//   `mode` (skip|overwrite; the query's otherwise), `replace` (as ?replace= of one upload),
//   `metadata` (a JSON object), `description`, then `file` (its bytes). At most 1,000 uploads.
//
// Answers 200 with a JSON array, one entry per upload in order: {"op": "created"|"overwrite"|
// "skipped", "item": Item} or {"status": <HTTP status>, "error": {"message", "reason"?}} (what the
// single upload would have answered). A request refused as a whole (the dataset, too large, a
// malformed body) answers an error status as the single upload does.
#include <memory>
#include <optional>
#include <vector>

#include "platform/platform.h"
#include "server/routes.h"
#include "server/temp_upload.h"

namespace dlfs {
namespace {

using Req = httplib::Request;
using Res = httplib::Response;

constexpr size_t kMaxUploads = 1000;

struct BatchEntry {
  std::map<std::string, std::string> fields;
  std::unique_ptr<TempUpload> file;
};

struct BatchForm {
  std::vector<BatchEntry> entries;
  uint64_t body_bytes = 0;
  bool too_large = false;
  Status failure;
};

bool read_batch(const httplib::ContentReader& reader, uint64_t max_body, const std::string& store, BatchForm& form) {
  std::string current;
  size_t field_bytes = 0;
  return reader(
      [&](const httplib::MultipartFormData& part) {
        // A file part ends where the next part begins: closed at once (a batch holds one
        // descriptor at a time, not one per file).
        if (current == "file") {
          form.failure = form.entries.back().file->close();
          if (!form.failure) return false;
        }
        current = part.name;
        if (current == "path") {
          if (form.entries.size() == kMaxUploads) {
            form.failure = Status(EINVAL, "more than " + std::to_string(kMaxUploads) + " uploads in one batch");
            return false;
          }
          form.entries.emplace_back();
          return true;
        }
        if (form.entries.empty()) {
          form.failure = Status(EINVAL, "a batch part '" + current + "' before the first 'path' part");
          return false;
        }
        if (current != "file") return true;
        BatchEntry& e = form.entries.back();
        if (e.file) {
          form.failure = Status(EINVAL, "more than one 'file' part for one 'path'");
          return false;
        }
        e.file = std::make_unique<TempUpload>(store);
        form.failure = e.file->open();
        return form.failure.is_ok();
      },
      [&](const char* data, size_t n) {
        form.body_bytes += n;
        if (form.body_bytes > max_body) {
          form.too_large = true;
          return false;
        }
        BatchEntry& e = form.entries.back();
        if (current == "file") {
          form.failure = e.file->write(data, n);
          return form.failure.is_ok();
        }
        field_bytes += n;
        if (field_bytes > kMaxFieldBytes) {
          form.failure = Status(EINVAL, "the batch's text fields are larger than 1 MiB together");
          return false;
        }
        e.fields[current].append(data, n);
        return true;
      });
}

std::string field(const BatchEntry& e, const std::string& key) {
  auto it = e.fields.find(key);
  return it == e.fields.end() ? std::string() : it->second;
}

// The upload an entry asks for, or why it cannot be one.
Result<FileUpload> entry_upload(BatchEntry& e, const std::string& default_mode, const Caller& caller) {
  FileUpload up;
  up.remote_path = field(e, "path");
  if (up.remote_path.empty()) return Status(EINVAL, "an empty 'path' (the full remote path)");
  if (!e.file) return Status(EINVAL, "no 'file' part for " + up.remote_path);
  DLFS_TRY(e.file->close());
  std::string mode = e.fields.count("mode") ? field(e, "mode") : default_mode;
  if (mode != "skip" && mode != "overwrite") return Status(EINVAL, "mode must be skip or overwrite, not '" + mode + "'");
  up.options.mode = mode == "overwrite" ? UploadMode::kOverwrite : UploadMode::kSkip;
  up.options.user = caller.email;
  up.options.replace_id = field(e, "replace");
  if (std::string meta = field(e, "metadata"); !meta.empty()) {
    auto doc = parse_json(meta);
    if (!doc) return doc.status().wrap("field 'metadata' of " + up.remote_path);
    up.options.metadata = std::move(*doc);
  }
  if (e.fields.count("description")) up.options.description = field(e, "description");
  up.local_file = e.file->path();
  up.owned = true;  // (moved into the store: the temp's removal then finds nothing)
  return up;
}

json error_entry(const Status& s) { return json{{"status", http_status_for(s.err())}, {"error", error_body(s)}}; }

}  // namespace

void register_batch_upload_routes(httplib::Server& svr, ApiContext& ctx) {
  Platform& p = ctx.platform;
  svr.Post(R"(/api/v1/datasets/([^/]+)/items/batch)", ctx.wrap_reader([&](const Req& req, Res& res,
                                                                          const httplib::ContentReader& reader,
                                                                          const Caller& caller) {
    std::string mode = req.has_param("mode") ? req.get_param_value("mode") : "skip";
    auto ds = ctx.writable_dataset(req.matches[1].str());
    if (!ds || !req.is_multipart_form_data()) {
      ApiContext::drain_body(req, reader);
      if (!ds) return send_error(res, ds.status());
      return send_error(res, 400, "a batch upload is a multipart/form-data body");
    }
    BatchForm form;
    bool ok = read_batch(reader, ctx.options.max_upload, p.store_dir(), form);
    if (form.too_large)
      return send_error(res, 413, "the batch is larger than this server's limit of " +
                                      std::to_string(ctx.options.max_upload) + " bytes");
    if (!form.failure) return send_error(res, form.failure);
    if (!ok) return send_error(res, 400, "malformed request body (expected multipart/form-data)");

    std::vector<json> answers(form.entries.size());
    std::vector<FileUpload> uploads;
    std::vector<size_t> index_of;  // uploads[k] answers entry index_of[k]
    for (size_t i = 0; i < form.entries.size(); ++i) {
      auto up = entry_upload(form.entries[i], mode, caller);
      if (!up) {
        answers[i] = error_entry(up.status());
        continue;
      }
      uploads.push_back(std::move(*up));
      index_of.push_back(i);
    }
    auto results = p.upload_files(ds->id, uploads);
    std::string base = ApiContext::base_url(req);
    for (size_t k = 0; k < results.size(); ++k) {
      auto& r = results[k];
      answers[index_of[k]] = r ? json{{"op", to_string(r->op)}, {"item", item_to_json(r->item, base)}}
                               : error_entry(r.status());
    }
    send_json(res, json(std::move(answers)));
  }));
}

}  // namespace dlfs
