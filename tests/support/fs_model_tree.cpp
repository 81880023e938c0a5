// ModelTree: the POSIX semantics the filesystem core is checked against (errnos in the order
// Linux's rename(2), unlink(2), mkdir(2), rmdir(2) and open(2) check them).
#include <cerrno>

#include "core/paths.h"
#include "support/fs_model.h"

namespace dlfs::test {

bool ModelTree::is_dir(const std::string& path) const { return dirs_.count(path) > 0; }

FileRef ModelTree::file(const std::string& path) const {
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : it->second;
}

bool ModelTree::reachable(const FileRef& f) const {
  for (auto& [p, file] : files_)
    if (file == f) return true;
  return false;
}

bool ModelTree::empty_dir(const std::string& path) const {
  auto child = [&](const std::string& p) { return p != path && parent_path(p) == path; };
  for (auto& [p, f] : files_)
    if (child(p)) return false;
  for (auto& d : dirs_)
    if (child(d)) return false;
  return true;
}

namespace {

// The errno of resolving the folder a path lives in.
int parent_err(const ModelTree& t, const std::string& path) {
  std::string cur = "/";
  for (const std::string& part : split_path(parent_path(path))) {
    cur = join_path(cur, part);
    if (t.file(cur)) return ENOTDIR;
    if (!t.is_dir(cur)) return ENOENT;
  }
  return 0;
}

}  // namespace

int ModelTree::lookup_err(const std::string& path) const {
  if (int e = parent_err(*this, path)) return e;
  return exists(path) ? 0 : ENOENT;
}

int ModelTree::mkdir(const std::string& path) {
  if (int e = parent_err(*this, path)) return e;
  if (exists(path)) return EEXIST;
  dirs_.insert(path);
  return 0;
}

int ModelTree::rmdir(const std::string& path) {
  if (int e = parent_err(*this, path)) return e;
  if (!exists(path)) return ENOENT;
  if (!is_dir(path)) return ENOTDIR;
  if (!empty_dir(path)) return ENOTEMPTY;
  dirs_.erase(path);
  return 0;
}

int ModelTree::unlink(const std::string& path) {
  if (int e = parent_err(*this, path)) return e;
  if (!exists(path)) return ENOENT;
  if (is_dir(path)) return EISDIR;
  files_.erase(path);
  return 0;
}

int ModelTree::rename(const std::string& from, const std::string& to) {
  if (int e = parent_err(*this, from)) return e;
  if (int e = parent_err(*this, to)) return e;
  if (!exists(from)) return ENOENT;
  if (from == to) return 0;
  if (is_same_or_under(to, from)) return EINVAL;     // a folder into itself
  if (is_same_or_under(from, to)) return ENOTEMPTY;  // onto a folder above it
  bool src_dir = is_dir(from);
  if (exists(to)) {
    if (is_dir(to) && !src_dir) return EISDIR;
    if (!is_dir(to) && src_dir) return ENOTDIR;
    if (is_dir(to) && !empty_dir(to)) return ENOTEMPTY;
    dirs_.erase(to);
    files_.erase(to);
  }
  if (!src_dir) {
    files_[to] = files_[from];
    files_.erase(from);
    return 0;
  }
  std::map<std::string, FileRef> files;
  for (auto& [p, f] : files_) files[is_same_or_under(p, from) ? to + p.substr(from.size()) : p] = f;
  std::set<std::string> dirs;
  for (auto& d : dirs_) dirs.insert(is_same_or_under(d, from) ? to + d.substr(from.size()) : d);
  files_ = std::move(files);
  dirs_ = std::move(dirs);
  return 0;
}

int ModelTree::symlink(const std::string& path, const std::string& target) {
  if (int e = parent_err(*this, path)) return e;
  if (exists(path)) return EEXIST;
  auto f = std::make_shared<ModelFile>();
  f->bytes = target;
  f->symlink = true;
  files_[path] = std::move(f);
  return 0;
}

FileRef ModelTree::open_create(const std::string& path, bool truncate, int& err) {
  err = parent_err(*this, path);
  if (err) return nullptr;
  if (is_dir(path)) {
    err = EISDIR;
    return nullptr;
  }
  auto& f = files_[path];
  if (!f) f = std::make_shared<ModelFile>();
  else if (truncate) f->bytes.clear();
  return f;
}

std::map<std::string, bool> ModelTree::below(const std::string& root) const {
  std::map<std::string, bool> out;
  for (auto& [p, f] : files_)
    if (p != root && is_same_or_under(p, root)) out[p] = false;
  for (auto& d : dirs_)
    if (d != root && is_same_or_under(d, root)) out[d] = true;
  return out;
}

}  // namespace dlfs::test
