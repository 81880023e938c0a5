// Image decoding through libvips, for preprocessing: the header (format, size, orientation, EXIF
// block) without decoding the pixels, and a thumbnail decoded at reduced size. Every call is
// bounded: the declared size is checked before any pixel is decoded, truncation and decoder
// errors fail the call, and decoding stops at a deadline or when cancelled.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace dlfs {

struct ImageLimits {
  // A declared width*height above this is refused before decoding (decompression bombs).
  uint64_t max_pixels = 100'000'000;
  // Formats that ImageMagick decodes (BMP) hold the whole image in memory at 8 bytes a pixel.
  uint64_t max_magick_pixels = 25'000'000;
  // A thumbnail's decoding is stopped after this long.
  int64_t timeout_ms = 30'000;
  int thumbnail_size = 256;  // the long side, in pixels
};

// The formats preprocessing decodes, by libvips loader.
enum class ImageFormat { kUnknown, kJpeg, kPng, kGif, kWebp, kTiff, kBmp };

struct ImageHeader {
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0;  // as stored (before any EXIF orientation)
  int height = 0;
  int orientation = 1;  // EXIF orientation as libvips reads it (1 when absent)
  std::string exif;     // the raw EXIF block when the format carries one ("Exif\0\0" + TIFF structure)
};

// Sets libvips up once per process (thread-safe): single-threaded pipelines (workers give the
// parallelism), no operation cache, only the loaders above allowed, its warnings to spdlog.
Status init_image_library();

// Frees libvips' per-thread state; a thread that used it calls this before it ends.
void release_image_thread();

// The format a mimetype (from libmagic) is decoded as; kUnknown for anything else.
ImageFormat image_format_for_mimetype(std::string_view mimetype);

// Reads the header of `bytes`, which libmagic says are `expected`: fails (EINVAL) when libvips
// would decode them as another format, or when the declared size is over the limits.
Result<ImageHeader> read_image_header(std::string_view bytes, ImageFormat expected, const ImageLimits& limits);

// A JPEG thumbnail, at most limits.thumbnail_size on the long side, aspect kept, EXIF orientation
// applied, alpha flattened onto white. Call read_image_header first (it enforces the limits).
// ETIMEDOUT past the deadline, ECANCELED when *cancel turns true.
Result<std::string> make_thumbnail(std::string_view bytes, const ImageLimits& limits,
                                   const std::atomic<bool>* cancel = nullptr);

}  // namespace dlfs
