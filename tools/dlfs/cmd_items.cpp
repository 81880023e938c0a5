// dlfs ls | stat | cat | rm | mv | mkdir | meta
#include <algorithm>
#include <cstdio>
#include <vector>

#include <unistd.h>

#include "core/clock.h"
#include "core/paths.h"
#include "tools/dlfs/cli.h"

namespace dlfs::cli {
namespace {

// Splits flags (like "-r") from positional arguments.
struct Parsed {
  std::vector<std::string> flags;
  std::vector<std::string> positional;
  bool has(const std::string& f) const { return std::find(flags.begin(), flags.end(), f) != flags.end(); }
};

Result<Parsed> parse(const Args& args, const std::vector<std::string>& allowed) {
  Parsed p;
  bool options = true;
  for (const auto& a : args) {
    if (options && a == "--") {  // the rest are arguments, however they look
      options = false;
    } else if (options && a.size() > 1 && a[0] == '-') {
      if (std::find(allowed.begin(), allowed.end(), a) == allowed.end())
        return usage_error("unknown option '" + a + "'");
      p.flags.push_back(a);
    } else {
      p.positional.push_back(a);
    }
  }
  return p;
}

void print_json(const json& doc) { printf("%s\n", doc.dump(2).c_str()); }

}  // namespace

Status cmd_ls(const Globals& g, const Args& args) {
  DLFS_ASSIGN(Parsed p, parse(args, {"-l"}));
  if (p.positional.size() != 1) return usage_error("dlfs ls [-l] DATASET[:/path]");
  DLFS_ASSIGN(Target t, parse_target(p.positional[0]));
  DLFS_ASSIGN(auto conn, connect(g));
  DLFS_ASSIGN(Opened o, open_target(*conn, t));
  std::vector<Item> items;
  if (o.item.is_dir()) {
    DLFS_ASSIGN(items, list_all(*o.remote, t.path));
  } else {
    items.push_back(o.item);
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.name < b.name; });
  for (const auto& item : items) {
    std::string name = item.name + (item.is_dir() ? "/" : "");
    if (p.has("-l")) {
      printf("%s %12llu  %s  %s\n", item.is_dir() ? "d" : (item.is_link() ? "l" : "-"),
             (unsigned long long)item.size(), format_iso8601(item.updated_ms).c_str(), name.c_str());
    } else {
      printf("%s\n", name.c_str());
    }
  }
  return {};
}

Status cmd_stat(const Globals& g, const Args& args) {
  if (args.size() != 1) return usage_error("dlfs stat DATASET:/path");
  DLFS_ASSIGN(Target t, parse_target(args[0]));
  DLFS_ASSIGN(auto conn, connect(g));
  DLFS_ASSIGN(Opened o, open_target(*conn, t));
  print_json(item_to_json(o.item));
  return {};
}

Status cmd_cat(const Globals& g, const Args& args) {
  if (args.size() != 1) return usage_error("dlfs cat DATASET:/path");
  DLFS_ASSIGN(Target t, parse_target(args[0]));
  DLFS_ASSIGN(auto conn, connect(g));
  DLFS_ASSIGN(Opened o, open_target(*conn, t));
  if (o.item.is_dir()) return Status(EISDIR, "'" + t.path + "' is a folder");
  std::vector<char> buf(1 << 20);
  uint64_t offset = 0;
  while (true) {
    DLFS_ASSIGN(size_t n, o.remote->read(o.item, offset, std::span<char>(buf.data(), buf.size())));
    if (n == 0) break;
    if (fwrite(buf.data(), 1, n, stdout) != n) return Status(EIO, "cannot write to standard output");
    offset += n;
  }
  if (offset != o.item.size())
    return Status(EIO, "read " + std::to_string(offset) + " bytes of '" + t.path + "' but it has " +
                           std::to_string(o.item.size()));
  return fflush(stdout) == 0 ? Status() : Status(EIO, "cannot write to standard output");
}

Status cmd_rm(const Globals& g, const Args& args) {
  DLFS_ASSIGN(Parsed p, parse(args, {"-r", "-rf", "-f"}));
  if (p.positional.empty()) return usage_error("dlfs rm [-r] DATASET:/path...");
  bool recursive = p.has("-r") || p.has("-rf");
  DLFS_ASSIGN(auto conn, connect(g));
  for (const auto& arg : p.positional) {
    DLFS_ASSIGN(Target t, parse_target(arg));
    DLFS_ASSIGN(Opened o, open_target(*conn, t));
    if (o.item.is_dir() && !recursive)
      return Status(EISDIR, "'" + t.path + "' is a folder (use rm -r to delete it with its contents)");
    DLFS_TRY(o.remote->remove(o.item.id));
  }
  return {};
}

Status cmd_mv(const Globals& g, const Args& args) {
  if (args.size() != 2) return usage_error("dlfs mv DATASET:/from DATASET:/to");
  DLFS_ASSIGN(Target from, parse_target(args[0]));
  Target to;
  if (!args[1].empty() && args[1][0] == '/') {
    to.dataset = from.dataset;
    DLFS_ASSIGN(to.path, normalize_path(args[1]));
  } else {
    DLFS_ASSIGN(to, parse_target(args[1]));
  }
  DLFS_ASSIGN(auto conn, connect(g));
  DLFS_ASSIGN(Opened src, open_target(*conn, from));
  DLFS_ASSIGN(Dataset to_ds, conn->find_dataset(to.dataset));
  if (to_ds.id != src.remote->dataset().id) return Status(EXDEV, "cannot move items between datasets");
  // Like mv: onto an existing folder means into it.
  std::string dest = to.path;
  if (auto existing = src.remote->get(dest); existing && existing->is_dir())
    dest = join_path(dest, src.item.name);
  DLFS_TRY(src.remote->move(src.item.id, dest).status());
  return {};
}

Status cmd_mkdir(const Globals& g, const Args& args) {
  DLFS_ASSIGN(Parsed p, parse(args, {"-p"}));
  if (p.positional.empty()) return usage_error("dlfs mkdir [-p] DATASET:/path...");
  DLFS_ASSIGN(auto conn, connect(g));
  for (const auto& arg : p.positional) {
    DLFS_ASSIGN(Target t, parse_target(arg));
    DLFS_ASSIGN(auto remote, conn->open(t.dataset));
    auto made = remote->make_dir(t.path);
    if (!made && made.err() == EEXIST && p.has("-p")) {
      DLFS_ASSIGN(Item existing, remote->get(t.path));
      if (existing.is_dir()) continue;
    }
    DLFS_TRY(made.status());
  }
  return {};
}

Status cmd_meta(const Globals& g, const Args& args) {
  if (args.size() < 2) return usage_error("dlfs meta get DATASET:/path | dlfs meta set DATASET:/path JSON");
  DLFS_ASSIGN(Target t, parse_target(args[1]));
  if (args[0] == "get" && args.size() == 2) {
    DLFS_ASSIGN(auto conn, connect(g));
    DLFS_ASSIGN(Opened o, open_target(*conn, t));
    print_json(o.item.metadata);
    return {};
  }
  if (args[0] == "set" && args.size() == 3) {
    auto user = parse_json(args[2]);
    if (!user) return user.status().wrap("the metadata to set");
    if (!user->is_object()) return Status(EINVAL, "the metadata to set must be a JSON object, like '{\"camera\":\"cam-7\"}'");
    DLFS_ASSIGN(auto conn, connect(g));
    DLFS_ASSIGN(Opened o, open_target(*conn, t));
    DLFS_ASSIGN(Item patched, o.remote->patch(o.item.id, json{{"metadata", {{"user", *user}}}}));
    print_json(patched.metadata);
    return {};
  }
  return usage_error("dlfs meta get DATASET:/path | dlfs meta set DATASET:/path JSON");
}

}  // namespace dlfs::cli
