// https: HttpClient and HttpRemote against an in-test TLS server (cpp-httplib's SSLServer) on
// 127.0.0.1 with a self-signed certificate made by `openssl req`: trusted through ca_file, and
// refused (EACCES, at once, not retried) without it.
#include <gtest/gtest.h>

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "remote/connect.h"
#include "remote/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

const std::string kDatasetId = "65f0c0ffee0000000000abcd";

// A TLS server on 127.0.0.1 answering GET /api/v1/datasets/<id>; stopped by the destructor.
class TlsServer {
 public:
  TlsServer(const std::string& cert, const std::string& key) : svr_(cert.c_str(), key.c_str()) {
    svr_.Get("/api/v1/datasets/" + kDatasetId, [this](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("Authorization") != "Bearer tok-tls") {
        res.status = 401;
        res.set_content(R"({"message":"no token"})", "application/json");
        return;
      }
      ++answered;
      res.set_content(R"({"id":")" + kDatasetId + R"(","name":"secure","itemsCount":0})", "application/json");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
  }
  ~TlsServer() {
    for (int i = 0; i < 500 && !svr_.is_running(); ++i) std::this_thread::sleep_for(2ms);
    svr_.stop();
    thread_.join();
  }
  bool valid() { return svr_.is_valid() && port_ > 0; }
  std::string base() const { return "https://127.0.0.1:" + std::to_string(port_) + "/api/v1"; }
  std::atomic<int> answered{0};

 private:
  httplib::SSLServer svr_;
  std::thread thread_;
  int port_ = 0;
};

class HttpTls : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                     "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert},
                    60s);
    ASSERT_TRUE(made.ok()) << made.err;
  }
  // The client's options for `server`, with the token it expects (and the system's CAs).
  static HttpOptions options_for(const TlsServer& server) {
    HttpOptions o;
    o.base_url = server.base();
    o.token = "tok-tls";
    return o;
  }
  static HttpRequest dataset_request() {
    HttpRequest req;
    req.path = "/datasets/" + kDatasetId;
    return req;
  }
  TempDir dir;
  std::string cert = dir.sub("cert.pem"), key = dir.sub("key.pem");
};

}  // namespace

TEST_F(HttpTls, ATrustedServerAnswersOverHttps) {
  TlsServer server(cert, key);
  ASSERT_TRUE(server.valid());
  HttpOptions o = options_for(server);
  o.ca_file = cert;
  HttpClient http(o);
  auto doc = http.send_json(dataset_request());
  ASSERT_TRUE(doc) << doc.status().to_string();
  EXPECT_EQ((*doc)["name"], "secure");

  // The whole client: an https SOURCE through connect(), as mount.dlfs and dlfs use it.
  ConnectOptions co;
  co.token = "tok-tls";
  co.http.ca_file = cert;
  auto conn = connect(server.base(), co);
  ASSERT_TRUE(conn) << conn.status().to_string();
  auto ds = (*conn)->find_dataset(kDatasetId);
  ASSERT_TRUE(ds) << ds.status().to_string();
  EXPECT_EQ(ds->name, "secure");
}

TEST_F(HttpTls, AnUntrustedCertificateIsRefusedAtOnceWithAClearError) {
  TlsServer server(cert, key);
  ASSERT_TRUE(server.valid());
  HttpOptions o = options_for(server);
  o.backoff_base_ms = 2000;  // a retry would show in the time taken
  HttpClient http(o);  // the system's CAs: they do not vouch for a self-signed server
  auto start = std::chrono::steady_clock::now();
  auto r = http.send(dataset_request());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err(), EACCES);
  EXPECT_NE(r.status().to_string().find("certificate is not trusted"), std::string::npos) << r.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  EXPECT_EQ(server.answered, 0);
}
