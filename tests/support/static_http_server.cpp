#include "support/static_http_server.h"

#include <fcntl.h>
#include <unistd.h>

#include "support/temp_dir.h"

namespace dlfs::test {

using namespace std::chrono_literals;

StaticHttpServer::StaticHttpServer(const std::string& dir) : log_(dir + ".http-server.log") {
  int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error_ = "cannot create " + log_;
    return;
  }
  // -u: unbuffered, so that the "Serving HTTP on 127.0.0.1 port N" line comes at once.
  child_ = Child({"python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", dir}, fd, fd);
  ::close(fd);
  std::string seen;
  bool told = wait_until(
      [&] {
        seen = read_file(log_);
        size_t at = seen.find(" port ");
        if (at == std::string::npos) return false;
        port_ = std::atoi(seen.c_str() + at + 6);
        return port_ > 0;
      },
      20s);
  if (!told) error_ = "python3 -m http.server did not start: " + seen;
}

}  // namespace dlfs::test
