// The local-folder object store (platform/object_store.h): a folder of this machine as a bucket.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/file_io.h"
#include "core/ids.h"
#include "core/paths.h"
#include "platform/folder_changes.h"
#include "platform/object_store.h"

namespace dlfs {
namespace fs = std::filesystem;
namespace {

Status errno_status(const std::string& what) { return Status(errno, what, strerror(errno)); }

// Temp files are named with this prefix in the object's folder, so that a rename publishes them;
// listings skip them.
constexpr std::string_view kTempPrefix = ".dlfs-tmp-";

class LocalFolderStore : public ObjectStore {
 public:
  explicit LocalFolderStore(std::string root) : root_(std::move(root)) {}

  Result<ObjectInfo> head(std::string_view key) override {
    DLFS_TRY(check_object_key(key));
    struct stat st {};
    std::string path = local_path(key);
    if (::stat(path.c_str(), &st) != 0) return errno_status("no object '" + std::string(key) + "'");
    if (!S_ISREG(st.st_mode)) return Status(ENOENT, "no object '" + std::string(key) + "' (not a file)");
    return info(std::string(key), st);
  }

  Result<size_t> read(std::string_view key, uint64_t offset, std::span<char> out) override {
    DLFS_TRY(check_object_key(key));
    int fd = ::open(local_path(key).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_status("cannot open object '" + std::string(key) + "'");
    auto n = pread_full(fd, offset, out);
    ::close(fd);
    return n;
  }

  Result<ObjectInfo> put_file(std::string_view key, const std::string& local_file) override {
    int in = ::open(local_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno_status("cannot open " + local_file);
    auto r = put(key, [&](int out) { return copy_fd(in, out); });
    ::close(in);
    return r;
  }

  Result<ObjectInfo> put_bytes(std::string_view key, std::string_view bytes) override {
    return put(key, [&](int out) -> Result<uint64_t> {
      DLFS_TRY(write_all(out, bytes.data(), bytes.size()));
      return uint64_t(bytes.size());
    });
  }

  Result<ObjectInfo> copy(std::string_view from, std::string_view to) override {
    DLFS_TRY(check_object_key(from));
    int in = ::open(local_path(from).c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno_status("no object '" + std::string(from) + "'");
    auto r = put(to, [&](int out) { return copy_fd(in, out); });
    ::close(in);
    return r;
  }

  Status remove(std::string_view key) override {
    DLFS_TRY(check_object_key(key));
    if (::unlink(local_path(key).c_str()) != 0 && errno != ENOENT)
      return errno_status("cannot remove object '" + std::string(key) + "'");
    return {};
  }

  // A walk of the folders in key order, one folder's entries in memory at a time (not the whole
  // listing): a folder's entries sorted by name, a subfolder's as its name + '/' (so "a.b" comes
  // before "a/x", as in the keys' byte order), and only the folders the prefix can reach.
  Status list(std::string_view prefix, const std::function<bool(const ObjectInfo&)>& fn) override {
    bool stopped = false;
    return walk("", prefix, fn, stopped);
  }

  std::string local_path(std::string_view key) const override { return root_ + "/" + std::string(key); }

  Result<std::unique_ptr<ObjectChanges>> watch_changes(std::string_view prefix,
                                                       std::function<bool(std::string_view key)> skip) override {
    if (!prefix.empty()) DLFS_TRY(check_object_key(prefix));
    std::string base = prefix.empty() ? std::string() : std::string(prefix) + "/";
    FolderChangesOptions options;
    options.skip = [base, skip = std::move(skip)](std::string_view rel) {
      return base_name(rel).starts_with(kTempPrefix) || (skip && skip(base + std::string(rel)));  // (the temp file's rename is the change)
    };
    return watch_folder_tree(prefix.empty() ? root_ : local_path(prefix), std::move(options));
  }

 private:
  // The objects of folder `rel` ("" or "a/b/") whose keys start with `prefix`, in key order.
  Status walk(const std::string& rel, std::string_view prefix, const std::function<bool(const ObjectInfo&)>& fn,
              bool& stopped) {
    struct Entry {
      std::string order;  // the name, '/' after a folder's
      bool dir;
    };
    std::vector<Entry> entries;
    std::error_code ec;
    fs::directory_iterator it(root_ + "/" + rel, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      if (!rel.empty() && (ec.value() == ENOENT || ec.value() == ENOTDIR)) return {};  // gone meanwhile
      return Status(ec.value(), "cannot list " + root_ + "/" + rel, ec.message());
    }
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) return Status(ec.value(), "cannot list " + root_ + "/" + rel, ec.message());
      std::string name = it->path().filename().string();
      if (name.starts_with(kTempPrefix)) continue;
      bool dir = it->is_directory(ec) && !it->is_symlink(ec);
      if (!dir && !it->is_regular_file(ec)) continue;
      std::string key = rel + name + (dir ? "/" : "");
      // Only what can hold keys under the prefix.
      if (!(key.starts_with(prefix) || (dir && prefix.starts_with(key)))) continue;
      entries.push_back({name + (dir ? "/" : ""), dir});
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.order < b.order; });
    for (const Entry& e : entries) {
      if (stopped) return {};
      std::string key = rel + e.order;
      if (e.dir) {
        DLFS_TRY(walk(key, prefix, fn, stopped));
        continue;
      }
      struct stat st {};
      if (::stat((root_ + "/" + key).c_str(), &st) != 0) continue;  // gone meanwhile
      if (!fn(info(std::move(key), st))) stopped = true;
    }
    return {};
  }

  static ObjectInfo info(std::string key, const struct stat& st) {
    ObjectInfo o;
    o.key = std::move(key);
    o.size = uint64_t(st.st_size);
    o.modified_ms = int64_t(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
    // What changes when the file is rewritten: its inode (a rename over it), size and time.
    o.etag = std::to_string(st.st_ino) + "-" + std::to_string(st.st_size) + "-" +
             std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
    return o;
  }

  template <typename Fill>
  Result<ObjectInfo> put(std::string_view key, Fill&& fill) {
    DLFS_TRY(check_object_key(key));
    fs::path final_path = local_path(key);
    std::error_code ec;
    fs::create_directories(final_path.parent_path(), ec);
    if (ec) return Status(ec.value(), "cannot create the folder of object '" + std::string(key) + "'", ec.message());
    std::string tmp = (final_path.parent_path() / (std::string(kTempPrefix) + new_id())).string();
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return errno_status("cannot create a temp file in " + final_path.parent_path().string());
    Result<uint64_t> size = fill(fd);
    Status s = size.status();
    if (s && ::fsync(fd) != 0) s = errno_status("cannot fsync object '" + std::string(key) + "'");
    if (::close(fd) != 0 && s) s = errno_status("cannot close object '" + std::string(key) + "'");
    if (s && ::rename(tmp.c_str(), final_path.c_str()) != 0) s = errno_status("cannot publish object '" + std::string(key) + "'");
    if (s) s = fsync_dir(final_path.parent_path());
    if (!s) {
      ::unlink(tmp.c_str());
      return s;
    }
    return head(key);
  }

  std::string root_;
};

}  // namespace

Status check_object_key(std::string_view key) {
  if (key.empty() || key.front() == '/' || key.find('\0') != std::string_view::npos)
    return Status(EINVAL, "'" + std::string(key) + "' is not an object key (a relative path like photos/a.jpg)");
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view part = key.substr(start, end - start);
    if (part.empty() || part == "." || part == "..")
      return Status(EINVAL, "'" + std::string(key) + "' is not an object key (empty, '.' or '..' part)");
    start = end + 1;
  }
  return {};
}

Result<std::unique_ptr<ObjectStore>> open_local_folder_store(const std::string& root) {
  std::error_code ec;
  if (root.empty() || root.front() != '/') return Status(EINVAL, "a local driver's folder must be an absolute path");
  if (!fs::is_directory(root, ec)) return Status(ENOENT, "the local driver's folder " + root + " does not exist");
  std::string clean = fs::path(root).lexically_normal().string();
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  return std::unique_ptr<ObjectStore>(new LocalFolderStore(clean));
}

}  // namespace dlfs
