#include "platform/image_exif.h"

#include <libexif/exif-data.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>

namespace dlfs {
namespace {

constexpr unsigned char kExifHeader[] = {'E', 'x', 'i', 'f', 0, 0};

struct ExifDataUnref {
  void operator()(ExifData* d) const { exif_data_unref(d); }
};

class Reader {
 public:
  explicit Reader(ExifData* data) : data_(data), order_(exif_data_get_byte_order(data)) {}

  // The entry if it has at least `count` components of a size its format promises.
  ExifEntry* entry(ExifIfd ifd, ExifTag tag, unsigned long count = 1) const {
    ExifEntry* e = exif_content_get_entry(data_->ifd[ifd], tag);
    if (!e || !e->data || e->components < count) return nullptr;
    unsigned long unit = exif_format_get_size(e->format);
    if (unit == 0 || e->size < unit * count) return nullptr;
    return e;
  }

  // Component i as a number, for the integer and rational formats.
  std::optional<double> number(ExifEntry* e, unsigned long i = 0) const {
    const unsigned char* p = e->data + i * exif_format_get_size(e->format);
    switch (e->format) {
      case EXIF_FORMAT_BYTE:
        return double(*p);
      case EXIF_FORMAT_SBYTE:
        return double(static_cast<signed char>(*p));
      case EXIF_FORMAT_SHORT:
        return double(exif_get_short(p, order_));
      case EXIF_FORMAT_SSHORT:
        return double(exif_get_sshort(p, order_));
      case EXIF_FORMAT_LONG:
        return double(exif_get_long(p, order_));
      case EXIF_FORMAT_SLONG:
        return double(exif_get_slong(p, order_));
      case EXIF_FORMAT_RATIONAL: {
        ExifRational r = exif_get_rational(p, order_);
        if (r.denominator == 0) return std::nullopt;
        return double(r.numerator) / double(r.denominator);
      }
      case EXIF_FORMAT_SRATIONAL: {
        ExifSRational r = exif_get_srational(p, order_);
        if (r.denominator == 0) return std::nullopt;
        return double(r.numerator) / double(r.denominator);
      }
      default:
        return std::nullopt;
    }
  }

  std::optional<double> number(ExifIfd ifd, ExifTag tag) const {
    ExifEntry* e = entry(ifd, tag);
    if (!e) return std::nullopt;
    auto v = number(e);
    if (!v || !std::isfinite(*v)) return std::nullopt;
    return v;
  }

  // An ASCII entry as printable text (anything else becomes '?'); trailing NULs and spaces cut.
  std::optional<std::string> text(ExifIfd ifd, ExifTag tag) const {
    ExifEntry* e = entry(ifd, tag);
    if (!e || e->format != EXIF_FORMAT_ASCII) return std::nullopt;
    std::string s;
    for (unsigned int i = 0; i < e->size && e->data[i] != 0 && s.size() < 256; ++i) {
      unsigned char c = e->data[i];
      s.push_back(c >= 0x20 && c < 0x7f ? char(c) : '?');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    if (s.empty()) return std::nullopt;
    return s;
  }

  // A GPS coordinate (degrees, minutes, seconds as three rationals) with its N/S or E/W ref.
  std::optional<double> coordinate(ExifTag tag, ExifTag ref_tag, char negative_ref, double limit) const {
    ExifEntry* e = entry(EXIF_IFD_GPS, tag, 3);
    if (!e || (e->format != EXIF_FORMAT_RATIONAL && e->format != EXIF_FORMAT_SRATIONAL)) return std::nullopt;
    auto d = number(e, 0), m = number(e, 1), s = number(e, 2);
    if (!d || !m || !s) return std::nullopt;
    double deg = *d + *m / 60.0 + *s / 3600.0;
    if (!std::isfinite(deg) || deg < 0 || deg > limit) return std::nullopt;
    auto ref = text(EXIF_IFD_GPS, ref_tag);
    if (ref && !ref->empty() && (*ref)[0] == negative_ref) deg = -deg;
    return std::round(deg * 1e7) / 1e7;  // ~1 cm; hides the rationals' rounding noise
  }

 private:
  ExifData* data_;
  ExifByteOrder order_;
};

}  // namespace

json exif_to_json(std::string_view block, bool* readable) {
  json out = json::object();
  if (readable) *readable = block.empty();
  if (block.size() < 8 || block.size() > 0xfffe + sizeof kExifHeader) return out;
  std::string buf;
  if (block.substr(0, sizeof kExifHeader) != std::string_view(reinterpret_cast<const char*>(kExifHeader), 6)) {
    // A bare TIFF structure ("II*\0" / "MM\0*"): libexif wants the APP1 header in front.
    if (block.substr(0, 4) != std::string_view("II*\0", 4) && block.substr(0, 4) != std::string_view("MM\0*", 4))
      return out;
    buf.assign(reinterpret_cast<const char*>(kExifHeader), sizeof kExifHeader);
  }
  buf.append(block);

  std::unique_ptr<ExifData, ExifDataUnref> data(exif_data_new());
  if (!data) return out;
  // Read what is there: no mandatory tags added, no maker notes interpreted.
  exif_data_unset_option(data.get(), EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
  exif_data_set_option(data.get(), EXIF_DATA_OPTION_DONT_CHANGE_MAKER_NOTE);
  exif_data_load_data(data.get(), reinterpret_cast<const unsigned char*>(buf.data()), unsigned(buf.size()));
  if (readable) {
    unsigned entries = 0;
    for (int ifd = 0; ifd < EXIF_IFD_COUNT; ++ifd)
      if (data->ifd[ifd]) entries += data->ifd[ifd]->count;
    *readable = entries > 0;
  }
  Reader r(data.get());

  auto put_int = [&](const char* key, ExifIfd ifd, ExifTag tag, double lo, double hi) {
    auto v = r.number(ifd, tag);
    if (v && *v >= lo && *v <= hi) out[key] = int64_t(*v);
  };
  auto put_number = [&](const char* key, ExifIfd ifd, ExifTag tag) {
    auto v = r.number(ifd, tag);
    if (v && *v >= 0) out[key] = *v;
  };
  auto put_text = [&](const char* key, ExifIfd ifd, ExifTag tag) {
    if (auto v = r.text(ifd, tag)) out[key] = *v;
  };
  put_int("Orientation", EXIF_IFD_0, EXIF_TAG_ORIENTATION, 1, 8);
  put_text("Make", EXIF_IFD_0, EXIF_TAG_MAKE);
  put_text("Model", EXIF_IFD_0, EXIF_TAG_MODEL);
  put_text("Software", EXIF_IFD_0, EXIF_TAG_SOFTWARE);
  put_text("DateTime", EXIF_IFD_0, EXIF_TAG_DATE_TIME);
  put_text("DateTimeOriginal", EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL);
  put_number("ExposureTime", EXIF_IFD_EXIF, EXIF_TAG_EXPOSURE_TIME);
  put_number("FNumber", EXIF_IFD_EXIF, EXIF_TAG_FNUMBER);
  put_int("ISO", EXIF_IFD_EXIF, EXIF_TAG_ISO_SPEED_RATINGS, 0, 4294967295.0);
  put_number("FocalLength", EXIF_IFD_EXIF, EXIF_TAG_FOCAL_LENGTH);
  put_int("Flash", EXIF_IFD_EXIF, EXIF_TAG_FLASH, 0, 65535);
  put_text("LensModel", EXIF_IFD_EXIF, EXIF_TAG_LENS_MODEL);
  auto lat = r.coordinate(ExifTag(EXIF_TAG_GPS_LATITUDE), ExifTag(EXIF_TAG_GPS_LATITUDE_REF), 'S', 90);
  auto lon = r.coordinate(ExifTag(EXIF_TAG_GPS_LONGITUDE), ExifTag(EXIF_TAG_GPS_LONGITUDE_REF), 'W', 180);
  if (lat && lon) {
    out["GPSLatitude"] = *lat;
    out["GPSLongitude"] = *lon;
    if (auto alt = r.number(EXIF_IFD_GPS, ExifTag(EXIF_TAG_GPS_ALTITUDE)); alt && *alt >= 0) {
      auto below = r.number(EXIF_IFD_GPS, ExifTag(EXIF_TAG_GPS_ALTITUDE_REF));
      out["GPSAltitude"] = (below && *below == 1) ? -*alt : *alt;
    }
  }
  return out;
}

}  // namespace dlfs
