// Real image files for the preprocessing tests, made with Debian's ImageMagick (`convert`) and
// exiftool (scripts/install-deps.sh installs both), and a way to look at pixels (libvips).
#pragma once

#include <gtest/gtest.h>
#include <vips/vips.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "platform/image_vips.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace dlfs::test {

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

inline void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Runs a shell command that must succeed.
inline void must(const std::string& script) {
  auto r = sh(script, std::chrono::seconds(120));
  ASSERT_TRUE(r.ok()) << script << "\n" << r.err << r.out;
}

// A w x h picture, blue with a red block in the top-left corner (a fifth of each side), saved
// in the format its extension names. Answers the file's path.
inline std::string make_picture(const TempDir& dir, const std::string& name, int w, int h) {
  std::string path = dir.sub(name);
  must("mkdir -p \"$(dirname " + quote(path) + ")\" && convert -size " + std::to_string(w) + "x" + std::to_string(h) +
       " xc:blue -fill red -draw 'rectangle 0,0 " + std::to_string(w / 5 - 1) + "," + std::to_string(h / 5 - 1) + "' " +
       quote(path));
  return path;
}

// Writes EXIF tags with exiftool (numeric values: -n).
inline void set_exif(const std::string& path, const std::string& tags) {
  must("exiftool -q -q -n -overwrite_original " + tags + " " + quote(path));
}

inline uint32_t crc32_of(const std::string& bytes) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

inline std::string be32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

// A small, valid-looking PNG that declares width x height (a decompression bomb's header).
inline std::string png_declaring(uint32_t width, uint32_t height) {
  auto chunk = [](const std::string& type, const std::string& data) {
    return be32(uint32_t(data.size())) + type + data + be32(crc32_of(type + data));
  };
  std::string ihdr = be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  // An IDAT of a few zero rows, deflated (stored): the rest is "missing".
  std::string idat("\x78\x01\x01\x04\x00\xfb\xff\x00\x00\x00\x00\x00\x04\x00\x01", 15);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", "");
}

// A decoded image's pixel, for checking where the red corner went.
struct Rgb {
  double r = 0, g = 0, b = 0;
  bool red() const { return r > 180 && b < 90; }
  bool blue() const { return b > 180 && r < 90; }
};

class Decoded {
 public:
  explicit Decoded(const std::string& jpeg) : bytes_(jpeg) {
    EXPECT_TRUE(init_image_library());
    image_ = vips_image_new_from_buffer(bytes_.data(), bytes_.size(), "", nullptr);
    EXPECT_NE(image_, nullptr) << "the thumbnail does not decode";
  }
  ~Decoded() {
    if (image_) g_object_unref(image_);
  }
  int width() const { return image_ ? vips_image_get_width(image_) : 0; }
  int height() const { return image_ ? vips_image_get_height(image_) : 0; }
  Rgb at(int x, int y) const {
    Rgb px;
    double* v = nullptr;
    int n = 0;
    if (image_ && vips_getpoint(image_, &v, &n, x, y, nullptr) == 0 && n >= 3) px = {v[0], v[1], v[2]};
    g_free(v);
    return px;
  }
  // Which corner is red: "tl", "tr", "bl", "br", or "" (none or several).
  std::string red_corner() const {
    int w = width(), h = height(), m = 6;
    std::vector<std::pair<std::string, Rgb>> corners = {
        {"tl", at(m, m)}, {"tr", at(w - 1 - m, m)}, {"bl", at(m, h - 1 - m)}, {"br", at(w - 1 - m, h - 1 - m)}};
    std::string found;
    for (auto& [name, px] : corners) {
      if (px.red()) {
        if (!found.empty()) return "";
        found = name;
      } else if (!px.blue()) {
        return "";
      }
    }
    return found;
  }

 private:
  std::string bytes_;
  VipsImage* image_ = nullptr;
};

}  // namespace dlfs::test
