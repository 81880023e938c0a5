#include "support/test_platform.h"

#include <filesystem>

#include "remote/connect.h"
#include "support/temp_dir.h"

namespace dlfs::test {

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kEmbedded ? "Embedded" : "Dlfsd";
}

TestPlatform::TestPlatform(Backend backend, const std::string& dir, bool link_allow_private)
    : backend_(backend), store_(dir + "/store"), token_file_(dir + "/token") {
  std::filesystem::create_directories(store_);
  ConnectOptions o;
  o.link_allow_private = link_allow_private;  // the embedded platform's own link fetches
  std::string base_url;
  if (backend_ == Backend::kDlfsd) {
    DlfsdOptions so;
    so.store = store_;
    // Local-folder drivers may use the test's own work folder (the one holding `dir`).
    so.extra_args = {"--local-drivers", std::filesystem::path(dir).parent_path().string()};
    // The tests' link targets are on 127.0.0.1.
    if (link_allow_private) so.extra_args.push_back("--link-allow-private");
    server_ = std::make_unique<DlfsdProcess>(so);
    if (!server_->ok()) {
      error_ = server_->error();
      return;
    }
    write_file(token_file_, server_->token() + "\n");
    o.token = server_->token();
    base_url = server_->base_url();
  } else {
    o.store_dir = store_;
  }
  auto c = connect(base_url, o);
  if (!c) {
    error_ = "connecting to the platform: " + c.status().to_string();
    return;
  }
  connection_ = std::move(c).value();
}

TestPlatform::~TestPlatform() {
  connection_.reset();  // before the server it talks to
  if (server_ && server_->ok()) server_->stop();
}

std::string TestPlatform::source(const std::string& dataset, const std::string& folder) const {
  std::string s = backend_ == Backend::kDlfsd ? server_->base_url() + "/datasets/" + dataset : dataset;
  if (!folder.empty()) s += ":" + folder;
  return s;
}

std::string TestPlatform::mount_options() const {
  return backend_ == Backend::kDlfsd ? "token_file=" + token_file_ : "store=" + store_;
}

std::vector<std::string> TestPlatform::dlfs_args() const {
  if (backend_ == Backend::kDlfsd) return {"--server", server_->base_url(), "--token-file", token_file_};
  return {"--store", store_};
}

}  // namespace dlfs::test
