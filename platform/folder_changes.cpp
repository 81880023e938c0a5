#include "platform/folder_changes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace dlfs {
namespace {

// What makes an object new, changed or gone. IN_MODIFY is also how a change of the modification
// time alone is told (utimensat with the access time omitted; the store's etag holds the time);
// the kernel folds a run of them, unread, into one.
constexpr uint32_t kMask = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |
                           IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;

std::string below(const std::string& rel, std::string_view name) {
  return rel.empty() ? std::string(name) : rel + "/" + std::string(name);
}

class FolderTreeChanges : public ObjectChanges {
 public:
  FolderTreeChanges(int fd, std::string dir, FolderChangesOptions options)
      : fd_(fd), dir_(std::move(dir)), options_(std::move(options)) {}
  ~FolderTreeChanges() override { ::close(fd_); }

  // Watches folder `rel` and every folder below it that is not skipped.
  Status add_tree(const std::string& rel) {
    std::vector<std::string> todo{rel};
    while (!todo.empty()) {
      std::string r = std::move(todo.back());
      todo.pop_back();
      std::string path = r.empty() ? dir_ : dir_ + "/" + r;
      if (folders_.size() >= options_.max_folders)
        return Status(ENOSPC, "more than " + std::to_string(options_.max_folders) + " folders under " + dir_ +
                                  " to watch for changes");
      int wd = ::inotify_add_watch(fd_, path.c_str(), kMask);
      if (wd < 0) {
        if ((errno == ENOENT || errno == ENOTDIR) && !r.empty()) continue;  // gone meanwhile: its parent said so
        if (errno == ENOSPC)
          return Status(ENOSPC, "cannot watch " + path + " for changes: the user's inotify watches are used up",
                        "fs.inotify.max_user_watches");
        return Status(errno, "cannot watch " + path + " for changes", strerror(errno));
      }
      folders_[wd] = r;  // (a folder watched again, moved: the same wd, its new path)
      // Listed after its watch is in place: a folder made meanwhile is either listed here or
      // reported by the watch (and then watched twice, which is the same watch).
      DIR* d = ::opendir(path.c_str());
      if (!d) continue;
      while (struct dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        bool dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
          struct stat st {};
          dir = ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        }
        if (!dir) continue;
        std::string child = below(r, name);
        if (!options_.skip || !options_.skip(child)) todo.push_back(std::move(child));
      }
      ::closedir(d);
    }
    return {};
  }

  Result<bool> take() override {
    std::lock_guard lock(mu_);
    alignas(struct inotify_event) char buf[64 * 1024];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) return Status(n < 0 ? errno : EIO, "cannot read the changes of " + dir_, n < 0 ? strerror(errno) : "");
      for (char* p = buf; p < buf + n;) {
        const auto* ev = reinterpret_cast<const struct inotify_event*>(p);
        p += sizeof(struct inotify_event) + ev->len;
        on_event(*ev);
      }
    }
    if (!broken_ && !changed_) return broken_;  // (told once a change has been reported)
    bool changed = changed_;
    changed_ = false;
    return changed;
  }

 private:
  void on_event(const struct inotify_event& ev) {
    if (ev.mask & IN_Q_OVERFLOW) {  // events were lost: anything may have changed
      changed_ = true;
      return;
    }
    auto it = folders_.find(ev.wd);
    if (it == folders_.end()) return;
    const bool is_root = it->second.empty();
    if (ev.mask & IN_IGNORED) {  // the watch is gone (its folder removed)
      folders_.erase(it);
      if (is_root) lose("the folder " + dir_ + " was removed");
      return;
    }
    if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {  // a subfolder's own shows in its parent's events
      if (is_root) lose("the folder " + dir_ + " was moved or removed");
      return;
    }
    std::string rel = ev.len ? below(it->second, ev.name) : it->second;
    if (options_.skip && options_.skip(rel)) return;
    changed_ = true;
    if ((ev.mask & IN_ISDIR) && (ev.mask & (IN_CREATE | IN_MOVED_TO))) {
      Status s = add_tree(rel);
      if (!s && broken_) broken_ = s;
    }
  }

  void lose(const std::string& why) {
    changed_ = true;
    if (broken_) broken_ = Status(ENOENT, why + ": changes are no longer watched");
  }

  std::mutex mu_;
  int fd_;
  std::string dir_;
  FolderChangesOptions options_;
  std::unordered_map<int, std::string> folders_;  // watch descriptor -> the folder's path below dir_
  bool changed_ = false;
  Status broken_;  // set once the watch misses changes
};

}  // namespace

Result<std::unique_ptr<ObjectChanges>> watch_folder_tree(const std::string& dir, FolderChangesOptions options) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return Status(errno, "cannot watch " + dir + " for changes (inotify)", strerror(errno));
  auto changes = std::make_unique<FolderTreeChanges>(fd, dir, std::move(options));
  DLFS_TRY(changes->add_tree(""));
  return std::unique_ptr<ObjectChanges>(std::move(changes));
}

}  // namespace dlfs
