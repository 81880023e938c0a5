// s3rver (tests/emulators, `npm ci` there) started by a test on 127.0.0.1 on a port of its
// own, with one bucket in a temp folder; killed by its PID when the object goes.
#pragma once

#include <string>
#include <vector>

#include "platform/object_store_s3.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace dlfs::test {

inline const std::string kS3Bucket = "dlfs-test";
inline const std::string kS3Login = "S3RVER";  // s3rver's built-in account, key and secret alike

class S3Emulator {
 public:
  S3Emulator() : dir_("dlfs-s3rver") {}

  // Answers "" once it listens, else what went wrong. `bearer_tokens`: the OAuth tokens it takes
  // as GCS's XML API does ("Authorization: Bearer"; any other is 401), see s3rver-fixes.js.
  std::string start(const std::vector<std::string>& bearer_tokens = {});
  void stop() { child_.kill_now(); }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  S3StoreConfig config() const;
  // What s3rver logged (one line per call it served: "Stored part 3 of <upload id> ...").
  std::string log() const;

 private:
  std::string log_path() const { return dir_.sub("s3rver.log"); }

  TempDir dir_;
  Child child_;
  int port_ = 0;
};

}  // namespace dlfs::test
