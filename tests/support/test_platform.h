// The platform a mount test runs against, written once for two backends: the embedded store
// (mount.dlfs and dlfs open the store themselves) or dlfsd serving that store on 127.0.0.1
// (they speak HTTP with a token). Tests parameterized by Backend run twice:
//
//   class MyTest : public ::testing::TestWithParam<Backend> { ... };
//   INSTANTIATE_TEST_SUITE_P(Backends, MyTest, kBackends, backend_name);
//   TestPlatform p(GetParam(), dir);                 // started; ASSERT_TRUE(p.ok()) << p.error()
//   p.connection()->create_dataset("d");             // a client of the backend (HTTP for dlfsd)
//   mount.dlfs p.source("d") MNT -o p.mount_options()
//   dlfs p.dlfs_args()... status MNT
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "remote/remote.h"
#include "support/dlfsd_process.h"

namespace dlfs::test {

enum class Backend { kEmbedded, kDlfsd };
inline const auto kBackends = ::testing::Values(Backend::kEmbedded, Backend::kDlfsd);
// "Embedded" / "Dlfsd", for test names.
std::string backend_name(const ::testing::TestParamInfo<Backend>& info);

class TestPlatform {
 public:
  // `dir` holds the store (dir/store) and, for dlfsd, its token file; dlfsd starts at once.
  // `link_allow_private`: the platform may fetch link targets on private addresses (the tests'
  // servers on 127.0.0.1): dlfsd --link-allow-private, or the embedded connection's option.
  TestPlatform(Backend backend, const std::string& dir, bool link_allow_private = true);
  ~TestPlatform();
  TestPlatform(const TestPlatform&) = delete;
  TestPlatform& operator=(const TestPlatform&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  Backend backend() const { return backend_; }
  const std::string& store() const { return store_; }
  DlfsdProcess* server() { return server_.get(); }  // null for the embedded platform

  // A client of the platform, as a user's other machine would be: LocalConnection on the store,
  // or HttpConnection to dlfsd. Opened once; owned here.
  Connection* connection() { return connection_.get(); }
  // mount.dlfs's SOURCE for `dataset` ("tree" or "http://…/datasets/tree"), `folder` appended
  // as ":/folder" when given.
  std::string source(const std::string& dataset, const std::string& folder = "") const;
  // The -o options that reach the platform: "store=DIR" or "token_file=FILE".
  std::string mount_options() const;
  // dlfs's options that reach the platform: {"--store", DIR} or {"--server", URL, "--token-file", F}.
  std::vector<std::string> dlfs_args() const;

 private:
  Backend backend_;
  std::string store_, token_file_, error_;
  std::unique_ptr<DlfsdProcess> server_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace dlfs::test
