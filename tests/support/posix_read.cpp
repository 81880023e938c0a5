#include "support/posix_read.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

namespace dlfs::test {

ReadResult read_all(const std::string& path) {
  ReadResult r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {"", errno};
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      r.err = errno;
      break;
    }
    if (n == 0) break;
    r.bytes.append(buf, size_t(n));
  }
  ::close(fd);
  return r;
}

ReadResult pread_at(const std::string& path, off_t offset, size_t len) {
  ReadResult r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {"", errno};
  r.bytes.resize(len);
  ssize_t n = ::pread(fd, r.bytes.data(), len, offset);
  if (n < 0) r.err = errno;
  r.bytes.resize(n < 0 ? 0 : size_t(n));
  ::close(fd);
  return r;
}

std::string xattr(const std::string& path, const std::string& name) {
  char buf[65536];
  ssize_t n = ::getxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  return n < 0 ? std::string("<errno ") + std::to_string(errno) + ">" : std::string(buf, size_t(n));
}

}  // namespace dlfs::test
