// Default locations, shared by dlfs, mount.dlfs and dlfsd.
#pragma once

#include <string>

namespace dlfs {

// The embedded platform's store: $DLFS_STORE, else $XDG_DATA_HOME/dlfs, else ~/.local/share/dlfs.
std::string default_store_dir();
// The mount's cache: $XDG_CACHE_HOME/dlfs, else ~/.cache/dlfs.
std::string default_cache_dir();

}  // namespace dlfs
