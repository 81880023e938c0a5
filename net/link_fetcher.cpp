// The guard is enforced inside libcurl, where no URL trick gets around it:
// - CURLOPT_PROTOCOLS_STR limits the schemes of the link itself (file only with allow_file), and
//   CURLOPT_REDIR_PROTOCOLS_STR those of redirects (never file: a web server must not be able
//   to point the fetch at this machine's files);
// - every socket is opened by open_socket(), which checks the address libcurl is about to
//   connect to. Names that resolve to private addresses, DNS rebinding between a check and the
//   connect, and redirects (each a new connection, or a reused one to an address already
//   checked) all pass through it;
// - proxies are off (CURLOPT_PROXY ""): through a proxy the socket would reach the proxy, and
//   the proxy the target, which the guard could not see. Links are fetched directly, whatever
//   http_proxy/https_proxy/all_proxy say;
// - redirects, the time of a transfer and the bytes received are bounded.
#include "net/link_fetcher.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace dlfs {
namespace {

// One transfer's state, shared with libcurl's callbacks.
struct Transfer {
  const LinkPolicy* policy = nullptr;
  CURL* curl = nullptr;
  std::string refused;       // why a connection was refused (the first one)
  std::string refused_url;   // the URL being fetched then (a redirect's, maybe)
  // Reads.
  std::span<char> out;
  uint64_t offset = 0;
  bool started = false;
  long code = 0;
  uint64_t skip = 0;      // bytes still to skip of a 200 answer (Range ignored)
  uint64_t received = 0;  // body bytes received, skipped ones included
  size_t filled = 0;
  const LinkFetcher::Sink* sink = nullptr;  // fetch_all: every byte of the body goes here
  Status sink_error;
  bool too_big = false;
  char errbuf[CURL_ERROR_SIZE] = {};
};

curl_socket_t open_socket(void* user, curlsocktype, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  Status allowed = check_address(*t->policy, &address->addr, socklen_t(address->addrlen));
  if (!allowed) {
    if (t->refused.empty()) {
      t->refused = allowed.message();
      char* url = nullptr;
      curl_easy_getinfo(t->curl, CURLINFO_EFFECTIVE_URL, &url);
      if (url) t->refused_url = url;
    }
    return CURL_SOCKET_BAD;  // libcurl tries the name's other addresses, then fails
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nmemb;
  if (!t->started) {  // the first bytes of the final answer (redirects' bodies are not written)
    t->started = true;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->code);
    // 206 starts at the offset; 200 over http(s) is the whole body from byte 0. (file:// has
    // code 0 and honours the range itself.)
    if (t->code == 200) t->skip = t->offset;
    curl_off_t length = -1;  // a whole fetch of a target said to be too large: not a byte of it
    curl_easy_getinfo(t->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    if (t->sink && t->code < 400 && length > 0 && uint64_t(length) > t->policy->max_bytes) {
      t->too_big = true;
      return 0;
    }
  }
  if (t->code >= 400) return 0;  // an error page is not the target's bytes: the code says it all
  t->received += n;
  if (t->received > t->policy->max_bytes) {
    t->too_big = true;
    return 0;  // aborts the transfer
  }
  if (t->sink) {
    t->sink_error = (*t->sink)(std::string_view(data, n));
    return t->sink_error ? n : 0;
  }
  size_t at = size_t(std::min<uint64_t>(t->skip, n));
  t->skip -= at;
  size_t take = std::min(n - at, t->out.size() - t->filled);
  std::memcpy(t->out.data() + t->filled, data + at, take);
  t->filled += take;
  // Buffer full with more coming: abort (CURLE_WRITE_ERROR, expected) rather than download
  // past offset+len from a server that sends everything.
  return at + take == n ? n : 0;
}

int errno_for_http(long code) {
  switch (code) {
    case 401: case 403: return EACCES;
    case 404: case 410: return ENOENT;
    case 408: case 504: return ETIMEDOUT;
    default: return EIO;
  }
}

class CurlLinkFetcher : public LinkFetcher {
 public:
  explicit CurlLinkFetcher(LinkPolicy policy) : policy_(std::move(policy)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Result<uint64_t> size(std::string_view url) override {
    DLFS_ASSIGN(LinkStat st, stat(url));
    if (!st.size) return Status(ENOTSUP, "link target " + std::string(url) + " does not tell its size");
    return *st.size;
  }

  Result<LinkStat> stat(std::string_view url) override {
    DLFS_TRY(check(url));
    Transfer t;
    CURL* curl = start(url, t);
    if (!curl) return Status(ENOMEM, "cannot start a transfer");
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(curl);
    curl_off_t length = -1;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.code);
    curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    LinkStat st;
    if (length >= 0) st.size = uint64_t(length);
    // The last answer's headers (-1: the one after any redirects).
    auto header = [&](const char* name) {
      curl_header* h = nullptr;
      if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h && h->value) return std::string(h->value);
      return std::string();
    };
    st.etag = header("ETag");
    st.last_modified = header("Last-Modified");
    st.content_type = header("Content-Type");
    curl_easy_cleanup(curl);
    DLFS_TRY(outcome(url, t, rc));
    return st;
  }

  Result<size_t> read(std::string_view url, uint64_t offset, std::span<char> out) override {
    if (out.empty()) return size_t(0);
    DLFS_TRY(check(url));
    Transfer t;
    t.out = out;
    t.offset = offset;
    CURL* curl = start(url, t);
    if (!curl) return Status(ENOMEM, "cannot start a transfer");
    std::string range = std::to_string(offset) + "-" + std::to_string(offset + out.size() - 1);
    curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    CURLcode rc = curl_easy_perform(curl);
    if (!t.started) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.code);
    curl_easy_cleanup(curl);
    if (t.code == 416) return size_t(0);  // range past the end
    if (rc == CURLE_WRITE_ERROR && t.filled == out.size() && !t.too_big) rc = CURLE_OK;  // we stopped it
    DLFS_TRY(outcome(url, t, rc));
    return t.filled;
  }

  Result<uint64_t> fetch_all(std::string_view url, const Sink& sink) override {
    DLFS_TRY(check(url));
    Transfer t;
    t.sink = &sink;
    CURL* curl = start(url, t);
    if (!curl) return Status(ENOMEM, "cannot start a transfer");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    CURLcode rc = curl_easy_perform(curl);
    if (!t.started) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.code);
    curl_easy_cleanup(curl);
    if (!t.sink_error) return t.sink_error;
    if (t.too_big)
      return Status(EFBIG, "link target " + std::string(url) + " is larger than " + std::to_string(policy_.max_bytes) +
                               " bytes (the most one link fetch receives)");
    DLFS_TRY(outcome(url, t, rc));
    return t.received;
  }

 private:
  Status check(std::string_view url) {
    Status s = check_scheme(policy_, url);
    if (!s) return Status(s.err(), "link target " + std::string(url) + " refused: " + s.message(), s.cause());
    return {};
  }

  CURL* start(std::string_view url, Transfer& t) {
    CURL* curl = curl_easy_init();
    if (!curl) return nullptr;
    t.policy = &policy_;
    t.curl = curl;
    std::string u(url);
    curl_easy_setopt(curl, CURLOPT_URL, u.c_str());
    if (getenv("DLFS_CURL_VERBOSE")) curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, t.errbuf);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, policy_.allow_file ? "http,https,file" : "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &t);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");  // never a proxy, even from the environment
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, policy_.max_redirects);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, policy_.connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, policy_.timeout_ms);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, policy_.low_speed_time_s);
    return curl;
  }

  // The transfer's result as a Status: refusals first (they explain a failed connect).
  Status outcome(std::string_view url, const Transfer& t, CURLcode rc) const {
    std::string target = "link target " + std::string(url);
    if (rc != CURLE_OK && !t.refused.empty()) {
      std::string via = t.refused_url.empty() || t.refused_url == url ? "" : "it redirects to " + t.refused_url + ", and ";
      return Status(EACCES, target + " refused: " + via + t.refused);
    }
    if (t.too_big)
      return Status(EIO, target + ": more than " + std::to_string(policy_.max_bytes) +
                             " bytes to receive (the server ignores ranged requests and sends everything from byte 0)");
    if (t.code >= 400) return Status(errno_for_http(t.code), target + " answered HTTP " + std::to_string(t.code));
    if (rc == CURLE_OK) return {};
    std::string cause = t.errbuf[0] ? t.errbuf : curl_easy_strerror(rc);
    switch (rc) {
      case CURLE_UNSUPPORTED_PROTOCOL:  // the link's own scheme was checked: a redirect's
        return Status(EACCES, target + " refused: it redirects to a URL that is not http or https", cause);
      case CURLE_TOO_MANY_REDIRECTS:
        return Status(EIO, target + ": more than " + std::to_string(policy_.max_redirects) + " redirects", cause);
      case CURLE_OPERATION_TIMEDOUT:
        return Status(ETIMEDOUT, target + " did not answer in time", cause);
      case CURLE_FILE_COULDNT_READ_FILE:
        return Status(ENOENT, target + " cannot be read", cause);
      default:
        return Status(EIO, "cannot reach " + target, cause);
    }
  }

  LinkPolicy policy_;
};

}  // namespace

Result<LinkStat> LinkFetcher::stat(std::string_view url) {
  LinkStat st;
  auto n = size(url);
  if (n) {
    st.size = *n;
  } else if (n.status().err() != ENOTSUP) {
    return n.status();
  }
  return st;
}

std::unique_ptr<LinkFetcher> make_curl_link_fetcher(LinkPolicy policy) {
  return std::make_unique<CurlLinkFetcher>(std::move(policy));
}

}  // namespace dlfs
