// A mount's metrics read at scrape time from the counters the filesystem core keeps anyway
// (atomics: nothing is added to a read's path): the data cache's hits, misses and bytes, the
// metadata's memory and cache hits, prefetch, the upload spool and the uploads by state.
// The FUSE requests (fs/fuse_metrics.h) and the remote calls (remote/metered_remote.h) are
// counted where they happen.
#pragma once

#include "fs/filesystem.h"
#include "metrics/metrics.h"

namespace dlfs {

// Adds a collector of `fs`'s counters to `metrics`; `fs` must outlive every scrape.
void add_mount_collector(Metrics& metrics, Filesystem& fs);

}  // namespace dlfs
