#include "net/http_client.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/json_util.h"

namespace dlfs {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;
constexpr size_t kMaxIdleHandles = 32;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// "scheme://host:port" of a URL, lower-cased, with the scheme's default port filled in ("" if
// the URL does not parse).
std::string origin_of(const std::string& url) {
  CURLU* u = curl_url();
  std::string out;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char *scheme = nullptr, *host = nullptr, *port = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
      out = lower(std::string(scheme) + "://" + host + ":" + port);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return out;
}

// A URL for logs: without its query (a presigned URL's query is a credential).
std::string loggable(const std::string& url) { return url.substr(0, url.find('?')); }

bool retryable_code(long code) { return code == 429 || code >= 500; }

// Whether a try that failed so may still have reached the server.
bool may_have_arrived(CURLcode rc) {
  return rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST && rc != CURLE_COULDNT_RESOLVE_PROXY;
}

bool contains(const std::vector<long>& codes, long code) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

bool retryable_transport(CURLcode rc) {
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_READ_ERROR:             // our own file failed
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_PEER_FAILED_VERIFICATION:  // an untrusted certificate stays untrusted
    case CURLE_SSL_CACERT_BADFILE:
      return false;
    default:
      return true;
  }
}

// Stall detection by progress: libcurl's low-speed check averages over a window of several
// seconds, so a burst of bytes before a stall hides the stall for that long. This aborts when no
// byte has moved either way for low_speed_time_s, the wait for the first byte of an answer
// included (a server that accepts and never answers).
struct Progress {
  long stall_ms = 0;
  curl_off_t last_total = -1;
  std::chrono::steady_clock::time_point last_change = std::chrono::steady_clock::now();
  bool stalled = false;
};

int on_progress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) {
  auto* p = static_cast<Progress*>(user);
  auto now = std::chrono::steady_clock::now();
  if (dlnow + ulnow != p->last_total) {
    p->last_total = dlnow + ulnow;
    p->last_change = now;
    return 0;
  }
  if (now - p->last_change > std::chrono::milliseconds(p->stall_ms)) {
    p->stalled = true;
    return 1;  // aborts the transfer
  }
  return 0;
}

struct WriteState {
  CURL* curl = nullptr;
  const HttpRequest* request = nullptr;
  std::string body;
  size_t filled = 0;
  uint64_t skip = 0;
  bool started = false;
  bool to_sink = false;
  bool to_callback = false;
  bool sink_full = false;
};

size_t on_write(char* data, size_t size, size_t nmemb, void* user) {
  auto* w = static_cast<WriteState*>(user);
  size_t n = size * nmemb;
  if (!w->started) {
    // The status is known once the body starts: only a 2xx body goes into the caller's buffer,
    // and a 200 to a ranged request (a server that ignores Range) starts at byte 0.
    w->started = true;
    long code = 0;
    curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &code);
    w->to_sink = !w->request->sink.empty() && code >= 200 && code < 300;
    if (w->to_sink && code == 200 && w->request->ranged) w->skip = w->request->range_offset;
    w->to_callback = w->request->on_body && code >= 200 && code < 300;
  }
  if (w->to_callback) {
    if (w->request->on_body(std::string_view(data, n))) return n;
    w->sink_full = true;  // (the caller stopped it)
    return 0;
  }
  if (!w->to_sink) {
    if (w->body.size() < kMaxErrorBody || w->request->sink.empty()) w->body.append(data, n);
    return n;
  }
  size_t skipped = size_t(std::min<uint64_t>(w->skip, n));
  w->skip -= skipped;
  std::span<char> out = w->request->sink;
  size_t take = std::min(n - skipped, out.size() - w->filled);
  std::memcpy(out.data() + w->filled, data + skipped, take);
  w->filled += take;
  if (skipped + take == n) return n;
  // Answering less than n aborts the transfer: we have all that was asked for.
  w->sink_full = true;
  return skipped + take;
}

size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * nmemb);
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // a new answer (after a 100 Continue)
  } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    (*headers)[lower(std::string(line.substr(0, colon)))] = std::string(value);
  }
  return size * nmemb;
}

// A multipart file field read from an open descriptor; counts what was read.
struct FileSource {
  int fd = -1;
  uint64_t base = 0;  // the file's offset of the body's first byte
  uint64_t size = 0;  // the body's
  uint64_t pos = 0;
  ~FileSource() {
    if (fd >= 0) close(fd);
  }
};

size_t on_file_read(char* buffer, size_t size, size_t nitems, void* arg) {
  auto* src = static_cast<FileSource*>(arg);
  size_t want = size_t(std::min<uint64_t>(size * nitems, src->size - src->pos));
  ssize_t n;
  do {
    n = pread(src->fd, buffer, want, off_t(src->base + src->pos));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return CURL_READFUNC_ABORT;
  src->pos += uint64_t(n);
  return size_t(n);
}

int on_file_seek(void* arg, curl_off_t offset, int origin) {
  auto* src = static_cast<FileSource*>(arg);
  if (origin != SEEK_SET || offset < 0 || uint64_t(offset) > src->size) return CURL_SEEKFUNC_CANTSEEK;
  src->pos = uint64_t(offset);
  return CURL_SEEKFUNC_OK;
}

long jittered_backoff(const HttpOptions& o, int attempt_no) {
  long delay = o.backoff_base_ms;
  for (int i = 1; i < attempt_no && delay < o.backoff_max_ms; ++i) delay *= 2;
  delay = std::min(delay, o.backoff_max_ms);
  thread_local std::mt19937 rng{std::random_device{}()};
  // "Equal jitter": half fixed, half random, so that clients that failed together spread out.
  return delay / 2 + long(std::uniform_int_distribution<long>(0, std::max(0L, delay / 2))(rng));
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

int errno_for_http_status(long code) {
  switch (code) {
    case 400: return EINVAL;
    case 401: case 403: return EACCES;
    case 404: case 410: return ENOENT;
    case 408: return ETIMEDOUT;
    case 409: return EEXIST;
    case 413: return EFBIG;
    default: return EIO;
  }
}

Status http_error(long code, std::string_view body, std::string_view what) {
  std::string message;
  Result<json> doc = parse_json(body);
  if (doc && doc->is_object() && doc->contains("message") && (*doc)["message"].is_string())
    message = (*doc)["message"].get<std::string>();
  else
    message = std::string(body.substr(0, 200));
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
  if (message.empty()) message = "the server answered HTTP " + std::to_string(code);
  int err = errno_for_http_status(code);
  // dlfsd answers a full quota of items with 403 and {"reason": "quota"}, a move its bucket's
  // object cannot follow with {"reason": "external-item"} (server/http_errors.cpp).
  if (code == 403 && doc && doc->is_object()) {
    std::string reason = string_field(*doc, "reason");
    if (reason == "quota") err = EDQUOT;
    if (reason == "external-item") err = EXDEV;
  }
  return Status(err, message, "HTTP " + std::to_string(code) + " on " + std::string(what));
}

struct HttpClient::Attempt {
  CURLcode rc = CURLE_OK;
  std::string error;  // curl's error text
  HttpResponse response;
  std::string redirect_url;
  bool sink_full = false;
};

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  while (!options_.base_url.empty() && options_.base_url.back() == '/') options_.base_url.pop_back();
  origin_ = origin_of(options_.base_url);
  options_.max_attempts = std::max(1, options_.max_attempts);
  if (!options_.probe_path.empty()) {
    // A probe is one try, bounded as a whole, so that a stopped server holds the prober (and an
    // unmount waiting for it) for seconds, not for the stall bound times the tries.
    long bound = std::min(5000L, options_.connect_timeout_ms + options_.low_speed_time_s * 1000);
    reachability_ = std::make_unique<ServerReachability>(
        [this, bound] {
          HttpRequest probe;
          probe.path = options_.probe_path;
          probe.max_attempts = 1;
          probe.timeout_ms = bound;
          probe.accept_codes = {400, 401, 403, 404};  // any answer says the server is there
          return bool(send(probe));
        },
        std::chrono::milliseconds(std::max(10L, options_.probe_interval_ms)));
  }
}

HttpClient::~HttpClient() {
  reachability_.reset();  // its prober sends through this client: stopped before the handles go
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::release(void* handle) {
  // The handle keeps its live connections and DNS cache: the next request reuses them.
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdleHandles) idle_.push_back(handle);
  else curl_easy_cleanup(static_cast<CURL*>(handle));
}

bool HttpClient::same_origin(const std::string& url) const { return !origin_.empty() && origin_of(url) == origin_; }

std::string url_escape(std::string_view text) {
  char* e = curl_easy_escape(nullptr, text.data(), int(text.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

std::string HttpClient::escape(std::string_view text) { return url_escape(text); }

std::string HttpClient::escape_path(std::string_view key) {
  std::string out;
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = std::min(key.find('/', start), key.size());
    out += '/';
    out += escape(key.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string unquoted(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

std::string HttpClient::form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += escape(k) + "=" + escape(v);
  }
  return out;
}

HttpClient::Attempt HttpClient::attempt(void* handle, const HttpRequest& req, const std::string& url,
                                        bool with_token) {
  CURL* curl = static_cast<CURL*>(handle);
  // Every option is set anew: what one try set (a method, a body) must not leak into the next.
  // reset keeps the live connections.
  curl_easy_reset(curl);
  Attempt a;
  char errbuf[CURL_ERROR_SIZE] = {0};
  WriteState w;
  w.curl = curl;
  w.request = &req;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  // Debugging: libcurl's trace on stderr.
  if (getenv("DLFS_CURL_VERBOSE")) curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, long(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_limit);
  const long stall_s = req.low_speed_time_s > 0 ? req.low_speed_time_s : options_.low_speed_time_s;
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, stall_s);
  if (req.timeout_ms > 0) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // followed in send(), see there
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  Progress progress;
  progress.stall_ms = stall_s * 1000;
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &progress);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &w);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a.response.headers);

  // A file to stream as a body or a multipart part; fd -1 (and the reason in `a`) if it cannot be read.
  auto open_source = [&a](const std::string& path) {
    auto src = std::make_unique<FileSource>();
    src->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (src->fd < 0 || fstat(src->fd, &st) != 0) {
      a.rc = CURLE_READ_ERROR;
      a.error = "cannot open " + path + ": " + std::strerror(errno);
      if (src->fd >= 0) ::close(src->fd);
      src->fd = -1;
    } else {
      src->size = uint64_t(st.st_size);
    }
    return src;
  };

  // A body streamed from a file (object store PUT): opened first, its size is signed.
  std::vector<std::unique_ptr<FileSource>> files;
  if (!req.upload_path.empty()) {
    auto src = open_source(req.upload_path);
    if (src->fd >= 0) {
      // A range of the file (a part of a parted upload): its reads start at upload_offset.
      src->base = std::min(req.upload_offset, src->size);
      src->size = std::min(src->size - src->base, req.upload_length.value_or(UINT64_MAX));
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_file_read);
      curl_easy_setopt(curl, CURLOPT_READDATA, src.get());
      curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, on_file_seek);
      curl_easy_setopt(curl, CURLOPT_SEEKDATA, src.get());
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(src->size));
    }
    files.push_back(std::move(src));
  }

  curl_slist* headers = nullptr;
  std::string auth = "Authorization: Bearer " + options_.token;
  if (with_token && !options_.token.empty()) headers = curl_slist_append(headers, auth.c_str());
  if (with_token && !options_.aws_sigv4.empty()) {
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, options_.aws_sigv4.c_str());
    curl_easy_setopt(curl, CURLOPT_USERPWD, options_.user_pwd.c_str());
  }
  if (with_token && options_.signer) {
    uint64_t body_size = req.body ? req.body->size() : files.empty() ? 0 : files.front()->size;
    for (const auto& h : options_.signer(req, url, body_size)) headers = curl_slist_append(headers, h.c_str());
  }
  // No 100-continue round trip before a body. Not on an AWS-signed request: libcurl before 8.3
  // signs the "Expect:" entry (which only removes the header) as a header it never sends, and
  // AWS refuses the signature (curl issue 11664). libcurl's own Expect on large bodies is not
  // signed, which is what S3 wants.
  if (!with_token || options_.aws_sigv4.empty()) headers = curl_slist_append(headers, "Expect:");
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  std::string content_type = "Content-Type: " + req.content_type;
  if ((req.body || !req.upload_path.empty()) && !req.content_type.empty())
    headers = curl_slist_append(headers, content_type.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  std::string range;
  if (req.ranged && !req.sink.empty()) {
    range = std::to_string(req.range_offset) + "-" + std::to_string(req.range_offset + req.sink.size() - 1);
    curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
  }

  curl_mime* mime = nullptr;
  if (!req.multipart.empty()) {
    mime = curl_mime_init(curl);
    for (const auto& f : req.multipart) {
      curl_mimepart* part = curl_mime_addpart(mime);
      curl_mime_name(part, f.name.c_str());
      if (!f.content_type.empty()) curl_mime_type(part, f.content_type.c_str());
      if (f.file_path.empty()) {
        curl_mime_data(part, f.value.data(), f.value.size());
        continue;
      }
      auto src = open_source(f.file_path);
      if (src->fd < 0) break;
      curl_mime_data_cb(part, curl_off_t(src->size), on_file_read, on_file_seek, nullptr, src.get());
      if (!f.filename.empty()) curl_mime_filename(part, f.filename.c_str());
      files.push_back(std::move(src));
    }
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
  } else if (req.body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(req.body->size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body->data());
  }
  bool put_upload = !req.upload_path.empty() && req.method == "PUT";  // CURLOPT_UPLOAD's own method
  if (req.method == "HEAD")
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);  // a custom "HEAD" would wait for a body
  else if (req.method != "GET" && req.method != "POST" && !put_upload)
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  if (req.method == "POST" && req.multipart.empty() && !req.body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
  }

  if (a.rc == CURLE_OK) {
    a.rc = curl_easy_perform(curl);
    if (a.rc == CURLE_ABORTED_BY_CALLBACK && progress.stalled) {
      a.rc = CURLE_OPERATION_TIMEDOUT;
      snprintf(errbuf, sizeof errbuf, "no byte moved for %ld s", stall_s);
    }
    if (a.rc != CURLE_OK) a.error = errbuf[0] ? errbuf : curl_easy_strerror(a.rc);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.response.code);
    char* location = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) a.redirect_url = location;
  }
  for (const auto& f : files) {
    a.response.uploaded += f->pos;
    if (!req.multipart.empty()) a.response.uploaded_parts.push_back(f->pos);
  }
  a.response.body = std::move(w.body);
  a.response.received = w.filled;
  a.sink_full = w.sink_full;
  curl_easy_reset(curl);  // drops the pointers to this frame's buffers, headers and mime
  curl_slist_free_all(headers);
  curl_mime_free(mime);
  return a;
}

Result<HttpResponse> HttpClient::send(const HttpRequest& req) {
  std::string first_url = req.path.find("://") != std::string::npos ? req.path : options_.base_url + req.path;
  std::string what = req.method + " " + loggable(req.path);
  void* handle = acquire();
  if (!handle) return Status(ENOMEM, "cannot start an HTTP transfer");
  struct Releaser {
    HttpClient* self;
    void* h;
    ~Releaser() { self->release(h); }
  } releaser{this, handle};

  Status last;
  bool lost_answer = false;  // an earlier try may have been done without our hearing of it
  const int max_attempts = req.max_attempts > 0 ? req.max_attempts : options_.max_attempts;
  for (int attempt_no = 1; attempt_no <= max_attempts; ++attempt_no) {
    if (attempt_no > 1) {
      long delay = jittered_backoff(options_, attempt_no - 1);
      spdlog::warn("{}: {}; try {} of {} in {} ms", what, last.to_string(), attempt_no, max_attempts, delay);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }
    // Redirects are followed here rather than by libcurl so that the token goes to the API's own
    // origin only: a 302 from /stream to a storage URL must not carry it (nor must a redirect to
    // another port of the same host). A retry starts again from the API (a presigned URL may
    // have expired).
    std::string url = first_url;
    bool own_origin = same_origin(url);  // the API's: the token goes there only, reachability_ watches it
    Attempt a;
    for (int hops = 0;; ++hops) {
      a = attempt(handle, req, url, own_origin);
      long c = a.response.code;
      bool redirect = a.rc == CURLE_OK && (c == 301 || c == 302 || c == 303 || c == 307 || c == 308);
      if (!redirect || !req.follow_redirects) break;
      if (req.method != "GET" || a.redirect_url.empty())
        return Status(EIO, "unexpected redirect (HTTP " + std::to_string(c) + ") on " + what);
      if (hops >= options_.max_redirects) return Status(EIO, "too many redirects on " + what);
      url = a.redirect_url;
      own_origin = same_origin(url);
      spdlog::debug("{}: redirected to {}{}", what, loggable(url), own_origin ? "" : " (without the token)");
    }

    if (a.rc == CURLE_WRITE_ERROR && a.sink_full) a.rc = CURLE_OK;  // we stopped it: buffer full
    if (a.rc == CURLE_READ_ERROR) return Status(EIO, "cannot read the file to upload", what + ": " + a.error);
    if (a.rc == CURLE_PEER_FAILED_VERIFICATION || a.rc == CURLE_SSL_CACERT_BADFILE)
      return Status(EACCES, "the server's TLS certificate is not trusted (a private CA or a self-signed server: "
                            "-o ca_file= / --ca-file)", what + " " + loggable(url) + ": " + a.error);
    if (a.rc != CURLE_OK) {
      int err = a.rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : EIO;
      last = Status(err, a.rc == CURLE_OPERATION_TIMEDOUT ? "the server did not answer in time" : "cannot reach the server",
                    what + " " + loggable(url) + ": " + a.error);
      if (reachability_ && own_origin) reachability_->failed(last);
      if (!retryable_transport(a.rc)) break;
      lost_answer = lost_answer || may_have_arrived(a.rc);
      continue;
    }
    long code = a.response.code;
    if (reachability_ && own_origin) reachability_->answered();
    bool accepted = contains(req.accept_codes, code) || (lost_answer && contains(req.accept_codes_after_lost_answer, code));
    if (code < 400 || accepted) return std::move(a.response);
    last = http_error(code, a.response.body, what);
    if (!retryable_code(code) || attempt_no == max_attempts) break;
    // Retry-After (seconds) from a 429/503 is honoured up to the backoff cap.
    if (std::string ra = a.response.header("retry-after"); !ra.empty() && std::isdigit((unsigned char)ra[0])) {
      long ms = std::min(options_.backoff_max_ms, std::atol(ra.c_str()) * 1000);
      if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms / 2));
    }
  }
  spdlog::warn("{} failed: {}", what, last.to_string());
  return last;
}

Result<json> HttpClient::send_json(const HttpRequest& request) {
  DLFS_ASSIGN(HttpResponse r, send(request));
  if (r.body.empty()) return json(nullptr);
  Result<json> doc = parse_json(r.body);
  if (!doc) return Status(EIO, "the server's answer to " + request.method + " " + loggable(request.path) +
                                   " is not JSON", doc.status().cause());
  return doc;
}

}  // namespace dlfs
