// What preprocessing learns from an item's bytes (API.md, "Preprocessing"): the mimetype from the
// content (libmagic), and for images their size, EXIF and a thumbnail (libvips, libexif). Pure
// functions of the bytes: no catalogue, no storage, so that a fuzzer can drive them.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "core/json_util.h"
#include "platform/image_vips.h"

namespace dlfs {

// How many leading bytes the mimetype is read from.
inline constexpr size_t kMimeHeadBytes = 64 * 1024;

// The mimetype of the content (libmagic, at most the first kMimeHeadBytes), e.g. "image/jpeg";
// "application/octet-stream" when libmagic cannot tell.
std::string detect_mimetype(std::string_view head);

struct Extraction {
  // Fields for metadata.system: mimetype always; width, height and exif for a decoded image.
  json system = json::object();
  std::string thumbnail;   // JPEG bytes; empty when there is none
  std::string error;       // why an image could not be decoded ("" when it could, or not an image)
  bool image = false;      // an image format preprocessing decodes
  bool cancelled = false;  // stopped through `cancel`: nothing learned, run it again
};

// Everything at once, from the whole content.
Extraction extract(std::string_view bytes, const ImageLimits& limits, const std::atomic<bool>* cancel = nullptr);

// The image part, for content whose mimetype is known (the caller read it from the head).
Extraction extract_image(std::string_view bytes, std::string_view mimetype, const ImageLimits& limits,
                         const std::atomic<bool>* cancel = nullptr);

}  // namespace dlfs
