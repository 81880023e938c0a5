// Path and name rules, in one place. A remote path is absolute ("/a/b.jpg"), normalized (no
// "." or ".." parts, no empty parts, no trailing slash except the root "/"), without NUL, each
// part at most 255 bytes and the whole at most 4096. Every violation is a clear error with the
// errno a filesystem would give (EINVAL, or ENAMETOOLONG for lengths).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace dlfs {

inline constexpr size_t kMaxNameBytes = 255;
// A dataset path's bound: what the platform's catalogue can key (LMDB keys are at most 511 bytes:
// the dataset id, the folder, a NUL and the name). A longer path answered HTTP 500 at every
// upload, tried again and again; it is refused up front instead (ENAMETOOLONG).
inline constexpr size_t kMaxPathBytes = 480;

// Checks one path component (a file or folder name).
Status validate_name(std::string_view name);
// Checks a path that must already be in normal form.
Status validate_path(std::string_view path);
// Normalizes a user-given path: adds the leading "/", folds repeated and trailing slashes, then
// validates. "." and ".." parts are refused, not resolved: a dataset path is never relative.
Result<std::string> normalize_path(std::string_view path);

// "/a/b.jpg" -> "/a"; "/a" -> "/"; "/" -> "".
std::string parent_path(std::string_view path);
// "/a/b.jpg" -> "b.jpg"; "/" -> "".
std::string base_name(std::string_view path);
// join("/", "a") -> "/a"; join("/a", "b") -> "/a/b".
std::string join_path(std::string_view dir, std::string_view name);
// The parts of a normal path: "/a/b" -> {"a", "b"}; "/" -> {}.
std::vector<std::string> split_path(std::string_view path);
// True if `path` is `dir` itself or lies below it ("/a/b" is under "/a", "/ab" is not).
bool is_same_or_under(std::string_view path, std::string_view dir);

}  // namespace dlfs
