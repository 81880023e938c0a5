#include "platform/preprocess_extract.h"

#include <magic.h>

#include <memory>

#include "platform/image_exif.h"

namespace dlfs {
namespace {

struct MagicClose {
  void operator()(magic_set* m) const { magic_close(m); }
};

// A libmagic handle is not thread-safe: one per thread, loaded on first use.
magic_t thread_magic() {
  thread_local std::unique_ptr<magic_set, MagicClose> cookie = [] {
    // No looking inside compressed files, no following of anything: the content only.
    std::unique_ptr<magic_set, MagicClose> m(magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_ERROR));
    if (m && magic_load(m.get(), nullptr) != 0) m.reset();
    return m;
  }();
  return cookie.get();
}

}  // namespace

std::string detect_mimetype(std::string_view head) {
  if (head.empty()) return "application/x-empty";
  magic_t m = thread_magic();
  if (!m) return "application/octet-stream";
  head = head.substr(0, kMimeHeadBytes);
  const char* type = magic_buffer(m, head.data(), head.size());
  if (!type || !*type) return "application/octet-stream";
  return type;
}

Extraction extract_image(std::string_view bytes, std::string_view mimetype, const ImageLimits& limits,
                         const std::atomic<bool>* cancel) {
  Extraction out;
  out.system["mimetype"] = std::string(mimetype);
  ImageFormat format = image_format_for_mimetype(mimetype);
  if (format == ImageFormat::kUnknown) return out;
  out.image = true;
  auto header = read_image_header(bytes, format, limits);
  if (!header) {
    out.error = header.status().to_string();
    return out;
  }
  out.system["width"] = header->width;
  out.system["height"] = header->height;
  bool exif_readable = true;
  json exif = format == ImageFormat::kTiff ? tiff_exif_to_json(bytes) : exif_to_json(header->exif, &exif_readable);
  // libvips knows the orientation even where there are no EXIF tags to read.
  if (!exif.contains("Orientation")) exif["Orientation"] = header->orientation;
  out.system["exif"] = std::move(exif);
  auto thumb = make_thumbnail(bytes, limits, cancel);
  if (!thumb) {
    if (thumb.err() == ECANCELED) out.cancelled = true;
    out.error = thumb.status().to_string();
    return out;
  }
  out.thumbnail = std::move(*thumb);
  // The picture is usable (its size and thumbnail are kept), but its tags are lost: the issue
  // asks for broken EXIF to end failed, with the reason.
  if (!exif_readable) out.error = "broken EXIF: the image's EXIF block holds no readable entry, so its tags are lost";
  return out;
}

Extraction extract(std::string_view bytes, const ImageLimits& limits, const std::atomic<bool>* cancel) {
  return extract_image(bytes, detect_mimetype(bytes), limits, cancel);
}

}  // namespace dlfs
