// dlfsd's settings, from flags (`--key value` or `--key=value`) and a config file of `key = value`
// lines with the same keys (`#` starts a comment). Flags win over the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace dlfs {

struct ServerOptions {
  std::string store;
  std::string host = "127.0.0.1";
  int port = 8080;                        // 0: any free port
  // HTTP worker threads; httplib gives each open connection one for as long as it is kept
  // alive, so this bounds the concurrent connections served (others wait in the queue).
  unsigned workers = 32;
  unsigned preprocess_workers = 2;        // 0: one per core
  bool preprocess = true;                 // --preprocess-workers none: no workers (another process runs them)
  uint64_t max_upload = 64ull << 30;      // bytes of one request body
  unsigned read_timeout_s = 60;
  unsigned write_timeout_s = 60;
  unsigned keep_alive_s = 10;             // an idle kept-alive connection holds a worker this long
  unsigned drain_timeout_s = 60;          // SIGTERM: how long in-flight requests may take
  std::string log_level = "info";
  // Local-folder storage drivers read and write the server's own files: only folders under this
  // one may back them ("" = none may; clients make S3 and Azure drivers only).
  std::string local_drivers;
  // The store's quota of items (data points) over all datasets, set at start; nullopt leaves
  // the store's as it is (0 removes it).
  std::optional<uint64_t> items_quota;
  // Link targets at loopback, private, link-local and metadata addresses are fetched by the
  // platform (preprocessing, imports) only with --link-allow-private; file:// never is.
  bool link_allow_private = false;
  // Reads of items in a driver's bucket answer 302 to a presigned URL of the object (valid
  // presigned_read_s), so that the bytes go from the bucket to the client, not through dlfsd;
  // off: dlfsd streams them (clients that cannot reach the bucket ask ?redirect=false).
  bool presigned_reads = true;
  int64_t presigned_read_s = 900;
  // https: the server's certificate chain and private key (PEM files); both or neither.
  std::string tls_cert;
  std::string tls_key;
  // GET /metrics (Prometheus): kOpen answers without a token, as scrapers expect (it tells
  // counts, sizes and route patterns, never a name or an item); kToken asks for the API's
  // token like every route; kOff answers 404.
  enum class MetricsAccess { kOpen, kToken, kOff };
  MetricsAccess metrics = MetricsAccess::kOpen;
};

// "1024", "64K", "10M", "64G" (binary units).
Result<uint64_t> parse_size(std::string_view text);
// Applies one setting; EINVAL for an unknown key or a bad value.
Status apply_option(ServerOptions& options, const std::string& key, const std::string& value);
// Reads a config file's `key = value` lines.
Status apply_config_file(ServerOptions& options, const std::string& path);
// Parses the command line after the program name (config file first, then the flags).
Result<ServerOptions> parse_server_args(const std::vector<std::string>& args);

// dlfsd's whole command line, by the rule of every dlfs tool: options stand anywhere, before or
// after the command word, as `--name VALUE` or `--name=VALUE`; the one word that is neither an
// option nor an option's value is the command. Every command takes the settings (and --config),
// so `dlfsd --config /etc/dlfs/dlfsd.conf token --email E` mints a token for that store.
struct DlfsdCommandLine {
  std::string command;  // "" (serve) or "token"
  ServerOptions options;
  std::string email;  // token: --email
  int64_t days = 30;  // token: --days
  bool help = false;  // -h or --help
};
Result<DlfsdCommandLine> parse_dlfsd_args(const std::vector<std::string>& args);

}  // namespace dlfs
