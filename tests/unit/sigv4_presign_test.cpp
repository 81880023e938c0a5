// SigV4 query signing (platform/sigv4_presign.h) against AWS's published example ("Authenticating
// Requests: Using Query Parameters (AWS Signature Version 4)", Amazon S3 API Reference): GET
// examplebucket/test.txt, 24 May 2013, valid 86,400 s.
#include <gtest/gtest.h>

#include "platform/sigv4_presign.h"

using namespace dlfs;

TEST(SigV4Presign, AwsPublishedExample) {
  SigV4Presign p;
  p.host = "examplebucket.s3.amazonaws.com";
  p.canonical_uri = "/test.txt";
  p.region = "us-east-1";
  p.access_key = "AKIAIOSFODNN7EXAMPLE";
  p.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  p.now_s = 1369353600;  // 2013-05-24T00:00:00Z
  p.expires_s = 86400;
  EXPECT_EQ(sigv4_timestamp(p.now_s), "20130524T000000Z");
  EXPECT_EQ(*sigv4_presigned_query(p),
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(SigV4Presign, EveryPartIsSigned) {
  SigV4Presign p;
  p.host = "127.0.0.1:9000";
  p.canonical_uri = "/bucket/a%20b.jpg";
  p.region = "us-east-1";
  p.access_key = "KEY";
  p.secret_key = "SECRET";
  p.now_s = 1800000000;
  std::string base = *sigv4_presigned_query(p);
  auto signature = [](const std::string& q) { return q.substr(q.find("X-Amz-Signature=")); };
  for (auto change : std::vector<std::function<void(SigV4Presign&)>>{
           [](SigV4Presign& r) { r.host = "127.0.0.1:9001"; },
           [](SigV4Presign& r) { r.canonical_uri = "/bucket/a%20c.jpg"; },
           [](SigV4Presign& r) { r.secret_key = "SECRET2"; },
           [](SigV4Presign& r) { r.expires_s = 901; },
           [](SigV4Presign& r) { r.method = "PUT"; },
       }) {
    SigV4Presign other = p;
    change(other);
    EXPECT_NE(signature(*sigv4_presigned_query(other)), signature(base));
  }
}
