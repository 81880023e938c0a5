// Multipart uploads and copies of the S3 store (platform/s3_multipart.h).
#include "platform/s3_multipart.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <pugixml.hpp>
#include <set>
#include <vector>

#include "core/ids.h"
#include "core/parallel_each.h"

namespace dlfs {
namespace {

struct Part {
  int number = 0;  // 1-based, S3's
  uint64_t offset = 0;
  uint64_t size = 0;
};

std::vector<Part> plan_parts(uint64_t size, uint64_t part_size) {
  std::vector<Part> parts;
  uint64_t offset = 0;
  do {
    uint64_t n = std::min(part_size, size - offset);
    parts.push_back({int(parts.size()) + 1, offset, n});
    offset += n;
  } while (offset < size);
  return parts;
}

// The MD5 (hex) of a range of a local file: what S3 answers as a part's ETag.
Result<std::string> md5_hex(const std::string& path, uint64_t offset, uint64_t size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(errno, "cannot open " + path, strerror(errno));
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr);
  std::vector<char> buf(1 << 20);
  while (size > 0) {
    ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(size, buf.size()), off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      ::close(fd);
      return Status(e, "cannot read " + path, n < 0 ? strerror(e) : "shorter than it was");
    }
    EVP_DigestUpdate(ctx.get(), buf.data(), size_t(n));
    offset += uint64_t(n);
    size -= uint64_t(n);
  }
  ::close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return hex_of(std::string_view(reinterpret_cast<const char*>(md), len));
}

// A 200 answer may still carry an <Error> (Complete and UploadPartCopy fail after they started).
Result<pugi::xml_node> answer_root(pugi::xml_document& doc, const HttpResponse& r, const char* root,
                                   const std::string& what) {
  pugi::xml_parse_result parsed = doc.load_buffer(r.body.data(), r.body.size());
  if (pugi::xml_node e = doc.child("Error"))
    return Status(EIO, "the S3 store failed " + what + ": " + e.child_value("Message"),
                  std::string("HTTP 200 ") + e.child_value("Code"));
  pugi::xml_node node = doc.child(root);
  if (!parsed || !node)
    return Status(EIO, "the S3 store's answer to " + what + " is not a " + root, r.body.substr(0, 200));
  return node;
}

// A failure the next upload of the key can resume from (the network, the store's 5xx) keeps
// the upload and its parts; any other (a refusal, the local file) aborts it.
bool resumable(const Status& s) { return s.err() == EIO || s.err() == ETIMEDOUT; }

// Uploads of one key in this process go one at a time: a resume must not pick up the parts of
// an upload another thread is still sending.
class KeyLocks {
 public:
  void lock(const std::string& key) {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return !busy_.count(key); });
    busy_.insert(key);
  }
  void unlock(const std::string& key) {
    {
      std::lock_guard l(mu_);
      busy_.erase(key);
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> busy_;
};

KeyLocks& key_locks() {
  static KeyLocks locks;
  return locks;
}

struct KeyLock {
  explicit KeyLock(std::string key) : key(std::move(key)) { key_locks().lock(this->key); }
  ~KeyLock() { key_locks().unlock(key); }
  std::string key;
};

std::string part_query(int number, const std::string& escaped_upload_id) {
  // SigV4 signs the query as sent: names in order (partNumber < uploadId).
  return "?partNumber=" + std::to_string(number) + "&uploadId=" + escaped_upload_id;
}

Result<std::string> create_upload(S3Calls& s3, std::string_view key) {
  HttpRequest req;
  req.method = "POST";
  req.path = s3.object_path(key) + "?uploads=";
  req.body = std::string();
  req.content_type = "application/octet-stream";
  DLFS_ASSIGN(HttpResponse r, s3.call(req, key));
  pugi::xml_document doc;
  DLFS_ASSIGN(pugi::xml_node root, answer_root(doc, r, "InitiateMultipartUploadResult", "to start an upload"));
  std::string id = root.child_value("UploadId");
  if (id.empty()) return Status(EIO, "the S3 store started an upload of '" + std::string(key) + "' without an id");
  return id;
}

void abort_upload(S3Calls& s3, std::string_view key, const std::string& id) {
  HttpRequest req;
  req.method = "DELETE";
  req.path = s3.object_path(key) + "?uploadId=" + s3.escape(id);
  req.accept_codes = {404};  // gone already
  if (Result<HttpResponse> r = s3.call(req, key); !r)
    spdlog::warn("could not abort the unfinished upload of s3://{}/{}: {}", s3.bucket_name(), key,
                 r.status().to_string());
}

// The unfinished uploads of exactly `key`, oldest first; none where the store cannot list them
// (resuming is a saving, not a need).
std::vector<std::string> unfinished_uploads(S3Calls& s3, std::string_view key) {
  HttpRequest req;
  req.path = s3.bucket_path("prefix=" + s3.escape(key) + "&uploads=");
  Result<HttpResponse> r = s3.call(req, {});
  std::vector<std::string> ids;
  if (!r) return ids;
  pugi::xml_document doc;
  doc.load_buffer(r->body.data(), r->body.size());
  std::vector<std::pair<std::string, std::string>> found;  // (initiated, id)
  for (pugi::xml_node u : doc.child("ListMultipartUploadsResult").children("Upload"))
    if (std::string_view(u.child_value("Key")) == key) found.emplace_back(u.child_value("Initiated"), u.child_value("UploadId"));
  std::stable_sort(found.begin(), found.end());  // ISO 8601 times sort as text
  for (auto& f : found) ids.push_back(std::move(f.second));
  return ids;
}

struct ListedPart {
  std::string etag;
  uint64_t size = 0;
};

Result<std::map<int, ListedPart>> listed_parts(S3Calls& s3, std::string_view key, const std::string& id) {
  std::map<int, ListedPart> parts;
  std::string marker;
  for (;;) {
    HttpRequest req;
    req.path = s3.object_path(key) + "?" + (marker.empty() ? "" : "part-number-marker=" + marker + "&") +
               "uploadId=" + s3.escape(id);
    DLFS_ASSIGN(HttpResponse r, s3.call(req, key));
    pugi::xml_document doc;
    DLFS_ASSIGN(pugi::xml_node root, answer_root(doc, r, "ListPartsResult", "to list an upload's parts"));
    for (pugi::xml_node p : root.children("Part"))
      parts[std::atoi(p.child_value("PartNumber"))] = {unquoted(p.child_value("ETag")),
                                                       std::strtoull(p.child_value("Size"), nullptr, 10)};
    std::string next = root.child_value("NextPartNumberMarker");
    if (std::string_view(root.child_value("IsTruncated")) != "true" || next.empty() || next == marker) return parts;
    marker = next;
  }
}

// The ETag S3 gives an object completed from parts whose ETags (MD5s, hex) are `etags`: the MD5
// of their bytes one after the other, "-" and their count. "" where a part's ETag is no MD5
// (encrypted with KMS keys).
std::string multipart_etag(const std::vector<std::string>& etags) {
  std::string digests;
  for (const std::string& e : etags) {
    if (e.size() != 32) return "";
    for (size_t i = 0; i < 32; i += 2) {
      unsigned byte = 0;
      auto [end, ec] = std::from_chars(e.data() + i, e.data() + i + 2, byte, 16);
      if (ec != std::errc() || end != e.data() + i + 2) return "";
      digests.push_back(char(byte));
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(digests.data(), digests.size(), md, &len, EVP_md5(), nullptr);
  return hex_of(std::string_view(reinterpret_cast<const char*>(md), len)) + "-" + std::to_string(etags.size());
}

Result<std::string> complete_upload(S3Calls& s3, std::string_view key, const std::string& id,
                                    const std::vector<std::string>& etags, uint64_t size) {
  std::string body = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); ++i)
    body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>\"" + etags[i] + "\"</ETag></Part>";
  body += "</CompleteMultipartUpload>";
  HttpRequest req;
  req.method = "POST";
  req.path = s3.object_path(key) + "?uploadId=" + s3.escape(id);
  req.body = std::move(body);
  req.content_type = "application/xml";
  // The store joins the parts before it answers: AWS sends spaces meanwhile, other stores
  // (s3rver, MinIO) nothing for as long as it takes. Allowed 30 s, and a second per 32 MiB.
  req.low_speed_time_s = long(30 + size / (32u << 20));
  auto answered = [&]() -> Result<std::string> {
    DLFS_ASSIGN(HttpResponse r, s3.call(req, key));
    pugi::xml_document doc;
    DLFS_ASSIGN(pugi::xml_node root, answer_root(doc, r, "CompleteMultipartUploadResult", "to complete an upload"));
    return unquoted(root.child_value("ETag"));
  }();
  if (answered) return answered;
  // A try whose answer was lost may have completed it: a retry then finds no such upload (S3's
  // 404 NoSuchUpload, s3rver's 500). The object, if it is this upload's, says so by its ETag.
  std::string expected = multipart_etag(etags);
  if (expected.empty()) return answered;
  HttpRequest head;
  head.method = "HEAD";
  head.path = s3.object_path(key);
  auto r = s3.call(head, key);
  if (r && unquoted(r->header("etag")) == expected) return expected;
  return answered;
}

}  // namespace

uint64_t s3_part_size_for(uint64_t object_size, uint64_t wanted_part_size) {
  uint64_t part = std::max<uint64_t>(wanted_part_size, 1);
  uint64_t least = (object_size + kS3MaxParts - 1) / kS3MaxParts;
  return std::min(std::max(part, least), kS3MaxPartSize);
}

Result<std::string> s3_multipart_put(S3Calls& s3, std::string_view key, const std::string& local_file,
                                     uint64_t size, const S3PartPlan& plan) {
  if (size > kS3MaxParts * kS3MaxPartSize)
    return Status(EFBIG, "'" + local_file + "' is larger than the 48.8 TiB an S3 object can hold");
  KeyLock lock(s3.bucket_name() + "/" + std::string(key));
  std::vector<Part> parts = plan_parts(size, s3_part_size_for(size, plan.part_size));

  // The newest unfinished upload of the key is resumed; older ones are aborted once this is done.
  std::vector<std::string> older = unfinished_uploads(s3, key);
  std::string id;
  std::map<int, ListedPart> have;
  if (!older.empty()) {
    if (Result<std::map<int, ListedPart>> listed = listed_parts(s3, key, older.back())) {
      id = older.back();
      have = std::move(*listed);
      older.pop_back();
    }
  }
  if (id.empty()) {
    DLFS_ASSIGN(id, create_upload(s3, key));
  }
  std::string escaped_id = s3.escape(id);

  std::vector<std::string> etags(parts.size());
  Status sent = parallel_each(parts.size(), plan.parallel, [&](size_t index) -> Status {
    const Part& p = parts[index];
    if (auto it = have.find(p.number); it != have.end() && it->second.size == p.size) {
      DLFS_ASSIGN(std::string md5, md5_hex(local_file, p.offset, p.size));
      if (md5 == it->second.etag) {
        etags[p.number - 1] = md5;
        return {};
      }
    }
    if (plan.before_part) DLFS_TRY(plan.before_part(p.number));
    HttpRequest req;
    req.method = "PUT";
    req.path = s3.object_path(key) + part_query(p.number, escaped_id);
    req.upload_path = local_file;
    req.upload_offset = p.offset;
    req.upload_length = p.size;
    req.content_type = "application/octet-stream";
    DLFS_ASSIGN(HttpResponse r, s3.call(req, key));
    std::string etag = unquoted(r.header("etag"));
    if (etag.empty()) return Status(EIO, "the S3 store answered part " + std::to_string(p.number) + " without an ETag");
    etags[p.number - 1] = std::move(etag);
    return {};
  });
  Result<std::string> done = sent ? complete_upload(s3, key, id, etags, size) : Result<std::string>(sent);
  if (!done) {
    if (!resumable(done.status())) abort_upload(s3, key, id);
    return Status(done.status().err(),
                  "uploading '" + local_file + "' to s3://" + s3.bucket_name() + "/" + std::string(key) + " in " +
                      std::to_string(parts.size()) + " parts failed: " + done.status().message(),
                  done.status().cause());
  }
  for (const std::string& stale : older) abort_upload(s3, key, stale);
  return done;
}

Result<std::string> s3_multipart_copy(S3Calls& s3, std::string_view from, std::string_view to, uint64_t size,
                                      const S3PartPlan& plan) {
  std::vector<Part> parts = plan_parts(size, s3_part_size_for(size, plan.part_size));
  DLFS_ASSIGN(std::string id, create_upload(s3, to));
  std::string escaped_id = s3.escape(id);
  std::string source = "x-amz-copy-source: /" + s3.bucket_name() + s3.object_path(from);
  std::vector<std::string> etags(parts.size());
  Status copied = parallel_each(parts.size(), plan.parallel, [&](size_t index) -> Status {
    const Part& p = parts[index];
    if (plan.before_part) DLFS_TRY(plan.before_part(p.number));
    HttpRequest req;
    req.method = "PUT";
    req.path = s3.object_path(to) + part_query(p.number, escaped_id);
    req.headers = {source, "x-amz-copy-source-range: bytes=" + std::to_string(p.offset) + "-" +
                               std::to_string(p.offset + p.size - 1)};
    req.body = std::string();
    req.content_type = "application/octet-stream";
    DLFS_ASSIGN(HttpResponse r, s3.call(req, from));
    pugi::xml_document doc;
    DLFS_ASSIGN(pugi::xml_node root, answer_root(doc, r, "CopyPartResult", "to copy a part"));
    etags[p.number - 1] = unquoted(root.child_value("ETag"));
    return {};
  });
  Result<std::string> done = copied ? complete_upload(s3, to, id, etags, size) : Result<std::string>(copied);
  if (!done) {
    // Nothing to resume: the bytes are in the bucket for the next try.
    abort_upload(s3, to, id);
    return Status(done.status().err(),
                  "copying s3://" + s3.bucket_name() + "/" + std::string(from) + " to '" + std::string(to) + "' in " +
                      std::to_string(parts.size()) + " parts failed: " + done.status().message(),
                  done.status().cause());
  }
  return done;
}

}  // namespace dlfs
