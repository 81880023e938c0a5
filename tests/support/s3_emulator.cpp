#include "support/s3_emulator.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

namespace dlfs::test {
namespace {

using namespace std::chrono_literals;
const std::string kEmulators = std::string(DLFS_SOURCE_DIR) + "/tests/emulators";
const std::string kS3rver = kEmulators + "/node_modules/s3rver/bin/s3rver.js";

}  // namespace

std::string S3Emulator::start(const std::vector<std::string>& bearer_tokens) {
  if (!std::filesystem::exists(kS3rver)) return kS3rver + " is missing: run (cd tests/emulators && npm ci)";
  std::filesystem::create_directories(dir_.sub("data"));
  int log_fd = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  // Not --silent: the "listening on" line tells the port it took. s3rver 3.7.1 makes its
  // ListObjectsV2 continuation tokens with DES, which Node 17+'s OpenSSL 3 keeps in its legacy
  // provider: without it every truncated listing is a 500. s3rver-fixes.js: see there.
  std::string tokens;
  for (const std::string& t : bearer_tokens) tokens += (tokens.empty() ? "" : ",") + t;
  // `env` execs node in its place: the PID killed is node's.
  child_ = Child({"env", "S3RVER_BEARER_TOKENS=" + tokens, "node", "--openssl-legacy-provider", "-r",
                  kEmulators + "/s3rver-fixes.js", kS3rver, "--directory", dir_.sub("data"), "--address", "127.0.0.1",
                  "--port", "0", "--configure-bucket", kS3Bucket},
                 log_fd, log_fd);
  if (log_fd >= 0) ::close(log_fd);
  const std::string prefix = "listening on 127.0.0.1:";
  bool up = wait_until([&] { return read_file(log_path()).find(prefix) != std::string::npos || !child_.running(); },
                       30s);
  std::string log = read_file(log_path());
  size_t at = log.find(prefix);
  if (!up || at == std::string::npos) {
    child_.kill_now();
    return "s3rver did not start; its log:\n" + log;
  }
  port_ = std::atoi(log.c_str() + at + prefix.size());
  return port_ > 0 ? "" : "no port in s3rver's log:\n" + log;
}

std::string S3Emulator::log() const { return read_file(log_path()); }

S3StoreConfig S3Emulator::config() const {
  S3StoreConfig c;
  c.endpoint = endpoint();
  c.bucket = kS3Bucket;
  c.access_key = kS3Login;
  c.secret_key = kS3Login;
  c.connect_timeout_ms = 2000;
  c.max_attempts = 3;
  return c;
}

}  // namespace dlfs::test
