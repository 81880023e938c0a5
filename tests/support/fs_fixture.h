// A filesystem core over a FakeRemote, a real MetadataCache in a temp dir and a FakeClock, for
// the fs_* unit tests.
#pragma once

#include <memory>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "cache/data_cache.h"
#include "cache/metadata_cache.h"
#include "fs/filesystem.h"
#include "remote/fake_remote.h"
#include "net/link_fetcher.h"
#include "temp_dir.h"

namespace dlfs::test {

// Serves link targets from memory (or fails as told); counts calls.
class FakeLinkFetcher : public LinkFetcher {
 public:
  std::map<std::string, std::string, std::less<>> targets;
  std::map<std::string, Status, std::less<>> failures;  // answered instead, while set
  std::set<std::string, std::less<>> sizeless;           // servers that tell no size (ENOTSUP)
  int heads = 0, reads = 0, fetches = 0;
  Result<uint64_t> size(std::string_view url) override;
  Result<size_t> read(std::string_view url, uint64_t offset, std::span<char> out) override;
  // In 64 KiB pieces, as a network delivers it.
  Result<uint64_t> fetch_all(std::string_view url, const Sink& sink) override;
};

// Records what the core asked the kernel to forget (upload workers tell it from several threads).
class RecordingInvalidator : public Invalidator {
 public:
  std::vector<Ino> inodes() const {
    std::lock_guard lock(mu_);
    return inodes_;
  }
  std::vector<std::pair<Ino, std::string>> entries() const {
    std::lock_guard lock(mu_);
    return entries_;
  }
  void inode_changed(Ino ino) override {
    std::lock_guard lock(mu_);
    inodes_.push_back(ino);
  }
  void entry_gone(Ino parent, const std::string& name) override {
    std::lock_guard lock(mu_);
    entries_.emplace_back(parent, name);
  }

 private:
  mutable std::mutex mu_;
  std::vector<Ino> inodes_;
  std::vector<std::pair<Ino, std::string>> entries_;
};

// A data cache of 64 MiB under `dir` (space "fake", no free-space floor) for a core's options.
std::unique_ptr<DataCache> test_data_cache(const std::string& dir);

struct FsFixture {
  TempDir dir{"dlfs-fs"};
  FakeClock clock;
  FakeRemote remote;
  FakeLinkFetcher links;
  RecordingInvalidator invalidator;
  std::unique_ptr<MetadataCache> cache;
  std::unique_ptr<Filesystem> fs;
  FsOptions options;
  Remote* backend = nullptr;  // when set, the core talks to it (e.g. a wrapper of `remote`)

  FsFixture();
  // (Re)creates the core, like a (re)mount: a fresh core over the same cache dir.
  void mount();
  void unmount();  // drops the core and closes the cache
  // Looks a path up from the root, one name at a time; answers the last entry.
  Result<Entry> walk(const std::string& path);
  // All names of a folder through opendir/readdir(plus)/releasedir.
  Result<std::vector<std::string>> list(Ino ino, bool plus = true);
  // Reads a whole file through open/read/release.
  Result<std::string> cat(Ino ino, size_t chunk = 4096);
  // The bytes the FakeRemote holds at `path` ("<missing>", "<error>").
  std::string remote_bytes(const std::string& path);
};

}  // namespace dlfs::test
