#include "platform/image_vips.h"

#include <spdlog/spdlog.h>
#include <vips/vips.h>

#include <cctype>
#include <mutex>

#include "core/clock.h"

namespace dlfs {
namespace {

// libvips class names of the loaders allowed (vips_foreign_find_load_buffer answers these).
struct Loader {
  ImageFormat format;
  const char* block_name;    // the class family, for vips_operation_block_set
  const char* buffer_class;  // the buffer loader
};
constexpr Loader kLoaders[] = {
    {ImageFormat::kJpeg, "VipsForeignLoadJpeg", "VipsForeignLoadJpegBuffer"},
    {ImageFormat::kPng, "VipsForeignLoadPng", "VipsForeignLoadPngBuffer"},
    {ImageFormat::kGif, "VipsForeignLoadNsgif", "VipsForeignLoadNsgifBuffer"},
    {ImageFormat::kWebp, "VipsForeignLoadWebp", "VipsForeignLoadWebpBuffer"},
    {ImageFormat::kTiff, "VipsForeignLoadTiff", "VipsForeignLoadTiffBuffer"},
    // libvips has no BMP loader of its own: Debian's libvips reads BMP through ImageMagick. The
    // libmagic check before it keeps anything but a BMP away from ImageMagick's many formats.
    {ImageFormat::kBmp, "VipsForeignLoadMagick", "VipsForeignLoadMagickBuffer"},
};
// libvips built with ImageMagick 7 names that loader differently.
constexpr const char* kMagick7 = "VipsForeignLoadMagick7";

const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kGif:
      return "GIF";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kTiff:
      return "TIFF";
    case ImageFormat::kBmp:
      return "BMP";
    default:
      return "unknown";
  }
}

void log_vips(const gchar* domain, GLogLevelFlags level, const gchar* message, gpointer) {
  // Hostile files make libvips warn a lot; the reason a job fails is recorded in the item.
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    spdlog::warn("{}: {}", domain ? domain : "glib", message ? message : "");
  else
    spdlog::debug("{}: {}", domain ? domain : "glib", message ? message : "");
}

// libvips' error text (taken and cleared), or `fallback` when it has none.
std::string take_vips_error(const std::string& fallback) {
  char* text = vips_error_buffer_copy();
  std::string msg = text ? text : "";
  g_free(text);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  for (char& c : msg)
    if (c == '\n') c = ';';
  return msg.empty() ? fallback : msg;
}

struct EvalGuard {
  int64_t deadline_ms;
  const std::atomic<bool>* cancel;
  bool timed_out = false;
  bool cancelled = false;
};

// Called by libvips as the pipeline computes: stops it at the deadline or on cancel.
void on_eval(VipsImage* image, VipsProgress*, void* data) {
  auto* guard = static_cast<EvalGuard*>(data);
  if (guard->cancel && guard->cancel->load())
    guard->cancelled = true;
  else if (steady_now_ms() > guard->deadline_ms)
    guard->timed_out = true;
  else
    return;
  vips_image_set_kill(image, TRUE);
}

struct Unref {
  void operator()(void* p) const {
    if (p) g_object_unref(p);
  }
};
using ImagePtr = std::unique_ptr<VipsImage, Unref>;

// libpng allocates a chunk's declared length before it reads the chunk, and Debian's libvips
// leaves libpng's chunk size limit off: a 250-byte PNG whose tEXt chunk declares 1.6 GB costs
// 1.6 GB of memory (found by the fuzz target). Reading from a buffer, no chunk can hold more than
// what is left of it, so such a file is refused before libpng sees it. IDAT is read in pieces,
// not allocated whole; a truncated IDAT is left to the decoder (and its fail_on).
Status check_png_chunks(std::string_view bytes) {
  constexpr size_t kSignature = 8, kFraming = 12;  // length, type, CRC
  auto be32 = [&](size_t at) {
    auto b = [&](size_t i) { return uint32_t(uint8_t(bytes[at + i])); };
    return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
  };
  for (size_t at = kSignature; bytes.size() - at >= kFraming;) {
    uint64_t length = be32(at);
    std::string_view type = bytes.substr(at + 4, 4);
    if (type == "IEND") break;
    uint64_t left = bytes.size() - at - kFraming;
    if (length > left) {
      if (type == "IDAT") break;
      std::string shown;
      for (char c : type) shown += std::isalnum(uint8_t(c)) ? c : '?';
      return Status(EINVAL, "broken PNG: its " + shown + " chunk declares " + std::to_string(length) +
                                " bytes, more than the file has left (" + std::to_string(left) + ")");
    }
    at += kFraming + length;
  }
  return {};
}

}  // namespace

Status init_image_library() {
  static std::once_flag once;
  static Status result;
  std::call_once(once, [] {
    if (VIPS_INIT("dlfs") != 0) {
      result = Status(EIO, "cannot initialize libvips", take_vips_error(""));
      return;
    }
    for (const char* domain : {"VIPS", "GLib", "GLib-GObject"})
      g_log_set_handler(domain, GLogLevelFlags(G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION), log_vips,
                        nullptr);
    vips_concurrency_set(1);  // workers run in parallel; a pipeline each
    vips_cache_set_max(0);    // every image is seen once: nothing to gain from caching
    vips_cache_set_max_mem(0);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (const Loader& l : kLoaders) vips_operation_block_set(l.block_name, FALSE);
    if (g_type_from_name(kMagick7)) vips_operation_block_set(kMagick7, FALSE);
  });
  return result;
}

void release_image_thread() { vips_thread_shutdown(); }

ImageFormat image_format_for_mimetype(std::string_view mimetype) {
  if (mimetype == "image/jpeg") return ImageFormat::kJpeg;
  if (mimetype == "image/png") return ImageFormat::kPng;
  if (mimetype == "image/gif") return ImageFormat::kGif;
  if (mimetype == "image/webp") return ImageFormat::kWebp;
  if (mimetype == "image/tiff") return ImageFormat::kTiff;
  if (mimetype == "image/bmp" || mimetype == "image/x-ms-bmp") return ImageFormat::kBmp;
  return ImageFormat::kUnknown;
}

Result<ImageHeader> read_image_header(std::string_view bytes, ImageFormat expected, const ImageLimits& limits) {
  DLFS_TRY(init_image_library());
  const Loader* loader = nullptr;
  for (const Loader& l : kLoaders)
    if (l.format == expected) loader = &l;
  if (!loader) return Status(EINVAL, "not an image format preprocessing decodes");
  if (expected == ImageFormat::kPng) DLFS_TRY(check_png_chunks(bytes));
  const char* found = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
  if (!found) {
    take_vips_error("");
    return Status(EINVAL, std::string("not a readable ") + format_name(expected) + " image");
  }
  std::string_view name(found);
  bool magick = expected == ImageFormat::kBmp && name.starts_with("VipsForeignLoadMagick");
  if (name != loader->buffer_class && !magick)
    return Status(EINVAL, std::string("the content looks like ") + format_name(expected) +
                              " but the decoder disagrees (" + found + ")");
  // Lazy: this reads the header only; pixels are decoded when something asks for them.
  ImagePtr image(vips_image_new_from_buffer(bytes.data(), bytes.size(), "", "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                            VIPS_FAIL_ON_ERROR, nullptr));
  if (!image) return Status(EINVAL, take_vips_error("cannot read the image header"));
  ImageHeader h;
  h.format = expected;
  h.width = vips_image_get_width(image.get());
  h.height = vips_image_get_height(image.get());
  if (h.width <= 0 || h.height <= 0) return Status(EINVAL, "the image declares no size");
  uint64_t pixels = uint64_t(h.width) * uint64_t(h.height);
  uint64_t max =
      expected == ImageFormat::kBmp ? std::min(limits.max_pixels, limits.max_magick_pixels) : limits.max_pixels;
  if (pixels > max)
    return Status(EFBIG, "the image declares " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                             " pixels, more than the " + std::to_string(max / 1'000'000) +
                             " megapixel limit (refused before decoding)");
  int orientation = 1;
  if (vips_image_get_typeof(image.get(), VIPS_META_ORIENTATION) &&
      vips_image_get_int(image.get(), VIPS_META_ORIENTATION, &orientation) == 0 && orientation >= 1 && orientation <= 8)
    h.orientation = orientation;
  const void* exif = nullptr;
  size_t exif_len = 0;
  if (vips_image_get_typeof(image.get(), VIPS_META_EXIF_NAME) &&
      vips_image_get_blob(image.get(), VIPS_META_EXIF_NAME, &exif, &exif_len) == 0 && exif && exif_len > 0)
    h.exif.assign(static_cast<const char*>(exif), exif_len);
  return h;
}

Result<std::string> make_thumbnail(std::string_view bytes, const ImageLimits& limits, const std::atomic<bool>* cancel) {
  DLFS_TRY(init_image_library());
  EvalGuard guard{steady_now_ms() + limits.timeout_ms, cancel};
  VipsImage* raw = nullptr;
  // fail_on goes to the loader through option_string: thumbnail's own fail_on does not reach
  // the shrink-on-load path, and a truncated JPEG or GIF would pass with a grey tail.
  int size = limits.thumbnail_size;
  if (vips_thumbnail_buffer(const_cast<char*>(bytes.data()), bytes.size(), &raw, size, "height", size, "size",
                            VIPS_SIZE_DOWN, "option_string", "fail_on=error", nullptr) != 0)
    return Status(EINVAL, take_vips_error("cannot decode the image"));
  ImagePtr thumb(raw);
  if (vips_image_hasalpha(thumb.get())) {
    VipsImage* flat = nullptr;
    double white[] = {255, 255, 255};
    VipsArrayDouble* bg = vips_array_double_new(white, 3);
    int rc = vips_flatten(thumb.get(), &flat, "background", bg, nullptr);
    vips_area_unref(VIPS_AREA(bg));
    if (rc != 0) return Status(EINVAL, take_vips_error("cannot flatten the image"));
    thumb.reset(flat);
  }
  vips_image_set_progress(thumb.get(), TRUE);
  g_signal_connect(thumb.get(), "eval", G_CALLBACK(on_eval), &guard);
  void* out = nullptr;
  size_t out_len = 0;
  int rc = vips_jpegsave_buffer(thumb.get(), &out, &out_len, "Q", 80, "strip", TRUE, nullptr);
  if (rc != 0) {
    std::string why = take_vips_error("cannot decode the image");
    if (guard.cancelled) return Status(ECANCELED, "preprocessing was stopped");
    if (guard.timed_out)
      return Status(ETIMEDOUT, "decoding took longer than " + std::to_string(limits.timeout_ms) + " ms");
    return Status(EINVAL, why);
  }
  std::string jpeg(static_cast<const char*>(out), out_len);
  g_free(out);
  return jpeg;
}

}  // namespace dlfs
