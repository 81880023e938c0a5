// Logging setup through spdlog: stderr in the foreground, a file with -o log=FILE, syslog when
// a daemon detaches.
#pragma once

#include <string>

namespace dlfs {

struct LogOptions {
  std::string program = "dlfs";
  std::string level = "info";  // trace, debug, info, warn, error, off
  std::string file;            // log to this file if set
  bool syslog = false;         // log to syslog (detached daemons)
};

void setup_logging(const LogOptions& options);

}  // namespace dlfs
