// Preprocessing's extraction on real files: each format's size and mimetype, every EXIF
// orientation (tag, thumbnail size and where the picture's corner lands), camera and GPS tags with
// their JSON types, and hostile files (truncated, corrupt, bombs) failing with a reason, quickly.
#include "platform/preprocess_extract.h"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <chrono>

#include "platform/image_exif.h"
#include "preprocess_fixtures.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

class ExtractTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto r = sh("convert -version && exiftool -ver", std::chrono::seconds(30));
    ASSERT_TRUE(r.ok() && r.out.find("ImageMagick") != std::string::npos)
        << "the tests need ImageMagick's convert and exiftool (scripts/install-deps.sh)";
  }
  Extraction run(const std::string& path) { return extract(slurp(path), limits_); }

  TempDir dir_{"dlfs-extract"};
  ImageLimits limits_;
};

struct Format {
  const char* ext;
  const char* mimetype;
};
const Format kFormats[] = {{"jpg", "image/jpeg"},  {"png", "image/png"}, {"gif", "image/gif"},
                           {"webp", "image/webp"}, {"bmp", "image/bmp"}, {"tiff", "image/tiff"}};

// Thumbnails keep the aspect: the long side is 256, the other rounds to the nearest pixel.
void expect_thumb_size(const Decoded& t, int w, int h) {
  EXPECT_EQ(t.width(), w);
  EXPECT_NEAR(t.height(), h, 1);
}

}  // namespace

TEST_F(ExtractTest, EachFormatHasItsExactSizeMimetypeAndAThumbnail) {
  for (const Format& f : kFormats) {
    SCOPED_TRACE(f.ext);
    auto ex = run(make_picture(dir_, std::string("p.") + f.ext, 301, 173));
    EXPECT_TRUE(ex.image);
    EXPECT_EQ(ex.error, "");
    EXPECT_EQ(ex.system["mimetype"], f.mimetype);
    EXPECT_EQ(ex.system["width"], 301);
    EXPECT_EQ(ex.system["height"], 173);
    EXPECT_EQ(ex.system["exif"]["Orientation"], 1);
    ASSERT_FALSE(ex.thumbnail.empty());
    EXPECT_EQ(detect_mimetype(ex.thumbnail), "image/jpeg");
    Decoded t(ex.thumbnail);
    expect_thumb_size(t, 256, 147);
    EXPECT_EQ(t.red_corner(), "tl");
  }
}

TEST_F(ExtractTest, SmallImagesAreNotEnlargedAndTallOnesKeepTheirAspect) {
  auto small = run(make_picture(dir_, "small.png", 40, 30));
  Decoded s(small.thumbnail);
  EXPECT_EQ(s.width(), 40);
  EXPECT_EQ(s.height(), 30);
  auto tall = run(make_picture(dir_, "tall.jpg", 100, 1000));
  Decoded t(tall.thumbnail);
  EXPECT_EQ(t.height(), 256);
  EXPECT_NEAR(t.width(), 26, 1);
}

TEST_F(ExtractTest, EveryExifOrientationIsReadAndAppliedToTheThumbnail) {
  // Where the stored picture's top-left corner appears once the orientation is applied.
  const char* corner[9] = {"", "tl", "tr", "br", "bl", "tl", "tr", "br", "bl"};
  std::string base = make_picture(dir_, "base.jpg", 300, 200);
  for (int o = 1; o <= 8; ++o) {
    SCOPED_TRACE("orientation " + std::to_string(o));
    std::string path = dir_.sub("o" + std::to_string(o) + ".jpg");
    must("cp " + quote(base) + " " + quote(path));
    set_exif(path, "-Orientation=" + std::to_string(o));
    auto ex = run(path);
    ASSERT_EQ(ex.error, "");
    EXPECT_EQ(ex.system["exif"]["Orientation"], o);
    EXPECT_TRUE(ex.system["exif"]["Orientation"].is_number_integer());
    // width and height are the stored ones; a viewer swaps them for 5-8.
    EXPECT_EQ(ex.system["width"], 300);
    EXPECT_EQ(ex.system["height"], 200);
    Decoded t(ex.thumbnail);
    if (o >= 5) {  // transposed: 256 high, 171 wide
      EXPECT_EQ(t.height(), 256);
      EXPECT_NEAR(t.width(), 171, 1);
    } else {
      expect_thumb_size(t, 256, 171);
    }
    EXPECT_EQ(t.red_corner(), corner[o]);
  }
}

TEST_F(ExtractTest, OrientationOfPngWebpAndTiff) {
  for (const char* ext : {"png", "webp", "tiff"}) {
    SCOPED_TRACE(ext);
    std::string path = make_picture(dir_, std::string("r.") + ext, 300, 200);
    set_exif(path, "-Orientation=6 -Make=Nikon");
    auto ex = run(path);
    ASSERT_EQ(ex.error, "");
    EXPECT_EQ(ex.system["exif"]["Orientation"], 6);
    Decoded t(ex.thumbnail);
    EXPECT_EQ(t.height(), 256);
    EXPECT_EQ(t.red_corner(), "tr");
    EXPECT_EQ(ex.system["exif"]["Make"], "Nikon");
  }
}

TEST_F(ExtractTest, CameraTagsAreJsonValuesOfTheRightTypes) {
  std::string path = make_picture(dir_, "cam.jpg", 64, 48);
  set_exif(path,
           "-Make=Canon -Model='EOS 5D Mark IV' -DateTimeOriginal='2024:01:02 03:04:05' -ExposureTime=0.004 "
           "-FNumber=2.8 -ISO=400 -FocalLength=50 -Orientation=1");
  auto ex = run(path);
  ASSERT_EQ(ex.error, "");
  const json& exif = ex.system["exif"];
  EXPECT_EQ(exif["Make"], "Canon");
  EXPECT_EQ(exif["Model"], "EOS 5D Mark IV");
  EXPECT_EQ(exif["DateTimeOriginal"], "2024:01:02 03:04:05");
  EXPECT_TRUE(exif["ExposureTime"].is_number_float());
  EXPECT_DOUBLE_EQ(exif["ExposureTime"].get<double>(), 0.004);
  EXPECT_TRUE(exif["FNumber"].is_number());
  EXPECT_DOUBLE_EQ(exif["FNumber"].get<double>(), 2.8);
  EXPECT_TRUE(exif["ISO"].is_number_integer());
  EXPECT_EQ(exif["ISO"], 400);
  EXPECT_DOUBLE_EQ(exif["FocalLength"].get<double>(), 50);
  EXPECT_FALSE(exif.contains("GPSLatitude"));
  EXPECT_FALSE(exif.contains("GPSLongitude"));
}

TEST_F(ExtractTest, TiffKeepsItsCameraTagsInItsOwnDirectories) {
  std::string path = make_picture(dir_, "cam.tiff", 64, 48);
  set_exif(path,
           "-Make=Canon -Model=R5 -DateTimeOriginal='2024:01:02 03:04:05' -ExposureTime=0.004 -FNumber=2.8 -ISO=400 "
           "-FocalLength=50 -GPSLatitude=12.0464 -GPSLatitudeRef=S -GPSLongitude=77.0428 -GPSLongitudeRef=W");
  auto ex = run(path);
  ASSERT_EQ(ex.error, "");
  const json& exif = ex.system["exif"];
  EXPECT_EQ(exif["Make"], "Canon");
  EXPECT_EQ(exif["Model"], "R5");
  EXPECT_EQ(exif["DateTimeOriginal"], "2024:01:02 03:04:05");
  EXPECT_NEAR(exif["ExposureTime"].get<double>(), 0.004, 1e-7);
  EXPECT_NEAR(exif["FNumber"].get<double>(), 2.8, 1e-6);
  EXPECT_EQ(exif["ISO"], 400);
  EXPECT_TRUE(exif["ISO"].is_number_integer());
  EXPECT_NEAR(exif["FocalLength"].get<double>(), 50, 1e-6);
  EXPECT_NEAR(exif["GPSLatitude"].get<double>(), -12.0464, 1e-6);
  EXPECT_NEAR(exif["GPSLongitude"].get<double>(), -77.0428, 1e-6);
  EXPECT_EQ(exif["Orientation"], 1);
  EXPECT_EQ(tiff_exif_to_json("II*\0garbage"), json::object());
  EXPECT_EQ(tiff_exif_to_json(""), json::object());
}

TEST_F(ExtractTest, GpsPositionIsSignedDecimalDegrees) {
  std::string north = make_picture(dir_, "paris.jpg", 64, 48);
  set_exif(north,
           "-GPSLatitude=48.8566 -GPSLatitudeRef=N -GPSLongitude=2.3522 -GPSLongitudeRef=E -GPSAltitude=35 "
           "-GPSAltitudeRef=0");
  auto ex = run(north);
  ASSERT_EQ(ex.error, "");
  EXPECT_NEAR(ex.system["exif"]["GPSLatitude"].get<double>(), 48.8566, 1e-6);
  EXPECT_NEAR(ex.system["exif"]["GPSLongitude"].get<double>(), 2.3522, 1e-6);
  EXPECT_NEAR(ex.system["exif"]["GPSAltitude"].get<double>(), 35, 1e-6);

  std::string south = make_picture(dir_, "lima.png", 64, 48);
  set_exif(south,
           "-GPSLatitude=12.0464 -GPSLatitudeRef=S -GPSLongitude=77.0428 -GPSLongitudeRef=W -GPSAltitude=10 "
           "-GPSAltitudeRef=1");
  auto ex2 = run(south);
  ASSERT_EQ(ex2.error, "");
  EXPECT_NEAR(ex2.system["exif"]["GPSLatitude"].get<double>(), -12.0464, 1e-6);
  EXPECT_NEAR(ex2.system["exif"]["GPSLongitude"].get<double>(), -77.0428, 1e-6);
  EXPECT_NEAR(ex2.system["exif"]["GPSAltitude"].get<double>(), -10, 1e-6);
}

TEST_F(ExtractTest, NonImagesGetAMimetypeFromTheirContentOnly) {
  auto text = extract("hello, world\n", limits_);
  EXPECT_FALSE(text.image);
  EXPECT_EQ(text.error, "");
  EXPECT_EQ(text.system["mimetype"], "text/plain");
  EXPECT_FALSE(text.system.contains("width"));
  EXPECT_TRUE(text.thumbnail.empty());
  EXPECT_EQ(extract("", limits_).system["mimetype"], "application/x-empty");
  EXPECT_EQ(extract(std::string("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", 15), limits_).system["mimetype"], "application/pdf");
  // The content decides, not the name: a PNG's bytes are a PNG whatever it is called.
  auto png = extract(slurp(make_picture(dir_, "named.jpg.png", 20, 10)), limits_);
  EXPECT_EQ(png.system["mimetype"], "image/png");
}

TEST_F(ExtractTest, TruncatedFilesOfEveryFormatFailWithAReason) {
  for (const Format& f : kFormats) {
    SCOPED_TRACE(f.ext);
    // Noise, so that every format's data is large and the cut lands inside the pixels.
    std::string path = dir_.sub(std::string("noise.") + f.ext);
    must("convert -size 200x150 xc: +noise Random " + quote(path));
    std::string bytes = slurp(path);
    for (double keep : {0.5, 0.9}) {
      auto ex = extract(bytes.substr(0, size_t(double(bytes.size()) * keep)), limits_);
      EXPECT_TRUE(ex.image) << keep;
      EXPECT_NE(ex.error, "") << "a " << keep << " truncated " << f.ext << " passed";
      EXPECT_TRUE(ex.thumbnail.empty());
    }
  }
}

TEST_F(ExtractTest, CorruptFilesOfEveryFormatFailWithAReason) {
  for (const Format& f : kFormats) {
    SCOPED_TRACE(f.ext);
    std::string bytes = slurp(make_picture(dir_, std::string("c.") + f.ext, 120, 90));
    // The signature stays (libmagic still says it is that format); what follows is garbage.
    std::string corrupt = bytes.substr(0, 16) + std::string(bytes.size() - 16, '\xa5');
    // BMP has no checksum and raw pixels: break its header past what libmagic reads (bit count).
    if (std::string(f.ext) == "bmp") corrupt = bytes.substr(0, 26) + std::string(bytes.size() - 26, '\xa5');
    auto ex = extract(corrupt, limits_);
    EXPECT_NE(ex.error, "") << "a corrupt " << f.ext << " passed as " << ex.system.dump();
    EXPECT_TRUE(ex.thumbnail.empty());
  }
}

TEST_F(ExtractTest, DecompressionBombsAreRefusedBeforeDecoding) {
  // A JPEG whose frame header claims 60000 x 60000.
  std::string jpeg = slurp(make_picture(dir_, "bomb.jpg", 64, 48));
  size_t sof = jpeg.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 5] = jpeg[sof + 7] = char(0xea);
  jpeg[sof + 6] = jpeg[sof + 8] = char(0x60);
  // A GIF whose screen and frame claim 65535 x 65535.
  std::string gif = slurp(make_picture(dir_, "bomb.gif", 64, 48));
  gif.replace(6, 4, "\xff\xff\xff\xff");
  size_t frame = gif.find('\x2c', 13);
  if (frame != std::string::npos) gif.replace(frame + 5, 4, "\xff\xff\xff\xff");

  auto start = std::chrono::steady_clock::now();
  auto png = extract(png_declaring(100000, 100000), limits_);
  EXPECT_EQ(png.system["mimetype"], "image/png");
  EXPECT_NE(png.error.find("megapixel limit"), std::string::npos) << png.error;
  auto big = extract(jpeg, limits_);
  EXPECT_NE(big.error.find("megapixel limit"), std::string::npos) << big.error;
  auto gbomb = extract(gif, limits_);
  EXPECT_NE(gbomb.error, "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// Found by the fuzz target: libpng allocated (and touched) a chunk's declared length before
// reading it, so a 250-byte PNG cost 1.6 GB. Before IDAT (read with the header) and after it
// (read at the end of decoding).
TEST_F(ExtractTest, APngChunkDeclaringMoreThanTheFileIsRefusedWithoutAllocatingIt) {
  std::string png = slurp(make_picture(dir_, "c.png", 16, 12));
  size_t after_ihdr = 8 + 12 + 13;
  ASSERT_EQ(png.substr(12, 4), "IHDR");
  std::string huge_text = std::string("\x62\x65\x72\x25", 4) + "tEXtdate:modify";
  size_t iend = png.rfind("IEND");
  ASSERT_NE(iend, std::string::npos);
  auto peak_kb = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
  };
  long before = peak_kb();
  for (const std::string& bad : {png.substr(0, after_ihdr) + huge_text, png.substr(0, iend - 4) + huge_text}) {
    auto ex = extract(bad, limits_);
    EXPECT_EQ(ex.system["mimetype"], "image/png");
    EXPECT_NE(ex.error.find("tEXt chunk declares 1650815525 bytes"), std::string::npos) << ex.error;
    EXPECT_TRUE(ex.thumbnail.empty());
  }
  EXPECT_LT(peak_kb() - before, 256 * 1024) << "KB of peak memory for a few hundred bytes of PNG";
  // A PNG whose pixel data is cut short is the decoder's to refuse, as before.
  auto cut = extract(png.substr(0, png.find("IDAT") + 10), limits_);
  EXPECT_NE(cut.error, "");
  EXPECT_EQ(cut.error.find("declares"), std::string::npos) << cut.error;
}

TEST_F(ExtractTest, DecodingStopsAtTheDeadline) {
  std::string path = dir_.sub("large.png");
  must("convert -size 3000x2000 xc: +noise Random " + quote(path));
  ImageLimits quick = limits_;
  quick.timeout_ms = 1;
  auto ex = extract(slurp(path), quick);
  EXPECT_NE(ex.error.find("longer than"), std::string::npos) << ex.error;
  std::atomic<bool> cancel{true};
  auto stopped = extract(slurp(path), limits_, &cancel);
  EXPECT_TRUE(stopped.cancelled);
}

TEST_F(ExtractTest, BrokenExifFailsWithAReasonButKeepsTheImage) {
  std::string bytes = slurp(make_picture(dir_, "plain.jpg", 80, 60));
  // An APP1 "Exif" segment right after SOI whose TIFF structure is garbage.
  std::string garbage = "Exif" + std::string(2, '\0') + "MM\x00\x2a\xff\xff\xff\xf0" + std::string(40, '\x7f');
  std::string app1 = std::string("\xff\xe1", 2) + char((garbage.size() + 2) >> 8) + char((garbage.size() + 2) & 0xff);
  auto ex = extract(bytes.substr(0, 2) + app1 + garbage + bytes.substr(2), limits_);
  EXPECT_NE(ex.error.find("broken EXIF"), std::string::npos) << ex.error;
  EXPECT_EQ(ex.system["width"], 80);
  EXPECT_FALSE(ex.thumbnail.empty());
  bool readable = true;
  exif_to_json(garbage, &readable);
  EXPECT_FALSE(readable);
  // A good block (the camera tags of a real picture) is readable.
  auto good = extract(slurp(make_picture(dir_, "tagged.jpg", 80, 60)), limits_);
  EXPECT_EQ(good.error, "");
  EXPECT_EQ(ex.system["exif"], json({{"Orientation", 1}}));
  // Nonsense blocks straight into the EXIF reader: nothing, and no crash.
  EXPECT_EQ(exif_to_json(""), json::object());
  EXPECT_EQ(exif_to_json(garbage), json::object());
  EXPECT_EQ(exif_to_json(std::string("II*\0\x08\0\0\0\xff\xff", 10)), json::object());
}
