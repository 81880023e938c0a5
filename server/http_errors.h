// Errors as the API answers them: a Status's errno becomes the HTTP status and its message the
// body {"message": "..."}.
#pragma once

#include <string_view>

#include "core/json_util.h"
#include "core/result.h"

namespace httplib {
struct Response;
}

namespace dlfs {

// ENOENT 404, EEXIST/EBUSY/ENOTEMPTY 409, EACCES/EPERM/EROFS 403, EINVAL/ENAMETOOLONG/EISDIR/
// ENOTDIR 400, EFBIG 413, ETIMEDOUT 408, others 500.
int http_status_for(int err);

void send_json(httplib::Response& res, const json& body, int status = 200);
void send_error(httplib::Response& res, const Status& status);
// The body send_error answers for `status` ({"message"}, and "reason" for a full quota).
json error_body(const Status& status);
void send_error(httplib::Response& res, int http_status, std::string_view message);

}  // namespace dlfs
