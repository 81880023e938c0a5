// JSON request bodies of the HTTP remotes (remote/http_remote.cpp, remote/http_parted_upload.cpp).
#pragma once

#include <string>

#include "core/json_util.h"
#include "net/http_client.h"

namespace dlfs {

// A JSON body; names that are not UTF-8 cannot be sent as JSON (dump() would throw): EINVAL.
Result<std::string> dump_body(const json& doc);
// A request with `body` as its JSON body.
Result<HttpRequest> json_request(std::string method, std::string path, const json& body);

}  // namespace dlfs
