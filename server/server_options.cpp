#include "server/server_options.h"

#include <charconv>
#include <fstream>

namespace dlfs {
namespace {

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

Result<unsigned> parse_uint(const std::string& key, const std::string& value, unsigned max) {
  unsigned out = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || p != value.data() + value.size() || out > max)
    return Status(EINVAL, "'" + key + "' must be a number from 0 to " + std::to_string(max) + ", not '" + value + "'");
  return out;
}

}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data()) return Status(EINVAL, "not a size: '" + std::string(text) + "'");
  std::string_view unit(p, size_t(text.data() + text.size() - p));
  int shift = unit.empty() ? 0 : unit == "K" || unit == "k" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : unit == "T" ? 40 : -1;
  if (shift < 0) return Status(EINVAL, "unknown size unit in '" + std::string(text) + "' (K, M, G or T)");
  if (shift && n > (UINT64_MAX >> shift)) return Status(EINVAL, "size too large: '" + std::string(text) + "'");
  return n << shift;
}

Status apply_option(ServerOptions& o, const std::string& key, const std::string& value) {
  if (key == "store") {
    o.store = value;
  } else if (key == "listen") {
    size_t colon = value.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return Status(EINVAL, "'listen' must be HOST:PORT, like 127.0.0.1:8080, not '" + value + "'");
    DLFS_ASSIGN(unsigned port, parse_uint(key, value.substr(colon + 1), 65535));
    o.host = value.substr(0, colon);
    o.port = int(port);
  } else if (key == "workers") {
    DLFS_ASSIGN(o.workers, parse_uint(key, value, 1024));
    if (o.workers == 0) return Status(EINVAL, "'workers' must be at least 1");
  } else if (key == "preprocess-workers") {
    o.preprocess = value != "none";
    if (o.preprocess) {
      DLFS_ASSIGN(o.preprocess_workers, parse_uint(key, value, 256));
    }
  } else if (key == "max-upload") {
    DLFS_ASSIGN(o.max_upload, parse_size(value));
  } else if (key == "read-timeout") {
    DLFS_ASSIGN(o.read_timeout_s, parse_uint(key, value, 86400));
  } else if (key == "write-timeout") {
    DLFS_ASSIGN(o.write_timeout_s, parse_uint(key, value, 86400));
  } else if (key == "keep-alive") {
    DLFS_ASSIGN(o.keep_alive_s, parse_uint(key, value, 86400));
  } else if (key == "drain-timeout") {
    DLFS_ASSIGN(o.drain_timeout_s, parse_uint(key, value, 86400));
  } else if (key == "log-level") {
    o.log_level = value;
  } else if (key == "local-drivers") {
    if (value.empty() || value.front() != '/') return Status(EINVAL, "'local-drivers' must be an absolute folder");
    o.local_drivers = value;
  } else if (key == "items-quota") {
    if (value == "none") {
      o.items_quota = 0;
    } else {
      DLFS_ASSIGN(o.items_quota, parse_uint(key, value, UINT32_MAX));
    }
  } else if (key == "link-allow-private") {
    if (value == "true" || value == "yes" || value == "1") o.link_allow_private = true;
    else if (value == "false" || value == "no" || value == "0") o.link_allow_private = false;
    else return Status(EINVAL, "'link-allow-private' is true or false, not '" + value + "'");
  } else if (key == "presigned-reads") {
    if (value == "true" || value == "yes" || value == "1" || value == "on") o.presigned_reads = true;
    else if (value == "false" || value == "no" || value == "0" || value == "off") o.presigned_reads = false;
    else return Status(EINVAL, "'presigned-reads' is on or off, not '" + value + "'");
  } else if (key == "metrics") {
    if (value == "open") o.metrics = ServerOptions::MetricsAccess::kOpen;
    else if (value == "token") o.metrics = ServerOptions::MetricsAccess::kToken;
    else if (value == "off") o.metrics = ServerOptions::MetricsAccess::kOff;
    else return Status(EINVAL, "'metrics' is open, token or off, not '" + value + "'");
  } else if (key == "tls-cert") {
    o.tls_cert = value;
  } else if (key == "tls-key") {
    o.tls_key = value;
  } else {
    return Status(EINVAL, "unknown setting '" + key + "'");
  }
  return {};
}

Status apply_config_file(ServerOptions& options, const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(ENOENT, "cannot read the config file " + path);
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos)
      return Status(EINVAL, path + ":" + std::to_string(lineno) + ": expected 'key = value'");
    Status s = apply_option(options, trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
    if (!s) return s.wrap(path + ":" + std::to_string(lineno));
  }
  return {};
}

namespace {

// A command line split into its options and its other words.
struct SplitArgs {
  std::vector<std::pair<std::string, std::string>> flags;  // in order, --config left out
  std::string config;
  std::vector<std::string> words;
  bool help = false;
};

Result<SplitArgs> split_args(const std::vector<std::string>& args) {
  SplitArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      out.help = true;
      continue;
    }
    if (!a.starts_with("--")) {
      out.words.push_back(a);
      continue;
    }
    std::string key = a.substr(2), value;
    if (size_t eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else if (key == "link-allow-private") {
      value = "true";  // a switch: --link-allow-private alone
    } else {
      if (i + 1 >= args.size()) return Status(EINVAL, "'" + a + "' needs a value");
      value = args[++i];  // taken as it is: "--days -1" is a value
    }
    if (key == "config") out.config = value;
    else out.flags.emplace_back(key, value);
  }
  return out;
}

// The config file first, then the flags over it.
Result<ServerOptions> server_options(const SplitArgs& split) {
  ServerOptions options;
  if (!split.config.empty()) DLFS_TRY(apply_config_file(options, split.config));
  for (const auto& [k, v] : split.flags) DLFS_TRY(apply_option(options, k, v));
  if (options.store.empty()) return Status(EINVAL, "no store given (--store DIR)");
  return options;
}

}  // namespace

Result<ServerOptions> parse_server_args(const std::vector<std::string>& args) {
  DLFS_ASSIGN(SplitArgs split, split_args(args));
  if (!split.words.empty()) return Status(EINVAL, "unexpected argument '" + split.words.front() + "'");
  return server_options(split);
}

Result<DlfsdCommandLine> parse_dlfsd_args(const std::vector<std::string>& args) {
  DLFS_ASSIGN(SplitArgs split, split_args(args));
  DlfsdCommandLine line;
  line.help = split.help;
  if (line.help) return line;
  if (split.words.size() > 1) return Status(EINVAL, "unexpected argument '" + split.words[1] + "'");
  if (!split.words.empty()) {
    line.command = split.words.front();
    if (line.command != "token") return Status(EINVAL, "unknown command '" + line.command + "'");
  }
  if (line.command == "token") {  // its own options, taken out before the settings are applied
    std::vector<std::pair<std::string, std::string>> settings;
    for (auto& [key, value] : split.flags) {
      if (key == "email") {
        line.email = value;
      } else if (key == "days") {
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), line.days);
        if (ec != std::errc() || p != value.data() + value.size() || value.empty())
          return Status(EINVAL, "--days needs a number, not '" + value + "'");
      } else {
        settings.emplace_back(key, value);
      }
    }
    split.flags = std::move(settings);
    if (line.email.empty()) return Status(EINVAL, "token needs --email");
  }
  DLFS_ASSIGN(line.options, server_options(split));
  return line;
}

}  // namespace dlfs
