// dlfs preprocess DATASET[:/path], and the wait for preprocessing that `dlfs upload` does.
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

}  // namespace

Result<PreprocessTally> run_preprocessing(Connection& conn, const std::vector<std::string>& ids,
                                          const PreprocessWait& wait) {
  auto* local = dynamic_cast<LocalConnection*>(&conn);
  // A server preprocesses on its own; only the embedded platform needs workers here.
  if (!local) return PreprocessTally{ids.size(), 0, ids.size(), 0};
  Platform& platform = *local->platform();
  Status started = platform.start_preprocessing(wait.workers);
  if (!started && started.err() != EBUSY) return started;
  bool tty = isatty(STDERR_FILENO);
  auto last_draw = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto result = platform.wait_preprocessed(ids, wait.timeout, [&](const PreprocessTally& t) {
    auto now = std::chrono::steady_clock::now();
    if (!tty || now - last_draw < std::chrono::milliseconds(200)) return;
    last_draw = now;
    fprintf(stderr, "\r\033[Kpreprocessing %zu/%zu", t.done + t.failed, t.total);
    fflush(stderr);
  });
  if (tty) fprintf(stderr, "\r\033[K");
  if (started) platform.stop_preprocessing();
  return result;
}

Status report_preprocessing(Connection& conn, const std::vector<std::string>& ids, const PreprocessTally& tally,
                            std::chrono::milliseconds timeout) {
  printf("preprocessed %zu of %zu items: %zu done, %zu failed\n", tally.done + tally.failed, tally.total, tally.done,
         tally.failed);
  if (tally.failed > 0) {
    if (auto* local = dynamic_cast<LocalConnection*>(&conn)) {
      for (const auto& id : ids) {
        auto item = local->platform()->get_item(id);
        if (!item || item->system().value("preprocessPhase", json()) != "failed") continue;
        auto err = item->system().find("preprocessError");
        printf("  failed: %s: %s\n", item->filename.c_str(),
               err != item->system().end() && err->is_string() ? err->get<std::string>().c_str() : "");
      }
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
  DLFS_ASSIGN(PreprocessTally tally, run_preprocessing(*conn, ids, wait));
  return report_preprocessing(*conn, ids, tally, wait.timeout);
}

}  // namespace dlfs::cli
