// Whether a directory is a mount point, from /proc/self/mountinfo (used by mount.dlfs to refuse
// a busy mountpoint, and by the tests to see that a mount is gone).
#pragma once

#include <string>

namespace dlfs {

// `dir` must be absolute and canonical.
bool is_mount_point(const std::string& dir);
// The "major:minor" of the filesystem mounted last at `dir` ("" if none): its bdi's name in
// /sys/class/bdi/.
std::string mount_device(const std::string& dir);

}  // namespace dlfs
