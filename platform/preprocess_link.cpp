// Preprocessing of link items: the target is fetched through the platform's link guard
// (Platform::link_fetcher(), bounded in size, time and redirects) and what a listing needs is
// recorded in metadata.system, so listing link items never asks their targets: the size as
// shebang.linkInfo.size (what the mount reads), ETag / Last-Modified for the mount's
// revalidation at open, the sniffed mimetype, and for images width/height/EXIF and a thumbnail
// through the same extract_image as stored images.
#include <algorithm>

#include "platform/platform.h"
#include "platform/preprocess.h"

namespace dlfs {
namespace {

// Reads up to `max` bytes of the target from its start.
Result<std::string> fetch_head(LinkFetcher& fetcher, std::string_view url, uint64_t max) {
  std::string out(size_t(std::min<uint64_t>(max, 1 << 20)), '\0');
  uint64_t got = 0;
  while (got < max) {
    if (out.size() - got < (1 << 16)) out.resize(size_t(std::min<uint64_t>(max, out.size() * 2)));
    if (out.size() == got) break;
    DLFS_ASSIGN(size_t n, fetcher.read(url, got, std::span<char>(out.data() + got, out.size() - got)));
    if (n == 0) break;
    got += n;
  }
  out.resize(size_t(got));
  return out;
}

}  // namespace

Extraction Preprocessor::extract_link(const Item& item, const std::atomic<bool>* cancel) {
  Extraction ex;
  std::string url = item.link_url();
  std::string declared = item.link_mimetype();
  ex.system["mimetype"] = declared.empty() ? item.mimetype() : declared;
  auto failed = [&](const Status& s) {
    ex.error = s.to_string();
    return ex;
  };
  // The platform's policy already refuses file://; this keeps it so whatever fetcher is given.
  if (Status scheme = check_scheme(LinkPolicy{}, url); !scheme)
    return failed(Status(EACCES, "link target " + url + " is not http or https: the platform never fetches it",
                         scheme.message()));
  LinkFetcher& fetcher = p_.link_fetcher();
  auto st = fetcher.stat(url);
  if (!st) return failed(st.status().wrap("cannot preprocess the link"));
  json info = json::object();
  if (!st->etag.empty()) info["etag"] = st->etag;
  if (!st->last_modified.empty()) info["lastModified"] = st->last_modified;
  // Without a size from HEAD, a small target (or an image, bounded) is read whole: its length is
  // the size.
  uint64_t limit = st->size ? std::min<uint64_t>(*st->size, settings_.max_image_bytes) : settings_.max_image_bytes + 1;
  auto head = fetch_head(fetcher, url, std::min<uint64_t>(limit, kMimeHeadBytes));
  if (!head) return failed(head.status().wrap("cannot preprocess the link"));
  std::string mime = detect_mimetype(*head);
  if (mime == "application/octet-stream" && !declared.empty()) mime = declared;
  ex.system["mimetype"] = mime;
  bool image = image_format_for_mimetype(mime) != ImageFormat::kUnknown;
  std::string body;
  if (st->size) {
    info["size"] = *st->size;
    if (head->size() >= *st->size) body = std::move(*head);  // small: read whole already
  } else if (head->size() < kMimeHeadBytes) {
    info["size"] = uint64_t(head->size());  // the whole target was read
    body = std::move(*head);
  } else if (image) {  // a non-image of unknown size is not read further: the mount asks it
    auto all = fetch_head(fetcher, url, limit);
    if (!all) return failed(all.status().wrap("cannot preprocess the link"));
    if (all->size() <= settings_.max_image_bytes) info["size"] = uint64_t(all->size());
    body = std::move(*all);
  }
  ex.system["shebang"] = json{{"linkInfo", info}};
  if (!image) return ex;
  uint64_t size = info.contains("size") ? info["size"].get<uint64_t>() : settings_.max_image_bytes + 1;
  if (size > settings_.max_image_bytes) {
    ex.image = true;
    ex.error = "the image is more than the " + std::to_string(settings_.max_image_bytes >> 20) +
               " MiB that preprocessing decodes";
    return ex;
  }
  if (body.size() < size) {
    auto all = fetch_head(fetcher, url, size);
    if (!all) return failed(all.status().wrap("cannot preprocess the link"));
    body = std::move(*all);
  }
  json keep = ex.system;
  ex = extract_image(body, mime, settings_.limits, cancel);
  ex.system["shebang"] = keep["shebang"];
  return ex;
}

}  // namespace dlfs
