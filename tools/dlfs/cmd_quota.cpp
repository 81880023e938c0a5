// dlfs quota: a dataset's quota of items (data points) and the store's, shown and set.
#include <cstdio>
#include <string>

#include "tools/dlfs/cli.h"

namespace dlfs::cli {
namespace {

const char* kQuotaUsage =
    "dlfs quota DATASET | dlfs quota set DATASET N|none | dlfs quota set-store N|none";

Result<uint64_t> parse_quota(const std::string& text) {
  if (text == "none" || text == "0") return uint64_t(0);
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 18)
    return Status(EINVAL, "a quota is a number of items or 'none', not '" + text + "'");
  return uint64_t(std::stoull(text));
}

std::string of_quota(uint64_t items, uint64_t quota) {
  return std::to_string(items) + " items" + (quota ? ", quota " + std::to_string(quota) : ", no quota");
}

}  // namespace

Status cmd_quota(const Globals& g, const Args& args) {
  DLFS_ASSIGN(auto conn, connect(g));
  if (args.size() == 1 && args[0] != "set" && args[0] != "set-store") {
    DLFS_ASSIGN(QuotaInfo q, conn->quota(args[0]));
    auto room = q.room();
    printf("%s: %s; store: %s; room for %s\n", args[0].c_str(), of_quota(q.dataset_items, q.dataset_quota).c_str(),
           of_quota(q.store_items, q.store_quota).c_str(),
           room ? (std::to_string(*room) + " more items").c_str() : "any number of items");
    return {};
  }
  bool store = args.size() == 2 && args[0] == "set-store";
  if (store || (args.size() == 3 && args[0] == "set")) {
    DLFS_ASSIGN(uint64_t items, parse_quota(args.back()));
    DLFS_TRY(conn->set_quota(store ? "" : args[1], items));
    printf("%s: %s\n", store ? "the store" : args[1].c_str(),
           items ? ("quota of " + std::to_string(items) + " items").c_str() : "no quota");
    return {};
  }
  return usage_error(kQuotaUsage);
}

}  // namespace dlfs::cli
