// An upload's file part on its way in (server/routes_upload*.cpp).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/ids.h"
#include "core/result.h"

namespace dlfs {

// The most an upload request's text fields (path, metadata JSON, ...) may hold together.
inline constexpr size_t kMaxFieldBytes = 1 << 20;

// The file part on its way in: a temp file under <store>/tmp named "<pid>-upload-<id>", so the
// platform's start-up sweep removes it if dlfsd dies mid-upload. Removed when this goes.
class TempUpload {
 public:
  explicit TempUpload(const std::string& store) : path_(store + "/tmp/" + std::to_string(getpid()) + "-upload-" + new_id()) {}
  ~TempUpload() {
    if (fd_ >= 0) ::close(fd_);
    if (opened_) ::unlink(path_.c_str());
  }
  TempUpload(const TempUpload&) = delete;
  TempUpload& operator=(const TempUpload&) = delete;

  Status open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) return Status(errno, "cannot create an upload temp file " + path_, strerror(errno));
    opened_ = true;
    return {};
  }
  Status write(const char* data, size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd_, data, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Status(errno, "cannot write the upload temp file", strerror(errno));
      data += w;
      n -= size_t(w);
    }
    return {};
  }
  Status close() {
    int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) return Status(errno, "cannot write the upload temp file", strerror(errno));
    return {};
  }
  bool opened() const { return opened_; }
  // The file is the caller's from now on (not removed here).
  std::string release() {
    opened_ = false;
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool opened_ = false;
};

}  // namespace dlfs
