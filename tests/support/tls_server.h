// An in-test https server (cpp-httplib's SSLServer) on 127.0.0.1 with a self-signed certificate
// made by `openssl req` for 127.0.0.1: register handlers on svr(), then start(); the destructor
// stops it (and joins its thread) on every path out of a test.
#pragma once

#include <httplib.h>

#include <string>
#include <thread>

namespace dlfs::test {

// A self-signed certificate and its key for 127.0.0.1, written to dir/cert.pem and dir/key.pem.
// Empty on failure, with the reason in *error.
struct SelfSigned {
  std::string cert, key;
};
SelfSigned make_self_signed(const std::string& dir, std::string* error);

class TlsServer {
 public:
  explicit TlsServer(const SelfSigned& files) : svr_(files.cert.c_str(), files.key.c_str()) {}
  ~TlsServer();
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  httplib::SSLServer& svr() { return svr_; }
  // Binds and serves from a thread; false if the certificate did not load or binding failed.
  bool start();
  // "https://127.0.0.1:PORT/api/v1"
  std::string base_url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/api/v1"; }

 private:
  httplib::SSLServer svr_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace dlfs::test
