// dlfs dataset | driver: datasets (on the platform's storage or a storage driver's bucket), the
// drivers, and a dataset's sync with its bucket.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>

#include "core/clock.h"
#include "tools/dlfs/cli.h"

namespace dlfs::cli {
namespace {

constexpr const char* kDatasetUsage =
    "dlfs dataset create NAME [--driver ID] | list | delete NAME | sync NAME | watch NAME SECONDS|off | "
    "clone NAME NEW|--into DATASET [--folder PATH] [--filter JSON] [--to DIR] [--no-metadata]";

// dlfs dataset clone NAME NEW|--into DATASET [options]: the API's clone body from the arguments.
Result<json> clone_request(Connection& conn, const Args& args) {
  json body = {{"cloneDatasetParams", json::object()}};
  json& params = body["cloneDatasetParams"];
  json filter = nullptr;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "--no-metadata") {
      params["withMetadata"] = false;
    } else if (a == "--into" && has_value) {
      DLFS_ASSIGN(Dataset into, conn.find_dataset(args[++i]));
      params["targetDatasetId"] = into.id;
    } else if (a == "--to" && has_value) {
      params["targetDirectory"] = args[++i];
    } else if (a == "--folder" && has_value) {
      std::string folder = args[++i];
      while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
      // Everything below it ('*' matches '/' too).
      filter = {{"filename", folder == "/" ? "/*" : folder + "/*"}};
    } else if (a == "--filter" && has_value) {
      filter = json::parse(args[++i], nullptr, false);
      if (!filter.is_object()) return Status(EINVAL, "--filter takes a DQL filter, a JSON object");
    } else if (!a.starts_with("--") && !body.contains("name")) {
      body["name"] = a;
    } else {
      return usage_error(kDatasetUsage);
    }
  }
  if (!body.contains("name") && !params.contains("targetDatasetId")) return usage_error(kDatasetUsage);
  if (body.contains("name") && params.contains("targetDatasetId")) return usage_error(kDatasetUsage);
  body["filter"] = filter;
  return body;
}

Status dataset_clone(Connection& conn, const Args& args) {
  const std::string& name = args[1];
  DLFS_ASSIGN(json request, clone_request(conn, args));
  bool tty = isatty(STDERR_FILENO);
  auto show = [&](int percent, const json& report) {
    if (!tty) return;
    fprintf(stderr, "\rcloning %s: %3d%%  %llu items cloned", name.c_str(), percent,
            (unsigned long long)report.value("cloned", 0));
    fflush(stderr);
  };
  auto report = conn.clone_dataset(name, request, show);
  if (tty) fprintf(stderr, "\r\033[K");
  DLFS_TRY(report.status());
  std::string target = string_field(*report, "datasetId");
  auto ds = conn.find_dataset(target);
  printf("cloned %s into %s (%s): %llu items cloned, %llu there already, %zu failed\n", name.c_str(),
         ds ? ds->name.c_str() : target.c_str(), target.c_str(), (unsigned long long)report->value("cloned", 0),
         (unsigned long long)report->value("existing", 0), report->value("failed", json::array()).size());
  for (const json& why : report->value("failed", json::array()))
    if (why.is_string()) printf("failed %s\n", why.get<std::string>().c_str());
  return report->value("failed", json::array()).empty() ? Status() : Status(EIO, "some items were not cloned");
}

Status dataset_sync(Connection& conn, const std::string& name) {
  bool tty = isatty(STDERR_FILENO);
  auto show = [&](int percent, const json& report) {
    if (!tty) return;
    fprintf(stderr, "\rsyncing %s: %3d%%  %llu objects, %llu new, %llu changed, %llu gone", name.c_str(), percent,
            (unsigned long long)report.value("listed", 0), (unsigned long long)report.value("added", 0),
            (unsigned long long)report.value("updated", 0), (unsigned long long)report.value("removed", 0));
    fflush(stderr);
  };
  auto report = conn.sync_dataset(name, show);
  if (tty) fprintf(stderr, "\r\033[K");
  DLFS_TRY(report.status());
  printf("synced %s: %llu objects listed, %llu added, %llu updated, %llu removed, %llu unchanged\n", name.c_str(),
         (unsigned long long)report->value("listed", 0), (unsigned long long)report->value("added", 0),
         (unsigned long long)report->value("updated", 0), (unsigned long long)report->value("removed", 0),
         (unsigned long long)report->value("unchanged", 0));
  for (const json& why : report->value("skipped", json::array()))
    if (why.is_string()) printf("skipped %s\n", why.get<std::string>().c_str());
  return {};
}

// The driver's JSON from a file, or standard input for "-".
Result<json> read_json_arg(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path);
    if (!in) return Status(ENOENT, "cannot read " + path);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  json doc = json::parse(text, nullptr, false);
  if (!doc.is_object()) return Status(EINVAL, path + " does not hold a JSON object (a driver, see `dlfs help`)");
  return doc;
}

}  // namespace

Status cmd_dataset(const Globals& g, const Args& args) {
  if (args.empty()) return usage_error(kDatasetUsage);
  const std::string& verb = args[0];
  DLFS_ASSIGN(auto conn, connect(g));
  if (verb == "list" && args.size() == 1) {
    DLFS_ASSIGN(auto all, conn->list_datasets());
    for (const auto& ds : all)
      printf("%-30s %s  %8llu items  created %s%s\n", ds.name.c_str(), ds.id.c_str(),
             (unsigned long long)ds.items_count, format_iso8601(ds.created_ms).c_str(),
             ds.driver.empty() ? "" : ("  driver " + ds.driver).c_str());
    return {};
  }
  if (verb == "create" && (args.size() == 2 || (args.size() == 4 && args[2] == "--driver"))) {
    DLFS_ASSIGN(Dataset ds, conn->create_dataset(args[1], args.size() == 4 ? args[3] : ""));
    printf("created dataset %s (%s)\n", ds.name.c_str(), ds.id.c_str());
    return {};
  }
  if (verb == "delete" && args.size() == 2) {
    DLFS_TRY(conn->delete_dataset(args[1]));
    printf("deleted dataset %s\n", args[1].c_str());
    return {};
  }
  if (verb == "sync" && args.size() == 2) return dataset_sync(*conn, args[1]);
  if (verb == "clone" && args.size() >= 3) return dataset_clone(*conn, args);
  if (verb == "watch" && args.size() == 3) {
    uint64_t seconds = 0;
    if (args[2] != "off") {
      char* end = nullptr;
      seconds = std::strtoull(args[2].c_str(), &end, 10);
      if (args[2].empty() || *end || seconds == 0)
        return Status(EINVAL, "an interval is a number of seconds, or 'off', not '" + args[2] + "'");
    }
    DLFS_TRY(conn->set_sync_interval(args[1], seconds));
    if (seconds) printf("%s is synced with its bucket every %llu s by the server that watches (dlfsd)\n",
                        args[1].c_str(), (unsigned long long)seconds);
    else printf("%s is not watched\n", args[1].c_str());
    return {};
  }
  return usage_error(kDatasetUsage);
}

Status cmd_driver(const Globals& g, const Args& args) {
  const char* usage = "dlfs driver create --json FILE|- | list";
  DLFS_ASSIGN(auto conn, connect(g));
  if (args.size() == 1 && args[0] == "list") {
    DLFS_ASSIGN(auto all, conn->list_drivers());
    for (const Driver& d : all)
      printf("%-20s %s  %-9s %s%s%s\n", d.name.c_str(), d.id.c_str(), d.type.c_str(), d.bucket.c_str(),
             d.path.empty() ? "" : ":", d.path.c_str());
    return {};
  }
  if (args.size() == 3 && args[0] == "create" && args[1] == "--json") {
    DLFS_ASSIGN(json body, read_json_arg(args[2]));
    DLFS_ASSIGN(Driver d, conn->create_driver(body));
    printf("created driver %s (%s)\n", d.name.c_str(), d.id.c_str());
    return {};
  }
  return usage_error(usage);
}

}  // namespace dlfs::cli
