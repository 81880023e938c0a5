// dlfs link DATASET:/path URL [--mimetype M]: makes a link item (remote/link_item.h).
#include <cstdio>
#include <filesystem>
#include <string>

#include "net/link_policy.h"
#include "remote/link_item.h"
#include "tools/dlfs/cli.h"

namespace dlfs::cli {
namespace {

const char* kLinkUsage = "dlfs link DATASET:/path URL [--mimetype M]";

}  // namespace

Status cmd_link(const Globals& g, const Args& args) {
  std::vector<std::string> positional;
  std::string mimetype;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--mimetype" && i + 1 < args.size()) {
      mimetype = args[++i];
    } else if (a.rfind("--mimetype=", 0) == 0) {
      mimetype = a.substr(11);
    } else if (a.size() > 1 && a[0] == '-') {
      return usage_error(std::string(kLinkUsage) + " (unknown option '" + a + "')");
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) return usage_error(kLinkUsage);
  DLFS_ASSIGN(Target t, parse_target(positional[0]));
  if (t.path == "/") return Status(EISDIR, "give the link item's path in the dataset: DATASET:/path");
  // Refused before connecting: a bad URL is the user's to fix, whatever the platform.
  DLFS_TRY(check_link_target(positional[1]));
  DLFS_ASSIGN(auto conn, connect(g));
  DLFS_ASSIGN(auto remote, conn->open(t.dataset));
  std::error_code ec;
  std::string scratch = std::filesystem::temp_directory_path(ec).string();
  if (ec) scratch = "/tmp";
  DLFS_ASSIGN(Item item, make_link_item(*remote, LinkItemRequest{t.path, positional[1], mimetype, scratch}));
  printf("%s:%s -> %s\n", t.dataset.c_str(), item.filename.c_str(), item.link_url().c_str());
  return {};
}

}  // namespace dlfs::cli
