// A randomized reference-model test of the data cache: several threads read items whose bytes
// change (new versions), through caches that share one small folder (evictions all the time),
// while caches are reopened (remounts) and files are cut short (what a power cut leaves). The
// model is the remote: every descriptor answered must read exactly the bytes of the version
// asked for, the folder must stay near its bound, and no temp file may outlive the run.
// Seeded; on a failure it prints the seed and the shortest failing length it found (shrinking
// by halving). DLFS_MODEL_SEQUENCES=N DLFS_MODEL_FIRST_SEED=S for a long run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>

#include "cache/data_cache.h"
#include "core/file_io.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
namespace stdfs = std::filesystem;

namespace {

constexpr uint64_t kMaxBytes = 64 << 10;
constexpr int kItems = 12, kThreads = 4, kCaches = 2;

// The remote: per item, its versions' bytes; the current version can move on at any time.
struct Remote {
  std::mutex mu;
  std::map<int, int> version;  // item -> current version
  static std::string bytes_of(int item, int version) {
    // (Two versions in a row share a size: only the version in the key tells them apart.)
    size_t size = 1000 + size_t((item * 7919 + (version / 2) * 104729) % 9000);
    return random_bytes(size, uint32_t(item * 1000 + version));
  }
  Item item_of(int item, int v) {
    Item it;
    it.id = "item" + std::to_string(item);
    it.filename = "/" + it.id;
    it.updated_ms = 1000 + v;
    it.metadata["system"] = {{"size", bytes_of(item, v).size()}, {"etag", "v" + std::to_string(v)}};
    return it;
  }
};

std::string read_fd(int fd) {
  std::string out(1 << 16, '\0');
  auto n = pread_full(fd, 0, std::span<char>(out.data(), out.size()));
  ::close(fd);
  out.resize(n ? *n : 0);
  return out;
}

// What Remote::read_items hands a sink, as dlfsd's answer makes it: each item's current bytes (a
// newer version than asked, maybe) in pieces of random sizes, an item failing now and then, and
// at a random item the answer cut short — that item's first bytes, then either the items left
// failing at once (HttpRemote) or that item again from its first byte and the rest (a sink must
// take pieces again from an earlier offset).
void feed_batch(Remote& remote, std::span<const Item> asked, ItemBytesSink& sink, std::mt19937& rng) {
  size_t cut = rng() % (asked.size() + 1);
  auto send = [&](size_t k, std::string_view b) {
    for (size_t at = 0; at < b.size();) {
      size_t n = std::min<size_t>(b.size() - at, 1 + rng() % 4000);
      if (!sink.bytes(k, at, b.substr(at, n))) return;
      at += n;
    }
  };
  for (size_t k = 0; k < asked.size(); ++k) {
    if (rng() % 20 == 0) {
      sink.done(k, Status(EIO, "the remote failed"));
      continue;
    }
    int i = std::atoi(asked[k].id.c_str() + 4);  // "item<i>"
    std::string b;
    {
      std::lock_guard lock(remote.mu);
      b = Remote::bytes_of(i, remote.version[i]);
    }
    if (k == cut) {
      send(k, std::string_view(b).substr(0, rng() % b.size()));
      if (rng() % 2) {
        for (size_t j = k; j < asked.size(); ++j) sink.done(j, Status(EIO, "the answer was cut"));
        return;
      }
    }
    send(k, b);
    sink.done(k, {});
  }
}

// One run of `steps` operations per thread; answers "" or what went wrong.
std::string run(uint32_t seed, int steps) {
  TempDir dir("dlfs-datacache-model");
  FakeClock clock(1'000'000);
  Remote remote;
  for (int i = 0; i < kItems; ++i) remote.version[i] = 0;
  auto open_cache = [&](int k) {
    DataCacheOptions o;
    o.dir = dir.sub("data");
    o.space = "space" + std::to_string(k);
    o.max_bytes = kMaxBytes;
    o.max_file_bytes = 16 << 10;
    o.min_free = 0;
    o.clock = &clock;
    return std::shared_ptr<DataCache>(std::move(DataCache::open(o)).value());
  };
  std::mutex caches_mu;
  std::vector<std::shared_ptr<DataCache>> caches;
  // A power cut stops every process: reads hold this shared, the cut holds it alone.
  std::shared_mutex running;
  for (int k = 0; k < kCaches; ++k) caches.push_back(open_cache(k));
  std::mutex err_mu;
  std::string error;
  auto fail = [&](const std::string& what) {
    std::lock_guard lock(err_mu);
    if (error.empty()) error = what;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed * 31 + uint32_t(t));
      for (int step = 0; step < steps; ++step) {
        int op = int(rng() % 100);
        int i = int(rng() % kItems);
        clock.advance_ms(int64_t(rng() % 50));
        if (op < 70) {  // read (or prefetch) the current version through a cache
          std::shared_lock alive(running);
          int v;
          {
            std::lock_guard lock(remote.mu);
            v = remote.version[i];
          }
          std::shared_ptr<DataCache> cache;
          {
            std::lock_guard lock(caches_mu);
            cache = caches[rng() % caches.size()];
          }
          Item item = remote.item_of(i, v);
          auto read = [&](uint64_t offset, std::span<char> out) -> Result<size_t> {
            if (rng() % 20 == 0) return Status(EIO, "the remote failed");
            // What the remote answers now: a newer version may have replaced it meanwhile.
            int now;
            {
              std::lock_guard lock(remote.mu);
              now = remote.version[i];
            }
            std::string b = Remote::bytes_of(i, now);
            if (offset >= b.size()) return size_t(0);
            size_t n = std::min(out.size(), size_t(b.size() - offset));
            std::copy_n(b.data() + offset, n, out.data());
            return n;
          };
          if (op >= 65) {  // a batch of a folder's next files (one answer for all): checked at later reads
            std::vector<Item> batch{item};
            for (size_t more = rng() % 4; more > 0; --more) {
              int j = int(rng() % kItems);
              std::lock_guard lock(remote.mu);
              batch.push_back(remote.item_of(j, remote.version[j]));
            }
            (void)cache->prefetch_many(batch, [&](std::span<const Item> asked, ItemBytesSink& sink) {
              feed_batch(remote, asked, sink, rng);
            });
            continue;
          }
          if (op >= 60) {  // fetched ahead of any read (a folder's prefetch): checked at the next read
            (void)cache->prefetch(item, read);
            continue;
          }
          auto fd = cache->get(item, read);
          if (!fd) continue;  // (an error is answered: the caller reads the remote itself)
          std::string got = read_fd(*fd);
          std::string want = Remote::bytes_of(i, v);
          if (got != want) {
            // Only allowed: the first bytes of a newer version as long or longer (what a direct
            // read of this size would have answered too, the item having changed meanwhile).
            bool newer = false;
            std::lock_guard lock(remote.mu);
            for (int w = v + 1; w <= remote.version[i] && !newer; ++w) {
              std::string b = Remote::bytes_of(i, w);
              newer = b.size() >= want.size() && got == b.substr(0, want.size());
            }
            if (!newer)
              fail("item " + std::to_string(i) + " version " + std::to_string(v) + ": read " +
                   std::to_string(got.size()) + " bytes that are no version's of it");
          }
        } else if (op < 85) {  // the item changes on the remote
          std::lock_guard lock(remote.mu);
          ++remote.version[i];
        } else if (op < 93) {  // a remount: a new cache over the same folder
          std::lock_guard lock(caches_mu);
          int k = int(rng() % caches.size());
          caches[k] = open_cache(k);
        } else {  // a power cut: a kept file's bytes short of its size, then every cache anew
          std::unique_lock cut(running);
          std::vector<stdfs::path> files;
          std::error_code ec;
          for (auto& e : stdfs::recursive_directory_iterator(dir.sub("data"), ec))
            if (e.is_regular_file(ec) && e.path().parent_path().filename().string().size() == 2) files.push_back(e.path());
          if (!files.empty()) stdfs::resize_file(files[rng() % files.size()], rng() % 100, ec);
          std::lock_guard lock(caches_mu);
          for (int k = 0; k < kCaches; ++k) caches[size_t(k)] = open_cache(k);
        }
        // The bound, give or take what each cache may not have seen yet (a twentieth of it and
        // one file each, by the rescan rule) and the files being written.
        uint64_t on_disk = 0;
        std::error_code ec;
        for (auto& e : stdfs::recursive_directory_iterator(dir.sub("data"), ec))
          if (e.is_regular_file(ec) && e.path().filename() != "stats.json") {
            uint64_t size = e.file_size(ec);  // (evicted meanwhile by another thread: an error)
            if (!ec) on_disk += size;
          }
        // (A thread's batch may write up to 4 files before it ends.)
        uint64_t slack = kCaches * (kMaxBytes / 20 + (16 << 10)) + kThreads * 4 * (16 << 10);
        if (on_disk > kMaxBytes + slack) fail("the folder holds " + std::to_string(on_disk) + " bytes");
      }
    });
  for (auto& t : threads) t.join();
  caches.clear();
  if (!stdfs::is_empty(dir.sub("data/tmp"))) fail("temp files were left behind");
  return error;
}

TEST(DataCacheModel, RandomReadsChangesRemountsAndCutsAgreeWithTheRemote) {
  int sequences = 10, first = 1;
  if (const char* n = getenv("DLFS_MODEL_SEQUENCES")) sequences = std::atoi(n);
  if (const char* s = getenv("DLFS_MODEL_FIRST_SEED")) first = std::atoi(s);
  constexpr int kSteps = 150;
  for (int seed = first; seed < first + sequences; ++seed) {
    std::string err = run(uint32_t(seed), kSteps);
    if (err.empty()) continue;
    int steps = kSteps;  // shrink: the shortest length (by halving) that still fails
    for (int shorter = kSteps / 2; shorter >= 1; shorter /= 2) {
      std::string e = run(uint32_t(seed), shorter);
      if (e.empty()) break;
      steps = shorter;
      err = e;
    }
    FAIL() << "seed " << seed << ", " << steps << " steps per thread: " << err
           << " (rerun: DLFS_MODEL_FIRST_SEED=" << seed << " DLFS_MODEL_SEQUENCES=1)";
  }
}

}  // namespace
