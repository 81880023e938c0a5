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
    case EDQUOT: return 403;  // a quota of items is full: the body says so (send_error)
    case EXDEV: return 403;   // a move a bucket's object cannot follow: the body says so
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

json error_body(const Status& status) {
  json body{{"message", status.to_string()}};
  // A full quota, or a move of an item in a bucket that cannot move its object, is a 403 like a
  // refusal, told apart by its reason (clients answer EDQUOT, EXDEV).
  if (status.err() == EDQUOT) body["reason"] = "quota";
  if (status.err() == EXDEV) body["reason"] = "external-item";
  return body;
}

void send_error(httplib::Response& res, const Status& status) {
  send_json(res, error_body(status), http_status_for(status.err()));
}

}  // namespace dlfs
