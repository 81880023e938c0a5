#include "tools/dlfs/cli.h"

#include <cstdio>

#include "core/paths.h"
#include "remote/connect.h"

namespace dlfs::cli {

Status usage_error(const std::string& message) { return Status(EINVAL, "usage: " + message); }

Result<Args> take_globals(const Args& argv, Globals& g, bool& help) {
  const std::pair<std::string_view, std::string*> settings[] = {{"--store", &g.store},
                                                                {"--cache", &g.cache_dir},
                                                                {"--server", &g.server},
                                                                {"--token-file", &g.token_file},
                                                                {"--ca-file", &g.ca_file}};
  Args rest;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {  // passed on too: the command's own options end there as well
      rest.insert(rest.end(), argv.begin() + long(i), argv.end());
      break;
    }
    if (a == "-h" || a == "--help") {
      help = true;
      continue;
    }
    bool taken = false;
    for (const auto& [name, field] : settings) {
      if (a == name) {
        if (i + 1 >= argv.size()) return Status(EINVAL, a + " needs a value");
        *field = argv[++i];
      } else if (a.size() > name.size() && a.starts_with(name) && a[name.size()] == '=') {
        *field = a.substr(name.size() + 1);
      } else {
        continue;
      }
      taken = true;
      break;
    }
    if (!taken) rest.push_back(a);
  }
  return rest;
}

Result<std::unique_ptr<Connection>> connect(const Globals& globals, bool link_allow_private) {
  ConnectOptions options;
  options.link_allow_private = link_allow_private;
  options.link_private_hint = "run dlfs with --link-allow-private to allow it";
  options.store_dir = globals.store;
  options.token_file = globals.token_file;
  options.http.ca_file = globals.ca_file;
  return dlfs::connect(globals.server, options);
}

Result<Target> parse_target(const std::string& text) {
  size_t colon = text.find(':');
  Target t;
  t.dataset = text.substr(0, colon);
  if (t.dataset.empty()) return Status(EINVAL, "'" + text + "' names no dataset (expected DATASET:/path)");
  DLFS_ASSIGN(t.path, normalize_path(colon == std::string::npos ? "/" : text.substr(colon + 1)));
  return t;
}

Result<Opened> open_target(Connection& conn, const Target& target) {
  DLFS_ASSIGN(auto remote, conn.open(target.dataset));
  DLFS_ASSIGN(Item item, remote->get(target.path));
  return Opened{std::move(remote), std::move(item)};
}

Result<std::vector<Item>> list_all(Remote& remote, const std::string& dir) {
  std::vector<Item> all;
  std::string after;
  do {
    DLFS_ASSIGN(ItemPage page, remote.list(dir, after, 1000));
    for (auto& item : page.items) all.push_back(std::move(item));
    after = page.next_after;
  } while (!after.empty());
  return all;
}

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace dlfs::cli
