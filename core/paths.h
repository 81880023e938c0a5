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
// A dataset path's bound. Linux bounds a path *argument* at PATH_MAX (4,095 bytes and its NUL) and
// checks that itself; a path inside a dataset may be longer, as on a local disk (a relative path
// from a deep folder, or a mount of a subfolder), up to this. (The platform's catalogue keys a long
// folder's children by its hash: platform/catalog.cpp.) A longer path is refused up front.
inline constexpr size_t kMaxPathBytes = 16383;

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
