#include "platform/storage.h"

#include <cstring>
#include <filesystem>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "core/file_io.h"
#include "core/ids.h"

namespace dlfs {

namespace {
constexpr std::string_view kInlinePrefix = "inline:";
}  // namespace

std::string inline_blob_key(std::string_view bytes) { return std::string(kInlinePrefix).append(bytes); }

std::optional<std::string_view> parse_inline_blob_key(std::string_view key) {
  if (!key.starts_with(kInlinePrefix)) return std::nullopt;
  return key.substr(kInlinePrefix.size());
}
namespace fs = std::filesystem;

namespace {

Status errno_status(const std::string& what) { return Status(errno, what, strerror(errno)); }

}  // namespace

Result<std::unique_ptr<LocalStorage>> LocalStorage::open(const std::string& dir, GroupSync::SyncFn sync_fn) {
  std::error_code ec;
  fs::create_directories(dir + "/blobs", ec);
  fs::create_directories(dir + "/tmp", ec);
  if (ec) return Status(ec.value(), "cannot create storage folders in " + dir, ec.message());
  DLFS_ASSIGN(auto group_sync, GroupSync::open(dir + "/blobs", std::move(sync_fn)));
  std::unique_ptr<LocalStorage> storage(new LocalStorage(dir, std::move(group_sync)));
  storage->clean_stale_temps();
  return storage;
}

void LocalStorage::clean_stale_temps() {
  // Temp names are "<pid>-<id>"; a temp whose process is gone was never published.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ + "/tmp", ec)) {
    std::string name = entry.path().filename();
    pid_t pid = pid_t(std::atoi(name.c_str()));
    if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)) continue;
    fs::remove(entry.path(), ec);
    spdlog::info("removed an unfinished upload left by a crashed process: {}", name);
  }
}

template <typename Fill>
Result<StoredBlob> LocalStorage::put(Fill&& fill, Durable durable) {
  std::string key = new_id();
  std::string tmp = dir_ + "/tmp/" + std::to_string(getpid()) + "-" + key;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("cannot create a temp file in storage");
  Result<uint64_t> size = fill(fd);
  Status s = size.status();
  if (::close(fd) != 0 && s) s = errno_status("cannot close storage file");
  std::string final_path = local_path(key);
  if (s) {
    std::error_code ec;
    fs::create_directories(fs::path(final_path).parent_path(), ec);
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) s = errno_status("cannot publish storage file");
  }
  // Published before it is durable: nothing refers to the key until the caller commits it, which
  // it does only once the bytes are durable (a crash in between leaves an unreferenced file, as
  // a crash between a durable rename and the commit always did). The bytes, the file and its
  // folder entry are made durable together, with every other upload's under way (group_sync.h):
  // here, or (kAtSync) by the caller's sync() before its commit.
  if (s && durable == Durable::kNow) s = group_sync_->sync();
  if (!s) {
    ::unlink(tmp.c_str());
    ::unlink(final_path.c_str());
    return s;
  }
  return StoredBlob{key, *size};
}

Result<StoredBlob> LocalStorage::put_file(const std::string& source, Durable durable) {
  int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno_status("cannot open " + source);
  auto result = put([&](int out) { return copy_fd(in, out); }, durable);
  ::close(in);
  return result;
}

template <typename Place>
Result<StoredBlob> LocalStorage::place(const std::string& source, Durable durable, Place&& place_at, bool copy_on_any) {
  int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno_status("cannot open " + source);
  struct stat st {};
  if (::fstat(in, &st) != 0) {
    Status s = errno_status("cannot stat " + source);
    ::close(in);
    return s;
  }
  std::string key = new_id();
  std::string final_path = local_path(key);
  std::error_code ec;
  fs::create_directories(fs::path(final_path).parent_path(), ec);
  if (place_at(final_path) != 0) {
    if (!copy_on_any && errno != EXDEV) {
      Status s = errno_status("cannot publish storage file");
      ::close(in);
      return s;
    }
    auto copied = put([&](int out) { return copy_fd(in, out); }, durable);
    ::close(in);
    return copied;
  }
  ::close(in);
  if (Status d = durable == Durable::kNow ? group_sync_->sync() : Status(); !d) {  // (as put's: published, then durable)
    ::unlink(final_path.c_str());  // (an adopted file is gone: its upload fails, and is sent again)
    return d;
  }
  return StoredBlob{key, uint64_t(st.st_size)};
}

Result<StoredBlob> LocalStorage::adopt_file(const std::string& source, Durable durable) {
  // Another filesystem (EXDEV): copied.
  return place(
      source, durable, [&](const std::string& final_path) { return ::rename(source.c_str(), final_path.c_str()); },
      /*copy_on_any=*/false);
}

Result<StoredBlob> LocalStorage::link_file(const std::string& source, Durable durable) {
  // AT_SYMLINK_FOLLOW: a /proc/self/fd/N source names the descriptor's inode. That inode may have
  // lost its last name since it was opened (ENOENT: the uploader broke the link before it was
  // made), or live on another filesystem (EXDEV): then its bytes are copied from the descriptor.
  return place(
      source, durable,
      [&](const std::string& final_path) {
        return ::linkat(AT_FDCWD, source.c_str(), AT_FDCWD, final_path.c_str(), AT_SYMLINK_FOLLOW);
      },
      /*copy_on_any=*/true);
}

bool LocalStorage::links_from(const std::string& dir) const {
  struct stat mine {}, theirs {};
  return ::stat((dir_ + "/blobs").c_str(), &mine) == 0 && ::stat(dir.c_str(), &theirs) == 0 &&
         mine.st_dev == theirs.st_dev;
}

Result<StoredBlob> LocalStorage::put_bytes(std::string_view bytes, Durable durable) {
  return put(
      [&](int out) -> Result<uint64_t> {
        DLFS_TRY(write_all(out, bytes.data(), bytes.size()));
        return uint64_t(bytes.size());
      },
      durable);
}

Result<size_t> LocalStorage::read(std::string_view key, uint64_t offset, std::span<char> out) {
  std::string path = local_path(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open the stored binary " + std::string(key));
  auto n = pread_full(fd, offset, out);
  ::close(fd);
  if (!n) return Status(n.err(), "cannot read the stored binary " + std::string(key), n.status().cause());
  return n;
}

Result<int> LocalStorage::open_read(std::string_view key) {
  std::string path = local_path(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open the stored binary " + std::string(key));
  return fd;
}

std::string LocalStorage::local_path(std::string_view key) const {
  // Spread over 256 folders by the id's last two hex digits (its counter: they vary fastest).
  std::string k(key);
  std::string shard = k.size() >= 2 ? k.substr(k.size() - 2) : "00";
  return dir_ + "/blobs/" + shard + "/" + k;
}

Status LocalStorage::remove(std::string_view key) {
  std::string path = local_path(key);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_status("cannot remove " + path);
  return {};
}

}  // namespace dlfs
