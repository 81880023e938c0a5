// EXIF of TIFF files through libtiff (declared in platform/image_exif.h): IFD0's camera tags, the
// EXIF directory, the GPS directory. Read from memory, errors to nowhere, allocations bounded.
#include <tiffio.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <string>

#include "platform/image_exif.h"

namespace dlfs {
namespace {

struct Memory {
  std::string_view bytes;
  uint64_t pos = 0;
};

tmsize_t mem_read(thandle_t h, void* buf, tmsize_t size) {
  auto* m = static_cast<Memory*>(h);
  if (size <= 0 || m->pos >= m->bytes.size()) return 0;
  uint64_t n = std::min<uint64_t>(uint64_t(size), m->bytes.size() - m->pos);
  std::memcpy(buf, m->bytes.data() + m->pos, n);
  m->pos += n;
  return tmsize_t(n);
}
tmsize_t mem_write(thandle_t, void*, tmsize_t) { return -1; }
toff_t mem_seek(thandle_t h, toff_t off, int whence) {
  auto* m = static_cast<Memory*>(h);
  uint64_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->bytes.size() : 0;
  if (off > UINT64_MAX - base) return toff_t(-1);
  m->pos = base + off;
  return m->pos;
}
int mem_close(thandle_t) { return 0; }
toff_t mem_size(thandle_t h) { return static_cast<Memory*>(h)->bytes.size(); }
int quiet(TIFF*, void*, const char*, const char*, va_list) { return 1; }  // handled: say nothing

// One element of a field's value, whatever libtiff stores it as.
std::optional<double> element(const TIFFField* f, const void* p) {
  int size = TIFFFieldSetGetSize(f);
  switch (TIFFFieldDataType(f)) {
    case TIFF_BYTE:
    case TIFF_UNDEFINED:
      return double(*static_cast<const uint8_t*>(p));
    case TIFF_SBYTE:
      return double(*static_cast<const int8_t*>(p));
    case TIFF_SHORT:
      return double(*static_cast<const uint16_t*>(p));
    case TIFF_SSHORT:
      return double(*static_cast<const int16_t*>(p));
    case TIFF_LONG:
    case TIFF_IFD:
      return double(*static_cast<const uint32_t*>(p));
    case TIFF_SLONG:
      return double(*static_cast<const int32_t*>(p));
    case TIFF_RATIONAL:
    case TIFF_SRATIONAL:
    case TIFF_FLOAT:
    case TIFF_DOUBLE:
      if (size == 4) return double(*static_cast<const float*>(p));
      if (size == 8) return *static_cast<const double*>(p);
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// Component `index` of a numeric field in the current directory.
std::optional<double> number(TIFF* t, uint32_t tag, uint32_t index = 0) {
  const TIFFField* f = TIFFFindField(t, tag, TIFF_ANY);
  if (!f || TIFFFieldDataType(f) == TIFF_ASCII) return std::nullopt;
  int size = TIFFFieldSetGetSize(f);
  if (size <= 0 || size > 8) return std::nullopt;
  std::optional<double> v;
  if (TIFFFieldPassCount(f)) {
    void* arr = nullptr;
    uint32_t count = 0;
    if (TIFFFieldSetGetCountSize(f) == 2) {
      uint16_t c = 0;
      if (!TIFFGetField(t, tag, &c, &arr)) return std::nullopt;
      count = c;
    } else {
      if (!TIFFGetField(t, tag, &count, &arr)) return std::nullopt;
    }
    if (!arr || index >= count) return std::nullopt;
    v = element(f, static_cast<const char*>(arr) + size_t(index) * size_t(size));
  } else if (TIFFFieldReadCount(f) > 1) {
    void* arr = nullptr;
    if (!TIFFGetField(t, tag, &arr) || !arr || index >= uint32_t(TIFFFieldReadCount(f))) return std::nullopt;
    v = element(f, static_cast<const char*>(arr) + size_t(index) * size_t(size));
  } else {
    alignas(8) unsigned char value[16] = {};
    if (index != 0 || !TIFFGetField(t, tag, value)) return std::nullopt;
    v = element(f, value);
  }
  if (!v || !std::isfinite(*v)) return std::nullopt;
  return v;
}

std::optional<std::string> text(TIFF* t, uint32_t tag) {
  const TIFFField* f = TIFFFindField(t, tag, TIFF_ANY);
  if (!f || TIFFFieldDataType(f) != TIFF_ASCII || TIFFFieldPassCount(f)) return std::nullopt;
  char* s = nullptr;
  if (!TIFFGetField(t, tag, &s) || !s) return std::nullopt;
  std::string out;
  for (size_t i = 0; s[i] && out.size() < 256; ++i) out.push_back(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<double> coordinate(TIFF* t, uint32_t tag, uint32_t ref_tag, char negative, double limit) {
  auto d = number(t, tag, 0), m = number(t, tag, 1), s = number(t, tag, 2);
  if (!d || !m || !s) return std::nullopt;
  double deg = *d + *m / 60.0 + *s / 3600.0;
  if (deg < 0 || deg > limit) return std::nullopt;
  auto ref = text(t, ref_tag);
  if (ref && (*ref)[0] == negative) deg = -deg;
  return std::round(deg * 1e7) / 1e7;
}

}  // namespace

json tiff_exif_to_json(std::string_view tiff) {
  json out = json::object();
  Memory mem{tiff};
  TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
  if (!opts) return out;
  TIFFOpenOptionsSetErrorHandlerExtR(opts, quiet, nullptr);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, quiet, nullptr);
  TIFFOpenOptionsSetMaxSingleMemAlloc(opts, 16 << 20);
  // "rm": read, memory-mapping off ('m'), so that libtiff only ever reads through mem_read.
  TIFF* t = TIFFClientOpenExt("memory", "rm", &mem, mem_read, mem_write, mem_seek, mem_close, mem_size, nullptr,
                              nullptr, opts);
  TIFFOpenOptionsFree(opts);
  if (!t) return out;
  auto put_int = [&](const char* key, uint32_t tag, double lo, double hi) {
    if (auto v = number(t, tag); v && *v >= lo && *v <= hi) out[key] = int64_t(*v);
  };
  auto put_number = [&](const char* key, uint32_t tag) {
    if (auto v = number(t, tag); v && *v >= 0) out[key] = *v;
  };
  auto put_text = [&](const char* key, uint32_t tag) {
    if (auto v = text(t, tag)) out[key] = *v;
  };
  put_int("Orientation", TIFFTAG_ORIENTATION, 1, 8);
  put_text("Make", TIFFTAG_MAKE);
  put_text("Model", TIFFTAG_MODEL);
  put_text("Software", TIFFTAG_SOFTWARE);
  put_text("DateTime", TIFFTAG_DATETIME);
  uint64_t exif_dir = 0, gps_dir = 0;
  bool has_exif = TIFFGetField(t, TIFFTAG_EXIFIFD, &exif_dir) && exif_dir > 0;
  bool has_gps = TIFFGetField(t, TIFFTAG_GPSIFD, &gps_dir) && gps_dir > 0;
  if (has_exif && TIFFReadEXIFDirectory(t, exif_dir)) {
    put_text("DateTimeOriginal", EXIFTAG_DATETIMEORIGINAL);
    put_number("ExposureTime", EXIFTAG_EXPOSURETIME);
    put_number("FNumber", EXIFTAG_FNUMBER);
    put_int("ISO", EXIFTAG_ISOSPEEDRATINGS, 0, 4294967295.0);
    put_number("FocalLength", EXIFTAG_FOCALLENGTH);
    put_int("Flash", EXIFTAG_FLASH, 0, 65535);
    put_text("LensModel", EXIFTAG_LENSMODEL);
  }
  if (has_gps && TIFFReadGPSDirectory(t, gps_dir)) {
    auto lat = coordinate(t, GPSTAG_LATITUDE, GPSTAG_LATITUDEREF, 'S', 90);
    auto lon = coordinate(t, GPSTAG_LONGITUDE, GPSTAG_LONGITUDEREF, 'W', 180);
    if (lat && lon) {
      out["GPSLatitude"] = *lat;
      out["GPSLongitude"] = *lon;
      if (auto alt = number(t, GPSTAG_ALTITUDE); alt && *alt >= 0) {
        auto below = number(t, GPSTAG_ALTITUDEREF);
        out["GPSAltitude"] = (below && *below == 1) ? -*alt : *alt;
      }
    }
  }
  TIFFClose(t);
  return out;
}

}  // namespace dlfs
