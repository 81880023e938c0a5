// dlfsd's routes (API.md), registered on an httplib server, grouped by what they serve.
#pragma once

#include <httplib.h>

#include "metrics/metrics.h"
#include "server/api_context.h"

namespace dlfs {

// Datasets, DQL item queries, the directory tree, projects, users, SDK check.
void register_dataset_routes(httplib::Server& server, ApiContext& ctx);
// Storage drivers, imports of a bucket's objects, a dataset's sync with its bucket, commands.
void register_driver_routes(httplib::Server& server, ApiContext& ctx);
// One item: get, patch, delete, stream, thumbnail; moving items into a folder.
void register_item_routes(httplib::Server& server, ApiContext& ctx);
// dlfs's extension: many items' bytes in one answer (POST /items/streams).
void register_item_streams_route(httplib::Server& server, ApiContext& ctx);
// Streaming multipart uploads, and making folders.
void register_upload_routes(httplib::Server& server, ApiContext& ctx);
// dlfs's extension: many small uploads in one request (POST /datasets/{id}/items/batch).
void register_batch_upload_routes(httplib::Server& server, ApiContext& ctx);
// dlfs's extension: uploads in parts, resumable (/datasets/{id}/uploads, /uploads/{uid}...).
void register_upload_session_routes(httplib::Server& server, ApiContext& ctx);

// GET /metrics: Prometheus's text format (open, behind the token, or 404, as options.metrics says).
void register_metrics_route(httplib::Server& server, ApiContext& ctx, const Metrics& metrics);

// {"totalItemsCount","totalPagesCount","hasNextPage","items"}
json paged_answer(json items, uint64_t total, size_t page_size, bool has_next);

}  // namespace dlfs
