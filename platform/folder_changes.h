// Change notifications for a folder tree of this machine (the local-folder object store), by
// inotify. inotify watches one folder, not a tree: every folder below gets a watch of its own,
// added as folders appear; past `max_folders` the tree is refused as too big to watch (the
// caller then keeps to polling). Changes made on another machine to a shared folder (NFS) are
// not seen: notifications only shorten the wait between polls, they never replace them.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "platform/object_store.h"

namespace dlfs {

struct FolderChangesOptions {
  size_t max_folders = 10'000;
  // Entries left out, by their path below the folder ("a/b.jpg", "a/sub"); a folder left out is
  // not watched.
  std::function<bool(std::string_view rel)> skip;
};

// ENOENT when `dir` is not there, ENOSPC past max_folders or the user's inotify watch limit.
Result<std::unique_ptr<ObjectChanges>> watch_folder_tree(const std::string& dir, FolderChangesOptions options);

}  // namespace dlfs
