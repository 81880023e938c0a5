#include "remote/connect.h"

#include <curl/curl.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/paths.h"
#include "remote/http_remote.h"
#include "remote/local_remote.h"

namespace dlfs {
namespace {

constexpr std::string_view kApi = "/api/v1";
constexpr std::string_view kDatasets = "/api/v1/datasets/";

bool is_url(std::string_view text) { return text.rfind("http://", 0) == 0 || text.rfind("https://", 0) == 0; }

std::string trim(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  size_t a = s.find_first_not_of(ws);
  if (a == std::string_view::npos) return {};
  size_t b = s.find_last_not_of(ws);
  return std::string(s.substr(a, b - a + 1));
}

std::string unescape(std::string_view s) {
  int n = 0;
  char* u = curl_easy_unescape(nullptr, s.data(), int(s.size()), &n);
  std::string out = u ? std::string(u, size_t(n)) : std::string(s);
  curl_free(u);
  return out;
}

// "NAME" or "NAME:/folder" -> dataset and folder.
Status split_folder(std::string_view text, Source& out) {
  size_t colon = text.find(":/");
  out.dataset = std::string(text.substr(0, colon));
  if (colon != std::string_view::npos) {
    DLFS_ASSIGN(out.folder, normalize_path(text.substr(colon + 1)));
  }
  return {};
}

}  // namespace

Result<Source> parse_source(std::string_view text) {
  Source s;
  if (!is_url(text)) {
    DLFS_TRY(split_folder(text, s));
    if (s.dataset.empty()) return Status(EINVAL, "empty dataset name in '" + std::string(text) + "'");
    return s;
  }
  size_t at = text.find(kDatasets);
  if (at == std::string_view::npos)
    return Status(EINVAL, "'" + std::string(text) +
                              "' is not a dataset URL (expected http[s]://HOST[:PORT]/api/v1/datasets/ID_OR_NAME[:/folder])");
  s.http = true;
  DLFS_ASSIGN(s.base_url, normalize_server_url(text.substr(0, at + kApi.size())));
  DLFS_TRY(split_folder(text.substr(at + kDatasets.size()), s));
  while (!s.dataset.empty() && s.dataset.back() == '/') s.dataset.pop_back();
  if (s.dataset.empty() || s.dataset.find('/') != std::string::npos)
    return Status(EINVAL, "'" + std::string(text) + "' names no dataset after /datasets/");
  s.dataset = unescape(s.dataset);
  return s;
}

Result<std::string> normalize_server_url(std::string_view url) {
  if (!is_url(url)) return Status(EINVAL, "'" + std::string(url) + "' is not an http:// or https:// URL");
  std::string out(url);
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (out.find('?') != std::string::npos || out.find('#') != std::string::npos)
    return Status(EINVAL, "the server URL '" + std::string(url) + "' must not have a query or fragment");
  CURLU* u = curl_url();
  CURLUcode rc = curl_url_set(u, CURLUPART_URL, out.c_str(), 0);
  curl_url_cleanup(u);
  if (rc != CURLUE_OK) return Status(EINVAL, "'" + std::string(url) + "' is not a valid URL", curl_url_strerror(rc));
  if (out.size() < kApi.size() || out.compare(out.size() - kApi.size(), kApi.size(), kApi) != 0) out += kApi;
  return out;
}

Result<std::string> resolve_token(const ConnectOptions& options) {
  if (!options.token.empty()) return trim(options.token);
  if (!options.token_file.empty()) {
    std::ifstream in(options.token_file, std::ios::binary);
    if (!in) return Status(errno ? errno : ENOENT, "cannot read the token file " + options.token_file, std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    std::string token = trim(text.str());
    if (token.empty()) return Status(EINVAL, "the token file " + options.token_file + " is empty");
    return token;
  }
  if (const char* env = std::getenv("DLFS_TOKEN")) {
    std::string token = trim(env);
    if (!token.empty()) return token;
  }
  return Status(EACCES, "no API token for the server: give a token file (mount.dlfs -o token_file=FILE, "
                        "dlfs --token-file FILE) or set DLFS_TOKEN");
}

Result<std::unique_ptr<Connection>> connect(std::string_view base_url, const ConnectOptions& options) {
  if (base_url.empty()) {
    LocalOptions lo;
    lo.store_dir = options.store_dir;
    lo.link_allow_private = options.link_allow_private;
    lo.link_private_hint = options.link_private_hint;
    DLFS_ASSIGN(auto local, LocalConnection::open(lo));
    return std::unique_ptr<Connection>(std::move(local));
  }
  HttpOptions http = options.http;
  DLFS_ASSIGN(http.base_url, normalize_server_url(base_url));
  DLFS_ASSIGN(http.token, resolve_token(options));
  return std::unique_ptr<Connection>(new HttpConnection(std::move(http)));
}

}  // namespace dlfs
