// A dlfsd for a test: build/bin/dlfsd on 127.0.0.1, a free port, a temp store (or a given one),
// with a token minted by `dlfsd token`. Every wait is bounded; the destructor kills it.
//
//   dlfs::test::DlfsdProcess server;            // started; ASSERT_TRUE(server.ok()) << server.error();
//   httplib::Client http(server.host_port());   // "127.0.0.1:PORT"
//   http.Get(server.path("/users/me"), server.auth_headers());
//   server.stop();     // SIGTERM, waits; exit_code() is then 0 for a graceful stop
//   server.restart();  // same store, same port
//   server.kill();     // SIGKILL (a crash); restart() brings it back
//   server.pause();    // SIGSTOP: connections are accepted, never answered; resume() is SIGCONT
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>

#include "support/process.h"
#include "support/temp_dir.h"

namespace dlfs::test {

struct DlfsdOptions {
  // empty: a temp store, removed with the process object (its log beside it); else this store
  // (e.g. filled through the platform beforehand), its log in "<store>.dlfsd-test.log"
  std::string store;
  std::vector<std::string> extra_args;  // e.g. {"--max-upload", "1M"}
  std::string email = "dev@local";     // the token's
  std::chrono::milliseconds start_timeout = std::chrono::seconds(30);
};

class DlfsdProcess {
 public:
  explicit DlfsdProcess(DlfsdOptions options = {});
  ~DlfsdProcess();
  DlfsdProcess(const DlfsdProcess&) = delete;
  DlfsdProcess& operator=(const DlfsdProcess&) = delete;

  // Whether it started and said where it listens; error() says why not (with its log).
  bool ok() const { return port_ > 0 && error_.empty(); }
  const std::string& error() const { return error_; }

  int port() const { return port_; }
  std::string host_port() const { return "127.0.0.1:" + std::to_string(port_); }
  // "http://127.0.0.1:PORT/api/v1"
  std::string base_url() const { return "http://" + host_port() + "/api/v1"; }
  // "/api/v1" + rel, for httplib::Client calls.
  static std::string path(const std::string& rel) { return "/api/v1" + rel; }
  const std::string& token() const { return token_; }
  httplib::Headers auth_headers() const { return {{"Authorization", "Bearer " + token_}}; }
  const std::string& store() const { return store_; }
  pid_t pid() const { return child_.pid(); }
  // dlfsd's stderr so far.
  std::string log() const;

  // SIGTERM to its pid, then up to `timeout` for it to exit (SIGKILL after); answers its exit
  // code (0 for a graceful stop, -1 if killed).
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  int exit_code() const { return exit_code_; }
  // Starts it again on the same store and port; answers ok().
  bool restart();
  // SIGKILL, no graceful stop (the store as a crash leaves it); waits until it is reaped.
  void kill();
  // SIGSTOP / SIGCONT: while paused the kernel still accepts connections, nobody answers.
  void pause();
  void resume();

 private:
  bool start(int port);

  DlfsdOptions options_;
  std::unique_ptr<TempDir> temp_;
  std::string store_, log_path_, token_, error_;
  Child child_;
  int stdout_fd_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
};

}  // namespace dlfs::test
