// dlfs sync MOUNTPOINT and dlfs status MOUNTPOINT — the uploads of a mount. Both talk to the
// mount through the filesystem itself, so they work for any user who can see the mount, with no
// socket of their own: fsync of the root folder waits for every upload below it (FUSE fsyncdir),
// getxattr user.dl.uploads on the root answers the upload state as JSON, and setxattr
// user.dl.retry / user.dl.discard on the root asks the mount to retry or drop failed uploads.
#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <future>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "core/json_util.h"
#include "fs/mountinfo.h"
#include "tools/dlfs/cli.h"
#include "tools/dlfs/mount_activity.h"

namespace dlfs::cli {

namespace {

Result<std::string> mount_root(const std::string& arg) {
  std::error_code ec;
  std::string dir = std::filesystem::weakly_canonical(arg, ec).string();
  if (ec || dir.empty()) return Status(ENOENT, arg + ": no such folder");
  if (!is_mount_point(dir)) return Status(EINVAL, arg + " is not a mount point (give the folder a dataset is mounted on)");
  return dir;
}

Result<json> upload_state(const std::string& mnt) {
  auto text = read_root_xattr(mnt, "user.dl.uploads");
  if (!text && (text.err() == ENODATA || text.err() == ENOTSUP)) return Status(EINVAL, mnt + " is not a dlfs mount");
  if (!text) return text.status();
  auto parsed = parse_json(*text);
  if (!parsed) return Status(EIO, mnt + ": the mount answered an unreadable upload state");
  return *parsed;
}

int count(const json& state, const char* key) {
  auto it = state.find(key);
  return it != state.end() && it->is_number() ? it->get<int>() : 0;
}

std::string summary(const json& state) {
  return std::to_string(count(state, "pending")) + " pending, " + std::to_string(count(state, "uploading")) +
         " uploading, " + std::to_string(count(state, "writing")) + " being written";
}

void print_failed(const json& state, FILE* out) {
  for (const json& f : state.value("failed", json::array()))
    fprintf(out, "failed: %s: %s\n", string_field(f, "path", "?").c_str(), string_field(f, "error").c_str());
}

// A path as the mount names it ("/a/b.jpg"), from a path on this machine under the mountpoint,
// a path already relative to the mount, or "all".
Result<std::string> mount_relative(const std::string& mnt, const std::string& arg) {
  if (arg == "all") return std::string("*");
  std::error_code ec;
  std::string abs = std::filesystem::absolute(arg, ec).lexically_normal().string();
  if (!ec && abs.rfind(mnt + "/", 0) == 0) return abs.substr(mnt.size());
  if (!arg.empty() && arg[0] == '/') return arg;  // a mount path as `dlfs status` prints it
  return Status(EINVAL, arg + " is not under the mount " + mnt);
}

}  // namespace

Status cmd_sync(const Globals&, const Args& args) {
  if (args.size() != 1) return usage_error("dlfs sync MOUNTPOINT");
  DLFS_ASSIGN(std::string mnt, mount_root(args[0]));
  DLFS_TRY(upload_state(mnt));  // a dlfs mount?
  int fd = ::open(mnt.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status(errno, "opening " + mnt);
  // fsync in a thread, so that this one can show what is left while it waits.
  auto waiter = std::async(std::launch::async, [fd] { return ::fsync(fd) == 0 ? 0 : errno; });
  bool tty = isatty(STDERR_FILENO);
  auto start = std::chrono::steady_clock::now();
  while (waiter.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready)
    if (tty && std::chrono::steady_clock::now() - start > std::chrono::seconds(1))
      if (auto state = upload_state(mnt)) fprintf(stderr, "\r\033[Kdlfs sync: %s", summary(*state).c_str());
  int result = waiter.get();
  ::close(fd);
  if (tty) fputs("\r\033[K", stderr);
  DLFS_ASSIGN(json state, upload_state(mnt));
  size_t failed = state.value("failed", json::array()).size();
  if (failed > 0) {
    print_failed(state, stderr);
    return Status(EIO, std::to_string(failed) + " upload(s) failed; they are kept in the spool: `dlfs status " + mnt +
                           " --retry all` or `--discard PATH`");
  }
  if (result != 0) return Status(result, "waiting for the uploads of " + mnt);
  printf("synced: every file written to %s is on the platform\n", mnt.c_str());
  return {};
}

namespace {

// `dlfs status --watch`: the uploads and the activity over each interval, the screen redrawn as
// top does, until interrupted (or `count` refreshes).
Status watch_status(const std::string& mnt, double seconds, int count) {
  const bool tty = isatty(STDOUT_FILENO);
  DLFS_ASSIGN(json first, read_mount_metrics(mnt));
  Activity before = activity_of(first);
  auto taken = std::chrono::steady_clock::now();
  for (int n = 0; count <= 0 || n < count; ++n) {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    DLFS_ASSIGN(json state, upload_state(mnt));
    DLFS_ASSIGN(json metrics, read_mount_metrics(mnt));
    auto now_taken = std::chrono::steady_clock::now();
    Activity now = activity_of(metrics);
    double elapsed = std::chrono::duration<double>(now_taken - taken).count();
    if (tty) printf("\033[H\033[2J");  // (clear, as top)
    printf("%s: %s; %s in the spool\n", mnt.c_str(), summary(state).c_str(),
           human_bytes(state.value("spool_bytes", uint64_t(0))).c_str());
    printf("last %.1f s: %s\n", elapsed, describe_activity(now, &before, elapsed).c_str());
    print_failed(state, stdout);
    fflush(stdout);
    before = now;
    taken = now_taken;
  }
  return {};
}

}  // namespace

Status cmd_status(const Globals&, const Args& args) {
  const char* usage =
      "dlfs status MOUNTPOINT [--json] [--watch [SECONDS]] [--count N] [--retry PATH|all] [--discard PATH|all]";
  if (args.empty()) return usage_error(usage);
  bool as_json = false;
  double watch_seconds = 0;
  int watch_count = 0;
  std::vector<std::pair<std::string, std::string>> controls;  // (xattr, argument)
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--json") as_json = true;
    else if ((args[i] == "--retry" || args[i] == "--discard") && i + 1 < args.size()) {
      controls.emplace_back(args[i] == "--retry" ? "user.dl.retry" : "user.dl.discard", args[i + 1]);
      ++i;
    } else if (args[i] == "--watch") {
      watch_seconds = 2;
      if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
        char* end = nullptr;
        watch_seconds = std::strtod(args[++i].c_str(), &end);
        if (*end || !(watch_seconds >= 0.1 && watch_seconds <= 3600))
          return Status(EINVAL, "--watch takes seconds between refreshes (0.1 to 3600), not '" + args[i] + "'");
      }
    } else if (args[i] == "--count" && i + 1 < args.size()) {
      watch_count = std::atoi(args[++i].c_str());
      if (watch_count <= 0) return Status(EINVAL, "--count takes a number of refreshes");
    } else {
      return usage_error(usage);
    }
  }
  DLFS_ASSIGN(std::string mnt, mount_root(args[0]));
  DLFS_TRY(upload_state(mnt));
  for (auto& [name, arg] : controls) {
    DLFS_ASSIGN(std::string which, mount_relative(mnt, arg));
    if (::setxattr(mnt.c_str(), name.c_str(), which.data(), which.size(), 0) != 0) {
      int err = errno;
      if (err == ENOENT) return Status(ENOENT, "no failed upload at " + arg + " (see dlfs status " + mnt + ")");
      return Status(err, std::string(name == "user.dl.retry" ? "retrying " : "discarding ") + arg);
    }
    printf("%s %s\n", name == "user.dl.retry" ? "retrying" : "discarded", arg.c_str());
  }
  if (watch_seconds > 0) return watch_status(mnt, watch_seconds, watch_count);
  DLFS_ASSIGN(json state, upload_state(mnt));
  auto metrics = read_mount_metrics(mnt);  // (a mount of an older dlfs keeps none)
  if (as_json) {
    if (metrics) state["metrics"] = *metrics;
    printf("%s\n", state.dump(2).c_str());
    return {};
  }
  uint64_t spool = state.value("spool_bytes", uint64_t(0));
  printf("%s: %s; %s in the spool\n", mnt.c_str(), summary(state).c_str(), human_bytes(spool).c_str());
  if (metrics) printf("since mounted: %s\n", describe_activity(activity_of(*metrics)).c_str());
  if (state.contains("room"))
    printf("quota: room for %llu more items (%s)\n", (unsigned long long)state["room"].get<uint64_t>(),
           state["quota"].dump().c_str());
  print_failed(state, stdout);
  return {};
}

}  // namespace dlfs::cli
