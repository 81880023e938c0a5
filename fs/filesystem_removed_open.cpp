// Descriptors the mount never hears of (FsOptions::no_open: the kernel opens and closes existing
// files without asking). What they read is pinned per node (Filesystem::ReadPin): the version a
// read from the start found, read on to the end as an open descriptor would. A file this mount
// unlinks or renames over may still be open in them: before it goes, its bytes are kept where a
// local file holds them (a pending file's spool file, the embedded platform's stored binary, the
// data cache's copy), read through the pin, and copied for a descriptor that writes it (a private
// copy, never the platform's). The kernel's FORGET of the node ends it (its last descriptor went).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "core/posix_attrs.h"
#include "fs/filesystem.h"

namespace dlfs {

void Filesystem::pin_locked(Ino ino, ReadPin pin) {
  // (each may hold a descriptor: FsOptions::max_read_pins is sized to the process's limit)
  const size_t most = std::max<size_t>(options_.max_read_pins, 1);
  if (read_pins_.size() >= most && !read_pins_.count(ino)) read_pins_.erase(read_pins_.begin());
  read_pins_[ino] = std::move(pin);
}

void Filesystem::drop_read_pin(Ino ino) {
  std::lock_guard lock(handles_mu_);
  read_pins_.erase(ino);
}

std::shared_ptr<Filesystem::SpoolFd> Filesystem::kept_bytes(Ino ino) {
  std::lock_guard lock(handles_mu_);
  auto it = read_pins_.find(ino);
  return it != read_pins_.end() && it->second.kept ? it->second.fd : nullptr;
}

std::optional<Ino> Filesystem::keep_for_descriptors(const std::string& id) {
  if (!options_.no_open || id.empty()) return std::nullopt;
  auto ino = inodes_.find(NodeKind::kItem, id);
  if (!ino) return std::nullopt;  // the kernel knows no node of it: nothing can have it open
  auto n = node(*ino);
  if (!n || n->kind != NodeKind::kItem || n->item->is_dir()) return std::nullopt;
  {
    std::lock_guard lock(handles_mu_);
    if (auto it = read_pins_.find(*ino); it != read_pins_.end() && it->second.fd && it->second.item->id == id) {
      it->second.kept = true;  // (the version its descriptors read, already held)
      return ino;
    }
  }
  auto fd = open_local(n->item, /*fetch=*/false);
  if (!fd || !*fd) return std::nullopt;
  std::lock_guard lock(handles_mu_);
  pin_locked(*ino, ReadPin{n->item, *fd, true});
  return ino;
}

void Filesystem::keep_for_descriptors(const std::shared_ptr<PendingFile>& p) {
  if (!options_.no_open || !p) return;
  std::shared_ptr<const Item> shown;
  Ino ino;
  {
    std::lock_guard lock(write_mu_);
    if (p->dir || p->removed) return;
    shown = std::make_shared<const Item>(shown_item(*p));
    ino = p->ino;
  }
  auto fd = std::make_shared<SpoolFd>();
  fd->fd = ::open(options_.spool->file_path(p->spool_id).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd->fd < 0) return;
  std::lock_guard lock(handles_mu_);
  pin_locked(ino, ReadPin{shown, fd, true});
}

Result<std::shared_ptr<PendingFile>> Filesystem::private_copy(Ino ino, const std::string& path, const Item& item,
                                                              const SpoolFd& kept, bool truncate) {
  UploadSpool& spool = *options_.spool;
  DLFS_ASSIGN(SpoolRecord rec, spool.create(remote_.dataset().id, path, "", false, nullptr, /*promised=*/false));
  auto drop = [&](Status why) {
    (void)spool.remove(rec.id);
    return why;
  };
  uint64_t size = 0;
  if (!truncate) {
    SpoolFd out;
    out.fd = ::open(spool.file_path(rec.id).c_str(), O_WRONLY | O_CLOEXEC);
    if (out.fd < 0) return drop(Status(errno, "cannot open spool file"));
    std::vector<char> buf(1 << 20);
    for (;;) {
      ssize_t n = ::pread(kept.fd, buf.data(), buf.size(), off_t(size));
      if (n < 0) return drop(Status(errno, "reading the kept bytes of " + path));
      if (n == 0) break;
      if (Status room = spool.resize(rec.id, size + uint64_t(n)); !room) return drop(room);
      if (::pwrite(out.fd, buf.data(), size_t(n), off_t(size)) != n) return drop(Status(EIO, "cannot copy " + path));
      size += uint64_t(n);
    }
  }
  auto p = std::make_shared<PendingFile>();
  p->spool_id = rec.id;
  p->ino = ino;
  p->path = path;
  p->item = item;
  p->size = size;
  PosixAttrs was = posix_attrs(item);
  p->mtime_ns = truncate ? now_ns() : was.mtime_ns.value_or(item.updated_ms * 1000000);
  p->ctime_ns = truncate ? p->mtime_ns : was.ctime_ns.value_or(item.updated_ms * 1000000);
  p->private_copy = true;
  std::lock_guard lock(write_mu_);
  by_ino_[ino] = p;  // (never in pending_: out of the namespace)
  return p;
}

int Filesystem::reopen_removed(const std::shared_ptr<PendingFile>& p, bool writable) {
  {
    std::lock_guard lock(write_mu_);
    if (!p->removed) return -1;
  }
  std::shared_ptr<SpoolFd> held;
  {
    std::lock_guard lock(handles_mu_);
    for (auto& [fh, h] : files_)
      if (h.pending == p && h.fd) {
        held = h.fd;
        break;
      }
    if (auto it = read_pins_.find(p->ino); !held && it != read_pins_.end() && it->second.kept) held = it->second.fd;
  }
  if (!held) {
    errno = ENOENT;
    return -1;
  }
  // (the inode again, by the descriptor's /proc link, in the mode asked: the name is gone)
  return ::open(("/proc/self/fd/" + std::to_string(held->fd)).c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
}

}  // namespace dlfs
