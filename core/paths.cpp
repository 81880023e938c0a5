#include "core/paths.h"

namespace dlfs {

Status validate_name(std::string_view name) {
  if (name.empty()) return Status(EINVAL, "empty name");
  if (name == "." || name == "..") return Status(EINVAL, "name '" + std::string(name) + "' is not allowed");
  if (name.size() > kMaxNameBytes)
    return Status(ENAMETOOLONG, "name is " + std::to_string(name.size()) + " bytes, more than the " +
                                    std::to_string(kMaxNameBytes) + " allowed");
  for (char c : name) {
    if (c == '\0') return Status(EINVAL, "name contains a NUL byte");
    if (c == '/') return Status(EINVAL, "name '" + std::string(name) + "' contains '/'");
  }
  return {};
}

Status validate_path(std::string_view path) {
  if (path.size() > kMaxPathBytes)
    return Status(ENAMETOOLONG, "path is " + std::to_string(path.size()) + " bytes, more than the " +
                                    std::to_string(kMaxPathBytes) + " allowed");
  if (path.empty() || path[0] != '/')
    return Status(EINVAL, "path '" + std::string(path) + "' is not absolute (it must start with '/')");
  if (path == "/") return {};
  if (path.back() == '/') return Status(EINVAL, "path '" + std::string(path) + "' ends with '/'");
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty()) return Status(EINVAL, "path '" + std::string(path) + "' has an empty part ('//')");
    Status s = validate_name(part);
    if (!s) return Status(s.err(), "invalid path '" + std::string(path) + "'", s.message());
    start = end + 1;
  }
  return {};
}

Result<std::string> normalize_path(std::string_view path) {
  for (char c : path)
    if (c == '\0') return Status(EINVAL, "path contains a NUL byte");
  std::string out = "/";
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    if (end > i) {
      std::string_view part = path.substr(i, end - i);
      if (part == "." || part == "..")
        return Status(EINVAL, "path '" + std::string(path) + "' has a '" + std::string(part) +
                                  "' part; dataset paths are absolute");
      if (out.size() > 1) out += '/';
      out += part;
    }
    i = end;
  }
  DLFS_TRY(validate_path(out));
  return out;
}

std::string parent_path(std::string_view path) {
  if (path.empty() || path == "/") return "";
  size_t slash = path.rfind('/');
  if (slash == 0 || slash == std::string_view::npos) return "/";
  return std::string(path.substr(0, slash));
}

std::string base_name(std::string_view path) {
  if (path == "/") return "";
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string join_path(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    if (end > i) parts.emplace_back(path.substr(i, end - i));
    i = end;
  }
  return parts;
}

bool is_same_or_under(std::string_view path, std::string_view dir) {
  if (dir == "/") return !path.empty() && path[0] == '/';
  if (path.size() < dir.size() || path.compare(0, dir.size(), dir) != 0) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

}  // namespace dlfs
