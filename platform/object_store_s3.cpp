// The S3 object store (platform/object_store_s3.h). Requests are signed by libcurl (SigV4);
// the REST calls used: HEAD/GET (ranged)/PUT/DELETE on an object, ListObjectsV2 on the bucket,
// and the multipart calls of platform/s3_multipart.h for large files and copies.
#include "platform/object_store_s3.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <pugixml.hpp>

#include "core/clock.h"
#include "net/http_client.h"
#include "platform/s3_multipart.h"
#include "platform/sigv4_presign.h"

namespace dlfs {
namespace {

// libcurl 7.88 signs the x-amz-content-sha256 header's value as the payload hash when the
// request has one, and does not send the header itself; S3 requires it with SigV4 (s3rver
// refuses a request without it). Bodies are streamed from files, so they go unhashed (TLS
// protects them in transit).
constexpr const char* kUnsignedPayload = "x-amz-content-sha256: UNSIGNED-PAYLOAD";

constexpr uint64_t kMaxS3SinglePut = uint64_t(5) << 30;

// "Tue, 24 Nov 2026 15:52:24 GMT" (a Last-Modified header) -> ms since the epoch, 0 if unparsable.
int64_t http_date_ms(const std::string& text) {
  time_t t = text.empty() ? time_t(-1) : curl_getdate(text.c_str(), nullptr);
  return t < 0 ? 0 : int64_t(t) * 1000;
}

// The HTTP codes an S3 call answers itself rather than leaving to HttpClient's error text: S3's
// error bodies are XML (<Error><Code/><Message/></Error>), not the JSON http_error() reads.
// 429 stays out: HttpClient retries it.
const std::vector<long>& client_error_codes() {
  static const std::vector<long> codes = [] {
    std::vector<long> c;
    for (long code = 400; code < 500; ++code)
      if (code != 429) c.push_back(code);
    return c;
  }();
  return codes;
}

// S3's <Error> document in `body`, or an empty node.
struct S3ErrorText {
  std::string code, message;
};

S3ErrorText parse_error(std::string_view body) {
  S3ErrorText out;
  if (body.empty()) return out;
  pugi::xml_document doc;
  // A partial parse (the body cut short) still keeps what was read.
  doc.load_buffer(body.data(), body.size());
  pugi::xml_node e = doc.child("Error");
  out.code = e.child_value("Code");
  out.message = e.child_value("Message");
  return out;
}

class S3Store : public ObjectStore, private S3Calls {
 public:
  S3Store(S3StoreConfig config, HttpOptions options, bool virtual_hosted)
      : config_(std::move(config)), http_(std::move(options)), virtual_hosted_(virtual_hosted) {}

  Result<ObjectInfo> head(std::string_view key) override {
    DLFS_TRY(check_object_key(key));
    HttpRequest req;
    req.method = "HEAD";
    req.path = object_path(key);
    DLFS_ASSIGN(HttpResponse r, call(req, key));
    ObjectInfo o;
    o.key = std::string(key);
    o.size = std::strtoull(r.header("content-length").c_str(), nullptr, 10);
    o.etag = unquoted(r.header("etag"));
    o.modified_ms = http_date_ms(r.header("last-modified"));
    return o;
  }

  Result<size_t> read(std::string_view key, uint64_t offset, std::span<char> out) override {
    DLFS_TRY(check_object_key(key));
    if (out.empty()) {  // no byte to ask for; the object must still be there
      DLFS_TRY(head(key));
      return size_t(0);
    }
    HttpRequest req;
    req.path = object_path(key);
    req.sink = out;
    req.ranged = true;
    req.range_offset = offset;
    // S3 answers 416 InvalidRange to a range that starts at or past the end (an empty object's
    // bytes=0-N included).
    req.accept_codes = {416};
    DLFS_ASSIGN(HttpResponse r, call(req, key));
    if (r.code == 416) return size_t(0);
    return r.received;
  }

  Result<ObjectInfo> put_file(std::string_view key, const std::string& local_file) override {
    DLFS_TRY(check_object_key(key));
    struct stat st {};
    if (::stat(local_file.c_str(), &st) != 0) return Status(errno, "cannot open " + local_file, strerror(errno));
    // One PUT takes at most 5 GiB (S3's limit); large files go in parts, several at once.
    uint64_t size = uint64_t(st.st_size);
    if (size >= config_.multipart_threshold || size > kMaxS3SinglePut) {
      DLFS_TRY(s3_multipart_put(*this, key, local_file, size, upload_plan()));
      return head(key);
    }
    HttpRequest req;
    req.method = "PUT";
    req.path = object_path(key);
    req.upload_path = local_file;
    req.content_type = "application/octet-stream";
    DLFS_TRY(call(req, key));
    return head(key);
  }

  Result<ObjectInfo> put_bytes(std::string_view key, std::string_view bytes) override {
    DLFS_TRY(check_object_key(key));
    HttpRequest req;
    req.method = "PUT";
    req.path = object_path(key);
    req.body = std::string(bytes);
    req.content_type = "application/octet-stream";
    DLFS_TRY(call(req, key));
    // A PUT answers the ETag but not Last-Modified: the HEAD gives the store's own view.
    return head(key);
  }

  // CopyObject: a PUT naming the source in x-amz-copy-source. S3 copies up to 5 GiB in one call
  // (larger objects go as UploadPartCopy parts), and may answer 200 with an <Error> in the body
  // when the copy fails after it started.
  Result<ObjectInfo> copy(std::string_view from, std::string_view to) override {
    DLFS_TRY(check_object_key(from));
    DLFS_TRY(check_object_key(to));
    DLFS_ASSIGN(ObjectInfo source, head(from));
    if (source.size > std::min(config_.single_copy_max, kMaxS3SinglePut)) {
      S3PartPlan plan = upload_plan();
      plan.part_size = config_.copy_part_size;
      DLFS_TRY(s3_multipart_copy(*this, from, to, source.size, plan));
      return head(to);
    }
    HttpRequest req;
    req.method = "PUT";
    req.path = object_path(to);
    req.headers.push_back("x-amz-copy-source: /" + config_.bucket + object_path(from));
    req.body = std::string();
    req.content_type = "application/octet-stream";
    DLFS_ASSIGN(HttpResponse r, call(req, from));
    pugi::xml_document doc;
    if (doc.load_buffer(r.body.data(), r.body.size()) && doc.child("Error")) {
      S3ErrorText e = parse_error(r.body);
      return Status(EIO, "the S3 store failed to copy object '" + std::string(from) + "' to '" + std::string(to) +
                             "': " + e.message, "HTTP 200 " + e.code + " on PUT (copy)");
    }
    return head(to);
  }

  // SigV4 query signing (platform/sigv4_presign.h); a public bucket's plain URL.
  Result<std::string> presigned_read_url(std::string_view key, int64_t valid_s) override {
    DLFS_TRY(check_object_key(key));
    std::string url = http_.options().base_url + object_path(key);
    bool rsa = config_.bearer_token && config_.url_signer;
    if (config_.bearer_token && !rsa) return Status(ENOTSUP, "this store's OAuth tokens cannot sign URLs");
    if (config_.access_key.empty() && !rsa) return url;
    SigV4Presign p;
    size_t host_at = url.find("://") + 3;
    p.host = url.substr(host_at, url.find('/', host_at) - host_at);
    // Path-style URLs sign the bucket as the path's first segment.
    p.canonical_uri = (virtual_hosted_ ? "" : "/" + config_.bucket) + object_path(key);
    p.region = config_.region;
    p.access_key = config_.access_key;
    p.secret_key = config_.secret_key;
    if (rsa) {  // GCS's V4 signing with a service account
      p.access_key = config_.url_signer_email;
      p.service = "storage";
      p.rsa_sign = config_.url_signer;
    }
    p.now_s = std::time(nullptr);
    p.expires_s = valid_s;
    DLFS_ASSIGN(std::string query, sigv4_presigned_query(p));
    return url + "?" + query;
  }

  Status remove(std::string_view key) override {
    DLFS_TRY(check_object_key(key));
    HttpRequest req;
    req.method = "DELETE";
    req.path = object_path(key);
    // S3 answers 204 whether or not the key was there; other stores may answer 404.
    req.accept_codes = {404};
    DLFS_TRY(call(req, key));
    return {};
  }

  Status list(std::string_view prefix, const std::function<bool(const ObjectInfo&)>& fn) override {
    std::string token;
    for (;;) {
      HttpRequest req;
      req.path = list_path(prefix, token);
      DLFS_ASSIGN(HttpResponse r, call(req, {}));
      pugi::xml_document doc;
      pugi::xml_parse_result parsed = doc.load_buffer(r.body.data(), r.body.size());
      pugi::xml_node root = doc.child("ListBucketResult");
      if (!parsed || !root)
        return Status(EIO, "the S3 store's listing of bucket '" + config_.bucket + "' is not a ListBucketResult",
                      parsed ? r.body.substr(0, 200) : std::string(parsed.description()));
      for (pugi::xml_node c : root.children("Contents")) {
        ObjectInfo o;
        o.key = c.child_value("Key");
        // Keys no other call could take ("photos/", the folder markers of S3 consoles; "a//b")
        // are not objects of this store.
        if (!o.key.starts_with(prefix) || !check_object_key(o.key)) continue;
        o.size = std::strtoull(c.child_value("Size"), nullptr, 10);
        o.etag = unquoted(c.child_value("ETag"));
        Result<int64_t> ms = parse_iso8601(c.child_value("LastModified"));
        o.modified_ms = ms ? *ms : 0;
        if (!fn(o)) return {};
      }
      if (std::string_view(root.child_value("IsTruncated")) != "true") return {};
      std::string next = root.child_value("NextContinuationToken");
      if (next.empty() || next == token)
        return Status(EIO, "the S3 store's listing of bucket '" + config_.bucket + "' is cut short",
                      "IsTruncated without a new NextContinuationToken");
      token = std::move(next);
    }
  }

 private:
  S3PartPlan upload_plan() const {
    S3PartPlan plan;
    plan.part_size = config_.part_size;
    plan.parallel = config_.upload_parallel;
    plan.before_part = config_.before_part_for_test;
    return plan;
  }

  // S3Calls (the multipart calls' view of the store).
  const std::string& bucket_name() const override { return config_.bucket; }
  std::string escape(std::string_view text) override { return http_.escape(text); }
  std::string bucket_path(const std::string& query) override { return (virtual_hosted_ ? "/?" : "?") + query; }

  // "/KEY" below the bucket's URL, each '/'-separated part escaped: a space, '+', '%' or a
  // non-ASCII byte as %XX. SigV4 signs the path as sent, so it must already be in S3's canonical
  // form (RFC 3986 unreserved characters kept, which is what curl_easy_escape keeps).
  std::string object_path(std::string_view key) override { return http_.escape_path(key); }

  // A ListObjectsV2 request. libcurl 7.88 signs the query string as sent (it neither sorts nor
  // re-encodes it), so the parameters go in SigV4's canonical order: by name, values escaped.
  std::string list_path(std::string_view prefix, const std::string& token) {
    std::string q;
    if (!token.empty()) q += "continuation-token=" + http_.escape(token) + "&";
    q += "list-type=2";
    if (config_.list_page_size > 0) q += "&max-keys=" + std::to_string(config_.list_page_size);
    if (!prefix.empty()) q += "&prefix=" + http_.escape(prefix);
    // Virtual-hosted: the bucket is the host, the path "/". Path-style: base_url ends in /BUCKET.
    return bucket_path(q);
  }

  // send() with the S3 specifics: the payload-hash header, and 4xx answers read as S3 errors.
  // `key` names the object for messages ("" for the bucket).
  Result<HttpResponse> call(HttpRequest req, std::string_view key) override {
    std::string subject = key.empty() ? "bucket '" + config_.bucket + "'" : "object '" + std::string(key) + "'";
    std::string what = req.method + " s3://" + config_.bucket + "/" + std::string(key);
    std::vector<long> wanted = req.accept_codes;
    req.headers.push_back(kUnsignedPayload);
    req.accept_codes = client_error_codes();
    std::string token;
    if (config_.bearer_token) {
      DLFS_ASSIGN(token, config_.bearer_token());
      req.headers.push_back("Authorization: Bearer " + token);
    }
    Result<HttpResponse> r = http_.send(req);
    if (r && r->code == 401 && config_.bearer_token) {
      // The token expired early or was revoked: once more with a new one.
      if (config_.bearer_rejected) config_.bearer_rejected(token);
      DLFS_ASSIGN(token, config_.bearer_token());
      req.headers.back() = "Authorization: Bearer " + token;
      r = http_.send(req);
    }
    if (!r) {
      // A 5xx after the last try, or a transport error: HttpClient's Status, with S3's message
      // in place of the raw XML when there is one.
      S3ErrorText e = parse_error(r.status().message());
      if (e.message.empty()) return Status(r.status().err(), r.status().message(), r.status().cause());
      return Status(r.status().err(), "the S3 store failed on " + subject + ": " + e.message,
                    r.status().cause() + " (" + e.code + ")");
    }
    long code = r->code;
    if (code < 400 || std::find(wanted.begin(), wanted.end(), code) != wanted.end()) return r;
    S3ErrorText e = parse_error(r->body);
    int err = errno_for_http_status(code);
    if (e.code == "NoSuchKey" || e.code == "NoSuchBucket") err = ENOENT;
    std::string message;
    if (err == ENOENT)
      message = e.code == "NoSuchBucket" ? "no bucket '" + config_.bucket + "'" : "no " + subject;
    else if (err == EACCES)
      message = "access to " + subject + " denied by the S3 store (check the access key and secret)";
    else
      message = "the S3 store refused a request on " + subject;
    if (!e.message.empty()) message += ": " + e.message;
    std::string cause = "HTTP " + std::to_string(code) + (e.code.empty() ? "" : " " + e.code) + " on " + what;
    return Status(err, message, cause);
  }

  S3StoreConfig config_;
  HttpClient http_;
  bool virtual_hosted_;
};

}  // namespace

Result<std::unique_ptr<ObjectStore>> open_s3_store(const S3StoreConfig& config) {
  const std::string& b = config.bucket;
  if (b.empty() || b.find_first_of("/ \t\r\n?#%") != std::string::npos)
    return Status(EINVAL, "'" + b + "' is not an S3 bucket name");
  if (config.access_key.empty() != config.secret_key.empty())
    return Status(EINVAL, "an S3 store needs both an access key and a secret key (or neither, for a public bucket)");
  if (config.region.empty() || config.region.find(':') != std::string::npos)
    return Status(EINVAL, "'" + config.region + "' is not an S3 region");
  HttpOptions o;
  bool virtual_hosted = config.endpoint.empty();
  if (virtual_hosted) {
    // AWS: the bucket in the host name. (A bucket with dots in its name does not match the
    // *.s3.REGION.amazonaws.com certificate; such buckets need an endpoint, path-style.)
    o.base_url = "https://" + b + ".s3." + config.region + ".amazonaws.com";
  } else {
    std::string endpoint = config.endpoint;
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://"))
      return Status(EINVAL, "an S3 endpoint is an http:// or https:// URL, not '" + config.endpoint + "'");
    o.base_url = endpoint + "/" + b;
  }
  o.ca_file = config.ca_file;
  o.connect_timeout_ms = config.connect_timeout_ms;
  o.max_attempts = config.max_attempts;
  if (!config.access_key.empty()) {
    o.aws_sigv4 = "aws:amz:" + config.region + ":s3";
    o.user_pwd = config.access_key + ":" + config.secret_key;
  }
  return std::unique_ptr<ObjectStore>(new S3Store(config, std::move(o), virtual_hosted));
}

}  // namespace dlfs
