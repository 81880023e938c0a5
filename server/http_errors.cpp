#include "server/http_errors.h"

#include <httplib.h>

namespace dlfs {

int http_status_for(int err) {
  switch (err) {
    case ENOENT: return 404;
    case EEXIST:
    case EBUSY:
    case ENOTEMPTY: return 409;
    case EACCES:
    case EPERM:
    case EROFS: return 403;
    case EINVAL:
    case ENAMETOOLONG:
    case EISDIR:
    case ENOTDIR: return 400;
    case EFBIG: return 413;
    case ETIMEDOUT: return 408;
    case ENOSYS: return 501;
    default: return 500;
  }
}

void send_json(httplib::Response& res, const json& body, int status) {
  res.status = status;
  // Invalid UTF-8 in a stored string must not throw here: replace it.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int http_status, std::string_view message) {
  send_json(res, json{{"message", message}}, http_status);
}

void send_error(httplib::Response& res, const Status& status) {
  send_error(res, http_status_for(status.err()), status.to_string());
}

}  // namespace dlfs
