#include "remote/http_parted_upload.h"

#include "core/json_util.h"
#include "core/parallel_each.h"
#include "remote/http_json.h"

#include <sys/stat.h>

#include <vector>

namespace dlfs {

Result<HttpResponse> upload_in_parts(HttpClient& http, const std::string& dataset_id, const std::string& local_file,
                                     std::string_view remote_path, const UploadOptions& options) {
  struct stat st {};
  if (::stat(local_file.c_str(), &st) != 0) return Status(errno, "cannot stat " + local_file);
  uint64_t size = uint64_t(st.st_size);
  const HttpOptions& ho = http.options();
  json body = {{"path", remote_path},
               {"size", size},
               {"partSize", ho.upload_part_size},
               {"mode", options.mode == UploadMode::kSkip ? "skip" : "overwrite"}};
  // The key names these bytes too (size and modification time): a file written since is a new
  // upload, never completed with parts of its older bytes.
  if (!options.resume_key.empty())
    body["key"] = options.resume_key + ":" + std::to_string(size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
                  std::to_string(st.st_mtim.tv_nsec);
  if (options.mode == UploadMode::kSkip && !options.replace_id.empty()) body["replace"] = options.replace_id;
  if (options.metadata.is_object() && !options.metadata.empty()) body["metadata"] = options.metadata;
  if (options.description) body["description"] = *options.description;
  DLFS_ASSIGN(HttpRequest open, json_request("POST", "/datasets/" + dataset_id + "/uploads", body));
  DLFS_ASSIGN(json session, http.send_json(open));
  std::string id = string_field(session, "id");
  uint64_t part_size = session.value("partSize", uint64_t(0));
  uint64_t parts = session.value("parts", uint64_t(0));
  if (id.empty() || part_size == 0 || parts == 0 || (parts - 1) * part_size > size)
    return Status(EIO, "the server's answer to an upload session is not one");
  std::vector<bool> have(parts, false);
  if (auto r = session.find("received"); r != session.end() && r->is_array())
    for (const auto& n : *r)
      if (n.is_number_unsigned() && n.get<uint64_t>() < parts) have[n.get<uint64_t>()] = true;
  std::vector<uint64_t> todo;
  for (uint64_t n = 0; n < parts; ++n)
    if (!have[n]) todo.push_back(n);

  // After a failed part no other starts; the session keeps what came, for the next try.
  Status first = parallel_each(todo.size(), ho.upload_parallel, [&](size_t i) -> Status {
    uint64_t n = todo[i];
    HttpRequest put;
    put.method = "PUT";
    put.path = "/uploads/" + id + "/parts/" + std::to_string(n);
    put.upload_path = local_file;
    put.upload_offset = n * part_size;
    put.upload_length = std::min(part_size, size - n * part_size);
    put.content_type = "application/octet-stream";
    auto sent = http.send(put);
    if (!sent) return sent.status().wrap("part " + std::to_string(n) + " of " + std::string(remote_path));
    return {};
  });
  if (!first) return first;

  HttpRequest complete;
  complete.method = "POST";
  complete.path = "/uploads/" + id + "/complete";
  // The server hands the file to its store before it answers — into a bucket, minutes for GBs
  // (no byte moves meanwhile): the stall bound grows with the size (a minute + 1 s per 16 MiB).
  // A complete asked again after a stall waits for the first one's end and answers its item.
  complete.low_speed_time_s = long(60 + size / (16 << 20));
  DLFS_ASSIGN(HttpResponse r, http.send(complete));
  r.uploaded = size;
  return r;
}

}  // namespace dlfs
