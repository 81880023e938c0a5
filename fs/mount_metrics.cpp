#include "fs/mount_metrics.h"

namespace dlfs {

namespace {

using prometheus::MetricFamily;

double value(const std::atomic<uint64_t>& a) { return double(a.load(std::memory_order_relaxed)); }

MetricFamily counter(const char* name, const char* help, double v) {
  MetricFamily f = counter_family(name, help);
  add_sample(f, v);
  return f;
}

MetricFamily gauge(const char* name, const char* help, double v) {
  MetricFamily f = gauge_family(name, help);
  add_sample(f, v);
  return f;
}

void collect_data_cache(const DataCache& cache, const FsCounters& fc, std::vector<MetricFamily>& out) {
  const DataCacheCounters& c = cache.counters();
  out.push_back(counter("dlfs_data_cache_hits_total", "Reads of an item found in the data cache", value(c.hits)));
  out.push_back(counter("dlfs_data_cache_misses_total", "Reads of an item fetched into the data cache first",
                        value(c.misses)));
  out.push_back(counter("dlfs_data_cache_fill_bytes_total", "Bytes fetched into the data cache (prefetches included)",
                        value(c.fill_bytes)));
  out.push_back(counter("dlfs_data_cache_evicted_bytes_total", "Bytes evicted from the data cache",
                        value(c.evicted_bytes)));
  out.push_back(counter("dlfs_data_cache_errors_total",
                        "Fetches into the data cache that failed (the read then went to the platform)",
                        value(fc.data_cache_errors)));
  auto [files, bytes] = cache.usage();
  out.push_back(gauge("dlfs_data_cache_bytes", "Bytes the data cache holds", double(bytes)));
  out.push_back(gauge("dlfs_data_cache_files", "Files the data cache holds", double(files)));
  out.push_back(counter("dlfs_prefetch_fetches_total", "Files fetched into the data cache ahead of their readers",
                        value(c.prefetches)));
  out.push_back(counter("dlfs_prefetch_hits_total",
                        "Reads served by a file a prefetch brought (each such file counted once)",
                        value(c.prefetch_hits)));
}

}  // namespace

void add_mount_collector(Metrics& metrics, Filesystem& fs) {
  metrics.add_collector([&fs](std::vector<MetricFamily>& out) {
    const FsCounters& fc = fs.counters();
    const SourceCounters& sc = fs.source_counters();

    MetricFamily hits = counter_family("dlfs_metadata_hits_total",
                                       "Metadata answered without asking the platform, by where it was found");
    add_sample(hits, value(sc.listing_memory_hits), {{"kind", "listing_memory"}});
    add_sample(hits, value(sc.listing_cache_hits), {{"kind", "listing_cache"}});
    add_sample(hits, value(sc.item_cache_hits), {{"kind", "item_cache"}});
    add_sample(hits, value(sc.negative_hits), {{"kind", "negative"}});
    out.push_back(std::move(hits));
    out.push_back(counter("dlfs_metadata_listing_fetches_total", "Folder listings fetched from the platform",
                          value(sc.listing_fetches)));
    out.push_back(counter("dlfs_metadata_stale_served_total",
                          "Expired metadata answered because the platform was away", value(sc.stale_served)));

    MetricFamily links = counter_family("dlfs_link_requests_total", "Requests to link items' targets, by kind");
    add_sample(links, value(fc.link_reads), {{"kind", "read"}});
    add_sample(links, value(fc.link_heads), {{"kind", "head"}});
    out.push_back(std::move(links));

    if (const DataCache* cache = fs.options().data_cache) collect_data_cache(*cache, fc, out);
    FolderPrefetchStats ps = fs.prefetch_stats();
    out.push_back(counter("dlfs_prefetch_walks_total", "Folders seen read in listing order (prefetch started)",
                          double(ps.walks)));
    out.push_back(counter("dlfs_prefetch_sweeps_total",
                          "Folders seen read once each in a shuffled order (the rest fetched alongside)",
                          double(ps.sweeps)));

    UploadTally t = fs.upload_tally();
    MetricFamily uploads = gauge_family("dlfs_uploads", "Files (and folders) changed in the mount and not on the "
                                                        "platform yet, by state");
    add_sample(uploads, double(t.writing), {{"state", "writing"}});
    add_sample(uploads, double(t.pending), {{"state", "pending"}});
    add_sample(uploads, double(t.uploading), {{"state", "uploading"}});
    add_sample(uploads, double(t.failed), {{"state", "failed"}});
    out.push_back(std::move(uploads));
    out.push_back(gauge("dlfs_spool_bytes", "Bytes of the upload spool's files", double(t.spool_bytes)));
    out.push_back(counter("dlfs_uploads_landed_total", "Uploads the platform took", value(fc.uploads_landed)));
    out.push_back(counter("dlfs_upload_failures_total", "Upload tries that failed (retried or given up)",
                          value(fc.upload_failures)));
    out.push_back(counter("dlfs_uploads_given_up_total", "Uploads failed for good (see user.dl.uploads)",
                          value(fc.uploads_given_up)));
    out.push_back(gauge("dlfs_inodes", "Nodes the mount knows (the kernel's references)", double(fs.inodes().size())));
  });
}

}  // namespace dlfs
