// The HTTP transport of HttpRemote (libcurl): a pool of reused easy handles (keep-alive, HTTP/2
// over TLS when offered), connect timeouts and stall detection, bounded retries with exponential
// backoff and jitter on transport errors, 429 and 5xx (never on another 4xx), redirects followed
// by hand so that the Bearer token only ever goes to the API's own scheme://host:port, uploads
// streamed from a file as multipart, ranged downloads written straight into the caller's buffer.
// Thread-safe: each call takes a handle from the pool for its duration.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_util.h"
#include "core/result.h"
#include "net/server_reachability.h"

namespace dlfs {

struct HttpOptions {
  std::string base_url;  // ".../api/v1", no trailing slash
  std::string token;     // sent as "Authorization: Bearer <token>" to base_url's host only
  long connect_timeout_ms = 10000;
  // Stall detection: a transfer slower than low_speed_limit bytes/s for low_speed_time_s aborts.
  long low_speed_limit = 1;
  long low_speed_time_s = 30;
  int max_attempts = 4;  // tries per request, the first included
  long backoff_base_ms = 200;   // before the 2nd try; doubles each time, with jitter
  long backoff_max_ms = 5000;
  int max_redirects = 5;
  // https: the CA certificates (PEM) that vouch for the server, instead of the system's (a
  // private CA, a self-signed server). "" for the system's.
  std::string ca_file;
  // Object stores sign each request instead of sending a token, and only to base_url's origin:
  // libcurl's AWS SigV4 (aws_sigv4 "aws:amz:REGION:s3", user_pwd "KEY:SECRET"), or `signer`,
  // which answers the headers to add (Azure's SharedKey).
  std::string aws_sigv4;
  std::string user_pwd;
  std::function<std::vector<std::string>(const struct HttpRequest&, const std::string& url, uint64_t body_size)>
      signer;
  // When set (an API path such as "/users/me"): a transport failure marks the server away, and
  // while it is away this path is asked every probe_interval_ms in the background until it answers
  // (net/server_reachability.h). Off for object stores and one-shot clients.
  std::string probe_path;
  long probe_interval_ms = 1000;
  // Uploads to dlfsd (HttpRemote): a file of at least parted_upload_min bytes goes in parts of
  // upload_part_size, upload_parallel at once, resumable (server/routes_upload_session.cpp).
  // Reads of items in a storage driver's bucket (HttpRemote): dlfsd answers a presigned URL and
  // the bytes come from the bucket itself; false asks dlfsd to stream them (?redirect=false), as
  // HttpRemote does by itself once the bucket cannot be reached from here.
  bool direct_reads = true;
  uint64_t parted_upload_min = 64ull << 20;
  uint64_t upload_part_size = 8ull << 20;
  unsigned upload_parallel = 4;
};

// One multipart field: a text value, or the bytes of a local file (streamed).
struct MultipartField {
  std::string name;
  std::string value;       // text fields
  std::string file_path;   // file fields (value unused)
  std::string filename;    // the part's filename (file fields)
  std::string content_type;
};

struct HttpRequest {
  std::string method = "GET";
  std::string path;  // relative to base_url ("/items/ID"), or an absolute URL
  std::vector<std::string> headers;  // "Name: value"
  std::optional<std::string> body;   // with content_type
  std::string content_type;
  std::vector<MultipartField> multipart;  // a multipart/form-data body instead of `body`
  std::string upload_path;  // the body is this local file's bytes, streamed (PUT to an object store)
  uint64_t upload_offset = 0;                     // ... from this offset
  std::optional<uint64_t> upload_length;          // ... this many (else to its end)
  // Ranged download: "Range: bytes=offset-(offset+sink.size()-1)", the body written into `sink`.
  // A 200 answer (range ignored) has its first `range_offset` bytes skipped.
  std::span<char> sink;
  // Or a 2xx answer's body handed to this as it arrives (false stops the transfer: not an
  // error). A try that handed over bytes is not retried (set max_attempts = 1).
  std::function<bool(std::string_view)> on_body;
  bool ranged = false;
  uint64_t range_offset = 0;
  // HTTP codes >= 400 answered as a response instead of an error (e.g. 416 for a read at the end).
  std::vector<long> accept_codes;
  // The same, only when an earlier try may have reached the server and its answer was lost (a
  // 409 to a retried create, a 404 to a retried delete: the earlier try did it).
  std::vector<long> accept_codes_after_lost_answer;
  // false: a redirect is answered as a response (its Location in the headers), not followed.
  bool follow_redirects = true;
  int max_attempts = 0;  // tries of this request; 0: the client's
  long timeout_ms = 0;   // a bound on each try as a whole; 0: only the stall bound
  // This request's stall bound (seconds without a byte); 0: the client's. For a server that
  // works long before it answers (S3's CompleteMultipartUpload of a big object).
  long low_speed_time_s = 0;
};

struct HttpResponse {
  long code = 0;
  std::string body;                           // when no sink was given
  size_t received = 0;                        // bytes written into the sink
  std::map<std::string, std::string> headers;  // names lower-cased, the final answer's
  uint64_t uploaded = 0;                      // file bytes sent (multipart file fields)
  std::vector<uint64_t> uploaded_parts;       // the same, per multipart file field, in order
  std::string header(const std::string& lower_name) const;
};

// RFC 3986 escaping (unreserved characters kept, every other byte %XX, upper case): a query
// value, a path segment; what SigV4 and SAS signatures sign.
std::string url_escape(std::string_view text);

// An ETag without its quotes ("\"abc\"" -> "abc"); as it is when not quoted.
std::string unquoted(std::string etag);

// errno for an HTTP error answer (API.md's codes).
int errno_for_http_status(long code);
// The Status for an error answer: the server's {"message"} if any, else the body's start.
Status http_error(long code, std::string_view body, std::string_view what);

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  const HttpOptions& options() const { return options_; }
  // Sends the request (retrying as the header says). An error answer (>= 400, not in
  // accept_codes) is a Status with errno_for_http_status; a transport failure after the last
  // try is ETIMEDOUT (timeouts, stalls) or EIO.
  Result<HttpResponse> send(const HttpRequest& request);
  // send() and parse the body as JSON (EIO with the parse error if it is not).
  Result<json> send_json(const HttpRequest& request);
  // Whether the server is away (a probe_path client whose last try failed at the transport).
  bool away() const { return reachability_ && reachability_->away(); }
  std::string away_reason() const { return reachability_ ? reachability_->why() : std::string(); }

  // "key=value&..." with both escaped.
  std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
  std::string escape(std::string_view text);
  // An object key as a URL path: "/" before each '/'-separated part, each part escaped.
  std::string escape_path(std::string_view key);

 private:
  struct Attempt;
  void* acquire();
  void release(void* handle);
  Attempt attempt(void* curl, const HttpRequest& request, const std::string& url, bool with_token);
  bool same_origin(const std::string& url) const;

  HttpOptions options_;
  std::string origin_;  // scheme://host:port of base_url, lower-cased
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* handles, kept for their live connections
  // Reset first by the destructor: its prober sends through this client.
  std::unique_ptr<ServerReachability> reachability_;
};

}  // namespace dlfs
