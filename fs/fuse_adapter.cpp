#include "fs/fuse_adapter.h"

#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>

#include <cstdio>
#include <ctime>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "fs/fuse_metrics.h"
#include "fs/mountinfo.h"

namespace dlfs {

// Tells the kernel what went stale. Notifications go through a queue and a thread of their
// own: fuse_lowlevel_notify_inval_entry takes the parent's inode lock in the kernel, so calling
// it from inside a request on that folder (a readdir that learned of a deletion) would deadlock.
class QueuedInvalidator : public Invalidator {
 public:
  explicit QueuedInvalidator(fuse_session* se) : se_(se), thread_([this] { run(); }) {}
  ~QueuedInvalidator() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void inode_changed(Ino ino) override { push({ino, {}, true}); }
  void entry_gone(Ino parent, const std::string& name) override { push({parent, name, false}); }

 private:
  struct Note {
    Ino ino;
    std::string name;
    bool inode;
  };
  void push(Note note) {
    {
      std::lock_guard lock(mu_);
      if (queue_.size() > 100000) return;  // the kernel will revalidate by timeout anyway
      queue_.push_back(std::move(note));
    }
    cv_.notify_one();
  }
  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      Note note = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      int rc = note.inode ? fuse_lowlevel_notify_inval_inode(se_, note.ino, 0, 0)
                          : fuse_lowlevel_notify_inval_entry(se_, note.ino, note.name.c_str(), note.name.size());
      // ENOENT: the kernel no longer has it, which is what we wanted.
      if (rc != 0 && rc != -ENOENT) spdlog::debug("invalidation of {} failed: {}", note.ino, strerror(-rc));
      lock.lock();
    }
  }

  fuse_session* se_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Note> queue_;
  bool stop_ = false;
  std::thread thread_;
};

struct FuseMount::Impl {
  Filesystem* fs = nullptr;
  FuseOptions options;
  std::string mountpoint;
  fuse_session* se = nullptr;
  bool mounted = false;
  std::unique_ptr<QueuedInvalidator> invalidator;
  std::once_flag after_init;
};

namespace {

FuseMount::Impl& impl_of(fuse_req_t req) { return *static_cast<FuseMount::Impl*>(fuse_req_userdata(req)); }
Filesystem& fs_of(fuse_req_t req) { return *impl_of(req).fs; }

// The kernel's readahead for this mount (its bdi's read_ahead_kb): set once INIT is answered
// (the kernel takes the smaller of the bdi's and INIT's then, and INIT's cannot pass its own
// 128 KiB), i.e. at the first request after it, before most files are opened (a file keeps the
// readahead it was opened with). Only root may; others keep the kernel's.
void set_read_ahead(const FuseMount::Impl& impl) {
  if (impl.options.read_ahead_kb == 0) return;
  std::string dev = mount_device(impl.mountpoint);
  if (dev.empty()) return;
  std::string path = "/sys/class/bdi/" + dev + "/read_ahead_kb";
  FILE* f = std::fopen(path.c_str(), "w");
  bool ok = f && std::fprintf(f, "%u\n", impl.options.read_ahead_kb) > 0;
  if (f && std::fclose(f) != 0) ok = false;
  if (ok) spdlog::debug("readahead {} KiB ({})", impl.options.read_ahead_kb, path);
  else spdlog::debug("cannot set the readahead in {}: {}", path, std::strerror(errno));
}

// Runs a handler body; any exception becomes EIO (none may unwind into libfuse). Every op
// passes here once: where it is counted and timed (-o metrics; without, one null check).
template <typename F>
void guarded(fuse_req_t req, FuseOp op, F&& body) {
  auto& impl = *static_cast<FuseMount::Impl*>(fuse_req_userdata(req));
  std::call_once(impl.after_init, [&] { set_read_ahead(impl); });
  FuseMetrics* metrics = impl.options.metrics;
  auto start = metrics ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  try {
    body();
  } catch (const std::exception& e) {
    spdlog::error("{}: unexpected exception: {}", fuse_op_name(op), e.what());
    if (metrics) metrics->error(op);
    fuse_reply_err(req, EIO);
  } catch (...) {
    spdlog::error("{}: unexpected exception", fuse_op_name(op));
    if (metrics) metrics->error(op);
    fuse_reply_err(req, EIO);
  }
  if (metrics) metrics->request(op, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

FuseMetrics* metrics_of(fuse_req_t req) {
  return static_cast<FuseMount::Impl*>(fuse_req_userdata(req))->options.metrics;
}

void reply_error(fuse_req_t req, FuseOp op, const Status& s) {
  int err = s.err() > 0 ? s.err() : EIO;
  if (err != ENOENT && err != ENODATA && err != ENOTSUP) spdlog::debug("{}: {}", fuse_op_name(op), s.to_string());
  if (FuseMetrics* metrics = metrics_of(req)) metrics->error(op);
  fuse_reply_err(req, err);
}

fuse_entry_param to_fuse(const Entry& e) {
  fuse_entry_param p{};
  p.ino = e.ino;
  p.generation = 0;
  p.attr = e.attr;
  p.attr_timeout = e.attr_timeout;
  p.entry_timeout = e.entry_timeout;
  return p;
}

void op_init(void* userdata, fuse_conn_info* conn) {
  auto& impl = *static_cast<FuseMount::Impl*>(userdata);
  // Always readdirplus: a listing carries full items anyway, so handing the kernel their
  // attributes costs nothing and saves a lookup per entry.
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  // The kernel drops cached pages when a refreshed mtime or size differs: data freshness
  // without asking on every open (which no_open skips).
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  // Reads answered from a local file are spliced into the reply (op_read).
  if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
  // open(O_TRUNC) arrives as one open with O_TRUNC: an overwrite never fetches the old bytes.
  // Not with no_open: the kernel would then truncate its cache and tell nobody (no open is sent);
  // without it the truncation comes as a setattr of the size.
  if (impl.fs->options().no_open) conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
  else if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  conn->want &= ~FUSE_CAP_POSIX_ACL;  // no ACLs: the kernel then never asks for them
  // Writes of up to 1 MiB per request (the most libfuse's buffer takes): with st_blksize 1 MiB
  // (make_attr), cp and buffered writers send a large file in a eighth of the round trips of
  // 128 KiB ones, and each write request also costs the kernel's security.capability getxattr.
  conn->max_write = kMaxWrite;
  spdlog::debug("fuse init: proto {}.{}, no_open={}, max_write={}", conn->proto_major, conn->proto_minor,
                impl.fs->options().no_open, conn->max_write);
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, FuseOp::kLookup, [&] {
    auto e = fs_of(req).lookup(parent, name);
    if (e) {
      fuse_entry_param p = to_fuse(*e);
      if (fuse_reply_entry(req, &p) == -ENOENT) fs_of(req).forget(e->ino, 1);  // request interrupted
      return;
    }
    double negative = impl_of(req).options.negative_timeout;
    if (e.err() == ENOENT && negative > 0) {  // cache the absence for a moment
      if (FuseMetrics* metrics = metrics_of(req)) metrics->error(FuseOp::kLookup);
      fuse_entry_param p{};
      p.entry_timeout = negative;
      fuse_reply_entry(req, &p);
      return;
    }
    reply_error(req, FuseOp::kLookup, e.status());
  });
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  guarded(req, FuseOp::kForget, [&] { fs_of(req).forget(ino, nlookup); });
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  guarded(req, FuseOp::kForget, [&] {
    for (size_t i = 0; i < count; ++i) fs_of(req).forget(forgets[i].ino, forgets[i].nlookup);
  });
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  guarded(req, FuseOp::kGetattr, [&] {
    auto e = fs_of(req).getattr(ino);
    if (!e) return reply_error(req, FuseOp::kGetattr, e.status());
    fuse_reply_attr(req, &e->attr, e->attr_timeout);
  });
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, FuseOp::kOpendir, [&] {
    auto fh = fs_of(req).opendir(ino);
    if (!fh) return reply_error(req, FuseOp::kOpendir, fh.status());
    fi->fh = *fh;
    if (fuse_reply_open(req, fi) == -ENOENT) fs_of(req).releasedir(*fh);
  });
}

void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi, bool plus) {
  guarded(req, plus ? FuseOp::kReaddirplus : FuseOp::kReaddir, [&] {
    std::vector<char> buf(size);
    size_t used = 0;
    Status s = fs_of(req).readdir(ino, fi->fh, offset, plus, [&](const DirEntry& de) {
      std::string name(de.name);
      size_t room = size - used;
      size_t need;
      if (plus) {
        fuse_entry_param p = to_fuse(de.entry);
        need = fuse_add_direntry_plus(req, buf.data() + used, room, name.c_str(), &p, de.next_offset);
      } else {
        need = fuse_add_direntry(req, buf.data() + used, room, name.c_str(), &de.entry.attr, de.next_offset);
      }
      if (need > room) return false;
      used += need;
      return true;
    });
    // An error after some entries were added: hand over what fits; the kernel asks again.
    if (!s && used == 0) return reply_error(req, plus ? FuseOp::kReaddirplus : FuseOp::kReaddir, s);
    fuse_reply_buf(req, buf.data(), used);
  });
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  do_readdir(req, ino, size, off, fi, false);
}

void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  do_readdir(req, ino, size, off, fi, true);
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  guarded(req, FuseOp::kReleasedir, [&] { fs_of(req).releasedir(fi->fh); });
  fuse_reply_err(req, 0);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, FuseOp::kOpen, [&] {
    // ENOSYS makes the kernel skip open and release of existing files for the rest of the mount:
    // their pages stay cached (freshness comes from invalidations), and their writes come with
    // fh 0 (the core's implicit writers: fs/filesystem_implicit.cpp).
    // (the core's own option: its fh-0 writes and truncates must agree with what is answered here)
    if (fs_of(req).options().no_open) return (void)fuse_reply_err(req, ENOSYS);
    auto r = fs_of(req).open(ino, fi->flags);
    if (!r) return reply_error(req, FuseOp::kOpen, r.status());
    fi->fh = r->fh;
    fi->keep_cache = r->keep_cache;
    fi->direct_io = r->direct_io;
    fi->noflush = r->noflush;  // (a read-only close then costs no request: the kernel skips FLUSH)
    if (fuse_reply_open(req, fi) == -ENOENT) fs_of(req).release(r->fh);
  });
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  guarded(req, FuseOp::kRead, [&] {
    // Bytes in a local file (a stored binary, a spool file) go to the kernel by descriptor:
    // libfuse splices them into /dev/fuse, no copy through this process (it reads them into its
    // own buffer instead where splicing is refused).
    // (One buffer per thread, kept, for bytes that are not: a new 128 KiB one per read is an
    // mmap of fresh pages that the kernel zeroes every time, which costs more than the read.)
    thread_local std::vector<char> buf;
    if (buf.size() < size) buf.resize(size);
    auto local = fs_of(req).read_local(ino, fi->fh, uint64_t(off), std::span<char>(buf.data(), size));
    if (!local) return reply_error(req, FuseOp::kRead, local.status());
    if (FuseMetrics* metrics = metrics_of(req)) metrics->read_bytes(local->size);
    if (!local->fd) return (void)fuse_reply_buf(req, buf.data(), local->size);
    fuse_bufvec bytes = FUSE_BUFVEC_INIT(local->size);
    bytes.buf[0].flags = fuse_buf_flags(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    bytes.buf[0].fd = local->fd->fd;
    bytes.buf[0].pos = off_t(local->offset);
    int r = fuse_reply_data(req, &bytes, FUSE_BUF_SPLICE_MOVE);
    if (r < 0 && r != -ENOENT) spdlog::debug("read: replying from the local file: {}", std::strerror(-r));
  });
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  guarded(req, FuseOp::kRelease, [&] { fs_of(req).release(fi->fh); });
  fuse_reply_err(req, 0);
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  guarded(req, FuseOp::kStatfs, [&] {
    auto st = fs_of(req).statfs();
    if (!st) return reply_error(req, FuseOp::kStatfs, st.status());
    fuse_reply_statfs(req, &*st);
  });
}

// The xattr size protocol: size 0 asks for the length; a too-small buffer is ERANGE.
void reply_xattr_value(fuse_req_t req, const std::string& value, size_t size) {
  if (size == 0) fuse_reply_xattr(req, value.size());
  else if (value.size() > size) fuse_reply_err(req, ERANGE);
  else fuse_reply_buf(req, value.data(), value.size());
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  guarded(req, FuseOp::kGetxattr, [&] {
    auto v = fs_of(req).getxattr(ino, name);
    if (!v) return reply_error(req, FuseOp::kGetxattr, v.status());
    reply_xattr_value(req, *v, size);
  });
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  guarded(req, FuseOp::kListxattr, [&] {
    auto v = fs_of(req).listxattr(ino);
    if (!v) return reply_error(req, FuseOp::kListxattr, v.status());
    reply_xattr_value(req, *v, size);
  });
}

// Who makes a file or folder, and its permission bits (the kernel applied the umask).
NewNode new_node(fuse_req_t req, mode_t mode) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return NewNode{ctx->uid, ctx->gid, uint32_t(mode) & kPermissionBits};
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  guarded(req, FuseOp::kCreate, [&] {
    auto r = fs_of(req).create(parent, name, fi->flags, new_node(req, mode));
    if (!r) return reply_error(req, FuseOp::kCreate, r.status());
    fuse_entry_param p = to_fuse(r->first);
    fi->fh = r->second.fh;
    fi->keep_cache = 0;
    fi->direct_io = 0;
    if (fuse_reply_create(req, &p, fi) == -ENOENT) {  // interrupted
      fs_of(req).release(r->second.fh);
      fs_of(req).forget(p.ino, 1);
    }
  });
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  guarded(req, FuseOp::kWrite, [&] {
    auto n = fs_of(req).write(ino, fi->fh, uint64_t(off), std::span<const char>(buf, size));
    if (!n) return reply_error(req, FuseOp::kWrite, n.status());
    if (FuseMetrics* metrics = metrics_of(req)) metrics->write_bytes(*n);
    fuse_reply_write(req, *n);
  });
}

void reply_status(fuse_req_t req, FuseOp op, const Status& s) {
  if (!s) return reply_error(req, op, s);
  fuse_reply_err(req, 0);
}

void op_flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, FuseOp::kFlush, [&] {
    // A mount that cannot write has nothing a close could promise: ENOSYS makes the kernel send no
    // FLUSH for the rest of the mount (with no_open, a close of a file then costs no request).
    if (!fs_of(req).can_write()) return (void)fuse_reply_err(req, ENOSYS);
    Status closed = fs_of(req).flush(ino, fi->fh);
    // Nor one that lets its writers go once idle (no_open: Filesystem::closes_needed): this close
    // is done, and ENOSYS (taken as success) stops the rest. A close that failed tells why, and
    // the next close asks again.
    if (closed && !fs_of(req).closes_needed()) return (void)fuse_reply_err(req, ENOSYS);
    reply_status(req, FuseOp::kFlush, closed);
  });
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info* fi) {
  guarded(req, FuseOp::kFsync, [&] { reply_status(req, FuseOp::kFsync, fs_of(req).fsync(ino, fi ? fi->fh : 0)); });
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  guarded(req, FuseOp::kFsyncdir, [&] { reply_status(req, FuseOp::kFsyncdir, fs_of(req).fsyncdir(ino)); });
}

int64_t ns_of(const timespec& t) { return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec; }

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  guarded(req, FuseOp::kSetattr, [&] {
    AttrChange change;
    if (to_set & FUSE_SET_ATTR_SIZE) change.size = uint64_t(attr->st_size);
    if (to_set & FUSE_SET_ATTR_MODE) change.mode = uint32_t(attr->st_mode) & kPermissionBits;
    if (to_set & FUSE_SET_ATTR_UID) change.uid = attr->st_uid;
    if (to_set & FUSE_SET_ATTR_GID) change.gid = attr->st_gid;
    if (to_set & (FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_ATIME_NOW)) {
      struct timespec now {};
      clock_gettime(CLOCK_REALTIME, &now);
      if (to_set & FUSE_SET_ATTR_MTIME_NOW) change.mtime_ns = ns_of(now);
      if (to_set & FUSE_SET_ATTR_ATIME_NOW) change.atime_ns = ns_of(now);
    }
    if ((to_set & FUSE_SET_ATTR_MTIME) && !(to_set & FUSE_SET_ATTR_MTIME_NOW)) change.mtime_ns = ns_of(attr->st_mtim);
    if ((to_set & FUSE_SET_ATTR_ATIME) && !(to_set & FUSE_SET_ATTR_ATIME_NOW)) change.atime_ns = ns_of(attr->st_atim);
    change.caller = fuse_req_ctx(req)->uid;
    auto e = fs_of(req).setattr(ino, fi ? fi->fh : 0, change);
    if (!e) return reply_error(req, FuseOp::kSetattr, e.status());
    fuse_reply_attr(req, &e->attr, e->attr_timeout);
  });
}

// A dataset holds files, folders and links to URLs: no device nodes, fifos, sockets or hard links.
void op_mknod(fuse_req_t req, fuse_ino_t, const char* name, mode_t, dev_t) {
  guarded(req, FuseOp::kMknod, [&] {
    reply_error(req, FuseOp::kMknod, Status(EPERM, std::string(name) + ": a dataset cannot hold device nodes, fifos or sockets"));
  });
}

void op_link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char* name) {
  guarded(req, FuseOp::kLink, [&] {
    reply_error(req, FuseOp::kLink, Status(EPERM, std::string(name) + ": a dataset cannot hold hard links"));
  });
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  guarded(req, FuseOp::kMkdir, [&] {
    auto e = fs_of(req).mkdir(parent, name, new_node(req, mode));
    if (!e) return reply_error(req, FuseOp::kMkdir, e.status());
    fuse_entry_param p = to_fuse(*e);
    if (fuse_reply_entry(req, &p) == -ENOENT) fs_of(req).forget(e->ino, 1);
  });
}

void op_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  guarded(req, FuseOp::kSymlink, [&] {
    const fuse_ctx* ctx = fuse_req_ctx(req);
    auto e = fs_of(req).symlink(link, parent, name, NewNode{ctx->uid, ctx->gid, std::nullopt});
    if (!e) return reply_error(req, FuseOp::kSymlink, e.status());
    fuse_entry_param p = to_fuse(*e);
    if (fuse_reply_entry(req, &p) == -ENOENT) fs_of(req).forget(e->ino, 1);
  });
}

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  guarded(req, FuseOp::kReadlink, [&] {
    auto target = fs_of(req).readlink(ino);
    if (!target) return reply_error(req, FuseOp::kReadlink, target.status());
    fuse_reply_readlink(req, target->c_str());
  });
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, FuseOp::kRmdir, [&] { reply_status(req, FuseOp::kRmdir, fs_of(req).rmdir(parent, name)); });
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, FuseOp::kUnlink, [&] { reply_status(req, FuseOp::kUnlink, fs_of(req).unlink(parent, name)); });
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
               unsigned int flags) {
  guarded(req, FuseOp::kRename, [&] {
    reply_status(req, FuseOp::kRename, fs_of(req).rename(parent, name, newparent, newname, flags));
  });
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size, int flags) {
  guarded(req, FuseOp::kSetxattr, [&] {
    reply_status(req, FuseOp::kSetxattr, fs_of(req).setxattr(ino, name, std::string_view(value, size), flags));
  });
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  guarded(req, FuseOp::kRemovexattr, [&] { reply_status(req, FuseOp::kRemovexattr, fs_of(req).removexattr(ino, name)); });
}

const fuse_lowlevel_ops kOps = [] {
  fuse_lowlevel_ops ops{};
  ops.init = op_init;
  ops.lookup = op_lookup;
  ops.forget = op_forget;
  ops.forget_multi = op_forget_multi;
  ops.getattr = op_getattr;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.readdirplus = op_readdirplus;
  ops.releasedir = op_releasedir;
  ops.open = op_open;
  ops.read = op_read;
  ops.release = op_release;
  ops.statfs = op_statfs;
  ops.getxattr = op_getxattr;
  ops.listxattr = op_listxattr;
  ops.create = op_create;
  ops.write = op_write;
  ops.flush = op_flush;
  ops.fsync = op_fsync;
  ops.fsyncdir = op_fsyncdir;
  ops.setattr = op_setattr;
  ops.mknod = op_mknod;
  ops.link = op_link;
  ops.mkdir = op_mkdir;
  ops.symlink = op_symlink;
  ops.readlink = op_readlink;
  ops.rmdir = op_rmdir;
  ops.unlink = op_unlink;
  ops.rename = op_rename;
  ops.setxattr = op_setxattr;
  ops.removexattr = op_removexattr;
  return ops;
}();

}  // namespace

FuseMount::FuseMount(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<FuseMount>> FuseMount::mount(Filesystem& fs, const std::string& mountpoint,
                                                    const FuseOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->fs = &fs;
  impl->options = options;
  impl->mountpoint = mountpoint;
  std::string opts = "fsname=" + options.fsname + ",subtype=dlfs";
  for (auto& o : options.kernel_options) opts += "," + o;
  std::vector<std::string> argv = {"mount.dlfs", "-o", opts};
  if (options.trace) argv.push_back("-d");
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(int(cargv.size()), cargv.data());
  impl->se = fuse_session_new(&args, &kOps, sizeof kOps, impl.get());
  fuse_opt_free_args(&args);
  if (!impl->se) return Status(EINVAL, "cannot start a FUSE session (bad mount options?)");
  if (fuse_session_mount(impl->se, mountpoint.c_str()) != 0) {
    fuse_session_destroy(impl->se);
    return Status(EIO, "cannot mount on " + mountpoint + " (is /dev/fuse usable, fusermount3 installed?)");
  }
  impl->mounted = true;
  impl->invalidator = std::make_unique<QueuedInvalidator>(impl->se);
  fs.set_invalidator(impl->invalidator.get());
  return std::unique_ptr<FuseMount>(new FuseMount(std::move(impl)));
}

FuseMount::~FuseMount() {
  if (!impl_) return;
  impl_->fs->set_invalidator(nullptr);
  impl_->invalidator.reset();
  if (impl_->mounted) fuse_session_unmount(impl_->se);
  fuse_session_destroy(impl_->se);
}

Status FuseMount::loop() {
  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(config, 0);
  fuse_loop_cfg_set_max_threads(config, impl_->options.max_threads);
  fuse_loop_cfg_set_idle_threads(config, std::min(impl_->options.max_threads, 10u));
  int rc = fuse_session_loop_mt(impl_->se, config);
  fuse_loop_cfg_destroy(config);
  if (rc != 0 && rc != -EINTR && rc != EINTR) return Status(rc < 0 ? -rc : EIO, "FUSE session loop failed");
  return {};
}

void FuseMount::exit() { fuse_session_exit(impl_->se); }

}  // namespace dlfs
