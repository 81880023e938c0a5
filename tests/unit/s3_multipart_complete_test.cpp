// The end of an S3 multipart upload (platform/s3_multipart.h) when the answer to its Complete is
// lost: the store joined the parts (which takes long for a big object: s3rver answers a 6 GiB
// one after a minute, with nothing sent meanwhile) but the client saw a timeout, and its retry
// finds no such upload. The object's ETag — MD5 of the parts' MD5s, "-", their count, as S3 makes
// it — tells whether it is this upload's: then the upload is done, not sent again from the start.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <map>
#include <mutex>

#include "core/ids.h"
#include "core/result.h"
#include "platform/s3_multipart.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

std::string md5_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_md5(), nullptr);
  return hex_of(std::string_view(reinterpret_cast<const char*>(md), len));
}

// A bucket as S3 answers the multipart calls, whose answers to Complete are lost (the work done).
class LostAnswerS3 : public S3Calls {
 public:
  Result<HttpResponse> call(HttpRequest req, std::string_view key) override {
    std::lock_guard lock(mu_);
    HttpResponse r;
    r.code = 200;
    const std::string& p = req.path;
    if (req.method == "GET" && p.find("uploads=") != std::string::npos) {  // none unfinished
      r.body = "<ListMultipartUploadsResult></ListMultipartUploadsResult>";
    } else if (req.method == "POST" && p.ends_with("?uploads=")) {
      ++created;
      r.body = "<InitiateMultipartUploadResult><UploadId>u" + std::to_string(created) +
               "</UploadId></InitiateMultipartUploadResult>";
    } else if (req.method == "PUT" && p.find("partNumber=") != std::string::npos) {
      std::string bytes = read_file(req.upload_path).substr(req.upload_offset, req.upload_length.value_or(std::string::npos));
      int number = std::stoi(p.substr(p.find("partNumber=") + 11));
      parts[number] = md5_hex(bytes);
      r.headers["etag"] = "\"" + parts[number] + "\"";
    } else if (req.method == "POST" && p.find("?uploadId=") != std::string::npos) {
      ++completes;
      if (object_etag.empty() && !parts.empty()) {  // joined, as S3 names it; the answer lost
        std::string digests;
        for (const auto& [n, md5] : parts)
          for (size_t i = 0; i < md5.size(); i += 2) digests.push_back(char(std::stoi(md5.substr(i, 2), nullptr, 16)));
        object_etag = md5_hex(digests) + "-" + std::to_string(parts.size());
        if (someone_else_wrote) object_etag = "0123456789abcdef0123456789abcdef";
        parts.clear();
        return Status(ETIMEDOUT, "no answer within the stall bound");
      }
      return Status(ENOENT, "NoSuchUpload");
    } else if (req.method == "HEAD") {
      if (object_etag.empty()) return Status(ENOENT, "no object '" + std::string(key) + "'");
      r.headers["etag"] = "\"" + object_etag + "\"";
    } else if (req.method == "DELETE") {
      r.code = 204;
    } else {
      return Status(EINVAL, "unexpected " + req.method + " " + p);
    }
    return r;
  }
  std::string object_path(std::string_view key) override { return "/" + std::string(key); }
  std::string bucket_path(const std::string& query) override { return "?" + query; }
  std::string escape(std::string_view text) override { return std::string(text); }
  const std::string& bucket_name() const override { return bucket_; }

  std::mutex mu_;
  std::map<int, std::string> parts;
  std::string object_etag;
  bool someone_else_wrote = false;
  int created = 0, completes = 0;
  std::string bucket_ = "b";
};

}  // namespace

TEST(S3MultipartComplete, ACompleteWhoseAnswerWasLostIsKnownByTheObjectsEtag) {
  TempDir dir;
  write_file(dir.sub("f"), random_bytes(5 * 1024 * 1024 + 17, 3));
  S3PartPlan plan;
  plan.part_size = 1 << 20;
  plan.parallel = 2;
  LostAnswerS3 s3;
  auto done = s3_multipart_put(s3, "k", dir.sub("f"), 5 * 1024 * 1024 + 17, plan);
  ASSERT_TRUE(done) << done.status().to_string();
  EXPECT_EQ(*done, s3.object_etag);
  EXPECT_TRUE(done->ends_with("-6")) << *done;
  EXPECT_EQ(s3.created, 1) << "the upload was started again";
  EXPECT_EQ(s3.completes, 1);

  // An object there with another ETag is not this upload's: the failure stands.
  LostAnswerS3 other;
  other.someone_else_wrote = true;
  auto failed = s3_multipart_put(other, "k", dir.sub("f"), 5 * 1024 * 1024 + 17, plan);
  EXPECT_FALSE(failed);
  EXPECT_EQ(failed.err(), ETIMEDOUT) << failed.status().to_string();
}
