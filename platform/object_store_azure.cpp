// The Azure Blob object store (platform/object_store_azure.h). Blob REST API calls: Get Blob
// Properties (HEAD), Get Blob with a Range, Put Blob, Put Block, Get Block List, Put Block List,
// Copy Blob, Delete Blob, List Blobs, Create Container.
#include "platform/object_store_azure.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <thread>

#include <pugixml.hpp>

#include "core/base64.h"
#include "core/parallel_each.h"
#include "net/http_client.h"
#include "platform/azure_shared_key.h"

namespace dlfs {
namespace {

// Put Blob stores a block blob in one request up to 5000 MiB (x-ms-version 2019-12-12 and
// later); beyond that a blob has to be put as blocks (Put Block + Put Block List): at most
// 50,000 committed blocks of at most 4000 MiB each.
constexpr uint64_t kMaxSinglePut = 5000ull << 20;
constexpr uint64_t kMaxBlocks = 50000;
constexpr uint64_t kMaxBlockSize = 4000ull << 20;

// A file cut into blocks; its size and modification time name the bytes the blocks carry.
struct BlockPlan {
  uint64_t file_size = 0;
  int64_t mtime_ns = 0;
  uint64_t block_size = 0;
  uint64_t count = 0;
  uint64_t offset(uint64_t index) const { return index * block_size; }
  uint64_t length(uint64_t index) const { return std::min(block_size, file_size - offset(index)); }
};

// The configured block size, grown (in whole MiB) when the file would need more than kMaxBlocks.
BlockPlan plan_blocks(const struct stat& st, uint64_t configured_block_size) {
  BlockPlan plan;
  plan.file_size = uint64_t(st.st_size);
  plan.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  uint64_t needed = (plan.file_size + kMaxBlocks - 1) / kMaxBlocks;
  needed = (needed + (1u << 20) - 1) >> 20 << 20;
  plan.block_size = std::max(configured_block_size, needed);
  plan.count = (plan.file_size + plan.block_size - 1) / plan.block_size;
  return plan;
}

// A block's id: base64 of a fixed-width text (54 bytes: no '=' padding), so that every id has
// the same length, which Azure requires of a blob's blocks, and the same for the same file
// (size, mtime), block size and index: an upload taken up again finds the blocks an earlier
// attempt that died left uncommitted. Decoded: "dlfs SIZE MTIME_NS BLOCK_SIZE INDEX".
std::string block_id(const BlockPlan& plan, uint64_t index) {
  char text[96];  // (54 used: the index is < 50,000; room for any, so no truncation to warn of)
  std::snprintf(text, sizeof text, "dlfs %016" PRIx64 " %016" PRIx64 " %08" PRIx64 " %06" PRIu64, plan.file_size,
                uint64_t(plan.mtime_ns), plan.block_size, index);
  return base64_encode(text);
}

// How long a copy Azure does in the background is waited for (a large blob's, between accounts).
constexpr int kMaxCopyWaitMs = 30 * 60 * 1000;

// The blob service's URL: the configured endpoint (Azurite, a sovereign cloud) or Azure's.
std::string service_url(const AzureStoreConfig& config) {
  return config.endpoint.empty() ? "https://" + config.account + ".blob.core.windows.net" : config.endpoint;
}

// 4xx answers come back as responses: their XML names the error (HttpClient reads JSON).
const std::vector<long> kClientErrors = {400, 401, 403, 404, 405, 409, 411, 412, 413, 416};

std::string first_line(std::string s) {
  // Azure's <Message> goes on with "\nRequestId:...\nTime:...".
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

class AzureStore : public ObjectStore {
 public:
  AzureStore(AzureStoreConfig config, HttpOptions options, std::optional<AzureSharedKey> key)
      : config_(std::move(config)), http_(std::move(options)), key_(std::move(key)) {}

  // A service SAS for the one blob, made with the account key. A SAS token given as the
  // credential is not handed on: it is the user's, and wider than one blob.
  Result<std::string> presigned_read_url(std::string_view key, int64_t valid_s) override {
    DLFS_TRY(check_object_key(key));
    if (!key_) return Status(ENOTSUP, "a store reached with a SAS token does not hand it out");
    std::string url = service_url(config_) + blob_path(key);
    return url + "?" + key_->blob_read_sas(config_.container, key, std::time(nullptr) + valid_s,
                                           url.starts_with("https://"));
  }

  Result<ObjectInfo> head(std::string_view key) override {
    DLFS_TRY(check_object_key(key));
    HttpRequest req = request("HEAD", blob_path(key));
    DLFS_ASSIGN(HttpResponse r, send(req, key));
    ObjectInfo o;
    o.key = std::string(key);
    o.size = std::strtoull(r.header("content-length").c_str(), nullptr, 10);
    o.etag = unquoted(r.header("etag"));
    o.modified_ms = modified_ms(r.header("last-modified"));
    return o;
  }

  Result<size_t> read(std::string_view key, uint64_t offset, std::span<char> out) override {
    DLFS_TRY(check_object_key(key));
    if (out.empty()) return size_t(0);
    HttpRequest req = request("GET", blob_path(key));
    req.sink = out;
    req.ranged = true;
    req.range_offset = offset;
    DLFS_ASSIGN(HttpResponse r, send(req, key, /*at_end_ok=*/true));
    // Azure answers 416 to a range that starts at or past the end (an empty blob's too).
    if (r.code == 416) return size_t(0);
    return r.received;
  }

  Result<ObjectInfo> put_file(std::string_view key, const std::string& local_file) override {
    DLFS_TRY(check_object_key(key));
    struct stat st {};
    if (::stat(local_file.c_str(), &st) != 0) return Status(errno, "cannot open " + local_file, strerror(errno));
    uint64_t size = uint64_t(st.st_size);
    if (size > kMaxBlocks * kMaxBlockSize)
      return Status(EFBIG, "'" + local_file + "' is larger than an Azure blob can be (50,000 blocks of 4000 MiB)");
    if (size > std::min(config_.block_threshold, kMaxSinglePut)) return put_blocks(key, local_file, st);
    HttpRequest req = put_request(key);
    req.upload_path = local_file;
    DLFS_ASSIGN(HttpResponse r, send(req, key));
    return put_info(key, r, r.uploaded);
  }

  Result<ObjectInfo> put_bytes(std::string_view key, std::string_view bytes) override {
    DLFS_TRY(check_object_key(key));
    HttpRequest req = put_request(key);
    req.body = std::string(bytes);
    DLFS_ASSIGN(HttpResponse r, send(req, key));
    return put_info(key, r, bytes.size());
  }

  // Copy Blob: the source named by its URL (with the SAS when that is the credential; within one
  // account the request's own signature covers it). Azure may answer "pending" and copy in the
  // background: then the destination's properties are polled until the copy ends.
  Result<ObjectInfo> copy(std::string_view from, std::string_view to) override {
    DLFS_TRY(check_object_key(from));
    DLFS_TRY(check_object_key(to));
    HttpRequest req = request("PUT", blob_path(to));
    std::string source = service_url(config_) + blob_path(from);
    if (!config_.sas.empty()) source += "?" + config_.sas;
    req.headers.push_back("x-ms-copy-source: " + source);
    req.body = std::string();
    req.content_type = "application/octet-stream";
    DLFS_ASSIGN(HttpResponse r, send(req, from));
    std::string status = r.header("x-ms-copy-status");
    for (int waited_ms = 0, step = 50; status == "pending"; waited_ms += step, step = std::min(step * 2, 2000)) {
      if (waited_ms > kMaxCopyWaitMs)
        return Status(ETIMEDOUT, "Azure's copy of '" + std::string(from) + "' to '" + std::string(to) +
                                     "' did not finish in " + std::to_string(kMaxCopyWaitMs / 1000) + " s");
      std::this_thread::sleep_for(std::chrono::milliseconds(step));
      DLFS_ASSIGN(HttpResponse props, send(request("HEAD", blob_path(to)), to));
      status = props.header("x-ms-copy-status");
    }
    if (!status.empty() && status != "success")
      return Status(EIO, "Azure's copy of '" + std::string(from) + "' to '" + std::string(to) + "' ended " + status);
    return head(to);
  }

  Status remove(std::string_view key) override {
    DLFS_TRY(check_object_key(key));
    HttpRequest req = request("DELETE", blob_path(key));
    Result<HttpResponse> r = send(req, key);
    if (!r && r.status().err() != ENOENT) return r.status();  // a blob that is not there is removed
    return {};
  }

  Status list(std::string_view prefix, const std::function<bool(const ObjectInfo&)>& fn) override {
    std::string marker;
    do {
      std::string path = "/" + http_.escape(config_.container) + "?restype=container&comp=list";
      if (!prefix.empty()) path += "&prefix=" + http_.escape(prefix);
      if (!marker.empty()) path += "&marker=" + http_.escape(marker);
      if (config_.list_page_size > 0) path += "&maxresults=" + std::to_string(config_.list_page_size);
      HttpRequest req = request("GET", path);
      DLFS_ASSIGN(HttpResponse r, send(req, ""));
      pugi::xml_document doc;
      pugi::xml_parse_result parsed = doc.load_buffer(r.body.data(), r.body.size());
      pugi::xml_node root = doc.child("EnumerationResults");
      if (!parsed || !root)
        return Status(EIO, "the Azure store's blob listing is not the XML of List Blobs",
                      parsed ? "no <EnumerationResults>" : parsed.description());
      for (pugi::xml_node blob : root.child("Blobs").children("Blob")) {
        ObjectInfo o;
        pugi::xml_node name = blob.child("Name");
        o.key = name.text().as_string();
        // Names with characters XML cannot carry come percent-encoded, so marked.
        if (name.attribute("Encoded").as_bool()) o.key = percent_decode(o.key);
        // Azure takes names this store refuses ("/a", "a//b", put by other tools): not listed,
        // since head() and read() could not reach them.
        if (!check_object_key(o.key)) continue;
        pugi::xml_node props = blob.child("Properties");
        o.size = props.child("Content-Length").text().as_ullong();
        o.etag = unquoted(props.child("Etag").text().as_string());
        o.modified_ms = modified_ms(props.child("Last-Modified").text().as_string());
        if (!fn(o)) return {};
      }
      marker = root.child("NextMarker").text().as_string();
    } while (!marker.empty());
    return {};
  }

  Status create_container() {
    HttpRequest req = request("PUT", "/" + http_.escape(config_.container) + "?restype=container");
    req.body = std::string();  // a Content-Length: 0, which Azure wants on a PUT
    req.content_type = "application/octet-stream";
    DLFS_ASSIGN(HttpResponse r, http_.send(req));
    if (r.code < 400 || r.code == 409) return {};  // 409: ContainerAlreadyExists
    return error(r, req, "");
  }

 private:
  // "/container/a%20b/c.jpg": each part of the key escaped, its '/' kept.
  std::string blob_path(std::string_view key) { return "/" + http_.escape(config_.container) + http_.escape_path(key); }

  HttpRequest request(std::string method, std::string path) const {
    HttpRequest req;
    req.method = std::move(method);
    if (!config_.sas.empty()) path += (path.find('?') == std::string::npos ? "?" : "&") + config_.sas;
    req.path = std::move(path);
    req.headers.push_back("x-ms-version: " + std::string(kAzureApiVersion));
    req.accept_codes = kClientErrors;
    return req;
  }

  HttpRequest put_request(std::string_view key) {
    HttpRequest req = request("PUT", blob_path(key));
    req.headers.push_back("x-ms-blob-type: BlockBlob");
    // Set explicitly: libcurl would otherwise send (unsigned) form-encoded for a body.
    req.content_type = "application/octet-stream";
    return req;
  }

  // send(), with the accepted 4xx answers turned into Statuses (416 kept when `at_end_ok`).
  Result<HttpResponse> send(const HttpRequest& req, std::string_view key, bool at_end_ok = false) {
    DLFS_ASSIGN(HttpResponse r, http_.send(req));
    if (r.code < 400 || (at_end_ok && r.code == 416)) return r;
    return error(r, req, key);
  }

  Status error(const HttpResponse& r, const HttpRequest& req, std::string_view key) const {
    // A wrong signature is AuthenticationFailed on Azure, AuthorizationFailure on Azurite (with
    // Azure's <Message>). A HEAD's answer has no body, only x-ms-error-code.
    std::string code, message;
    pugi::xml_document doc;
    if (doc.load_buffer(r.body.data(), r.body.size())) {
      pugi::xml_node e = doc.child("Error");
      code = e.child("Code").text().as_string();
      message = first_line(e.child("Message").text().as_string());
    }
    if (code.empty()) code = r.header("x-ms-error-code");
    std::string where = this->where();
    std::string cause = "HTTP " + std::to_string(r.code) + (code.empty() ? "" : " " + code) + " on " + req.method +
                        " " + req.path.substr(0, req.path.find('?'));
    if (r.code == 404) {
      if (code == "ContainerNotFound" || key.empty()) return Status(ENOENT, "no " + where, cause);
      return Status(ENOENT, "no object '" + std::string(key) + "' in the " + where, cause);
    }
    if (r.code == 403)  // a HEAD's answer has no body, only x-ms-error-code
      return Status(EACCES, "Azure refused the credentials (account key or SAS token) for the " + where + ": " +
                                (message.empty() ? code : message), cause);
    if (message.empty()) message = "the Azure store answered HTTP " + std::to_string(r.code);
    return Status(errno_for_http_status(r.code), message, cause);
  }

  std::string where() const {
    return "container '" + config_.container + "' of Azure account '" + config_.account + "'";
  }

  // A file as a block blob: Put Block for each block the blob lacks — those an earlier attempt
  // left uncommitted are kept — upload_parallel at once, then Put Block List. Nothing is seen
  // of the new bytes before that commit: an upload that fails leaves the blob as it was, and
  // the blocks it sent, uncommitted, for the next attempt (Azure has no call to abort an upload:
  // uncommitted blocks go by themselves after 7 days, or at the blob's next commit).
  Result<ObjectInfo> put_blocks(std::string_view key, const std::string& local_file, const struct stat& st) {
    BlockPlan plan = plan_blocks(st, config_.block_size);
    if (plan.block_size > kMaxBlockSize)  // (put_file refused such a file already)
      return Status(EFBIG, "'" + local_file + "' is larger than an Azure blob can be (50,000 blocks of 4000 MiB)");
    std::vector<std::string> ids(plan.count);
    for (uint64_t i = 0; i < plan.count; ++i) ids[i] = block_id(plan, i);
    DLFS_ASSIGN(auto uploaded, uncommitted_blocks(key));
    std::vector<uint64_t> todo;
    for (uint64_t i = 0; i < plan.count; ++i) {
      auto it = uploaded.find(ids[i]);
      if (it == uploaded.end() || it->second != plan.length(i)) todo.push_back(i);
    }
    // upload_parallel at once; after a failure no block is started (one under way ends first).
    DLFS_TRY(parallel_each(todo.size(), config_.upload_parallel, [&](size_t i) {
      return put_block(key, local_file, plan, ids[todo[i]], todo[i]);
    }));
    // The ids say which bytes the blocks carry by the file's size and mtime: a file written
    // meanwhile would be committed torn, and its blocks taken up under the old name.
    struct stat now {};
    if (::stat(local_file.c_str(), &now) != 0) return Status(errno, "cannot open " + local_file, strerror(errno));
    if (uint64_t(now.st_size) != plan.file_size || now.st_mtim.tv_sec != st.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != st.st_mtim.tv_nsec)
      return Status(EAGAIN, "'" + local_file + "' changed while it was uploaded to '" + std::string(key) +
                                "': nothing was committed, the blob is as it was");
    std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
    xml.reserve(xml.size() + ids.size() * (ids.front().size() + 17) + 12);
    for (const std::string& id : ids) xml += "<Latest>" + id + "</Latest>";
    xml += "</BlockList>";
    HttpRequest req = request("PUT", blob_path(key) + "?comp=blocklist");
    req.headers.push_back("x-ms-blob-content-type: application/octet-stream");  // Put Blob's
    req.body = std::move(xml);
    req.content_type = "application/xml";
    DLFS_ASSIGN(HttpResponse r, send(req, key));
    return put_info(key, r, plan.file_size);
  }

  // Get Block List: the blocks put to the blob and not committed yet, their sizes by id.
  Result<std::map<std::string, uint64_t>> uncommitted_blocks(std::string_view key) {
    HttpRequest req = request("GET", blob_path(key) + "?comp=blocklist&blocklisttype=uncommitted");
    DLFS_ASSIGN(HttpResponse r, http_.send(req));
    std::map<std::string, uint64_t> blocks;
    if (r.code == 404) return blocks;  // no blob, and no block put for one
    if (r.code >= 400) return error(r, req, key);
    pugi::xml_document doc;
    pugi::xml_parse_result parsed = doc.load_buffer(r.body.data(), r.body.size());
    pugi::xml_node root = doc.child("BlockList");
    if (!parsed || !root)
      return Status(EIO, "the Azure store's block list of '" + std::string(key) + "' is not the XML of Get Block List",
                    parsed ? "no <BlockList>" : parsed.description());
    for (pugi::xml_node block : root.child("UncommittedBlocks").children("Block"))
      blocks[block.child("Name").text().as_string()] = block.child("Size").text().as_ullong();
    return blocks;
  }

  Status put_block(std::string_view key, const std::string& local_file, const BlockPlan& plan, const std::string& id,
                   uint64_t index) {
    Status st = config_.before_put_block_for_test ? config_.before_put_block_for_test(index) : Status();
    if (st) {
      HttpRequest req = request("PUT", blob_path(key) + "?comp=block&blockid=" + http_.escape(id));
      req.upload_path = local_file;
      req.upload_offset = plan.offset(index);
      req.upload_length = plan.length(index);
      req.content_type = "application/octet-stream";
      Result<HttpResponse> r = send(req, key);
      if (!r)
        st = r.status();
      else if (r->uploaded != plan.length(index))  // the file shrank
        st = Status(EIO, "'" + local_file + "' is shorter than when its upload began");
    }
    if (st) return st;
    return Status(st.err(),
                  "cannot upload block " + std::to_string(index) + " of " + std::to_string(plan.count) + " of '" +
                      std::string(key) + "' to the " + where() + " (nothing was committed, the blob is as it was): " +
                      st.message(),
                  st.cause());
  }

  Result<ObjectInfo> put_info(std::string_view key, const HttpResponse& r, uint64_t size) const {
    ObjectInfo o;
    o.key = std::string(key);
    o.size = size;
    o.etag = unquoted(r.header("etag"));
    o.modified_ms = modified_ms(r.header("last-modified"));
    return o;
  }

  static int64_t modified_ms(const std::string& text) {
    Result<int64_t> ms = parse_http_date(text);
    return ms ? *ms : 0;
  }

  AzureStoreConfig config_;
  HttpClient http_;
  std::optional<AzureSharedKey> key_;  // the account key, when the store has it (not a SAS token)
};

Result<std::unique_ptr<AzureStore>> open(const AzureStoreConfig& config) {
  if (config.account.empty() || config.container.empty())
    return Status(EINVAL, "an Azure store needs an account and a container");
  if (config.container.find('/') != std::string::npos)
    return Status(EINVAL, "'" + config.container + "' is not an Azure container name");
  if (config.key.empty() && config.sas.empty())
    return Status(EINVAL, "an Azure store needs the account key or a SAS token");
  if (config.block_size == 0 || config.block_size > kMaxBlockSize)
    return Status(EINVAL, "an Azure store's block size is from 1 byte to 4000 MiB, not " +
                              std::to_string(config.block_size) + " bytes");
  HttpOptions o;
  o.base_url = service_url(config);
  o.ca_file = config.ca_file;
  o.connect_timeout_ms = config.connect_timeout_ms;
  o.low_speed_time_s = config.stall_timeout_s;
  o.max_attempts = config.max_attempts;
  AzureStoreConfig c = config;
  while (!c.sas.empty() && c.sas.front() == '?') c.sas.erase(0, 1);
  std::optional<AzureSharedKey> shared_key;
  if (c.sas.empty()) {
    DLFS_ASSIGN(AzureSharedKey key, AzureSharedKey::make(config.account, config.key));
    shared_key = key;
    // Called for every try (a retry is signed anew, with a fresh x-ms-date).
    o.signer = [key](const HttpRequest& req, const std::string& url, uint64_t body_size) {
      std::vector<std::string> added = {"x-ms-date: " + http_date(std::time(nullptr))};
      std::vector<std::string> sent = req.headers;
      sent.push_back(added.front());
      if (req.body || !req.upload_path.empty()) {
        sent.push_back("Content-Length: " + std::to_string(body_size));
        if (!req.content_type.empty()) sent.push_back("Content-Type: " + req.content_type);
      }
      if (req.ranged && !req.sink.empty())  // what HttpClient sends as Range
        sent.push_back("Range: bytes=" + std::to_string(req.range_offset) + "-" +
                       std::to_string(req.range_offset + req.sink.size() - 1));
      added.push_back("Authorization: " + key.authorization(key.string_to_sign(req.method, url, sent)));
      return added;
    };
  }
  return std::make_unique<AzureStore>(std::move(c), std::move(o), std::move(shared_key));
}

}  // namespace

Result<std::unique_ptr<ObjectStore>> open_azure_store(const AzureStoreConfig& config) {
  DLFS_ASSIGN(std::unique_ptr<AzureStore> store, open(config));
  return std::unique_ptr<ObjectStore>(std::move(store));
}

Status create_azure_container(const AzureStoreConfig& config) {
  DLFS_ASSIGN(std::unique_ptr<AzureStore> store, open(config));
  return store->create_container();
}

}  // namespace dlfs
