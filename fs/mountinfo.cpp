#include "fs/mountinfo.h"

#include <fstream>
#include <sstream>

namespace dlfs {
namespace {

// mountinfo escapes spaces and a few other bytes as \ooo.
std::string unescape_mountinfo(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out.push_back(char(std::stoi(s.substr(i + 1, 3), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

bool is_mount_point(const std::string& dir) { return !mount_device(dir).empty(); }

std::string mount_device(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, found;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    fields >> id >> parent >> devno >> root >> point;
    if (unescape_mountinfo(point) == dir) found = devno;  // (the last one: mounted over the others)
  }
  return found;
}

}  // namespace dlfs
