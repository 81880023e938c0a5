// Lazy revalidation of link items at open. Preprocessing records a link target's size, ETag and
// Last-Modified (platform/preprocess_link.cpp), so lookups, getattr and listings never ask the
// target; an open asks it at most once per FsOptions::link_revalidate_ms (per URL) whether it
// changed, so a changed target is seen with its new size and a gone one answers EIO.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/json_util.h"
#include "fs/filesystem.h"

namespace dlfs {
namespace {

std::string string_at(const json& info, const char* key) {
  auto it = info.find(key);
  return it != info.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A failure to reach the target (a timeout, a refused connection) is asked again after this
// long, not after the whole revalidation interval: a blip must not fail every open for 30 s,
// and the kernel's and readers' retries within it still make no request.
constexpr int64_t kUnreachableRetryMs = 1000;

// Whether two validators, when both are known, differ.
bool differs(const std::string& a, const std::string& b) { return !a.empty() && !b.empty() && a != b; }

}  // namespace

Status Filesystem::revalidate_link(Ino ino, const Item& item, bool& changed) {
  changed = false;
  const json* info = find_dotted(item.system(), "shebang.linkInfo");
  if (!links_ || !info || !info->is_object() || options_.link_revalidate_ms < 0) return {};
  LinkCheck base;
  if (auto s = info->find("size"); s != info->end() && s->is_number_unsigned()) base.size = s->get<uint64_t>();
  base.etag = string_at(*info, "etag");
  base.last_modified = string_at(*info, "lastModified");
  // Nothing recorded: the size is asked at open anyway (link_size), nothing to compare with.
  if (!base.size && base.etag.empty() && base.last_modified.empty()) return {};
  std::string url = item.link_url();
  int64_t now = options_.clock->now_ms();
  {
    std::lock_guard lock(links_mu_);
    if (auto it = link_checks_.find(url); it != link_checks_.end()) {
      const LinkCheck& last = it->second;
      bool unreachable = !last.failure && !last.gone;
      int64_t wait =
          unreachable ? std::min(options_.link_revalidate_ms, kUnreachableRetryMs) : options_.link_revalidate_ms;
      if (now - last.checked_ms < wait) return last.failure;
      // Compared with what the target answered last (a failed check keeps what it compared with).
      base = last;
    }
  }
  ++counters_.link_heads;
  auto st = links_->stat(url);
  LinkCheck check = base;
  check.checked_ms = now;
  check.failure = Status();
  check.gone = false;
  if (!st) {
    note_link_result(item, st.status());
    // A gone target (404) is an I/O error of this file, not "no such file": the name exists.
    check.gone = st.err() == ENOENT;
    check.failure = check.gone ? Status(EIO, st.status().message(), "the link's target is gone")
                                       : st.status();
    check.failure = check.failure.wrap("revalidating " + item.filename);
  } else {
    note_link_result(item, Status());
    changed = differs(base.etag, st->etag) || differs(base.last_modified, st->last_modified) ||
              (base.size && st->size && *base.size != *st->size);
    if (st->size) check.size = st->size;
    check.etag = st->etag;
    check.last_modified = st->last_modified;
    if (changed)
      spdlog::info("link {}: {} changed; size now {}", item.filename, url,
                   check.size ? std::to_string(*check.size) : std::string("unknown"));
  }
  {
    std::lock_guard lock(links_mu_);
    link_checks_[url] = check;
  }
  // Told after the new size is stored: the kernel, its attributes dropped, must hear the new size
  // when it asks again. (The notice is delivered by another thread: the open that saw the change
  // reads with direct_io meanwhile, fs/filesystem.cpp.)
  if (changed)
    if (Invalidator* inv = invalidator_.load()) inv->inode_changed(ino);
  return check.failure;
}

}  // namespace dlfs
