// mount.dlfs's command line, per the mount(8) helper convention:
//   mount.dlfs SOURCE MOUNTPOINT [-o OPT[,OPT...]]... [-f] [-n] [-s] [-v] [-t TYPE]
// so that `mount -t dlfs` and /etc/fstab lines work. Parsed without side effects (unit-tested).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/requests.h"
#include "core/result.h"

namespace dlfs {

struct MountOptions {
  std::string source;      // the dataset, by name or id, or its http(s):// API URL
  std::string folder = "/";  // DATASET:/folder mounts one folder
  std::string mountpoint;
  bool foreground = false;  // -f
  bool debug = false;       // -o debug: debug logging (libfuse's request trace too, with -f)

  std::string store_dir;  // -o store=DIR (default: default_store_dir())
  std::string token_file;  // -o token_file=FILE: the API token of an http(s) SOURCE
  std::string ca_file;     // -o ca_file=FILE: CA certificates (PEM) for an https SOURCE
  std::string cache_dir;  // -o cache=DIR (default: default_cache_dir())
  bool no_cache = false;  // -o cache=none
  uint64_t cache_size = 1ull << 30;  // -o cache_size=BYTES[K|M|G]
  // The data cache of a remote platform's bytes (cache/data_cache.h): -o data_cache=DIR|off
  // (default <cache dir>/data), -o data_cache_size=BYTES[K|M|G].
  std::string data_cache_dir;
  bool no_data_cache = false;
  uint64_t data_cache_size = 4ull << 30;
  std::string log_file;    // -o log=FILE
  std::string stats_file;  // -o stats=FILE: counters as JSON, written at unmount
  // -o metrics=[HOST:]PORT: Prometheus metrics served at http://HOST:PORT/metrics (HOST
  // 127.0.0.1 when not given; port 0: any free one, logged); "" = none.
  std::string metrics_address;

  int64_t dir_ttl_ms = 30000;  // -o dir_ttl=SECONDS|inf (-1: never expire)
  int64_t link_revalidate_ms = 30000;  // -o link_revalidate=SECONDS|never (-1: never ask a link target at open)
  std::optional<double> attr_timeout, entry_timeout, negative_timeout;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  bool read_only = false;
  std::optional<bool> no_open;  // -o no_open[=0|1]; default: on
  unsigned max_threads = 16;    // -o max_threads=N
  unsigned read_ahead_kb = 512;  // -o read_ahead=KB (0: the kernel's; FuseOptions::read_ahead_kb)
  unsigned prefetch = 8;         // -o prefetch=N: a walked folder's files fetched N at once (0: off)
  uint64_t debug_read_delay_ms = 0;  // -o debug_read_delay_ms=N (tests: a stalled server)

  // The HTTP client of a URL SOURCE (ignored for embedded sources).
  long http_timeout_ms = 10000;  // -o http_timeout=SECONDS: connecting
  long http_stall_s = 30;        // -o http_stall=SECONDS: no byte moved (also: no answer at all)
  unsigned http_retries = 4;     // -o http_retries=N: tries per request, the first included

  // Writing.
  unsigned upload_workers = 4;            // -o upload_workers=N: uploads in parallel
  unsigned upload_batch = unsigned(kBatchFiles);  // -o upload_batch=N: small files sent together
  unsigned upload_attempts = 8;           // -o upload_attempts=N: tries of a transient failure
  // -o preprocess_workers=N: the embedded platform's preprocessing workers (0: none; default:
  // one per core)
  std::optional<unsigned> preprocess_workers;
  // -o spool_size=BYTES[K|M|G]: bound of the upload spool; 0 (the default): the room on its
  // disk at mount (auto_spool_size)
  uint64_t spool_size = 0;
  unsigned max_pending = 1024;            // -o max_pending=N: uploads queued before new files wait
  bool sync_upload = false;               // -o sync_upload: every close waits for its upload
  bool noatime = false;                  // -o noatime: reads record no access time (relatime otherwise)
  bool through_server = false;            // -o through_server: dlfsd streams bucket items (no presigned URL)
  bool no_posix_attrs = false;            // -o no_posix_attrs: chmod, chown, utimensat answer EPERM
  bool durable_close = false;             // -o durable_close: every close fsyncs its spool file and record
  double unmount_wait = 30;               // -o unmount_wait=SECONDS: wait for uploads at unmount
  uint64_t debug_retry_base_ms = 500;     // -o debug_retry_base_ms=N (tests: fast retries)
  uint64_t debug_upload_failures = 0;     // -o debug_upload_failures=N: refuse the first N uploads

  // Link items' targets (net/link_policy.h): private addresses and file:// are refused unless
  // allowed. file:// never with allow_other (other users would read the mounting user's files).
  bool link_allow_private = false;  // -o link_allow_private
  bool link_allow_file = false;     // -o link_allow_file

  // Options handed to the kernel mount as they are (ro, allow_other, nosuid, ...).
  std::vector<std::string> kernel_options;

  // Resolved kernel cache timeouts (seconds): explicit options win; otherwise a few seconds,
  // and for read-only mounts as long as the listing TTL (capped at a day).
  double resolved_attr_timeout() const;
  double resolved_entry_timeout() const;
  double resolved_negative_timeout() const;
  // Every mount skips opens unless told -o no_open=0 (writes come with fh 0 then: see
  // FsOptions::no_open).
  bool resolved_no_open() const { return no_open.value_or(true); }
};

// The upload spool's bound when -o spool_size is not given: the room on the disk of `dir` at
// mount, less 5% of that disk (kept for everything else), and at least 4 GiB — so that a file as
// large as the disk can take is written in, as on the local disk.
uint64_t auto_spool_size(const std::string& dir);

// Parses argv (argv[0] is the program). EINVAL with a one-line message on bad usage.
Result<MountOptions> parse_mount_args(const std::vector<std::string>& args);
// -o metrics's value: "PORT" or "HOST:PORT" ([::1]:PORT too) -> "HOST:PORT".
Result<std::string> parse_metrics_address(std::string_view text);
// "1G", "512M", "4096" -> bytes.
Result<uint64_t> parse_size(std::string_view text);

std::string mount_usage(const std::string& program);

}  // namespace dlfs
