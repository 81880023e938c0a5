// libFuzzer target: preprocessing's extraction of one buffer — libmagic's mimetype, the libvips
// header and thumbnail, and the EXIF reader — must never crash, hang or leak on any input, and
// what it answers must be JSON that serializes and a JPEG thumbnail.
//
//   scripts/test.sh runs it briefly; by hand:
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DDLFS_FUZZ=ON -DDLFS_TESTS=OFF
//   cmake --build build-fuzz --target preprocess_fuzz
//   build-fuzz/bin/preprocess_fuzz -max_total_time=60 NEW_DIR tests/fuzz/corpus/preprocess
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <spdlog/spdlog.h>

#include "platform/image_exif.h"
#include "platform/preprocess_extract.h"

using namespace dlfs;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  if (!init_image_library()) abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Smaller bounds than the service's, so that each input stays fast.
  static const ImageLimits limits = [] {
    ImageLimits l;
    l.max_pixels = 4'000'000;
    l.max_magick_pixels = 1'000'000;
    l.timeout_ms = 5'000;
    return l;
  }();
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Extraction ex = extract(bytes, limits);
  (void)ex.system.dump();  // throws (and so aborts) on invalid UTF-8
  if (!ex.thumbnail.empty() && (ex.thumbnail.size() < 4 || ex.thumbnail.substr(0, 2) != "\xff\xd8")) abort();
  // A thumbnail comes with an error only when the picture decoded but its EXIF did not.
  if (!ex.thumbnail.empty() && !ex.error.empty() && ex.error.rfind("broken EXIF", 0) != 0) abort();
  (void)exif_to_json(bytes).dump();
  return 0;
}
