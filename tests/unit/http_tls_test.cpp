// https: HttpClient and HttpRemote against an in-test TLS server (tests/support/tls_server.h,
// a self-signed certificate for 127.0.0.1): trusted through ca_file, and refused (EACCES, at
// once, not retried) without it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "remote/connect.h"
#include "net/http_client.h"
#include "support/temp_dir.h"
#include "support/tls_server.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

const std::string kDatasetId = "65f0c0ffee0000000000abcd";

class HttpTls : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    files = make_self_signed(dir.path(), &error);
    ASSERT_FALSE(files.cert.empty()) << error;
    server = std::make_unique<TlsServer>(files);
    // GET /api/v1/datasets/<id>, for the right token.
    server->svr().Get("/api/v1/datasets/" + kDatasetId, [this](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("Authorization") != "Bearer tok-tls") {
        res.status = 401;
        res.set_content(R"({"message":"no token"})", "application/json");
        return;
      }
      ++answered;
      res.set_content(R"({"id":")" + kDatasetId + R"(","name":"secure","itemsCount":0})", "application/json");
    });
    ASSERT_TRUE(server->start());
  }
  // The client's options, with the token the server expects (and the system's CAs).
  HttpOptions options() const {
    HttpOptions o;
    o.base_url = server->base_url();
    o.token = "tok-tls";
    return o;
  }
  static HttpRequest dataset_request() {
    HttpRequest req;
    req.path = "/datasets/" + kDatasetId;
    return req;
  }
  TempDir dir;
  SelfSigned files;
  std::atomic<int> answered{0};
  std::unique_ptr<TlsServer> server;  // last: stopped before what its handler uses goes
};

}  // namespace

TEST_F(HttpTls, ATrustedServerAnswersOverHttps) {
  HttpOptions o = options();
  o.ca_file = files.cert;
  HttpClient http(o);
  auto doc = http.send_json(dataset_request());
  ASSERT_TRUE(doc) << doc.status().to_string();
  EXPECT_EQ((*doc)["name"], "secure");

  // The whole client: an https SOURCE through connect(), as mount.dlfs and dlfs use it.
  ConnectOptions co;
  co.token = "tok-tls";
  co.http.ca_file = files.cert;
  auto conn = connect(server->base_url(), co);
  ASSERT_TRUE(conn) << conn.status().to_string();
  auto ds = (*conn)->find_dataset(kDatasetId);
  ASSERT_TRUE(ds) << ds.status().to_string();
  EXPECT_EQ(ds->name, "secure");
}

TEST_F(HttpTls, AnUntrustedCertificateIsRefusedAtOnceWithAClearError) {
  HttpOptions o = options();
  o.backoff_base_ms = 2000;  // a retry would show in the time taken
  HttpClient http(o);  // the system's CAs: they do not vouch for a self-signed server
  auto start = std::chrono::steady_clock::now();
  auto r = http.send(dataset_request());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err(), EACCES);
  EXPECT_NE(r.status().to_string().find("certificate is not trusted"), std::string::npos) << r.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  EXPECT_EQ(answered, 0);
}
