// dlfs import csv FILE --dataset NAME [--to /folder]: a CSV bulk import (platform/csv_rows.h), on
// the embedded platform or a server alike (Connection::import_csv), with progress on a terminal.
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/json_util.h"
#include "tools/dlfs/cli.h"

namespace dlfs::cli {
namespace {

const char* kImportUsage = "dlfs import csv FILE --dataset NAME [--to /folder] [--link-allow-private]";

void print_report(const std::string& dataset, const json& report) {
  printf("imported %s into %s:%s: %llu rows, %llu created, %llu updated, %llu unchanged, %llu failed\n",
         string_field(report, "file").c_str(), dataset.c_str(), string_field(report, "folder").c_str(),
         (unsigned long long)report.value("rows", 0), (unsigned long long)report.value("created", 0),
         (unsigned long long)report.value("updated", 0), (unsigned long long)report.value("unchanged", 0),
         (unsigned long long)report.value("failed", 0));
  for (const json& w : report.value("warnings", json::array()))
    if (w.is_string()) fprintf(stderr, "warning: %s\n", w.get<std::string>().c_str());
  for (const json& e : report.value("errors", json::array()))
    if (e.is_object())
      fprintf(stderr, "line %llu: %s\n", (unsigned long long)e.value("line", 0),
              string_field(e, "reason").c_str());
}

}  // namespace

Status cmd_import(const Globals& g, const Args& args) {
  std::vector<std::string> positional;
  std::string dataset, to = "/";
  bool allow_private = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--link-allow-private") {
      allow_private = true;
    } else if ((a == "--dataset" || a == "--to") && i + 1 < args.size()) {
      (a == "--dataset" ? dataset : to) = args[++i];
    } else if (a.rfind("--dataset=", 0) == 0) {
      dataset = a.substr(10);
    } else if (a.rfind("--to=", 0) == 0) {
      to = a.substr(5);
    } else if (a.size() > 1 && a[0] == '-') {
      return usage_error(std::string(kImportUsage) + " (unknown option '" + a + "')");
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2 || positional[0] != "csv" || dataset.empty()) return usage_error(kImportUsage);
  const std::string& file = positional[1];
  if (::access(file.c_str(), R_OK) != 0) {
    int err = errno;
    return Status(err, "cannot read " + file, strerror(err));
  }
  if (allow_private && !g.server.empty())
    return usage_error(std::string(kImportUsage) + " (--link-allow-private is the embedded platform's; a server's is "
                       "dlfsd --link-allow-private)");
  DLFS_ASSIGN(auto conn, connect(g, allow_private));
  bool tty = isatty(STDERR_FILENO);
  auto show = [&](int percent, const json& report) {
    if (!tty) return;
    fprintf(stderr, "\r\033[Kimporting %s: %3d%%  %llu rows, %llu created, %llu updated, %llu unchanged, %llu failed",
            file.c_str(), percent, (unsigned long long)report.value("rows", 0),
            (unsigned long long)report.value("created", 0), (unsigned long long)report.value("updated", 0),
            (unsigned long long)report.value("unchanged", 0), (unsigned long long)report.value("failed", 0));
    fflush(stderr);
  };
  auto report = conn->import_csv(dataset, file, to, show);
  if (tty) fprintf(stderr, "\r\033[K");
  DLFS_TRY(report.status());
  json shown = *report;
  shown["file"] = file;
  print_report(dataset, shown);
  uint64_t failed = report->value("failed", uint64_t(0));
  if (failed > 0) return Status(EIO, std::to_string(failed) + " row(s) of " + file + " failed (listed above, by line)");
  return {};
}

}  // namespace dlfs::cli
