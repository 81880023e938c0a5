// The FUSE side of the mount: a libfuse3 low-level session whose handlers unpack a request,
// call the Filesystem core once and reply. No logic lives here; no exception leaves a handler.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "fs/filesystem.h"

struct fuse_session;

namespace dlfs {

class FuseMetrics;

struct FuseOptions {
  std::string fsname = "dlfs";
  std::vector<std::string> kernel_options;  // ro, allow_other, default_permissions, ...
  double negative_timeout = 1;    // seconds a missing name stays cached (0: not at all)
  unsigned max_threads = 16;
  bool trace = false;             // libfuse's own request trace on stderr
  // The kernel's readahead (KiB) for sequential reads: 512 KiB requests, each still spliced
  // (libfuse's pipe cannot grow past 1 MiB without CAP_SYS_RESOURCE; a larger request falls
  // back to a copy through a fresh buffer). 0: the kernel's default (128 KiB).
  unsigned read_ahead_kb = 512;
  // -o metrics: every request counted and timed by op (fs/fuse_metrics.h); null: not.
  FuseMetrics* metrics = nullptr;
};

class FuseMount {
 public:
  // Creates the session and mounts it; when this answers, the mount is live.
  static Result<std::unique_ptr<FuseMount>> mount(Filesystem& fs, const std::string& mountpoint,
                                                  const FuseOptions& options);
  ~FuseMount();  // unmounts (if still mounted) and destroys the session

  // Serves requests on a pool of threads until the mount goes away or exit() is called.
  Status loop();
  // Makes loop() return. Async-signal-safe.
  void exit();

  struct Impl;

 private:
  explicit FuseMount(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dlfs
