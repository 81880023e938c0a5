#include "fs/filesystem.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "core/paths.h"
#include "fs/xattr_map.h"

namespace dlfs {
namespace {

constexpr std::string_view kThumbnailsDir = ".thumbnails";

}  // namespace

Result<std::unique_ptr<Filesystem>> Filesystem::create(Remote& remote, MetadataCache* cache,
                                                       LinkFetcher* links, FsOptions options) {
  DLFS_ASSIGN(options.root, normalize_path(options.root));
  MetadataSource probe(remote, cache, *options.clock, options.dir_ttl_ms, options.page_size);
  auto root = probe.item(options.root);
  if (!root) return root.status().wrap("folder " + options.root);
  if (!root->item.is_dir()) return Status(ENOTDIR, "folder " + options.root + " is not a folder");
  return std::unique_ptr<Filesystem>(
      new Filesystem(remote, cache, links, std::move(options), root->item, root->fetched_ms));
}

Filesystem::Filesystem(Remote& remote, MetadataCache* cache, LinkFetcher* links, FsOptions options,
                       const Item& root, int64_t fetched_ms)
    : remote_(remote), links_(links), options_(std::move(options)),
      source_(remote, cache, *options_.clock, options_.dir_ttl_ms, options_.page_size, options_.memory_items),
      inodes_(root, fetched_ms, options_.hot_items) {
  if (options_.data_cache && options_.prefetch > 0)
    prefetch_ = std::make_unique<FolderPrefetch>(
        FolderPrefetchOptions{.threads = options_.prefetch},
        [this](const std::string& folder, std::span<const std::string_view> names) {
          return prefetch_files(folder, names);
        });
}

Result<Node> Filesystem::node(Ino ino) const {
  auto n = inodes_.get(ino);
  if (!n) return Status(ESTALE, "unknown inode " + std::to_string(ino));
  return std::move(*n);
}

std::optional<uint64_t> Filesystem::link_size(const Item& item, bool fetch) {
  {
    std::lock_guard lock(links_mu_);  // a revalidation at open saw the target's current size
    if (auto it = link_checks_.find(item.link_url()); it != link_checks_.end() && it->second.size)
      return it->second.size;
  }
  if (const json* s = find_dotted(item.system(), "shebang.linkInfo.size"); s && s->is_number_unsigned())
    return s->get<uint64_t>();
  std::string url = item.link_url();
  {
    std::lock_guard lock(links_mu_);
    if (auto it = link_sizes_.find(url); it != link_sizes_.end()) return it->second;
  }
  if (!fetch || !links_) return std::nullopt;
  ++counters_.link_heads;
  auto size = links_->size(url);
  std::optional<uint64_t> known;
  if (size) known = *size;
  // A server that does not tell the size is no failure: the link is read to its end.
  if (size.err() != ENOTSUP) note_link_result(item, size.status());
  std::lock_guard lock(links_mu_);
  link_sizes_[url] = known;
  return known;
}

void Filesystem::note_link_result(const Item& item, const Status& result) {
  std::string url = item.link_url();
  std::lock_guard lock(links_mu_);
  if (result) {
    if (link_errors_.erase(url)) spdlog::info("link {}: {} answers again", item.filename, url);
    return;
  }
  std::string why = result.to_string();
  auto [it, added] = link_errors_.try_emplace(url, why);
  if (!added && it->second == why) return;  // logged already
  it->second = why;
  spdlog::warn("link {}: {}", item.filename, why);
}

std::optional<std::string> Filesystem::link_error(const std::string& url) {
  std::lock_guard lock(links_mu_);
  auto it = link_errors_.find(url);
  if (it == link_errors_.end()) return std::nullopt;
  return it->second;
}

Entry Filesystem::make_entry(Ino ino, NodeKind kind, const Item& item, const std::string* thumbnail) {
  Entry e;
  e.ino = ino;
  e.attr = make_attr(ino, kind, item, thumbnail);
  e.attr_timeout = options_.attr_timeout;
  e.entry_timeout = options_.entry_timeout;
  // A link whose size is not known yet: let the kernel ask again (a lookup fetches it). With
  // no_open, a link's attributes are asked before every read (auto_inval_data): getattr then
  // revalidates the target, as an open did.
  if (kind == NodeKind::kItem && item.is_link()) {
    if (!link_size(item, false)) e.attr_timeout = e.entry_timeout = 0;
    else if (options_.no_open) e.attr_timeout = 0;
  }
  return e;
}

std::shared_ptr<const Item> Filesystem::current_item(Ino ino, const Item& answered) {
  if (options_.spool)
    if (auto p = pending_of(ino)) {
      std::lock_guard lock(write_mu_);
      if (p->item.name == answered.name) return std::make_shared<const Item>(shown_item(*p));
    }
  if (auto n = inodes_.get(ino); n && n->item->id == answered.id) return n->item;
  return nullptr;
}

Result<Entry> Filesystem::lookup(Ino parent, std::string_view name) {
  ++counters_.lookups;
  if (name.size() > kMaxNameBytes) return Status(ENAMETOOLONG, "name too long");
  DLFS_ASSIGN(Node dir, node(parent));
  if (dir.kind == NodeKind::kThumbDir) return lookup_thumbnail(dir, name);
  if (dir.kind != NodeKind::kItem || !dir.item->is_dir()) return Status(ENOTDIR, "not a folder");
  if (parent == kRootIno && name == kThumbnailsDir) {
    Ino ino = inodes_.add_lookup(NodeKind::kThumbDir, *dir.item, dir.fetched_ms, inodes_.mark());
    return make_entry(ino, NodeKind::kThumbDir, *dir.item, nullptr);
  }
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos)
    return Status(ENOENT, "no such file");
  std::string path = join_path(dir.item->filename, name);
  if (auto p = pending_at(path)) {
    // An edited item keeps its node; a new file's node is keyed by its spool id until uploaded,
    // then rebound to the platform's id: one number throughout. Under write_mu_, as landed()
    // rebinds: the node is added under the id the file has at that moment (a node added under the
    // spool id after the rebind would be nobody's: the kernel may have forgotten the old one).
    std::optional<std::pair<Ino, Item>> found;
    {
      std::lock_guard lock(write_mu_);
      if (!p->released) {  // (else uploaded and dropped just now: the platform's item, below)
        Item shown = shown_item(*p);
        Ino ino = inodes_.add_lookup(NodeKind::kItem, shown, options_.clock->now_ms(), kSetHere);
        if (ino != p->ino) {  // (a hash collision probed elsewhere this time)
          if (auto it = by_ino_.find(p->ino); it != by_ino_.end() && it->second == p) by_ino_.erase(it);
          p->ino = ino;
          by_ino_[ino] = p;
        }
        found.emplace(ino, std::move(shown));
      }
    }
    if (found) return make_entry(found->first, NodeKind::kItem, found->second, nullptr);
  }
  // A folder made while the server was away, not on the platform yet: what is in it is pending
  // (its listing in memory says so too, but that one may have been evicted since).
  if (is_spool_id(dir.item->id)) return Status(ENOENT, "no such file");
  uint64_t asked = inodes_.mark();
  DLFS_ASSIGN(FetchedItem found, source_.item(path));
  if (found.item.is_link()) link_size(found.item, true);
  Ino ino = inodes_.add_lookup(NodeKind::kItem, found.item, found.fetched_ms, asked);
  auto now = current_item(ino, found.item);
  return make_entry(ino, NodeKind::kItem, now ? *now : found.item, nullptr);
}

Result<Entry> Filesystem::lookup_thumbnail(const Node& parent, std::string_view name) {
  if (name.empty() || name == "." || name == "..") return Status(ENOENT, "no such file");
  std::string path = join_path(parent.item->filename, name);
  uint64_t asked = inodes_.mark();
  DLFS_ASSIGN(FetchedItem found, source_.item(path));
  if (found.item.is_dir()) {
    Ino ino = inodes_.add_lookup(NodeKind::kThumbDir, found.item, found.fetched_ms, asked);
    return make_entry(ino, NodeKind::kThumbDir, found.item, nullptr);
  }
  auto jpeg = source_.thumbnail(found.item);
  if (!jpeg) return jpeg.err() == ENOENT ? Status(ENOENT, "no thumbnail for " + path) : jpeg.status();
  auto bytes = std::make_shared<const std::string>(std::move(jpeg).value());
  Ino ino = inodes_.add_lookup(NodeKind::kThumbFile, found.item, found.fetched_ms, asked, 1, bytes);
  return make_entry(ino, NodeKind::kThumbFile, found.item, bytes.get());
}

void Filesystem::forget(Ino ino, uint64_t nlookup) {
  inodes_.forget(ino, nlookup);
  if (!options_.no_open || inodes_.lookup_count(ino) > 0) return;
  // The kernel let the node go: no descriptor of it is left (an unlinked file's last close
  // comes so), nor a mapping that could write it back.
  drop_read_pin(ino);
  Status s = close_implicit_writer(ino, WriterClose::kGone);
  if (!s) spdlog::error("closing the writer of a node the kernel let go: {}", s.to_string());
}

Result<Entry> Filesystem::getattr(Ino ino) {
  ++counters_.getattrs;
  DLFS_ASSIGN(Node n, node(ino));
  // Only a mount that writes has pending files (and uploads that refresh nodes).
  if (options_.spool && n.kind == NodeKind::kItem) {
    if (auto p = pending_of(ino)) {
      std::lock_guard lock(write_mu_);
      Entry e = make_entry(ino, n.kind, shown_item(*p), nullptr);
      if (p->removed) e.attr.st_nlink = 0;  // unlinked, still open
      return e;
    }
    DLFS_ASSIGN(n, node(ino));  // an upload that just ended refreshed it before leaving the spool
  }
  if (n.unlinked || (is_spool_id(n.item->id) && n.kind == NodeKind::kItem)) {
    // Still open after an unlink: the kernel asks for its fstat. (A new file removed before its
    // upload shows what was kept for its descriptors: no_open.)
    std::optional<ReadPin> kept;
    {
      std::lock_guard lock(handles_mu_);
      if (auto it = read_pins_.find(ino); it != read_pins_.end() && it->second.kept) kept = it->second;
    }
    if (n.unlinked || kept) {
      Entry e = make_entry(ino, n.kind, kept ? *kept->item : *n.item, nullptr);
      struct stat st {};
      if (kept && ::fstat(kept->fd->fd, &st) == 0) e.attr.st_size = st.st_size;
      e.attr.st_nlink = 0;
      return e;
    }
  }
  if (n.kind == NodeKind::kItem && (is_spool_id(n.item->id) || !source_.is_fresh(n.fetched_ms))) {
    // A new file's node that is no longer pending was unlinked or discarded before it was ever
    // uploaded (an upload rebinds the node to the platform's item before it leaves the spool).
    if (is_spool_id(n.item->id)) return Status(ENOENT, n.item->filename + " no longer exists");
    uint64_t asked = inodes_.mark();
    auto fresh = source_.item(n.item->filename);
    if (!fresh && fresh.err() == ENOENT) {
      // Moved (a folder above it renamed)? The id tells where it is now.
      auto by_id = remote_.get_by_id(n.item->id);
      if (!by_id || by_id->hidden) return Status(ENOENT, n.item->filename + " no longer exists");
      inodes_.refresh(ino, *by_id, options_.clock->now_ms(), asked);
      n.item = current_item(ino, *by_id);
      if (!n.item) n.item = std::make_shared<const Item>(*by_id);
    } else if (fresh && fresh->item.id == n.item->id) {
      Invalidator* inv = invalidator_.load();
      if (inodes_.refresh(ino, fresh->item, fresh->fetched_ms, asked) && inv) inv->inode_changed(ino);
      n.item = current_item(ino, fresh->item);
      if (!n.item) n.item = std::make_shared<const Item>(fresh->item);
    } else if (ino != kRootIno && (fresh || fresh.err() == ENOENT)) {
      // Deleted, or replaced by another item at the same path: this inode is gone.
      return Status(ENOENT, n.item->filename + " no longer exists");
    }
  }
  if (options_.no_open && n.kind == NodeKind::kItem && n.item->is_link()) {
    bool changed = false;  // (a changed target's new size is answered below; its pages dropped)
    DLFS_TRY(revalidate_link(ino, *n.item, changed));
  }
  return make_entry(ino, n.kind, *n.item, n.thumbnail.get());
}

void Filesystem::apply_listing(Ino dir_ino, const Listing& listing, uint64_t asked) {
  if (!listing.refetched) return;
  Invalidator* inv = invalidator_.load();
  const PackedItems& items = *listing.items;
  for (size_t i = 0; i < items.size(); ++i) {
    auto ino = inodes_.find(NodeKind::kItem, items.id(i));
    if (!ino) continue;  // (unpacked only for the nodes the kernel knows)
    auto item = items.item(i);
    if (item && inodes_.refresh(*ino, *item, listing.fetched_ms, asked) && inv) inv->inode_changed(*ino);
  }
  if (inv)
    for (const Item& gone : listing.removed) inv->entry_gone(dir_ino, gone.name);
}

Result<uint64_t> Filesystem::opendir(Ino ino) {
  DLFS_ASSIGN(Node n, node(ino));
  DirHandle handle{ino, n.kind, nullptr, n.fetched_ms, inodes_.mark()};
  if (n.kind == NodeKind::kThumbDir) {
    // Thumbnails are answered by lookup only; listing them would fetch one per item.
    handle.items = std::make_shared<const PackedItems>();
  } else if (n.kind == NodeKind::kItem && n.item->is_dir()) {
    int64_t fetched_ms = 0;
    DLFS_ASSIGN(handle.items, merged_listing(*n.item, &fetched_ms, ino, handle.asked));
    prefetch_listed(*n.item, *handle.items);
    handle.fetched_ms = fetched_ms;
    accessed(*n.item);  // a listing reads the folder
  } else {
    return Status(ENOTDIR, "not a folder");
  }
  std::lock_guard lock(handles_mu_);
  uint64_t fh = next_fh_++;
  dirs_.emplace(fh, std::move(handle));
  return fh;
}

Status Filesystem::readdir(Ino ino, uint64_t fh, off_t offset, bool plus,
                           const std::function<bool(const DirEntry&)>& add) {
  ++counters_.readdirs;
  DirHandle handle;
  {
    std::lock_guard lock(handles_mu_);
    auto it = dirs_.find(fh);
    if (it == dirs_.end() || it->second.ino != ino) return Status(EBADF, "bad folder handle");
    handle = it->second;
  }
  const auto& items = *handle.items;
  for (off_t off = std::max<off_t>(offset, 0); off < off_t(items.size()) + 2; ++off) {
    if (off < 2) {
      DirEntry dot{off == 0 ? "." : "..", {}, off + 1};
      dot.entry.attr.st_mode = S_IFDIR | 0755;
      dot.entry.attr.st_ino = off == 0 ? ino : kRootIno;
      if (!add(dot)) break;
      continue;
    }
    size_t at = size_t(off - 2);
    DirEntry de{items.name(at), {}, off + 1};
    if (plus && is_spool_id(items.id(at))) {
      // A new file when the listing was taken: it may have been uploaded since, its node rebound
      // to the platform's id (and forgotten): looked up afresh, so that no node is made under
      // the spool id again. Gone since (unlinked): left out.
      auto looked = lookup(ino, std::string(de.name));
      if (!looked) continue;
      de.entry = *looked;
      if (!add(de)) {
        inodes_.forget(looked->ino, 1);
        break;
      }
      continue;
    }
    DLFS_ASSIGN(Item unpacked, items.item(at));
    if (plus) {
      // Shared with the node, not copied into it.
      auto shared = std::make_shared<const Item>(std::move(unpacked));
      const Item& item = *shared;
      Ino child = inodes_.add_lookup(NodeKind::kItem, shared, handle.fetched_ms, handle.asked, 1, nullptr,
                                     items.shared_packed(at));
      // (what the mount knows now, should it be newer than the listing: see InodeTable)
      auto now = current_item(child, item);
      de.entry = make_entry(child, NodeKind::kItem, now ? *now : item, nullptr);
      if (!add(de)) {
        inodes_.forget(child, 1);  // the kernel never saw it
        break;
      }
    } else {
      Ino child = inodes_.peek_ino(NodeKind::kItem, unpacked.id);
      de.entry.ino = child;
      de.entry.attr = make_attr(child, NodeKind::kItem, unpacked, nullptr);
      if (!add(de)) break;
    }
  }
  return {};
}

void Filesystem::releasedir(uint64_t fh) {
  std::lock_guard lock(handles_mu_);
  dirs_.erase(fh);
}

Result<OpenResult> Filesystem::open(Ino ino, int flags) {
  ++counters_.opens;
  DLFS_ASSIGN(Node n, node(ino));
  if (n.kind == NodeKind::kThumbDir || (n.kind == NodeKind::kItem && n.item->is_dir()))
    return Status(EISDIR, "is a folder");
  bool writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
  if (n.kind == NodeKind::kItem && options_.spool) {
    for (int attempt = 0;; ++attempt) {
      auto p = pending_of(ino);
      bool truncated = false;
      if (writing && !p) {
        if (options_.read_only) return Status(EROFS, "the mount is read-only");
        throttle_new_pending();
        DLFS_ASSIGN(p, materialize(ino, flags & O_TRUNC));
        truncated = true;
      }
      if (!p) break;
      Item shown;
      {
        std::lock_guard lock(write_mu_);
        shown = shown_item(*p);
      }
      auto fh = add_file_handle(p, shown, writing);
      {
        // A private copy leaves the journal and the spool's names once a handle holds its file
        // (or at once, none could).
        std::lock_guard lock(write_mu_);
        if (p->private_copy && !p->removed) remove_pending_locked(p);
        if (!fh && p->private_copy) release_pending_locked(p);
      }
      if (!fh) {
        // Uploaded and dropped from the spool just now: the platform has it (the node was
        // refreshed with it first). A reader reads that; a writer makes a pending file again.
        if (fh.err() != ENOENT || attempt >= 2) return fh.status();
        DLFS_ASSIGN(n, node(ino));
        if (!writing) break;
        continue;
      }
      if ((flags & O_TRUNC) && writing && !truncated) {
        Status cut = truncate_open_file(p, *fh);
        if (!cut) {
          release(*fh);
          return cut;
        }
      }
      OpenResult r;
      r.fh = *fh;
      r.noflush = !writing;
      return r;
    }
    if (is_spool_id(n.item->id)) {  // a new file's node: now the uploaded item
      DLFS_TRY(getattr(ino));
      DLFS_ASSIGN(n, node(ino));
    }
  }
  if (writing) return Status(EROFS, options_.read_only ? "the mount is read-only" : "this mount cannot write");
  bool link_changed = false;
  if (n.kind == NodeKind::kItem && n.item->is_link()) DLFS_TRY(revalidate_link(ino, *n.item, link_changed));
  if (n.kind == NodeKind::kItem) {
    accessed(*n.item);
    prefetch_opened(*n.item);
  }
  OpenResult r;
  r.noflush = true;  // (read only: see above)
  r.keep_cache = inodes_.note_open(ino) && !link_changed;
  // A link whose target changed: the kernel hears of it from the invalidation thread, maybe after
  // this open's first read, with the old size still cached; this open reads past it directly.
  r.direct_io = n.kind == NodeKind::kItem && n.item->is_link() && (link_changed || !link_size(*n.item, true));
  std::lock_guard lock(handles_mu_);
  r.fh = next_fh_++;
  files_.emplace(r.fh, FileHandle{n.item, n.thumbnail, nullptr, nullptr, false});
  return r;
}

Status Filesystem::timed_out_just_now(const Item& item) {
  std::lock_guard lock(timeouts_mu_);
  auto it = read_timeouts_.find(item.id);
  if (it == read_timeouts_.end() || options_.clock->now_ms() - it->second >= kTimeoutMemoryMs) return {};
  return Status(ETIMEDOUT, "the server did not answer in time", "reading " + item.filename + " (a moment ago)");
}

void Filesystem::note_timeout(const Item& item) {
  int64_t now = options_.clock->now_ms();
  std::lock_guard lock(timeouts_mu_);
  std::erase_if(read_timeouts_, [&](const auto& e) { return now - e.second >= kTimeoutMemoryMs; });
  read_timeouts_[item.id] = now;
}

void Filesystem::version_gone(const Item& item) {
  // The platform holds another version of the item's bytes than the one being read (replaced
  // meanwhile): the item as it is now is learned, so that the next open reads that version.
  auto now = remote_.get(item.filename);
  if (now && now->id == item.id && now->etag() != item.etag()) learned(*now);
}

Result<size_t> Filesystem::read_item(const Item& item, uint64_t offset, std::span<char> out) {
  size_t filled = 0;
  bool link = item.is_link();
  if (!link) {  // the size is exact: never ask past the end (the kernel's readahead does)
    uint64_t size = item.size();
    if (offset >= size) return size_t(0);
    out = out.first(std::min<uint64_t>(out.size(), size - offset));
  } else if (!links_) {
    return Status(ENOTSUP, "links are not supported by this mount");
  }
  DLFS_TRY(timed_out_just_now(item));
  while (filled < out.size()) {
    Result<size_t> n = link ? (++counters_.link_reads, links_->read(item.link_url(), offset + filled, out.subspan(filled)))
                            : (++counters_.remote_reads, remote_.read(item, offset + filled, out.subspan(filled)));
    if (link && (!n || filled == 0)) note_link_result(item, n.status());
    if (!n) {
      if (n.err() == ETIMEDOUT) note_timeout(item);
      if (n.err() == ESTALE && !link) version_gone(item);
      return n.status().wrap("reading " + item.filename);
    }
    if (*n == 0) break;
    filled += *n;
  }
  return filled;
}

Status Filesystem::reopen_if_unfrozen(uint64_t fh, FileHandle& handle) {
  uint64_t epoch;
  {
    std::lock_guard lock(write_mu_);
    epoch = handle.pending->file_epoch;
  }
  if (epoch == handle.epoch) return {};
  // The spool file has a new inode (unfreeze): what a writer wrote since is only there.
  auto fd = std::make_shared<SpoolFd>();
  std::string file = options_.spool->file_path(handle.pending->spool_id);
  fd->fd = ::open(file.c_str(), (handle.writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd->fd < 0) return Status(errno, "cannot open spool file " + file);
  handle.fd = fd;
  handle.epoch = epoch;
  std::lock_guard lock(handles_mu_);
  if (auto it = files_.find(fh); it != files_.end() && it->second.epoch < epoch) {
    it->second.fd = std::move(fd);
    it->second.epoch = epoch;
  }
  return {};
}

Result<std::shared_ptr<Filesystem::SpoolFd>> Filesystem::open_local(const std::shared_ptr<const Item>& item, bool fetch) {
  if (!item || item->is_dir() || item->is_link()) return std::shared_ptr<SpoolFd>();
  auto out = std::make_shared<SpoolFd>();
  if (!no_local_files_.load(std::memory_order_relaxed)) {
    Result<int> fd = remote_.open_local(*item);
    if (fd) {
      out->fd = *fd;
      return out;
    }
    if (fd.err() != ENOTSUP) return std::shared_ptr<SpoolFd>();  // (read() asks the remote, and answers its error if any)
    no_local_files_ = true;
  }
  DataCache* cache = options_.data_cache;
  if (!cache || !cache->keeps(item->size())) return std::shared_ptr<SpoolFd>();
  if (!fetch) {
    out->fd = cache->lookup(*item);
    return out->fd >= 0 ? out : std::shared_ptr<SpoolFd>();
  }
  // A server that just timed out is not waited for again (the kernel retries a failed read at
  // once), and a fetch that fails on the server is answered as a read's failure would be: not
  // followed by a direct read that would wait as long again.
  DLFS_TRY(timed_out_just_now(*item));
  Result<int> fd = cache->get(*item, [&](uint64_t offset, std::span<char> into) {
    ++counters_.remote_reads;
    return remote_.read(*item, offset, into);
  });
  if (!fd) {
    ++counters_.data_cache_errors;
    spdlog::debug("data cache: {}: {}", item->filename, fd.status().to_string());
    if (fd.err() == ETIMEDOUT) note_timeout(*item);
    if (is_transient_remote_error(fd.err()) && fd.err() != ESTALE) return fd.status().wrap("reading " + item->filename);
    return std::shared_ptr<SpoolFd>();  // (too large, no room, changed meanwhile: read the remote directly)
  }
  out->fd = *fd;
  return out;
}

namespace {

// The same bytes: the item's id, version and size.
bool same_version(const Item& a, const Item& b) { return a.id == b.id && a.etag() == b.etag() && a.size() == b.size(); }

}  // namespace

Result<Filesystem::FileHandle> Filesystem::read_handle(Ino ino, uint64_t fh, uint64_t offset) {
  note_busy();
  FileHandle handle;
  if (fh == 0 && offset == 0) DLFS_TRY(opened_by_read(ino));  // (the open the kernel did not send)
  if (fh != 0) {
    std::lock_guard lock(handles_mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) return Status(EBADF, "bad file handle");
    handle = it->second;
  } else if (auto writer = implicit_handle(ino)) {
    return *writer;  // (a writable handle: never frozen, its descriptor is the file's)
  } else {
    // The node's pending file first, its node after: a landing rebinds the node to the
    // platform's item before it lets the pending file and its spool file go, so a node read
    // after the pending file was found gone is never the new file's synthetic one ("spool-N").
    std::shared_ptr<PendingFile> p = options_.spool ? pending_of(ino) : nullptr;
    DLFS_ASSIGN(Node n, node(ino));
    if (n.kind == NodeKind::kThumbDir || n.item->is_dir()) return Status(EISDIR, "is a folder");
    if (p && n.kind == NodeKind::kItem) {
      auto fd = std::make_shared<SpoolFd>();
      fd->fd = ::open(options_.spool->file_path(p->spool_id).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd->fd >= 0) return FileHandle{n.item, nullptr, nullptr, fd, false};
      DLFS_ASSIGN(n, node(ino));  // (landed and let go meanwhile: the platform's item now)
    }
    handle = FileHandle{n.item, n.thumbnail, nullptr, nullptr, false};
    if (n.kind == NodeKind::kItem) {
      std::lock_guard lock(handles_mu_);
      if (auto it = read_pins_.find(ino); it != read_pins_.end()) {
        const ReadPin& pin = it->second;
        bool same = pin.item == handle.item || same_version(*pin.item, *handle.item) ||
                    (pin.kept && pin.item->id == handle.item->id);
        if (same || offset > 0) {  // (a read on from where it was: the version it began with)
          handle.item = pin.item;
          if (pin.fd) {
            handle.fd = pin.fd;
            return handle;
          }
        } else {
          read_pins_.erase(it);  // a read from the start (an open) of another version
        }
      }
    }
  }
  if (handle.fd && handle.pending && fh != 0) DLFS_TRY(reopen_if_unfrozen(fh, handle));
  if (handle.fd || handle.thumbnail || handle.pending || !handle.item || handle.remote_reads) return handle;
  // A platform item: its stored binary's descriptor, opened once per handle (before, every read
  // of 128 KiB looked the blob up in the catalogue and opened and closed it).
  DLFS_ASSIGN(std::shared_ptr<SpoolFd> fd, open_local(handle.item));
  std::lock_guard lock(handles_mu_);
  if (fh == 0) {
    // (pinned without a descriptor too: later reads ask the remote for this version)
    auto it = read_pins_.find(ino);
    if (it == read_pins_.end() || it->second.item == handle.item) pin_locked(ino, ReadPin{handle.item, fd, false});
    if (fd) handle.fd = fd;
    return handle;
  }
  if (!fd) {  // (not asked again for this handle)
    if (auto it = files_.find(fh); it != files_.end()) it->second.remote_reads = true;
    return handle;
  }
  handle.fd = fd;
  if (auto it = files_.find(fh); it != files_.end() && !it->second.fd) it->second.fd = fd;
  return handle;
}

std::shared_ptr<ReadAhead> Filesystem::read_ahead_of(Ino ino, uint64_t fh, const FileHandle& handle) {
  // Smaller items are one request (or the data cache's whole fetch) anyway.
  constexpr uint64_t kReadAheadFrom = 8 << 20;
  const Item* item = handle.item.get();
  if (handle.pending || !item || item->is_link() || item->size() < kReadAheadFrom) return nullptr;
  if (handle.read_ahead) return handle.read_ahead;
  std::call_once(read_ahead_made_, [&] {
    // 4 fetches at once; at most 32 parts of 4 MiB (128 MiB) for every reader together.
    read_ahead_pool_ = std::make_unique<ReadAheadPool>(4, 32);
  });
  auto make = [&] {
    std::shared_ptr<const Item> held = handle.item;
    return std::make_shared<ReadAhead>(
        item->size(),
        [this, held](uint64_t offset, std::span<char> out) -> Result<size_t> {
          ++counters_.remote_reads;
          return remote_.read(*held, offset, out);
        },
        *read_ahead_pool_);
  };
  std::lock_guard lock(handles_mu_);
  if (fh == 0) {
    // -o ro (no opens: no handle to keep it in): by inode, a few at a time. One not read for a
    // while goes (its parts back to the pool), so that readers that stopped halfway do not
    // hold the budget.
    constexpr size_t kMaxReaders = 8;
    constexpr int64_t kIdleMs = 5000;
    int64_t now = options_.clock->now_ms();
    std::erase_if(ro_read_aheads_, [&](const auto& e) { return e.first != ino && now - e.second.used_ms > kIdleMs; });
    if (ro_read_aheads_.size() >= kMaxReaders && !ro_read_aheads_.count(ino)) {
      auto oldest = std::min_element(ro_read_aheads_.begin(), ro_read_aheads_.end(),
                                     [](const auto& a, const auto& b) { return a.second.used_ms < b.second.used_ms; });
      ro_read_aheads_.erase(oldest);
    }
    RoReadAhead& e = ro_read_aheads_[ino];
    if (!e.ahead || e.item != handle.item) e = RoReadAhead{handle.item, make(), now};  // (a changed item: anew)
    e.used_ms = now;
    return e.ahead;
  }
  auto it = files_.find(fh);
  if (it == files_.end()) return nullptr;
  if (!it->second.read_ahead) it->second.read_ahead = make();
  return it->second.read_ahead;
}

Result<size_t> Filesystem::read(Ino ino, uint64_t fh, uint64_t offset, std::span<char> out) {
  ++counters_.reads;
  DLFS_ASSIGN(FileHandle handle, read_handle(ino, fh, offset));
  return read_through(ino, handle, fh, offset, out);
}

Result<size_t> Filesystem::read_through(Ino ino, const FileHandle& handle, uint64_t fh, uint64_t offset,
                                        std::span<char> out) {
  if (handle.fd) {
    ssize_t n = ::pread(handle.fd->fd, out.data(), out.size(), off_t(offset));
    if (n < 0) return Status(errno, handle.pending ? "reading the spool file" : "reading the stored binary");
    counters_.bytes_read += uint64_t(n);
    return size_t(n);
  }
  if (handle.thumbnail) {
    const std::string& bytes = *handle.thumbnail;
    if (offset >= bytes.size()) return size_t(0);
    size_t n = std::min<size_t>(out.size(), bytes.size() - offset);
    std::memcpy(out.data(), bytes.data() + offset, n);
    counters_.bytes_read += n;
    return n;
  }
  if (auto ahead = read_ahead_of(ino, fh, handle)) {
    if (std::optional<size_t> n = ahead->read(offset, out)) {
      counters_.bytes_read += *n;
      return *n;
    }
  }
  DLFS_ASSIGN(size_t n, read_item(*handle.item, offset, out));
  counters_.bytes_read += n;
  return n;
}

Result<Filesystem::LocalRead> Filesystem::read_local(Ino ino, uint64_t fh, uint64_t offset, std::span<char> buf) {
  ++counters_.reads;
  DLFS_ASSIGN(FileHandle handle, read_handle(ino, fh, offset));
  LocalRead out;
  if (!handle.fd) {  // (elsewhere: read into buf, through the handle just looked up)
    DLFS_ASSIGN(out.size, read_through(ino, handle, fh, offset, buf));
    return out;
  }
  size_t size = buf.size();
  struct stat st;
  if (::fstat(handle.fd->fd, &st) != 0) return Status(errno, "cannot stat the file read");
  uint64_t end = uint64_t(st.st_size);
  out.fd = std::move(handle.fd);
  out.offset = offset;
  out.size = offset >= end ? 0 : size_t(std::min<uint64_t>(size, end - offset));
  counters_.bytes_read += out.size;
  return out;
}

std::optional<QuotaInfo> Filesystem::quota_now() {
  // Creates ask this: a remote call at most every 2 s while a quota is set, every 30 s while
  // none is (a quota set meanwhile is still enforced by the platform: a refused upload is kept
  // and retried, and makes the mount ask again at once).
  int64_t now = options_.clock->now_ms();
  {
    std::lock_guard lock(quota_mu_);
    int64_t ttl = quota_ && quota_->room() ? 2000 : 30000;
    if (quota_at_ms_ && now - quota_at_ms_ < ttl) return quota_;
    if (remote_.server_away()) return quota_;  // not waited on: what was known (the platform enforces it)
  }
  auto q = remote_.quota();
  std::lock_guard lock(quota_mu_);
  quota_at_ms_ = now;
  if (q) quota_ = *q;  // else (the server away): what was known
  return quota_;
}

void Filesystem::quota_stale() {
  std::lock_guard lock(quota_mu_);
  quota_at_ms_ = 0;
}

void Filesystem::quota_counted(int64_t delta) {
  std::lock_guard lock(quota_mu_);
  if (!quota_) return;
  auto add = [delta](uint64_t& n) { n = delta < 0 && uint64_t(-delta) > n ? 0 : n + uint64_t(delta); };
  add(quota_->dataset_items);
  add(quota_->store_items);
}

std::optional<uint64_t> Filesystem::room_left(bool exact) {
  auto q = quota_now();
  auto room = q ? q->room() : std::nullopt;
  if (!room) return std::nullopt;
  std::lock_guard lock(write_mu_);
  // A lower bound without counting: enough for a create to know there is room.
  if (!exact && *room > pending_.size()) return *room - pending_.size();
  uint64_t waiting = 0;  // new files not on the platform yet take room when they land
  for (auto& [path, p] : pending_) waiting += !p->dir && p->base_id.empty();
  return *room > waiting ? *room - waiting : 0;
}

Result<struct statvfs> Filesystem::statfs() {
  struct statvfs st {};
  st.f_bsize = 4096;
  st.f_frsize = 4096;
  st.f_files = remote_.dataset().items_count;
  st.f_namemax = kMaxNameBytes;
  if (!options_.read_only) {
    // Free inodes are the room a quota of items leaves (`df -i`); no quota: plenty, so that
    // copies are attempted.
    st.f_blocks = st.f_bfree = st.f_bavail = 1ull << 32;
    auto q = quota_now();
    if (q) st.f_files = q->dataset_items;
    auto room = room_left(true);
    st.f_ffree = st.f_favail = room.value_or(1ull << 32);
    st.f_files += st.f_ffree;
  }
  return st;
}

Result<std::string> Filesystem::getxattr(Ino ino, std::string_view name) {
  // Answered before anything else: `ls -l` asks this for every entry.
  if (is_unsupported_xattr(name)) return Status(ENOTSUP, "unsupported xattr namespace");
  ++counters_.xattr_gets;
  DLFS_ASSIGN(Node n, node(ino));
  if (n.kind != NodeKind::kItem) return Status(ENODATA, "no attribute");
  if (ino == kRootIno && name == "user.dl.uploads") return upload_status().dump();
  if (ino == kRootIno && name == "user.dl.metrics") {
    if (!options_.metrics_json) return Status(ENODATA, "no metrics");
    return options_.metrics_json();
  }
  Item item = *n.item;
  if (n.item->is_file() && options_.spool) {
    if (auto p = pending_of(ino)) {
      std::lock_guard lock(write_mu_);
      if (name == "user.dl.upload_state") {
        if (p->state == UploadState::kFailed) return "failed: " + p->error;
        return std::string(p->state == UploadState::kWriting ? "pending" : to_string(p->state));
      }
      item = shown_item(*p);
    }
  }
  if (name == kLinkErrorXattr) {
    auto why = item.is_link() ? link_error(item.link_url()) : std::nullopt;
    if (!why) return Status(ENODATA, "no attribute " + std::string(name));
    return std::move(*why);
  }
  return xattr_value(item, name, [&] { return source_.thumbnail(item); }, options_.root);
}

Result<std::string> Filesystem::listxattr(Ino ino) {
  DLFS_ASSIGN(Node n, node(ino));
  std::string out;
  if (n.kind != NodeKind::kItem) return out;
  Item item = *n.item;
  auto p = options_.spool ? pending_of(ino) : nullptr;
  if (p) {
    std::lock_guard lock(write_mu_);
    item = shown_item(*p);
  }
  std::vector<std::string> names = xattr_names(item, options_.root);
  if (item.is_link() && link_error(item.link_url())) names.emplace_back(kLinkErrorXattr);
  for (auto& name : names) {
    out += name;
    out.push_back('\0');
  }
  return out;
}

json Filesystem::data_cache_json() const {
  const DataCache* cache = options_.data_cache;
  if (!cache) return nullptr;
  const auto& c = cache->counters();
  auto [files, bytes] = cache->usage();
  return json{{"hits", c.hits.load()},     {"misses", c.misses.load()},       {"fills", c.fills.load()},
              {"fill_bytes", c.fill_bytes.load()}, {"evictions", c.evictions.load()},
              {"evicted_bytes", c.evicted_bytes.load()}, {"errors", counters_.data_cache_errors.load()},
              {"prefetches", c.prefetches.load()}, {"files", files}, {"bytes", bytes}};
}

json Filesystem::stats_json() const {
  const auto& c = counters_;
  const auto& s = source_.counters();
  return json{
      {"remote", {{"list_pages", s.remote_list_pages.load()}, {"get", s.remote_gets.load()},
                  {"thumbnail", s.remote_thumbnails.load()}, {"read", c.remote_reads.load()},
                  {"link_read", c.link_reads.load()}, {"link_head", c.link_heads.load()}}},
      {"listings", {{"memory_hits", s.listing_memory_hits.load()}, {"cache_hits", s.listing_cache_hits.load()},
                    {"fetches", s.listing_fetches.load()}, {"stale_served", s.stale_served.load()}}},
      {"items", {{"cache_hits", s.item_cache_hits.load()}, {"negative_hits", s.negative_hits.load()}}},
      {"ops", {{"lookup", c.lookups.load()}, {"getattr", c.getattrs.load()}, {"readdir", c.readdirs.load()},
               {"open", c.opens.load()}, {"read", c.reads.load()}, {"bytes_read", c.bytes_read.load()},
               {"getxattr", c.xattr_gets.load()}, {"flush", c.flushes.load()}}},
      {"data_cache", data_cache_json()},
      {"inodes", inodes_.size()},
  };
}

}  // namespace dlfs
