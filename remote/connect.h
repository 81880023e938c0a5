// One way for every tool to reach a dataset: a SOURCE is either an embedded dataset name
// ("cars", "cars:/photos") or an API URL ("http://HOST:PORT/api/v1/datasets/ID_OR_NAME[:/folder]",
// https too). Embedded sources open the local store (LocalConnection); URLs speak HTTP
// (HttpConnection) with a Bearer token from an explicit value, a file, or $DLFS_TOKEN.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "net/http_client.h"
#include "remote/remote.h"

namespace dlfs {

struct Source {
  bool http = false;
  std::string base_url;  // ".../api/v1" (http only)
  std::string dataset;   // name or id
  std::string folder = "/";
};

// Parses a SOURCE. EINVAL with a clear message for a URL that is not .../api/v1/datasets/X.
Result<Source> parse_source(std::string_view text);
// A server URL as given to `dlfs --server`: ".../api/v1" is added when missing.
Result<std::string> normalize_server_url(std::string_view url);

struct ConnectOptions {
  std::string store_dir;   // embedded sources
  std::string token;       // http: explicit token, else
  std::string token_file;  // read from this file, else $DLFS_TOKEN
  HttpOptions http;        // timeouts and retries (base_url and token are filled in)
  // Embedded: the platform may fetch link targets at private addresses (LocalOptions).
  bool link_allow_private = false;
  std::string link_private_hint = {};
};

// The token for an HTTP connection: explicit, else the file's content, else $DLFS_TOKEN,
// whitespace trimmed. EACCES/ENOENT-style errors that say what to do when there is none.
Result<std::string> resolve_token(const ConnectOptions& options);

// A Connection for `base_url` ("" for the embedded store).
Result<std::unique_ptr<Connection>> connect(std::string_view base_url, const ConnectOptions& options);

}  // namespace dlfs
