#include "core/dirs.h"

#include <cstdlib>

#include <pwd.h>
#include <unistd.h>

namespace dlfs {
namespace {

std::string home_dir() {
  if (const char* h = getenv("HOME"); h && *h) return h;
  if (struct passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) return pw->pw_dir;
  return "/tmp";
}

std::string xdg(const char* var, const char* fallback_under_home) {
  if (const char* v = getenv(var); v && *v) return std::string(v) + "/dlfs";
  return home_dir() + "/" + fallback_under_home + "/dlfs";
}

}  // namespace

std::string default_store_dir() {
  if (const char* s = getenv("DLFS_STORE"); s && *s) return s;
  return xdg("XDG_DATA_HOME", ".local/share");
}

std::string default_cache_dir() { return xdg("XDG_CACHE_HOME", ".cache"); }

}  // namespace dlfs
