#include "fs_fixture.h"

#include <fcntl.h>

#include <algorithm>
#include <cstring>

namespace dlfs::test {

Result<uint64_t> FakeLinkFetcher::size(std::string_view url) {
  ++heads;
  if (auto f = failures.find(url); f != failures.end()) return f->second;
  if (sizeless.count(url)) return Status(ENOTSUP, "no size told");
  auto it = targets.find(url);
  if (it == targets.end()) return Status(ENOENT, "no target");
  return uint64_t(it->second.size());
}

Result<size_t> FakeLinkFetcher::read(std::string_view url, uint64_t offset, std::span<char> out) {
  ++reads;
  if (auto f = failures.find(url); f != failures.end()) return f->second;
  auto it = targets.find(url);
  if (it == targets.end()) return Status(ENOENT, "no target");
  if (offset >= it->second.size()) return size_t(0);
  size_t n = std::min<size_t>(out.size(), it->second.size() - offset);
  std::memcpy(out.data(), it->second.data() + offset, n);
  return n;
}

Result<uint64_t> FakeLinkFetcher::fetch_all(std::string_view url, const Sink& sink) {
  ++fetches;
  if (auto f = failures.find(url); f != failures.end()) return f->second;
  auto it = targets.find(url);
  if (it == targets.end()) return Status(ENOENT, "no target");
  std::string_view body = it->second;
  for (size_t at = 0; at < body.size(); at += 64 * 1024) DLFS_TRY(sink(body.substr(at, 64 * 1024)));
  return uint64_t(body.size());
}

std::unique_ptr<DataCache> test_data_cache(const std::string& dir) {
  DataCacheOptions o;
  o.dir = dir;
  o.space = "fake";
  o.max_bytes = 64 << 20;
  o.min_free = 0;
  auto opened = DataCache::open(o);
  if (!opened) throw std::runtime_error("data cache: " + opened.status().to_string());
  return std::move(opened).value();
}

FsFixture::FsFixture() {
  options.uid = 1234;
  options.gid = 5678;
  options.clock = &clock;
}

void FsFixture::mount() {
  fs.reset();
  if (!cache) {
    auto opened = MetadataCache::open({dir.sub("cache"), cache_key("fake", remote.dataset().id), 1ull << 30, &clock});
    if (!opened) throw std::runtime_error("cache: " + opened.status().to_string());
    cache = std::move(opened).value();
  }
  auto made = Filesystem::create(backend ? *backend : remote, cache.get(), &links, options);
  if (!made) throw std::runtime_error("mount: " + made.status().to_string());
  fs = std::move(made).value();
  fs->set_invalidator(&invalidator);
}

void FsFixture::unmount() {
  fs.reset();
  cache.reset();
}

Result<Entry> FsFixture::walk(const std::string& path) {
  Entry e;
  e.ino = kRootIno;
  size_t start = 1;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    DLFS_ASSIGN(e, fs->lookup(e.ino, path.substr(start, end - start)));
    start = end + 1;
  }
  return e;
}

Result<std::vector<std::string>> FsFixture::list(Ino ino, bool plus) {
  DLFS_ASSIGN(uint64_t fh, fs->opendir(ino));
  std::vector<std::string> names;
  off_t offset = 0;
  for (;;) {
    size_t before = names.size();
    // Small batches, like a kernel buffer that fills up, to exercise offsets.
    int room = 7;
    Status s = fs->readdir(ino, fh, offset, plus, [&](const DirEntry& de) {
      if (room-- == 0) return false;
      names.emplace_back(de.name);
      offset = de.next_offset;
      return true;
    });
    if (!s) {
      fs->releasedir(fh);
      return s;
    }
    if (names.size() == before) break;
  }
  fs->releasedir(fh);
  return names;
}

Result<std::string> FsFixture::cat(Ino ino, size_t chunk) {
  DLFS_ASSIGN(OpenResult opened, fs->open(ino, O_RDONLY));
  std::string out;
  std::string buf(chunk, '\0');
  for (;;) {
    auto n = fs->read(ino, opened.fh, out.size(), std::span<char>(buf.data(), buf.size()));
    if (!n) {
      fs->release(opened.fh);
      return n.status();
    }
    if (*n == 0) break;
    out.append(buf.data(), *n);
  }
  fs->release(opened.fh);
  return out;
}

std::string FsFixture::remote_bytes(const std::string& path) {
  auto item = remote.item_at(path);
  if (!item) return "<missing>";
  std::string out(item->size(), '\0');
  auto n = remote.read(*item, 0, std::span<char>(out.data(), out.size()));
  if (!n) return "<error>";
  out.resize(*n);
  return out;
}

}  // namespace dlfs::test
