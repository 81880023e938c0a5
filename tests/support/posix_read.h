// A file's bytes and attributes read with the plain POSIX calls a user's program makes (open,
// read, pread, getxattr), for the tests that read through a real mount: the bytes, or the errno
// of the first failure.
#pragma once

#include <sys/types.h>

#include <string>

namespace dlfs::test {

struct ReadResult {
  std::string bytes;
  int err = 0;  // 0, or the errno of the open or read that failed
};

// The whole file, read(2) until EOF.
ReadResult read_all(const std::string& path);
// One pread(2) of `len` bytes at `offset`.
ReadResult pread_at(const std::string& path, off_t offset, size_t len);
// An extended attribute's value (getxattr(2)), or "<errno N>" when it cannot be read.
std::string xattr(const std::string& path, const std::string& name);

}  // namespace dlfs::test
