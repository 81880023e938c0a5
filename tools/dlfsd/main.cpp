// dlfsd: serves the datasets of a store over HTTP (API.md), in the foreground, logging to
// stderr (systemd collects it). `dlfsd token` mints a token for a client.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/file_io.h"
#include "core/log.h"
#include "platform/platform.h"
#include "server/api_server.h"
#include "server/jwt.h"
#include "server/server_options.h"

namespace {

constexpr const char* kUsage = R"(usage:
  dlfsd --store DIR [--listen HOST:PORT] [--config FILE] [--workers N] [--preprocess-workers N|none]
        [--max-upload SIZE] [--read-timeout S] [--write-timeout S] [--keep-alive S]
        [--drain-timeout S] [--log-level LEVEL] [--tls-cert PEM --tls-key PEM]
        [--local-drivers DIR] [--metrics open|token|off]
  dlfsd token (--store DIR | --config FILE) --email EMAIL [--days N]

Options may stand before or after the command word ("dlfsd --store DIR token --email E").

Serves the store's datasets at http://HOST:PORT/api/v1 (default 127.0.0.1:8080; port 0 picks a
free one), or https:// with --tls-cert and --tls-key (PEM files: the certificate chain and its
key). Storage drivers on local folders are refused unless under --local-drivers DIR. The first
line on stdout is "listening on HOST:PORT". Prometheus metrics are at /metrics on the same
address, without a token unless --metrics token (off: none). SIGTERM or SIGINT stop it
gracefully. The config file holds "key = value" lines with the flags' names. `dlfsd token`
prints a token (a JWT) that this store's server accepts, valid for N days (default 30).
)";

int usage_error(const std::string& message) {
  std::cerr << "dlfsd: " << message << "\n" << kUsage;
  return 2;
}

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int token_command(const dlfs::DlfsdCommandLine& line) {
  auto secret = dlfs::load_or_create_secret(line.options.store);
  if (!secret) {
    std::cerr << "dlfsd: " << secret.status().to_string() << "\n";
    return 1;
  }
  std::cout << dlfs::make_token(*secret, line.email, line.days, now_s()) << std::endl;
  return 0;
}

int serve(const dlfs::ServerOptions& options) {
  dlfs::LogOptions log;
  log.program = "dlfsd";
  log.level = options.log_level;
  dlfs::setup_logging(log);
  // SIGTERM/SIGINT are blocked in every thread (set before any starts) and taken by sigwait in
  // one, which stops the server gracefully: no async-signal-safety puzzles.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  dlfs::PlatformOptions platform_options;
  platform_options.store_dir = options.store;
  platform_options.link_policy.allow_private = options.link_allow_private;
  platform_options.link_policy.private_hint = "start dlfsd with --link-allow-private to allow it";
  auto platform = dlfs::Platform::open(platform_options);
  if (!platform) {
    spdlog::error("{}", platform.status().to_string());
    return 1;
  }
  auto secret = dlfs::load_or_create_secret(options.store);
  if (!secret) {
    spdlog::error("{}", secret.status().to_string());
    return 1;
  }
  if (options.items_quota) {
    if (dlfs::Status s = (*platform)->set_store_quota(*options.items_quota); !s) {
      spdlog::error("setting the store's quota of items: {}", s.to_string());
      return 1;
    }
  }
  if (!options.preprocess) {
    spdlog::info("no preprocessing workers (--preprocess-workers none): uploads stay queued for another process");
  } else if (dlfs::Status s = (*platform)->start_preprocessing(options.preprocess_workers); !s) {
    spdlog::warn("preprocessing not started: {}", s.to_string());
  }

  // Commands a stopped dlfsd left unfinished run again (syncs) or fail saying why; then driver
  // datasets with a sync interval are synced again on it (platform/sync_watch.h).
  if (dlfs::Status s = (*platform)->recover_commands(); !s)
    spdlog::warn("the commands of the last run are not known: {}", s.to_string());
  (*platform)->watch_syncs();

  int code = 0;
  {
    dlfs::ApiServer server(**platform, *secret, options);
    auto port = server.bind();
    if (!port) {
      spdlog::error("{}", port.status().to_string());
      return 1;
    }
    std::printf("listening on %s:%d\n", options.host.c_str(), *port);
    std::fflush(stdout);
    spdlog::info("serving {} at {}://{}:{}/api/v1 ({} workers)", options.store,
                 options.tls_cert.empty() ? "http" : "https", options.host, *port, options.workers);

    std::thread stopper([&] {
      int sig = 0;
      sigwait(&stop_signals, &sig);
      spdlog::info("signal {}: finishing the requests in flight, then stopping", sig);
      server.stop();
    });
    dlfs::Status served = server.serve();
    if (!served) {
      spdlog::error("{}", served.to_string());
      code = 1;
      kill(getpid(), SIGTERM);  // wakes the stopper thread
    }
    stopper.join();
  }
  (*platform)->stop_preprocessing();
  platform->reset();  // closes the catalogue
  spdlog::info("stopped");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  auto line = dlfs::parse_dlfsd_args(std::vector<std::string>(argv + 1, argv + argc));
  if (!line) return usage_error(line.status().message());
  if (line->help) {
    std::cout << kUsage;
    return 0;
  }
  if (line->command == "token") return token_command(*line);
  dlfs::raise_open_file_limit();  // (a connection, a stored blob read, an upload each hold one)
  return serve(line->options);
}
