#include "remote/link_fetcher.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace dlfs {
namespace {

struct Sink {
  std::span<char> out;
  size_t filled = 0;
};

size_t write_into(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * nmemb;
  size_t take = std::min(n, sink->out.size() - sink->filled);
  std::memcpy(sink->out.data() + sink->filled, data, take);
  sink->filled += take;
  // Answering less than n aborts the transfer: we have what we asked for.
  return take == n ? n : take;
}

int errno_for_http(long code) {
  switch (code) {
    case 401: case 403: return EACCES;
    case 404: case 410: return ENOENT;
    case 408: case 504: return ETIMEDOUT;
    default: return EIO;
  }
}

class CurlLinkFetcher : public LinkFetcher {
 public:
  explicit CurlLinkFetcher(CurlLinkOptions options) : options_(options) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Result<uint64_t> size(std::string_view url) override {
    CURL* curl = start(url);
    if (!curl) return Status(ENOMEM, "cannot start a transfer");
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_off_t length = -1;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) return Status(EIO, "cannot reach link target " + std::string(url), curl_easy_strerror(rc));
    if (code >= 400) return Status(errno_for_http(code), "link target answered HTTP " + std::to_string(code));
    if (length < 0) return Status(ENOTSUP, "link target does not tell its size");
    return uint64_t(length);
  }

  Result<size_t> read(std::string_view url, uint64_t offset, std::span<char> out) override {
    if (out.empty()) return size_t(0);
    CURL* curl = start(url);
    if (!curl) return Status(ENOMEM, "cannot start a transfer");
    std::string range = std::to_string(offset) + "-" + std::to_string(offset + out.size() - 1);
    Sink sink{out};
    curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_into);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(curl);
    if (code == 416) return size_t(0);  // range past the end
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && sink.filled == out.size()))
      return Status(EIO, "cannot read link target " + std::string(url), curl_easy_strerror(rc));
    if (code >= 400) return Status(errno_for_http(code), "link target answered HTTP " + std::to_string(code));
    // A server that ignores Range answers 200 with the whole body from byte 0: only usable at 0.
    if (code == 200 && offset != 0 && url.substr(0, 5) != "file:")
      return Status(EIO, "link target ignores ranged requests");
    return sink.filled;
  }

 private:
  CURL* start(std::string_view url) {
    CURL* curl = curl_easy_init();
    if (!curl) return nullptr;
    std::string u(url);
    curl_easy_setopt(curl, CURLOPT_URL, u.c_str());
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options_.low_speed_time_s);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
    return curl;
  }

  CurlLinkOptions options_;
};

}  // namespace

std::unique_ptr<LinkFetcher> make_curl_link_fetcher(const CurlLinkOptions& options) {
  return std::make_unique<CurlLinkFetcher>(options);
}

}  // namespace dlfs
