// `python3 -m http.server` on 127.0.0.1 (a port the kernel picks) serving a folder: a real static
// server of the kind many links point at. It ignores Range and answers 200 with the whole body.
// Killed (its process group) by the destructor on every path out of a test.
#pragma once

#include <string>

#include "support/process.h"

namespace dlfs::test {

class StaticHttpServer {
 public:
  // Starts it and waits (bounded) until it tells its port; ok() says whether it did.
  explicit StaticHttpServer(const std::string& dir);
  bool ok() const { return port_ > 0; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string log_;
  Child child_;
  int port_ = 0;
  std::string error_;
};

}  // namespace dlfs::test
