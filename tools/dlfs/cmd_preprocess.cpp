// dlfs preprocess DATASET[:/path], and the wait for preprocessing that `dlfs upload` does (the
// embedded platform's workers run in this process; a server is asked until it is done).
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "platform/platform.h"
#include "remote/local_remote.h"
#include "tools/dlfs/cli.h"

namespace dlfs::cli {
namespace {

// "--timeout 600" / "--workers 4" values.
Result<long> positive_number(const std::string& option, const std::string& text, long max) {
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 1 || v > max)
    return usage_error(option + " takes a number from 1 to " + std::to_string(max));
  return v;
}

std::string phase_of(const Item& item) {
  auto it = item.system().find("preprocessPhase");
  return it != item.system().end() && it->is_string() ? it->get<std::string>() : "";
}

// "preprocessing N/M" on a terminal, at most five times a second.
class TallyLine {
 public:
  void draw(const PreprocessTally& t) {
    auto now = std::chrono::steady_clock::now();
    if (!tty_ || now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    fprintf(stderr, "\r\033[Kpreprocessing %zu/%zu", t.done + t.failed, t.total);
    fflush(stderr);
  }
  ~TallyLine() {
    if (tty_) fprintf(stderr, "\r\033[K");
  }

 private:
  bool tty_ = isatty(STDERR_FILENO);
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now() - std::chrono::seconds(1);
};

// A server preprocesses on its own: ask it for the items' phases until none is pending (only
// the pending ones are asked again, twice a second).
Result<PreprocessTally> poll_preprocessing(Remote& remote, const std::vector<std::string>& ids,
                                           const PreprocessWait& wait) {
  PreprocessTally tally;
  tally.total = ids.size();
  std::vector<std::string> left = ids;
  auto deadline = std::chrono::steady_clock::now() + wait.timeout;
  TallyLine line;
  for (;;) {
    std::vector<std::string> still;
    for (const auto& id : left) {
      auto item = remote.get_by_id(id);
      if (!item && item.err() == ENOENT) {
        --tally.total;  // deleted meanwhile: nothing to wait for
        continue;
      }
      if (!item) return item.status();
      std::string phase = phase_of(*item);
      if (phase == "pending" || phase == "running") still.push_back(id);
      else ++(phase == "failed" ? tally.failed : tally.done);
    }
    left = std::move(still);
    tally.pending = left.size();
    line.draw(tally);
    auto now = std::chrono::steady_clock::now();
    if (left.empty() || now >= deadline) return tally;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(std::chrono::milliseconds(500), deadline - now));
  }
}

}  // namespace

PreprocessWorkers::PreprocessWorkers(Connection& conn, unsigned workers) {
  auto* local = dynamic_cast<LocalConnection*>(&conn);
  if (!local) return;
  started_ = local->platform()->start_preprocessing(workers);
  if (started_) platform_ = local->platform();
  else if (started_.err() == EBUSY) started_ = {};  // running already (started earlier in this process)
}

PreprocessWorkers::~PreprocessWorkers() {
  if (platform_) platform_->stop_preprocessing();
}

Result<PreprocessTally> run_preprocessing(Connection& conn, Remote& remote, const std::vector<std::string>& ids,
                                          const PreprocessWait& wait) {
  auto* local = dynamic_cast<LocalConnection*>(&conn);
  if (!local) return poll_preprocessing(remote, ids, wait);
  // The embedded platform: this process runs workers while it waits.
  PreprocessWorkers workers(conn, wait.workers);
  DLFS_TRY(workers.started());
  TallyLine line;
  return local->platform()->wait_preprocessed(ids, wait.timeout, [&](const PreprocessTally& t) { line.draw(t); });
}

Status report_preprocessing(Remote& remote, const std::vector<std::string>& ids, const PreprocessTally& tally,
                            std::chrono::milliseconds timeout) {
  printf("preprocessed %zu of %zu items: %zu done, %zu failed\n", tally.done + tally.failed, tally.total, tally.done,
         tally.failed);
  if (tally.failed > 0) {
    for (const auto& id : ids) {
      auto item = remote.get_by_id(id);
      if (!item || phase_of(*item) != "failed") continue;
      auto err = item->system().find("preprocessError");
      printf("  failed: %s: %s\n", item->filename.c_str(),
             err != item->system().end() && err->is_string() ? err->get<std::string>().c_str() : "");
    }
  }
  if (tally.pending > 0)
    return Status(ETIMEDOUT, std::to_string(tally.pending) + " items still pending preprocessing after " +
                                 std::to_string(timeout.count() / 1000) +
                                 " s (they stay queued: a mount or the next `dlfs preprocess` finishes them)");
  return {};
}

Status cmd_preprocess(const Globals& g, const Args& args) {
  PreprocessWait wait;
  std::vector<std::string> targets;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--timeout" || a == "--workers") && i + 1 < args.size()) {
      DLFS_ASSIGN(long v, positive_number(a, args[++i], a == "--timeout" ? 86400 : 256));
      if (a == "--timeout")
        wait.timeout = std::chrono::seconds(v);
      else
        wait.workers = unsigned(v);
    } else if (a.size() > 1 && a[0] == '-') {
      return usage_error("unknown option '" + a + "'");
    } else {
      targets.push_back(a);
    }
  }
  if (targets.size() != 1) return usage_error("dlfs preprocess [--workers N] [--timeout SECONDS] DATASET[:/path]");
  if (!g.server.empty())
    return Status(ENOTSUP, "dlfs preprocess works on the embedded store only; with --server the server "
                           "preprocesses what is uploaded on its own");
  DLFS_ASSIGN(Target t, parse_target(targets[0]));
  DLFS_ASSIGN(auto conn, connect(g));
  auto* local = dynamic_cast<LocalConnection*>(conn.get());
  if (!local) return Status(ENOTSUP, "dlfs preprocess runs on the embedded platform only");
  DLFS_ASSIGN(Dataset ds, conn->find_dataset(t.dataset));
  DLFS_ASSIGN(auto ids, local->platform()->requeue_preprocessing(ds.id, t.path));
  DLFS_ASSIGN(auto remote, conn->open(ds.id));
  DLFS_ASSIGN(PreprocessTally tally, run_preprocessing(*conn, *remote, ids, wait));
  return report_preprocessing(*remote, ids, tally, wait.timeout);
}

}  // namespace dlfs::cli
