#include "fs/mount_options.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "remote/connect.h"

namespace dlfs {
namespace {

constexpr double kDefaultTimeout = 5;
constexpr double kMaxTimeout = 86400;

// mount(8) and fstab options that mean nothing to us.
bool ignored(std::string_view opt) {
  static const std::string_view names[] = {"auto", "noauto", "_netdev", "nofail", "user", "nouser",
                                           "users", "owner", "group", "defaults", "comment", "rw"};
  // user=NAME: what mount(8) records for a user mount of a "user" fstab line.
  if (opt.substr(0, 2) == "x-" || opt.substr(0, 8) == "comment=" || opt.substr(0, 5) == "user=") return true;
  return std::find(std::begin(names), std::end(names), opt) != std::end(names);
}

// Handed to the kernel mount through libfuse as they are.
bool kernel_option(std::string_view opt) {
  static const std::string_view names[] = {"ro", "allow_other", "default_permissions", "nosuid",
                                           "suid", "nodev", "dev", "noexec", "exec", "noatime",
                                           "atime", "relatime", "sync", "async", "dirsync"};
  return std::find(std::begin(names), std::end(names), opt) != std::end(names);
}

Result<double> parse_seconds(std::string_view key, std::string_view text) {
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || !(v >= 0) || !std::isfinite(v))
    return Status(EINVAL, "bad value for " + std::string(key) + ": '" + std::string(text) + "' (seconds)");
  return v;
}

Result<uint64_t> parse_uint(std::string_view key, std::string_view text) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty())
    return Status(EINVAL, "bad value for " + std::string(key) + ": '" + std::string(text) + "'");
  return v;
}

// A whole number in [lo, hi]; the error names the option, its bounds and `unit`.
Result<unsigned> parse_between(std::string_view key, std::string_view text, uint64_t lo, uint64_t hi,
                               std::string_view unit = "") {
  DLFS_ASSIGN(uint64_t n, parse_uint(key, text));
  if (n < lo || n > hi)
    return Status(EINVAL, std::string(key) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                              (unit.empty() ? "" : " (" + std::string(unit) + ")"));
  return unsigned(n);
}

Status apply_option(MountOptions& o, std::string_view opt) {
  if (opt.empty() || ignored(opt)) return {};
  size_t eq = opt.find('=');
  std::string_view key = opt.substr(0, eq);
  std::string_view value = eq == std::string_view::npos ? std::string_view() : opt.substr(eq + 1);
  bool has_value = eq != std::string_view::npos;
  auto need_value = [&]() -> Status {
    if (!has_value || value.empty()) return Status(EINVAL, "option " + std::string(key) + " needs a value");
    return {};
  };
  // Options that are a path, taken as they are.
  const std::pair<std::string_view, std::string*> paths[] = {{"store", &o.store_dir},   {"token_file", &o.token_file},
                                                             {"ca_file", &o.ca_file},   {"log", &o.log_file},
                                                             {"stats", &o.stats_file}};
  for (const auto& [name, field] : paths) {
    if (key != name) continue;
    DLFS_TRY(need_value());
    *field = value;
    return {};
  }
  if (kernel_option(opt)) {
    if (opt == "ro") o.read_only = true;
    if (opt == "noatime") o.noatime = true;
    if (opt == "atime" || opt == "relatime") o.noatime = false;
    o.kernel_options.emplace_back(opt);
  } else if (key == "cache") {
    DLFS_TRY(need_value());
    if (value == "none") o.no_cache = true;
    else o.cache_dir = value;
  } else if (key == "cache_size") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.cache_size, parse_size(value));
  } else if (key == "data_cache") {
    DLFS_TRY(need_value());
    if (value == "off" || value == "none") o.no_data_cache = true;
    else o.data_cache_dir = value;
  } else if (key == "read_ahead") {
    DLFS_TRY(need_value());
    unsigned kb = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), kb);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() || kb > (1u << 20))
      return Status(EINVAL, "read_ahead= takes a number of KiB (0 for the kernel's)");
    o.read_ahead_kb = unsigned(kb);
  } else if (key == "data_cache_size") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.data_cache_size, parse_size(value));
  } else if (key == "metrics") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.metrics_address, parse_metrics_address(value));
  } else if (key == "debug" && !has_value) {
    o.debug = true;
  } else if (key == "dir_ttl") {
    DLFS_TRY(need_value());
    if (value == "inf") {
      o.dir_ttl_ms = -1;
    } else {
      DLFS_ASSIGN(double s, parse_seconds(key, value));
      o.dir_ttl_ms = int64_t(s * 1000);
    }
  } else if (key == "link_revalidate") {
    DLFS_TRY(need_value());
    if (value == "never") {
      o.link_revalidate_ms = -1;
    } else {
      DLFS_ASSIGN(double s, parse_seconds(key, value));
      o.link_revalidate_ms = int64_t(s * 1000);
    }
  } else if (key == "attr_timeout" || key == "entry_timeout" || key == "negative_timeout") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(double s, parse_seconds(key, value));
    (key == "attr_timeout" ? o.attr_timeout : key == "entry_timeout" ? o.entry_timeout : o.negative_timeout) = s;
  } else if (key == "uid" || key == "gid") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(uint64_t id, parse_uint(key, value));
    if (key == "uid") o.uid = uid_t(id);
    else o.gid = gid_t(id);
  } else if (key == "no_open") {
    if (!has_value || value == "1" || value == "yes") o.no_open = true;
    else if (value == "0" || value == "no") o.no_open = false;
    else return Status(EINVAL, "bad value for no_open: '" + std::string(value) + "' (0 or 1)");
  } else if (key == "max_threads") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.max_threads, parse_between(key, value, 1, 1024));
  } else if (key == "prefetch") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.prefetch, parse_between(key, value, 0, 64));
  } else if (key == "upload_workers") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.upload_workers, parse_between(key, value, 1, 256));
  } else if (key == "upload_batch") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.upload_batch, parse_between(key, value, 1, 1000));
  } else if (key == "preprocess_workers") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.preprocess_workers, parse_between(key, value, 0, 256));
  } else if (key == "upload_attempts") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.upload_attempts, parse_between(key, value, 1, 1000));
  } else if (key == "http_timeout") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(double s, parse_seconds(key, value));
    if (s < 0.001 || s > kMaxTimeout) return Status(EINVAL, "http_timeout must be between 0.001 and 86400 seconds");
    o.http_timeout_ms = long(std::llround(s * 1000));
  } else if (key == "http_stall") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.http_stall_s, parse_between(key, value, 1, uint64_t(kMaxTimeout), "whole seconds"));
  } else if (key == "http_retries") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.http_retries, parse_between(key, value, 1, 100, "tries per request"));
  } else if (key == "max_pending") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.max_pending, parse_between(key, value, 1, 10000000, "files"));
  } else if (key == "spool_size") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.spool_size, parse_size(value));
  } else if (key == "link_allow_private" && !has_value) {
    o.link_allow_private = true;
  } else if (key == "link_allow_file" && !has_value) {
    o.link_allow_file = true;
  } else if (key == "sync_upload" && !has_value) {
    o.sync_upload = true;
  } else if (key == "through_server" && !has_value) {
    o.through_server = true;
  } else if (key == "no_posix_attrs" && !has_value) {
    o.no_posix_attrs = true;
  } else if (key == "durable_close" && !has_value) {
    o.durable_close = true;
  } else if (key == "unmount_wait") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.unmount_wait, parse_seconds(key, value));
  } else if (key == "debug_upload_failures") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.debug_upload_failures, parse_uint(key, value));
  } else if (key == "debug_retry_base_ms") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.debug_retry_base_ms, parse_uint(key, value));
  } else if (key == "debug_read_delay_ms") {
    DLFS_TRY(need_value());
    DLFS_ASSIGN(o.debug_read_delay_ms, parse_uint(key, value));
  } else {
    return Status(EINVAL, "unknown option '" + std::string(opt) + "'");
  }
  return {};
}

Status apply_option_list(MountOptions& o, std::string_view list) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    DLFS_TRY(apply_option(o, list.substr(start, comma - start)));
    start = comma + 1;
  }
  return {};
}

}  // namespace

Result<std::string> parse_metrics_address(std::string_view text) {
  size_t colon = text.rfind(':');
  std::string_view host = colon == std::string_view::npos ? "127.0.0.1" : text.substr(0, colon);
  std::string_view port = colon == std::string_view::npos ? text : text.substr(colon + 1);
  auto bad = [&] {
    return Status(EINVAL, "bad value for metrics: '" + std::string(text) + "' (PORT or HOST:PORT, e.g. 127.0.0.1:9101)");
  };
  if (host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos || std::stoul(std::string(port)) > 65535)
    return bad();
  return std::string(host) + ":" + std::string(port);
}

Result<uint64_t> parse_size(std::string_view text) {
  if (text.empty()) return Status(EINVAL, "empty size");
  uint64_t mult = 1;
  char last = text.back();
  switch (last) {
    case 'k': case 'K': mult = 1ull << 10; break;
    case 'm': case 'M': mult = 1ull << 20; break;
    case 'g': case 'G': mult = 1ull << 30; break;
    case 't': case 'T': mult = 1ull << 40; break;
    default: break;
  }
  if (mult != 1) text.remove_suffix(1);
  DLFS_ASSIGN(uint64_t n, parse_uint("size", text));
  if (n > UINT64_MAX / mult) return Status(EINVAL, "size too large");
  return n * mult;
}

double MountOptions::resolved_attr_timeout() const {
  if (attr_timeout) return *attr_timeout;
  double ttl = dir_ttl_ms < 0 ? kMaxTimeout : std::min(kMaxTimeout, double(dir_ttl_ms) / 1000);
  return read_only ? ttl : std::min(kDefaultTimeout, ttl);
}

double MountOptions::resolved_entry_timeout() const {
  return entry_timeout ? *entry_timeout : resolved_attr_timeout();
}

double MountOptions::resolved_negative_timeout() const {
  if (negative_timeout) return *negative_timeout;
  return std::min(1.0, resolved_entry_timeout());
}

uint64_t auto_spool_size(const std::string& dir) {
  constexpr uint64_t kAtLeast = 4ull << 30;
  struct statvfs vs {};
  if (::statvfs(dir.c_str(), &vs) != 0) return kAtLeast;
  uint64_t total = uint64_t(vs.f_blocks) * vs.f_frsize, avail = uint64_t(vs.f_bavail) * vs.f_frsize;
  uint64_t keep = total / 20;
  return std::max(kAtLeast, avail > keep ? avail - keep : 0);
}

Result<MountOptions> parse_mount_args(const std::vector<std::string>& args) {
  MountOptions o;
  std::vector<std::string> positional;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-o" || a == "-t" || a == "-N") {
      if (i + 1 >= args.size()) return Status(EINVAL, "option " + a + " needs an argument");
      if (a == "-o") DLFS_TRY(apply_option_list(o, args[i + 1]));
      ++i;  // -t TYPE (from mount(8)) and -N NAMESPACE are not ours
    } else if (a.size() > 2 && a.substr(0, 2) == "-o") {
      DLFS_TRY(apply_option_list(o, std::string_view(a).substr(2)));
    } else if (a == "-f") {
      o.foreground = true;
    } else if (a == "-d") {
      o.foreground = true;
      o.debug = true;
    } else if (a == "-n" || a == "-s" || a == "-v" || a.substr(0, 2) == "-t") {
      // mount(8): no mtab, sloppy, verbose, type: nothing to do
    } else if (a == "-h" || a == "--help") {
      return Status(EINVAL, mount_usage(args.empty() ? "mount.dlfs" : args[0]));
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      return Status(EINVAL, "unknown option '" + a + "'");
    } else {
      positional.push_back(a);
    }
  }
  if (o.link_allow_file &&
      std::find(o.kernel_options.begin(), o.kernel_options.end(), "allow_other") != o.kernel_options.end())
    return Status(EINVAL,
                  "link_allow_file cannot be used with allow_other: every user of the mount could read, through a "
                  "file:// link, the files of the user who mounted it");
  if (positional.size() != 2) return Status(EINVAL, "expected SOURCE and MOUNTPOINT (see -h)");
  std::string source = positional[0];
  // A leading "dlfs#" (old fstab style) is dropped. DATASET:/folder mounts one folder
  // (remote/connect.h parses SOURCE, URLs too).
  if (source.substr(0, 5) == "dlfs#") source = source.substr(5);
  DLFS_ASSIGN(Source parsed, parse_source(source));
  o.folder = parsed.folder;
  o.source = source;
  o.mountpoint = positional[1];
  return o;
}

std::string mount_usage(const std::string& program) {
  return "usage: " + program +
         " DATASET[:/FOLDER] MOUNTPOINT [-f] [-o ro,store=DIR,cache=DIR,cache_size=SIZE,data_cache=DIR|off,data_cache_size=SIZE,read_ahead=KB,prefetch=N,"
         "dir_ttl=SECONDS|inf,link_revalidate=SECONDS|never,attr_timeout=S,entry_timeout=S,negative_timeout=S,uid=N,gid=N,"
         "allow_other,default_permissions,no_open,log=FILE,stats=FILE,metrics=[HOST:]PORT,debug,upload_workers=N,upload_batch=N,preprocess_workers=N,"
         "spool_size=SIZE,max_pending=N,sync_upload,durable_close,through_server,no_posix_attrs,unmount_wait=SECONDS,http_timeout=S,http_stall=S,http_retries=N,ca_file=F,"
         "link_allow_private,link_allow_file]";
}

}  // namespace dlfs
