#include "remote/http_json.h"

namespace dlfs {

Result<std::string> dump_body(const json& doc) {
  try {
    return doc.dump();
  } catch (const json::exception& e) {
    return Status(EINVAL, "a name or value is not valid UTF-8, which the HTTP API cannot carry", e.what());
  }
}

Result<HttpRequest> json_request(std::string method, std::string path, const json& body) {
  HttpRequest req;
  req.method = std::move(method);
  req.path = std::move(path);
  DLFS_ASSIGN(req.body, dump_body(body));
  req.content_type = "application/json";
  return req;
}

}  // namespace dlfs
