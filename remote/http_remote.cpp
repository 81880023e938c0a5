#include "remote/http_remote.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "core/ids.h"
#include "core/json_util.h"
#include "core/parallel_each.h"
#include "core/paths.h"
#include "remote/http_json.h"
#include "remote/http_parted_upload.h"
#include "remote/item_page_sax.h"
#include "remote/item_streams.h"

namespace dlfs {
namespace {

constexpr size_t kMaxPageSize = 1000;  // API.md: pageSize is at most 1000
constexpr unsigned kParallelPatches = 4;  // patch_many: PATCHes at once
const char* const kUserQuery = "user_query: true";  // API.md: with an underscore, keep it
const char* const kTextPart = "text/plain; charset=utf-8";

Result<HttpRequest> query_request(std::string path, const json& dql) {
  DLFS_ASSIGN(HttpRequest req, json_request("POST", std::move(path), dql));
  req.headers.push_back(kUserQuery);
  return req;
}

// GET /datasets/{id}/quota (dlfsd's; a server without it answers 404: no quota known).
Result<QuotaInfo> get_quota(HttpClient& http, const std::string& dataset_id) {
  HttpRequest req;
  req.path = "/datasets/" + dataset_id + "/quota";
  auto doc = http.send_json(req);
  if (!doc && doc.err() == ENOENT) return QuotaInfo{};
  if (!doc) return doc.status();
  return QuotaInfo::from_json(*doc);
}

Result<Item> malformed_item_is_eio(Result<Item> item) {
  if (!item) return Status(EIO, "the server answered a malformed item", item.status().to_string());
  return item;
}
Result<Item> parse_item(const json& doc) { return malformed_item_is_eio(item_from_json(doc)); }

Result<Dataset> parse_dataset(const json& doc) {
  Result<Dataset> ds = dataset_from_json(doc);
  if (!ds) return Status(EIO, "the server answered a malformed dataset", ds.status().to_string());
  return ds;
}

// The items of a paged answer, or EIO.
Result<const json*> page_items(const json& doc) {
  if (!doc.is_object() || !doc.contains("items") || !doc["items"].is_array())
    return Status(EIO, "the server answered a malformed page (no \"items\" array)");
  return &doc["items"];
}

bool has_next_page(const json& doc) {
  auto it = doc.find("hasNextPage");
  return it != doc.end() && it->is_boolean() && it->get<bool>();
}

std::string mimetype_for(std::string_view path) {
  static const std::pair<std::string_view, std::string_view> types[] = {
      {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".png", "image/png"},   {".gif", "image/gif"},
      {".webp", "image/webp"}, {".bmp", "image/bmp"},  {".tif", "image/tiff"}, {".tiff", "image/tiff"},
      {".json", "application/json"}, {".txt", "text/plain"}, {".csv", "text/csv"}, {".mp4", "video/mp4"}};
  size_t dot = path.rfind('.');
  if (dot != std::string_view::npos) {
    std::string ext(path.substr(dot));
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (const auto& [e, t] : types)
      if (e == ext) return std::string(t);
  }
  return "application/octet-stream";
}

// "bytes a-b/total" -> a and total (total 0 when "*").
bool parse_content_range(std::string_view v, uint64_t& start, uint64_t& total) {
  if (v.rfind("bytes ", 0) != 0) return false;
  v.remove_prefix(6);
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), start);
  if (ec != std::errc()) return false;
  size_t slash = v.find('/');
  total = 0;
  if (slash != std::string_view::npos && v.substr(slash + 1) != "*")
    std::from_chars(v.data() + slash + 1, v.data() + v.size(), total);
  return true;
}

// The presigned URLs dlfsd answered reads of bucket items with, until shortly before they expire
// (its Cache-Control max-age): later reads of the item go to the bucket without asking dlfsd.
class PresignedUrls {
 public:
  std::string get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = urls_.find(key);
    if (it == urls_.end()) return {};
    if (std::chrono::steady_clock::now() < it->second.until) return it->second.url;
    urls_.erase(it);
    return {};
  }
  void put(const std::string& key, const std::string& url, int64_t max_age_s) {
    if (max_age_s <= 0 || url.empty()) return;
    std::lock_guard lock(mu_);
    if (urls_.size() >= kMaxUrls) urls_.clear();  // (a mount reading more items than this at once asks again)
    urls_[key] = {url, std::chrono::steady_clock::now() + std::chrono::seconds(max_age_s)};
  }
  void erase(const std::string& key) {
    std::lock_guard lock(mu_);
    urls_.erase(key);
  }

 private:
  static constexpr size_t kMaxUrls = 4096;
  struct Entry {
    std::string url;
    std::chrono::steady_clock::time_point until;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> urls_;
};

// "private, max-age=840" -> 840; 0 without one.
int64_t max_age_s(const std::string& cache_control) {
  size_t at = cache_control.find("max-age=");
  return at == std::string::npos ? 0 : std::atoll(cache_control.c_str() + at + 8);
}

class HttpRemote : public Remote {
 public:
  HttpRemote(std::shared_ptr<HttpClient> http, Dataset dataset)
      : http_(std::move(http)), dataset_(std::move(dataset)), direct_reads_(http_->options().direct_reads) {}

  const Dataset& dataset() const override { return dataset_; }
  bool server_away() const override { return http_->away(); }

  Result<ItemPage> list_range(std::string_view dir, std::string_view after, std::string_view until,
                              size_t page_size) override {
    json conditions = json::array({{{"dir", dir}}, {{"hidden", false}}});
    if (!after.empty()) conditions.push_back({{"id", {{"$gt", after}}}});
    if (!until.empty()) conditions.push_back({{"id", {{"$lte", until}}}});
    json dql = {{"filter", {{"$and", conditions}}},
                {"sort", {{"id", "ascending"}}},
                {"page", 0},
                {"pageSize", std::clamp<size_t>(page_size, 1, kMaxPageSize)},
                {"resource", "items"}};
    DLFS_ASSIGN(ItemPage page, run_query(dql));
    // '*' in a value is a wildcard to the server: keep only the folder asked for.
    if (dir.find('*') != std::string_view::npos)
      std::erase_if(page.items, [&](const Item& i) { return i.dir != dir; });
    // An empty first page may be an empty folder, a file, or nothing: one more request tells,
    // only then (a folder with items answers in one round trip per page).
    if (page.items.empty() && after.empty() && dir != "/") {
      Result<Item> self = get(dir);
      if (!self) return self.err() == ENOENT ? Status(ENOENT, "no folder '" + std::string(dir) + "'") : self.status();
      if (!self->is_dir()) return Status(ENOTDIR, "'" + std::string(dir) + "' is a file, not a folder");
    }
    return page;
  }

  Result<Item> get(std::string_view path) override {
    bool wild = path.find('*') != std::string_view::npos;
    json dql = {{"filter", {{"$and", json::array({{{"filename", path}}})}}},
                {"page", 0},
                {"pageSize", wild ? kMaxPageSize : 1},
                {"resource", "items"}};
    DLFS_ASSIGN(ItemPage page, run_query(dql));
    for (auto& item : page.items)
      if (item.filename == path) return std::move(item);
    return Status(ENOENT, "no item at '" + std::string(path) + "' in dataset '" + dataset_.name + "'");
  }

  Result<Item> get_by_id(std::string_view id) override {
    HttpRequest req;
    req.path = "/items/" + http_->escape(id);
    DLFS_ASSIGN(json doc, http_->send_json(req));
    DLFS_ASSIGN(Item item, parse_item(doc));
    if (!item.dataset_id.empty() && item.dataset_id != dataset_.id)
      return Status(ENOENT, "item '" + std::string(id) + "' is not in dataset '" + dataset_.name + "'");
    return item;
  }

  Result<ItemPage> query(const json& dql) override {
    json body = dql;
    if (!body.contains("resource")) body["resource"] = "items";
    return run_query(body);
  }

  // The item's bytes from /stream; for an item in a driver's bucket dlfsd answers 302 to a
  // presigned URL and the bytes come from the bucket (dlfsd out of the data path). A bucket this
  // machine cannot reach: read through dlfsd (?redirect=false), from then on.
  Result<size_t> read(const Item& item, uint64_t offset, std::span<char> out) override {
    if (out.empty()) return size_t(0);
    std::string stream = "/items/" + http_->escape(item.id) + "/stream";
    bool direct = direct_reads_.load();
    // A URL dlfsd gave for this version of the item, still valid: straight to the bucket. Any
    // failure there (expired, refused, changed) asks dlfsd again.
    std::string url_key = item.id + "/" + item.etag();
    if (std::string url = direct ? presigned_.get(url_key) : std::string(); !url.empty()) {
      Result<HttpResponse> from_bucket = read_range(item, url, offset, out, false, 1);
      if (from_bucket && from_bucket->code != 412) return read_answer(item, *from_bucket, offset, out);
      presigned_.erase(url_key);
    }
    DLFS_ASSIGN(HttpResponse r, read_range(item, direct ? stream : stream + "?redirect=false", offset, out, direct));
    if (direct && r.code >= 300 && r.code < 400) {
      presigned_.put(url_key, r.header("location"), max_age_s(r.header("cache-control")));
      Result<HttpResponse> from_bucket = read_range(item, r.header("location"), offset, out, false, 1);
      if (from_bucket) return read_answer(item, *from_bucket, offset, out);
      presigned_.erase(url_key);
      if ((from_bucket.err() == EIO || from_bucket.err() == ETIMEDOUT) && direct_reads_.exchange(false))
        spdlog::warn("cannot read from the storage bucket ({}): reading through the server from now on",
                     from_bucket.status().to_string());
      DLFS_ASSIGN(r, read_range(item, stream + "?redirect=false", offset, out, false));
    }
    return read_answer(item, r, offset, out);
  }

  // Many items in one answer where dlfsd takes it (remote/item_streams.h), else one stream each.
  void read_items(std::span<const Item> items, ItemBytesSink& sink) override {
    read_item_streams(*http_, items, sink, item_streams_,
                      [this](std::span<const Item> rest, ItemBytesSink& to) { Remote::read_items(rest, to); });
  }

  // A ranged GET of `path` (the API's, or a bucket's URL) into `out`; `redirect_answered`: a
  // redirect comes back as the answer (its Location to read from) instead of being followed.
  Result<HttpResponse> read_range(const Item& item, const std::string& path, uint64_t offset, std::span<char> out,
                                  bool redirect_answered, int max_attempts = 0) {
    HttpRequest req;
    req.path = path;
    req.sink = out;
    req.ranged = true;
    req.range_offset = offset;
    req.follow_redirects = !redirect_answered;
    req.max_attempts = max_attempts;
    // The version this reader has (the platform's etag; a driver item's is its object's): a part
    // of another version — the item replaced between two reads of one file — is refused (412),
    // never mixed in.
    if (std::string etag = item.etag(); !etag.empty()) req.headers.push_back("If-Match: \"" + etag + "\"");
    req.accept_codes = {416, 412};  // a range at or past the end; another version
    return http_->send(req);
  }

  Result<size_t> read_answer(const Item& item, const HttpResponse& r, uint64_t offset, std::span<char> out) {
    if (r.code == 416) return size_t(0);
    if (r.code == 412)
      return Status(ESTALE, "'" + item.filename + "' was replaced on the platform while it was read: open it again");
    if (r.code == 206) {
      uint64_t start = 0, total = 0;
      if (parse_content_range(r.header("content-range"), start, total) && start != offset)
        return Status(EIO, "the server answered bytes from " + std::to_string(start) + " for a read from " +
                               std::to_string(offset) + " of '" + item.filename + "'");
      uint64_t expected = out.size();
      if (total > 0) expected = std::min<uint64_t>(expected, total > offset ? total - offset : 0);
      if (r.received < expected)
        return Status(EIO, "short read of '" + item.filename + "': " + std::to_string(r.received) + " of " +
                               std::to_string(expected) + " bytes");
    }
    return r.received;
  }

  Result<std::string> thumbnail(const Item& item) override {
    HttpRequest req;
    req.path = "/items/" + http_->escape(item.id) + "/thumbnail";
    DLFS_ASSIGN(HttpResponse r, http_->send(req));
    return std::move(r.body);
  }

  Result<UploadResult> upload(const std::string& local_file, std::string_view remote_path,
                              const UploadOptions& options) override {
    HttpRequest req;
    req.method = "POST";
    req.path = "/datasets/" + dataset_.id + "/items?mode=" + (options.mode == UploadMode::kSkip ? "skip" : "overwrite");
    if (options.mode == UploadMode::kSkip && !options.replace_id.empty())
      req.path += "&replace=" + http_->escape(options.replace_id);
    // API.md's field order: type, path, metadata, description, file.
    req.multipart.push_back({"type", "file", "", "", kTextPart});
    req.multipart.push_back({"path", std::string(remote_path), "", "", kTextPart});
    if (options.metadata.is_object() && !options.metadata.empty()) {
      DLFS_ASSIGN(std::string meta, dump_body(options.metadata));
      req.multipart.push_back({"metadata", meta, "", "", kTextPart});
    }
    if (options.description) req.multipart.push_back({"description", *options.description, "", "", kTextPart});
    req.multipart.push_back({"file", "", local_file, base_name(remote_path), mimetype_for(remote_path)});

    struct stat st {};
    bool parted = parts_.load() && ::stat(local_file.c_str(), &st) == 0 &&
                  uint64_t(st.st_size) >= http_->options().parted_upload_min;
    for (int round = 1;; ++round) {
      Result<HttpResponse> sent = parted ? upload_in_parts(*http_, dataset_.id, local_file, remote_path, options)
                                         : http_->send(req);
      if (parted && !sent && sent.err() == ENOENT) {
        // A server without dlfsd's upload sessions, or the dataset is gone: the single upload tells.
        if (parts_.exchange(false)) spdlog::info("the server takes no uploads in parts; sending large files whole");
        parted = false;
        sent = http_->send(req);
      }
      DLFS_ASSIGN(HttpResponse r, std::move(sent));
      Result<json> doc = parse_json(r.body);
      if (!doc) return Status(EIO, "the server's answer to an upload is not JSON", doc.status().cause());
      DLFS_ASSIGN(Item item, parse_item(*doc));
      std::string op = r.header("x-item-op");
      UploadResult result{std::move(item), UploadOp::kCreated};
      if (op == "skipped") result.op = UploadOp::kSkipped;
      else if (op == "overwrite" || op == "overwritten") result.op = UploadOp::kOverwritten;
      // API.md: the answer's size is the bytes the server received; a difference is corruption.
      if (result.op == UploadOp::kSkipped || result.item.size() == r.uploaded) return result;
      Status bad(EIO, "upload of '" + std::string(remote_path) + "' arrived with " +
                          std::to_string(result.item.size()) + " bytes of " + std::to_string(r.uploaded) + " sent");
      spdlog::warn("{}; deleting it{}", bad.message(), round == 1 ? " and uploading again" : "");
      if (Status removed = remove(result.item.id); !removed)
        spdlog::warn("cannot delete the corrupt item {}: {}", result.item.id, removed.to_string());
      if (round == 2) return bad;
    }
  }

  // The API has no call for many patches: one PATCH each, a few at once (as the callers' threads
  // would send them one by one); the answers in the patches' order.
  std::vector<Result<Item>> patch_many(std::span<const ItemPatch> patches) override {
    std::vector<Result<Item>> out(patches.size(), Status(EIO, "not sent"));
    (void)parallel_each(patches.size(), kParallelPatches, [&](size_t i) -> Status {
      out[i] = patch(patches[i].id, patches[i].patch, patches[i].system);
      return {};  // (one failing stops none of the others)
    });
    return out;
  }

  std::vector<Result<UploadResult>> upload_files(std::span<const FileUpload> files) override {
    if (files.size() < 2 || !batches_.load()) return Remote::upload_files(files);
    auto sent = send_batch(files);
    if (sent) return std::move(*sent);
    if (sent.err() == ENOENT) {
      // A server without dlfsd's batch route, or the dataset is gone: the single uploads tell.
      auto out = Remote::upload_files(files);
      if (out.front() || out.front().err() != ENOENT) {
        if (batches_.exchange(false)) spdlog::info("the server takes no batch uploads; uploading one file per request");
      }
      return out;
    }
    return std::vector<Result<UploadResult>>(files.size(), sent.status());
  }

  Result<Item> patch(std::string_view id, const json& patch, bool system) override {
    std::string path = "/items/" + http_->escape(id) + (system ? "?system=true" : "");
    DLFS_ASSIGN(HttpRequest req, json_request("PATCH", path, patch));
    DLFS_ASSIGN(json doc, http_->send_json(req));
    return parse_item(doc);
  }

  Result<Item> move(std::string_view id, std::string_view new_path, std::string_view replace_id) override {
    std::string path = "/items/" + http_->escape(id) + "?system=true";
    if (!replace_id.empty()) path += "&replace=" + http_->escape(replace_id);
    DLFS_ASSIGN(HttpRequest req, json_request("PATCH", path, json{{"filename", new_path}}));
    DLFS_ASSIGN(json doc, http_->send_json(req));
    return parse_item(doc);
  }

  Status remove(std::string_view id) override {
    HttpRequest req;
    req.method = "DELETE";
    req.path = "/items/" + http_->escape(id);
    req.accept_codes_after_lost_answer = {404};  // a try whose answer was lost deleted it
    return http_->send(req).status();
  }

  Result<Item> make_dir(std::string_view path) override {
    HttpRequest req;
    req.method = "POST";
    req.path = "/datasets/" + dataset_.id + "/items";
    req.body = http_->form_encode({{"type", "dir"}, {"path", std::string(path)}});
    req.content_type = "application/x-www-form-urlencoded";
    req.accept_codes_after_lost_answer = {409};
    DLFS_ASSIGN(HttpResponse r, http_->send(req));
    if (r.code == 409) {  // a try whose answer was lost made it, unless it is a file
      Result<Item> made = get(path);
      if (made && made->is_dir()) return made;
      return http_error(r.code, r.body, "POST " + req.path);
    }
    Result<json> doc = parse_json(r.body);
    if (!doc) return Status(EIO, "the server's answer to a new folder is not JSON", doc.status().cause());
    return parse_item(*doc);
  }

  Result<QuotaInfo> quota() override { return get_quota(*http_, dataset_.id); }

 private:
  Result<ItemPage> run_query(json dql) {
    // (dlfsd's extension, API.md: items without their URLs, which an Item does not keep — a third
    // of a page's bytes less to encode, send and decode; another server ignores it)
    dql["urls"] = false;
    DLFS_ASSIGN(HttpRequest req, query_request("/datasets/" + dataset_.id + "/query", dql));
    req.headers.push_back("Accept: application/msgpack, application/json;q=0.5");  // (dlfsd's; others answer JSON)
    DLFS_ASSIGN(HttpResponse r, http_->send(req));
    bool msgpack = r.header("content-type").starts_with("application/msgpack");
    return parse_item_page(std::string_view(r.body), msgpack ? PageFormat::kMsgpack : PageFormat::kJson);
  }

  // POST /datasets/{id}/items/batch (server/routes_upload_batch.cpp): one request for many files.
  // An error of the request as a whole is answered as such (ENOENT: no such route, or dataset).
  Result<std::vector<Result<UploadResult>>> send_batch(std::span<const FileUpload> files) {
    std::vector<Result<UploadResult>> out(files.size(), Status(EIO, "not sent"));
    std::vector<size_t> sent;  // the files in the request, by index
    HttpRequest req;
    req.method = "POST";
    req.path = "/datasets/" + dataset_.id + "/items/batch";
    for (size_t i = 0; i < files.size(); ++i) {
      const FileUpload& f = files[i];
      std::string meta;
      if (f.options.metadata.is_object() && !f.options.metadata.empty()) {
        auto dumped = dump_body(f.options.metadata);
        if (!dumped) {
          out[i] = dumped.status();
          continue;
        }
        meta = std::move(*dumped);
      }
      bool skip = f.options.mode == UploadMode::kSkip;
      req.multipart.push_back({"path", f.remote_path, "", "", kTextPart});
      req.multipart.push_back({"mode", skip ? "skip" : "overwrite", "", "", kTextPart});
      if (skip && !f.options.replace_id.empty()) req.multipart.push_back({"replace", f.options.replace_id, "", "", kTextPart});
      if (!meta.empty()) req.multipart.push_back({"metadata", meta, "", "", kTextPart});
      if (f.options.description) req.multipart.push_back({"description", *f.options.description, "", "", kTextPart});
      req.multipart.push_back({"file", "", f.local_file, base_name(f.remote_path), mimetype_for(f.remote_path)});
      sent.push_back(i);
    }
    if (sent.empty()) return out;
    DLFS_ASSIGN(HttpResponse r, http_->send(req));
    Result<json> doc = parse_json(r.body);
    if (!doc || !doc->is_array() || doc->size() != sent.size() || r.uploaded_parts.size() != sent.size())
      return Status(EIO, "the server's answer to a batch upload is not one entry per file");
    for (size_t k = 0; k < sent.size(); ++k) {
      const json& e = (*doc)[k];
      const FileUpload& f = files[sent[k]];
      if (auto code = e.find("status"); code != e.end() && code->is_number_integer()) {
        out[sent[k]] = http_error(code->get<long>(), e.value("error", json::object()).dump(), "batch upload of " + f.remote_path);
        continue;
      }
      auto item = e.contains("item") ? parse_item(e["item"]) : Result<Item>(Status(EIO, "a batch answer without its item"));
      if (!item) {
        out[sent[k]] = item.status();
        continue;
      }
      std::string op = string_field(e, "op");
      UploadResult result{std::move(*item), UploadOp::kCreated};
      if (op == "skipped") result.op = UploadOp::kSkipped;
      else if (op == "overwrite" || op == "overwritten") result.op = UploadOp::kOverwritten;
      if (result.op != UploadOp::kSkipped && result.item.size() != r.uploaded_parts[k]) {
        // As a single upload's (API.md): a size other than what was sent is corruption; the item
        // goes, and the caller's retry sends the file again.
        Status bad(EIO, "upload of '" + f.remote_path + "' arrived with " + std::to_string(result.item.size()) +
                            " bytes of " + std::to_string(r.uploaded_parts[k]) + " sent");
        spdlog::warn("{}; deleting it", bad.message());
        if (Status removed = remove(result.item.id); !removed)
          spdlog::warn("cannot delete the corrupt item {}: {}", result.item.id, removed.to_string());
        out[sent[k]] = bad;
        continue;
      }
      out[sent[k]] = std::move(result);
    }
    return out;
  }

  std::shared_ptr<HttpClient> http_;
  Dataset dataset_;
  std::atomic<bool> batches_{true};  // the server takes batch uploads (until it answers it does not)
  std::atomic<bool> parts_{true};    // ... and uploads in parts
  std::atomic<bool> item_streams_{true};  // ... and reads of many items in one answer
  PresignedUrls presigned_;  // by item id and version
  std::atomic<bool> direct_reads_;  // reads of bucket items from the bucket (HttpOptions::direct_reads)
};

}  // namespace

Result<QuotaInfo> HttpConnection::quota(std::string_view name_or_id) {
  DLFS_ASSIGN(Dataset ds, find_dataset(name_or_id));
  return get_quota(*client_, ds.id);
}

Status HttpConnection::set_quota(std::string_view name_or_id, uint64_t items) {
  if (name_or_id.empty())
    return Status(ENOTSUP, "a server's store quota is set in its config (dlfsd --items-quota), not by a client");
  DLFS_ASSIGN(Dataset ds, find_dataset(name_or_id));
  DLFS_ASSIGN(HttpRequest req, json_request("PUT", "/datasets/" + ds.id + "/quota",
                                            json{{"items", items ? json(items) : json(nullptr)}}));
  return client_->send_json(req).status();
}

Status HttpConnection::set_sync_interval(std::string_view name_or_id, uint64_t seconds) {
  DLFS_ASSIGN(Dataset ds, find_dataset(name_or_id));
  DLFS_ASSIGN(HttpRequest req, json_request("PUT", "/datasets/" + ds.id + "/watch", json{{"intervalSeconds", seconds}}));
  return client_->send_json(req).status();
}

HttpConnection::HttpConnection(HttpOptions options) : client_(std::make_shared<HttpClient>(std::move(options))) {}

HttpConnection::~HttpConnection() = default;

Result<std::vector<Dataset>> HttpConnection::list_datasets() {
  std::vector<Dataset> all;
  for (int page = 0;; ++page) {
    json dql = {{"filter", json::object()}, {"page", page}, {"pageSize", kMaxPageSize}, {"resource", "datasets"}};
    DLFS_ASSIGN(HttpRequest req, query_request("/datasets/query", dql));
    DLFS_ASSIGN(json doc, client_->send_json(req));
    DLFS_ASSIGN(const json* items, page_items(doc));
    for (const auto& d : *items) {
      DLFS_ASSIGN(Dataset ds, parse_dataset(d));
      all.push_back(std::move(ds));
    }
    if (!has_next_page(doc) || items->empty()) return all;
  }
}

Result<Dataset> HttpConnection::create_dataset(std::string_view name, std::string_view driver_id) {
  // API.md: a dataset belongs to projects; the server's first (default) project is enough.
  json projects = json::array();
  HttpRequest get_projects;
  get_projects.path = "/projects";
  if (Result<json> doc = client_->send_json(get_projects)) {
    const json* list = doc->is_array() ? &*doc : doc->is_object() && doc->contains("items") ? &(*doc)["items"] : nullptr;
    if (list && list->is_array() && !list->empty() && (*list)[0].is_object() && (*list)[0].contains("id"))
      projects.push_back((*list)[0]["id"]);
  }
  json body = {{"name", name}, {"projects", projects}};
  if (!driver_id.empty()) body["driver"] = driver_id;
  DLFS_ASSIGN(HttpRequest req, json_request("POST", "/datasets", body));
  DLFS_ASSIGN(json doc, client_->send_json(req));
  return parse_dataset(doc);
}

Result<Driver> HttpConnection::create_driver(const json& body) {
  DLFS_ASSIGN(HttpRequest req, json_request("POST", "/drivers", body));
  DLFS_ASSIGN(json doc, client_->send_json(req));
  return driver_from_json(doc);
}

Result<std::vector<Driver>> HttpConnection::list_drivers() {
  HttpRequest req;
  req.path = "/drivers";
  DLFS_ASSIGN(json doc, client_->send_json(req));
  if (!doc.is_array()) return Status(EIO, "GET /drivers did not answer a JSON array");
  std::vector<Driver> out;
  for (const json& d : doc) {
    DLFS_ASSIGN(Driver driver, driver_from_json(d));
    out.push_back(std::move(driver));
  }
  return out;
}

Result<json> HttpConnection::sync_dataset(std::string_view name_or_id, const SyncProgress& progress) {
  DLFS_ASSIGN(Dataset ds, find_dataset(name_or_id));
  DLFS_ASSIGN(HttpRequest start, json_request("POST", "/datasets/" + ds.id + "/sync", json::object()));
  DLFS_ASSIGN(json command, client_->send_json(start));
  return wait_command(command, "sync", progress);
}

Result<json> HttpConnection::clone_dataset(std::string_view name_or_id, const json& request,
                                           const SyncProgress& progress) {
  DLFS_ASSIGN(Dataset ds, find_dataset(name_or_id));
  DLFS_ASSIGN(HttpRequest start, json_request("POST", "/datasets/" + ds.id + "/clone", request));
  DLFS_ASSIGN(json command, client_->send_json(start));
  return wait_command(command, "clone", progress);
}

Result<json> HttpConnection::import_csv(std::string_view name_or_id, const std::string& csv_file, std::string_view to,
                                        const SyncProgress& progress) {
  DLFS_ASSIGN(Dataset ds, find_dataset(name_or_id));
  std::string name = csv_file.substr(csv_file.rfind('/') + 1);
  HttpRequest start;
  start.method = "POST";
  start.path = "/datasets/" + ds.id + "/imports/csv";
  start.multipart = {{"name", name, "", "", ""},
                     {"to", to.empty() ? "/" : std::string(to), "", "", ""},
                     {"file", "", csv_file, name, "text/csv"}};
  DLFS_ASSIGN(json command, client_->send_json(start));
  return wait_command(command, "CSV import", progress);
}

Result<json> HttpConnection::wait_command(const json& started, std::string_view what, const SyncProgress& progress) {
  json command = started;
  if (!command.is_object() || !command.contains("id") || !command["id"].is_string())
    return Status(EIO, "the server answered the " + std::string(what) + " without a command id");
  HttpRequest poll;
  poll.path = "/commands/" + command["id"].get<std::string>();
  // Each poll is bounded by the client's timeouts and retries; the job itself may take long.
  for (;;) {
    const std::string status = string_field(command, "status");
    const json report = command.value("report", json::object());
    if (progress) progress(command.value("progress", 0), report);
    if (status == "success") return report;
    if (status == "failed") {
      const json& why = command["error"];
      return Status(EIO, "the " + std::string(what) + " failed: " +
                             (why.is_string() ? why.get<std::string>() : "no reason given"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto next = client_->send_json(poll);
    if (!next && next.err() == ENOENT)
      return Status(EIO, "the server no longer knows the " + std::string(what) + " command (restarted?); run it again");
    if (!next) return next.status();
    command = std::move(*next);
  }
}

Result<Dataset> HttpConnection::find_dataset(std::string_view name_or_id) {
  if (is_valid_id(name_or_id)) {
    HttpRequest req;
    req.path = "/datasets/" + std::string(name_or_id);
    Result<json> doc = client_->send_json(req);
    if (doc) return parse_dataset(*doc);
    if (doc.err() != ENOENT) return doc.status();  // else it may be a name that looks like an id
  }
  json dql = {{"filter", {{"$and", json::array({{{"name", name_or_id}}})}}},
              {"page", 0},
              {"pageSize", kMaxPageSize},
              {"resource", "datasets"}};
  DLFS_ASSIGN(HttpRequest req, query_request("/datasets/query", dql));
  DLFS_ASSIGN(json doc, client_->send_json(req));
  DLFS_ASSIGN(const json* items, page_items(doc));
  for (const auto& d : *items) {
    DLFS_ASSIGN(Dataset ds, parse_dataset(d));
    if (ds.name == name_or_id) return ds;
  }
  return Status(ENOENT, "no dataset '" + std::string(name_or_id) + "' on " + base_url());
}

Status HttpConnection::delete_dataset(std::string_view name_or_id) {
  DLFS_ASSIGN(Dataset ds, find_dataset(name_or_id));
  HttpRequest req;
  req.method = "DELETE";
  req.path = "/datasets/" + ds.id;
  return client_->send(req).status();
}

Result<std::unique_ptr<Remote>> HttpConnection::open(std::string_view name_or_id) {
  DLFS_ASSIGN(Dataset ds, find_dataset(name_or_id));
  return std::unique_ptr<Remote>(new HttpRemote(client_, std::move(ds)));
}

std::string HttpConnection::user() const {
  std::lock_guard lock(user_mu_);
  if (user_) return *user_;
  HttpRequest req;
  req.path = "/users/me";
  Result<json> doc = client_->send_json(req);
  if (!doc || !doc->is_object() || !doc->contains("email") || !(*doc)["email"].is_string()) {
    spdlog::warn("cannot tell who the token is (GET /users/me): {}",
                 doc ? std::string("no email in the answer") : doc.status().to_string());
    return {};
  }
  user_ = (*doc)["email"].get<std::string>();
  return *user_;
}

}  // namespace dlfs
