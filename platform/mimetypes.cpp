#include "platform/mimetypes.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace dlfs {

std::string mimetype_from_name(std::string_view name) {
  static const std::pair<const char*, const char*> table[] = {
      {"jpg", "image/jpeg"},  {"jpeg", "image/jpeg"},      {"png", "image/png"},
      {"gif", "image/gif"},   {"webp", "image/webp"},      {"bmp", "image/bmp"},
      {"tif", "image/tiff"},  {"tiff", "image/tiff"},      {"svg", "image/svg+xml"},
      {"mp4", "video/mp4"},   {"webm", "video/webm"},      {"mov", "video/quicktime"},
      {"avi", "video/x-msvideo"}, {"mkv", "video/x-matroska"}, {"mp3", "audio/mpeg"},
      {"wav", "audio/wav"},   {"json", "application/json"}, {"csv", "text/csv"},
      {"txt", "text/plain"},  {"pdf", "application/pdf"},  {"zip", "application/zip"},
      {"html", "text/html"},  {"xml", "application/xml"},  {"npy", "application/octet-stream"},
  };
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == name.size()) return "application/octet-stream";
  std::string ext(name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& [e, mime] : table)
    if (ext == e) return mime;
  return "application/octet-stream";
}

}  // namespace dlfs
