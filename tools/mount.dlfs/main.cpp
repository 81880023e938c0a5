// mount.dlfs DATASET[:/FOLDER] MOUNTPOINT [-o OPTIONS] [-f]
// mount.dlfs http[s]://HOST[:PORT]/api/v1/datasets/ID_OR_NAME[:/FOLDER] MOUNTPOINT -o token_file=F
//
// Mounts a dataset of the embedded store, or of a server speaking the HTTP API, as a folder. Returns only once the mount is live:
// unless -f, it forks; the child opens the store, the cache and the FUSE session, mounts, and
// then tells the waiting parent through a pipe, which exits 0 (or prints the child's one-line
// error and exits non-zero). The child then detaches and serves until unmounted.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "cache/data_cache.h"
#include "cache/metadata_cache.h"
#include "cache/upload_spool.h"
#include "core/dirs.h"
#include "core/file_io.h"
#include "core/log.h"
#include "fs/delayed_remote.h"
#include "fs/write_fault_remote.h"
#include "fs/filesystem.h"
#include "fs/fuse_adapter.h"
#include "fs/fuse_metrics.h"
#include "fs/mount_metrics.h"
#include "fs/mount_options.h"
#include "fs/mountinfo.h"
#include "net/link_fetcher.h"
#include "platform/platform.h"
#include "remote/connect.h"
#include "remote/local_remote.h"
#include "remote/metered_remote.h"
#include "metrics/metrics_server.h"

using namespace dlfs;

namespace {

constexpr int kExitUsage = 1;
constexpr int kExitMountFailure = 32;  // mount(8)'s "mount failure"

// The pipe from the serving child to the waiting parent: one line, "OK" or the error.
struct ReadyPipe {
  int fd = -1;
  void send(const std::string& line) {
    if (fd < 0) return;
    std::string msg = line + "\n";
    ssize_t rc = write(fd, msg.data(), msg.size());
    (void)rc;
    close(fd);
    fd = -1;
  }
};

// Checks the mount point and answers its absolute path.
Result<std::string> check_mountpoint(const std::string& path) {
  std::error_code ec;
  auto canonical = std::filesystem::canonical(path, ec);
  if (ec) return Status(ENOENT, "mountpoint " + path + " does not exist");
  if (!std::filesystem::is_directory(canonical, ec))
    return Status(ENOTDIR, "mountpoint " + path + " is not a directory");
  if (is_mount_point(canonical.string()))
    return Status(EBUSY, "mountpoint " + path + " is busy (already mounted)");
  return canonical.string();
}

std::atomic<FuseMount*> g_mount{nullptr};
int g_wake_fd = -1;  // written by the signal handler; a thread then aborts delayed reads

void on_signal(int) {
  if (FuseMount* m = g_mount.load()) m->exit();
  if (g_wake_fd >= 0) {
    char c = 1;
    ssize_t rc = write(g_wake_fd, &c, 1);
    (void)rc;
  }
}

void write_stats(const std::string& file, const json& stats) {
  std::string tmp = file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << stats.dump(2) << "\n";
    if (!out) {
      spdlog::warn("cannot write stats to {}", file);
      return;
    }
  }
  std::rename(tmp.c_str(), file.c_str());
}

// mount(8) runs a helper as "mount.dlfs SOURCE DIR [-sfnv] [-o OPTIONS]", where -f means a fake
// mount (`mount -f`: everything but the mount itself, e.g. to record an entry); typed by a user,
// -f keeps the mount in the foreground (the FUSE convention). Which one is meant is told by who
// ran us.
bool run_by_mount() {
  std::ifstream comm("/proc/" + std::to_string(getppid()) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name == "mount";
}

void detach_stdio() {
  int null = open("/dev/null", O_RDWR);
  if (null < 0) return;
  dup2(null, 0);
  dup2(null, 1);
  dup2(null, 2);
  if (null > 2) close(null);
}

// Opens everything, mounts, reports readiness, serves. Answers the exit code.
int serve(MountOptions o, const std::string& mountpoint, ReadyPipe& ready) {
  auto fail = [&](const Status& s) {
    std::string line = "mount.dlfs: " + s.to_string();
    if (ready.fd >= 0) ready.send("ERR " + line);
    else fprintf(stderr, "%s\n", line.c_str());
    spdlog::error("{}", s.to_string());
    return kExitMountFailure;
  };

  // Signals are blocked in every thread made from here on (the store's, the invalidator, the
  // curl resolver) and unblocked in this thread only, so that a SIGTERM always interrupts the
  // session loop's own wait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&stop_signals, sig);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto parsed_source = parse_source(o.source);
  if (!parsed_source) return fail(parsed_source.status());
  const Source& src = *parsed_source;
  ConnectOptions co;
  co.store_dir = o.store_dir;
  co.token_file = o.token_file;
  co.http.connect_timeout_ms = o.http_timeout_ms;
  co.http.low_speed_time_s = o.http_stall_s;
  co.http.max_attempts = int(o.http_retries);
  co.http.ca_file = o.ca_file;
  co.http.direct_reads = !o.through_server;
  // The mount answers from what it knows while the server is away, and learns it is back from
  // a probe (who the token is: the cheapest call, answered by every API server).
  co.http.probe_path = "/users/me";
  co.link_allow_private = o.link_allow_private;  // the embedded platform's link fetches too
  co.link_private_hint = "mount with -o link_allow_private to allow it";
  auto conn = connect(src.http ? src.base_url : "", co);
  if (!conn) return fail(conn.status().wrap(src.http ? "cannot connect to " + src.base_url : "cannot open the store " + o.store_dir));
  std::string where = src.http ? src.base_url : o.store_dir;
  auto opened = (*conn)->open(src.dataset);
  if (!opened) {
    if (opened.err() == ENOENT) return fail(Status(ENOENT, "no dataset '" + src.dataset + "' in " + where));
    return fail(opened.status().wrap("dataset " + src.dataset));
  }
  // The embedded platform runs in this process; a server does its own preprocessing.
  auto* local_conn = dynamic_cast<LocalConnection*>(conn->get());
  std::unique_ptr<Remote> local = std::move(opened).value();
  Remote* remote = local.get();
  std::unique_ptr<DelayedRemote> delayed;
  if (o.debug_read_delay_ms > 0) {
    delayed = std::make_unique<DelayedRemote>(*local, std::chrono::milliseconds(o.debug_read_delay_ms));
    remote = delayed.get();
  }
  std::unique_ptr<UploadFaultRemote> faulty;
  if (o.debug_upload_failures > 0) {
    faulty = std::make_unique<UploadFaultRemote>(*remote, o.debug_upload_failures);
    remote = faulty.get();
  }
  // The remote calls, FUSE requests and the core's counters: read by `dlfs status` (the root's
  // user.dl.metrics), and served to Prometheus with -o metrics. (About 0.1 us a FUSE request.)
  auto metrics = std::make_unique<Metrics>();
  auto metered = std::make_unique<MeteredRemote>(*remote, *metrics);
  remote = metered.get();
  auto fuse_metrics = std::make_unique<FuseMetrics>(*metrics);

  std::error_code ec;
  // The cache and spool key: where the dataset lives (the store's path or the API URL) and its id.
  std::string source = src.http ? src.base_url : std::filesystem::weakly_canonical(o.store_dir, ec).string();
  std::unique_ptr<MetadataCache> cache;
  if (!o.no_cache) {
    Status dir_ok = ensure_private_dir(o.cache_dir);
    auto c = dir_ok ? MetadataCache::open({o.cache_dir, cache_key(source, remote->dataset().id), o.cache_size})
                    : Result<std::unique_ptr<MetadataCache>>(dir_ok);
    if (c) cache = std::move(c).value();
    else spdlog::warn("running without a metadata cache: {}", c.status().to_string());
  }
  // The data cache, where the bytes are not local files already (a server's, a bucket's).
  std::unique_ptr<DataCache> data_cache;
  if (!o.no_data_cache && (src.http || !remote->dataset().driver.empty())) {
    DataCacheOptions dco = mount_data_cache(o.cache_dir, source, remote->dataset().id, o.data_cache_size);
    if (!o.data_cache_dir.empty()) dco.dir = o.data_cache_dir;
    Status dir_ok = ensure_private_dir(o.cache_dir);
    auto dc = dir_ok ? DataCache::open(dco) : Result<std::unique_ptr<DataCache>>(dir_ok);
    if (dc) data_cache = std::move(dc).value();
    else spdlog::warn("running without a data cache: {}", dc.status().to_string());
  }
  LinkPolicy link_policy;
  link_policy.allow_private = o.link_allow_private;
  link_policy.allow_file = o.link_allow_file;
  link_policy.private_hint = "mount with -o link_allow_private to allow it";
  link_policy.file_hint = "mount with -o link_allow_file to allow them (never with allow_other)";
  auto links = make_curl_link_fetcher(link_policy);

  // The durable upload spool: <cache dir>/spool/<dataset key>/ (also with cache=none).
  std::unique_ptr<UploadSpool> spool;
  if (!o.read_only) {
    Status dir_ok = ensure_private_dir(o.cache_dir);
    if (dir_ok) dir_ok = ensure_private_dir(o.cache_dir + "/spool");
    if (!dir_ok) return fail(dir_ok.wrap("cannot make the upload spool"));
    SpoolOptions so;
    so.dir = o.cache_dir + "/spool/" + cache_key(source, remote->dataset().id);
    so.max_bytes = o.spool_size ? o.spool_size : auto_spool_size(o.cache_dir + "/spool");
    so.durable_close = o.durable_close;
    auto opened_spool = UploadSpool::open(so);
    if (!opened_spool) return fail(opened_spool.status().wrap("cannot open the upload spool " + so.dir));
    spool = std::move(opened_spool).value();
  }

  FsOptions fo;
  fo.root = src.folder;
  fo.uid = o.uid.value_or(getuid());
  fo.gid = o.gid.value_or(getgid());
  fo.dir_ttl_ms = o.dir_ttl_ms;
  fo.link_revalidate_ms = o.link_revalidate_ms;
  fo.attr_timeout = o.resolved_attr_timeout();
  fo.entry_timeout = o.resolved_entry_timeout();
  fo.read_only = o.read_only;
  fo.spool = spool.get();
  fo.user = (*conn)->user();
  fo.upload_workers = o.upload_workers;
  fo.upload_batch = o.upload_batch;
  fo.max_pending = o.max_pending;
  fo.max_attempts = o.upload_attempts;
  fo.sync_upload = o.sync_upload;
  fo.posix_attrs = !o.no_posix_attrs;
  fo.atime = !o.noatime;
  fo.no_open = o.resolved_no_open();
  // The soft descriptor limit raised to the hard one (spool and cache files, uploads in flight,
  // connections). Each file written and not queued yet holds its spool file's descriptor, and
  // each file read with no open may hold one of its bytes: a quarter of the limit each at most.
  const uint64_t fds = raise_open_file_limit();
  fo.max_implicit_writers = size_t(std::clamp<uint64_t>(fds / 4, 8, 256));
  fo.max_read_pins = size_t(std::clamp<uint64_t>(fds / 4, 8, 1024));
  fo.retry_base_ms = int64_t(o.debug_retry_base_ms);
  fo.data_cache = data_cache.get();
  fo.prefetch = o.prefetch;
  fo.metrics_json = [m = metrics.get()] { return m->to_json(); };
  auto fs = Filesystem::create(*remote, cache.get(), links.get(), fo);
  if (!fs) return fail(fs.status().wrap("dataset " + o.source));
  // Listening before the mount, so that an address in use fails the mount. (Declared after fs:
  // stopped before it, so no scrape reads a filesystem gone.)
  std::unique_ptr<MetricsServer> metrics_server;
  add_mount_collector(*metrics, **fs);
  if (!o.metrics_address.empty()) {
    auto started = MetricsServer::start(o.metrics_address, *metrics);
    if (!started) return fail(started.status());
    metrics_server = std::move(started).value();
    spdlog::info("metrics at http://{}/metrics (port {})", o.metrics_address, metrics_server->port());
  }

  FuseOptions fuse;
  fuse.fsname = o.source;  // as given, ":/folder" included
  fuse.kernel_options = o.kernel_options;
  fuse.negative_timeout = o.resolved_negative_timeout();
  fuse.max_threads = o.max_threads;
  fuse.read_ahead_kb = o.read_ahead_kb;
  fuse.trace = o.debug && o.foreground;
  fuse.metrics = fuse_metrics.get();
  auto mounted = FuseMount::mount(**fs, mountpoint, fuse);
  if (!mounted) return fail(mounted.status());

  int wake[2];
  if (pipe2(wake, O_CLOEXEC) != 0) return fail(Status(errno, "pipe failed"));
  g_wake_fd = wake[1];
  std::thread waker([&] {
    char c;
    while (read(wake[0], &c, 1) < 0 && errno == EINTR) {
    }
    if (delayed) delayed->abort_waits();
  });

  g_mount = mounted->get();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);

  spdlog::info("mounted {} on {} (ttl {} ms, attr {} s, no_open {})", fuse.fsname, mountpoint, o.dir_ttl_ms,
               fo.attr_timeout, fo.no_open);
  (*fs)->start_uploads();  // resumes what the journal holds from a previous run
  // The embedded platform preprocesses what is uploaded to its store (by this mount or anyone).
  // Started here, after the fork and with the stop signals blocked, so its threads inherit that.
  if (local_conn && o.preprocess_workers.value_or(1) > 0) {
    Status started = local_conn->platform()->start_preprocessing(o.preprocess_workers.value_or(0));
    if (!started) spdlog::warn("preprocessing is off: {}", started.to_string());
  }
  // And syncs its watched datasets with their buckets (`dlfs dataset watch`), taking turns with
  // any other process that serves the store.
  if (local_conn) local_conn->platform()->watch_syncs();
  ready.send("OK");
  if (!o.foreground) {
    if (chdir("/") != 0) spdlog::warn("chdir / failed");
    detach_stdio();
  }

  Status looped = (*mounted)->loop();
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  g_mount = nullptr;
  if (!looped) spdlog::error("{}", looped.to_string());
  mounted->reset();  // unmounts
  spdlog::info("unmounted {}", mountpoint);
  if (spool) {
    auto wait = std::chrono::milliseconds(int64_t(o.unmount_wait * 1000));
    size_t left = (*fs)->wait_uploads(wait);
    (*fs)->stop_uploads();
    json status = (*fs)->upload_status();
    if (left > 0 || !status["failed"].empty())
      spdlog::warn("{} upload(s) left pending and {} failed in the spool; the next mount resumes them", left,
                   status["failed"].size());
  }

  char c = 0;
  ssize_t rc = write(wake[1], &c, 1);  // let the waker go
  (void)rc;
  waker.join();
  g_wake_fd = -1;
  close(wake[0]);
  close(wake[1]);
  if (!o.stats_file.empty()) {
    json stats = (*fs)->stats_json();
    stats["dataset"] = o.source;
    write_stats(o.stats_file, stats);
  }
  return looped ? 0 : kExitMountFailure;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  auto parsed = parse_mount_args(args);
  if (!parsed) {
    bool help = argc > 1 && (args[1] == "-h" || args[1] == "--help" ||
                             std::find(args.begin(), args.end(), "-h") != args.end());
    std::string msg = parsed.status().message();
    fprintf(help ? stdout : stderr, "%s%s\n", help ? "" : "mount.dlfs: ", msg.c_str());
    return help ? 0 : kExitUsage;
  }
  MountOptions o = std::move(parsed).value();
  if (o.store_dir.empty()) o.store_dir = default_store_dir();
  if (o.cache_dir.empty()) o.cache_dir = default_cache_dir();
  // Files used after the daemon's chdir("/") (libcurl reads the CA file at each new connection).
  for (std::string* file : {&o.stats_file, &o.log_file, &o.token_file, &o.ca_file})
    if (!file->empty()) *file = std::filesystem::absolute(*file).string();
  auto mountpoint = check_mountpoint(o.mountpoint);
  if (!mountpoint) {
    fprintf(stderr, "mount.dlfs: %s\n", mountpoint.status().message().c_str());
    return kExitMountFailure;
  }
  if (std::find(args.begin() + 1, args.end(), "-f") != args.end() && run_by_mount()) return 0;  // mount -f

  LogOptions log;
  log.program = "mount.dlfs";
  log.level = o.debug ? "debug" : "info";
  log.file = o.log_file;
  ReadyPipe ready;
  if (!o.foreground) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      perror("mount.dlfs: pipe");
      return kExitMountFailure;
    }
    pid_t pid = fork();
    if (pid < 0) {
      perror("mount.dlfs: fork");
      return kExitMountFailure;
    }
    if (pid > 0) {  // the parent: wait (bounded) for the child's one line
      close(fds[1]);
      std::string line;
      struct pollfd p = {fds[0], POLLIN, 0};
      auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
      char buf[512];
      while (std::chrono::steady_clock::now() < deadline) {
        int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
        int r = poll(&p, 1, std::max(left, 1));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        line.append(buf, size_t(n));
        if (line.find('\n') != std::string::npos) break;
      }
      if (line.rfind("OK", 0) == 0) return 0;
      if (line.rfind("ERR ", 0) == 0) {
        fprintf(stderr, "%s", line.substr(4).c_str());
      } else {
        fprintf(stderr, "mount.dlfs: the mount daemon exited or hung before the mount was ready\n");
      }
      return kExitMountFailure;
    }
    close(fds[0]);
    ready.fd = fds[1];
    setsid();
    log.syslog = o.log_file.empty();
  }
  setup_logging(log);
  return serve(std::move(o), *mountpoint, ready);
}
