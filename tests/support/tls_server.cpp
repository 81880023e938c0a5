#include "support/tls_server.h"

#include <chrono>

#include "support/process.h"

namespace dlfs::test {

SelfSigned make_self_signed(const std::string& dir, std::string* error) {
  SelfSigned out{dir + "/cert.pem", dir + "/key.pem"};
  auto made = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                   "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", out.key, "-out", out.cert},
                  std::chrono::seconds(60));
  if (made.ok()) return out;
  if (error) *error = "openssl req: " + made.err;
  return {};
}

TlsServer::~TlsServer() {
  if (!thread_.joinable()) return;
  // stop() does nothing before the loop runs: wait (bounded) until it does.
  for (int i = 0; i < 500 && !svr_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  svr_.stop();
  thread_.join();
}

bool TlsServer::start() {
  if (!svr_.is_valid()) return false;
  port_ = svr_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) return false;
  thread_ = std::thread([this] { svr_.listen_after_bind(); });
  return true;
}

}  // namespace dlfs::test
