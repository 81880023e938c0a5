// A large file to dlfsd in parts (server/routes_upload_session.cpp): a session is opened — or,
// for an upload named by a resume key, the server's session of the same key and bytes is taken
// up again and only the parts it lacks are sent — the parts go HttpOptions::upload_parallel at
// once, each streamed from its range of the file, then the session is completed.
#pragma once

#include <string>
#include <string_view>

#include "core/requests.h"
#include "net/http_client.h"

namespace dlfs {

// The answer to the session's completion: the item, as a single upload's answer (body and
// x-item-op), with `uploaded` set to the bytes the file had. ENOENT when the server has no
// such route (or no such dataset): the caller then sends the file as one upload.
Result<HttpResponse> upload_in_parts(HttpClient& http, const std::string& dataset_id, const std::string& local_file,
                                     std::string_view remote_path, const UploadOptions& options);

}  // namespace dlfs
