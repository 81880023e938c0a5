// A temporary directory removed (recursively) when the object goes away.
#pragma once

#include <string>

namespace dlfs::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "dlfs-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `content` to `path`, creating missing parent folders.
void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);
// `n` bytes that differ with `seed` (test data that no compression or dedupe hides).
std::string random_bytes(size_t n, uint32_t seed);

}  // namespace dlfs::test
