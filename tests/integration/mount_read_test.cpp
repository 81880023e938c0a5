// Reads through real mounts, on both backends: the embedded platform's bytes come from its
// stored files (no remote reads at all); dlfsd's are kept in the data cache, so that a second
// pass after a remount reads them with no remote call — and a changed item is read anew.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>
#include <csignal>
#include <thread>
#include <filesystem>
#include <fstream>

#include "support/metrics_scrape.h"
#include "support/mounted_dataset.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

namespace {

class MountRead : public MountedDatasetTest {
 protected:
  // Uploads through a client of the platform (not the mount): what a mount reads cold.
  void put(const std::string& rel, const std::string& bytes) {
    std::string local = work.sub("src/" + rel);
    write_file(local, bytes);
    if (!remote) remote = std::move(platform->connection()->open(dataset)).value();
    auto up = remote->upload(local, "/" + rel, UploadOptions{.mode = UploadMode::kOverwrite});
    ASSERT_TRUE(up) << up.status().to_string();
  }
  // cmp of every file against its source; the mount's counters (stats=FILE, written at unmount).
  json read_all_and_unmount(const std::string& cache_name, const std::vector<std::string>& files,
                            const std::string& extra = "") {
    std::string stats = work.sub("stats.json");
    stdfs::remove(stats);
    auto m = mount("mnt", cache_name, "stats=" + stats + extra);
    if (!m) return nullptr;
    for (const std::string& f : files) {
      auto cmp = run({"cmp", work.sub("src/" + f), m->mountpoint() + "/" + f}, 60s);
      EXPECT_TRUE(cmp.ok()) << f << ": " << cmp.out << cmp.err;
    }
    EXPECT_TRUE(m->unmount());
    std::ifstream in(stats);
    return json::parse(in, nullptr, false);
  }
  void TearDown() override { remote.reset(); }
  std::unique_ptr<Remote> remote;
};

TEST_P(MountRead, ASecondPassAfterARemountReadsNothingFromTheServer) {
  std::vector<std::string> files;
  for (int i = 0; i < 12; ++i) {
    std::string name = "d/f" + std::to_string(i) + ".bin";
    put(name, random_bytes(size_t(i) * 37'000 + 1, uint32_t(i)));
    files.push_back(name);
  }
  put("big.bin", random_bytes(20 << 20, 99));  // over the whole-file fetch (16 MiB): read in ranges
  files.push_back("big.bin");

  json cold = read_all_and_unmount("cache", files);
  ASSERT_TRUE(cold.is_object()) << cold;
  if (GetParam() == Backend::kEmbedded) {
    // Every byte from the stored files, by descriptor; no data cache (nothing to keep).
    EXPECT_EQ(cold["remote"]["read"], 0) << cold.dump();
    EXPECT_TRUE(cold["data_cache"].is_null()) << cold.dump();
    return;
  }
  EXPECT_EQ(cold["data_cache"]["misses"], 12) << cold.dump();
  EXPECT_EQ(cold["data_cache"]["files"], 12) << cold.dump();
  EXPECT_GT(cold["remote"]["read"].get<int>(), 12) << cold.dump();  // (and big.bin's ranges)

  json warm = read_all_and_unmount("cache", files);  // a remount: new process, same cache folder
  ASSERT_TRUE(warm.is_object()) << warm;
  EXPECT_EQ(warm["data_cache"]["hits"], 12) << warm.dump();
  EXPECT_EQ(warm["data_cache"]["misses"], 0) << warm.dump();
  // Only big.bin, not kept, asked the server: in 4 MiB parts fetched ahead (how many reads came
  // before they started depends on the kernel's timing).
  EXPECT_GT(warm["remote"]["read"].get<int>(), 0) << warm.dump();
  EXPECT_LE(warm["remote"]["read"].get<int>(), 12) << warm.dump();

  // One file changed on the server: once the mount knows (its cached listing expired: dir_ttl=0
  // here), it is read anew, the others still from the cache.
  put("d/f3.bin", random_bytes(3 * 37'000 + 1, 1234));
  json changed = read_all_and_unmount("cache", files, ",dir_ttl=0");
  ASSERT_TRUE(changed.is_object()) << changed;
  EXPECT_EQ(changed["data_cache"]["misses"], 1) << changed.dump();
  EXPECT_EQ(changed["data_cache"]["hits"], 11) << changed.dump();
}

TEST_P(MountRead, CacheWarmFillsTheDataCacheAMountThenReads) {
  std::vector<std::string> files;
  for (int i = 0; i < 6; ++i) {
    files.push_back("d/e/f" + std::to_string(i) + ".bin");
    put(files.back(), random_bytes(50'000 + size_t(i), uint32_t(i)));
  }
  put("other/skip.bin", random_bytes(1000, 7));  // not under the folder warmed
  auto warmed = dlfs({"cache", "warm", dataset + ":/d", "--cache", work.sub("cache")});
  ASSERT_TRUE(warmed.ok()) << warmed.out << warmed.err;
  if (GetParam() == Backend::kEmbedded) {
    EXPECT_NE(warmed.out.find("local files already"), std::string::npos) << warmed.out;
    return;
  }
  EXPECT_NE(warmed.out.find("6 files fetched"), std::string::npos) << warmed.out;
  auto again = dlfs({"cache", "warm", dataset + ":/d", "--cache", work.sub("cache")});
  EXPECT_NE(again.out.find("0 files fetched"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("6 already kept"), std::string::npos) << again.out;

  json s = read_all_and_unmount("cache", files);
  ASSERT_TRUE(s.is_object()) << s;
  EXPECT_EQ(s["data_cache"]["hits"], 6) << s.dump();
  EXPECT_EQ(s["data_cache"]["misses"], 0) << s.dump();
  EXPECT_EQ(s["remote"]["read"], 0) << s.dump();

  auto stat = dlfs({"cache", "stat", "--cache", work.sub("cache")});
  ASSERT_TRUE(stat.ok()) << stat.err;
  // The warm's 6 misses and 6 hits, the mount's 6 hits.
  EXPECT_NE(stat.out.find("6 files  12 hits  6 misses  hit rate 66%"), std::string::npos) << stat.out;
  auto cleared = dlfs({"cache", "clear", dataset, "--cache", work.sub("cache")});
  ASSERT_TRUE(cleared.ok()) << cleared.err;
  EXPECT_TRUE(stdfs::is_empty(work.sub("cache/data")) ||
              std::distance(stdfs::directory_iterator(work.sub("cache/data")), {}) == 1)  // (tmp/)
      << dlfs({"cache", "stat", "--cache", work.sub("cache")}).out;
}

TEST_P(MountRead, DataCacheOffReadsTheServer) {
  put("a.bin", random_bytes(100'000, 1));
  std::string stats = work.sub("stats.json");
  auto m = mount("mnt", "cache", "stats=" + stats + ",data_cache=off");
  ASSERT_TRUE(m);
  EXPECT_TRUE(run({"cmp", work.sub("src/a.bin"), m->mountpoint() + "/a.bin"}, 60s).ok());
  EXPECT_TRUE(m->unmount());
  std::ifstream in(stats);
  json s = json::parse(in, nullptr, false);
  EXPECT_TRUE(s["data_cache"].is_null()) << s.dump();
  EXPECT_FALSE(stdfs::exists(work.sub("cache/data"))) << "made a data cache anyway";
}

TEST_P(MountRead, AFolderListedThenReadInOrderIsPrefetchedAndOpensSendNothing) {
  std::vector<std::string> files;
  for (int i = 0; i < 40; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "w/f%02d.bin", i);
    files.push_back(name);
    put(name, random_bytes(30'000 + size_t(i), uint32_t(i)));
  }
  std::string stats = work.sub("stats.json");
  auto m = mount("mnt", "cache", "stats=" + stats);
  ASSERT_TRUE(m);
  auto ls = run({"ls", m->mountpoint() + "/w"}, 60s);
  ASSERT_TRUE(ls.ok()) << ls.err;
  for (const std::string& f : files) {  // one reader, in the listing's order (ls sorts as it does)
    auto cmp = run({"cmp", work.sub("src/" + f), m->mountpoint() + "/" + f}, 60s);
    EXPECT_TRUE(cmp.ok()) << f << ": " << cmp.out << cmp.err;
  }
  ASSERT_TRUE(m->unmount());
  std::ifstream in(stats);
  json s = json::parse(in, nullptr, false);
  ASSERT_TRUE(s.is_object());
  // no_open: the kernel sent no OPEN (nor RELEASE), and no FLUSH after the first (told ENOSYS).
  EXPECT_EQ(s["ops"]["open"], 0) << s.dump();
  EXPECT_LE(s["ops"]["flush"].get<int>(), 1) << s.dump();
  if (GetParam() == Backend::kEmbedded) return;  // (local files: nothing to fetch ahead)
  // Every file fetched once: by its reader (a miss) or ahead of it (a prefetch) — most ahead.
  EXPECT_EQ(s["data_cache"]["misses"].get<int>() + s["data_cache"]["prefetches"].get<int>(), 40) << s.dump();
  EXPECT_GE(s["data_cache"]["prefetches"].get<int>(), 20) << s.dump();
}

// -o ro: a mount that cannot write answers the first FLUSH ENOSYS, and the kernel sends none
// after it: reading a file is then no request at all once its pages and attributes are cached.
// (Counted as the kernel's requests: the metrics endpoint's, not the core's ops.)
TEST_P(MountRead, OnAReadOnlyMountClosesSendNothing) {
  std::vector<std::string> files;
  for (int i = 0; i < 20; ++i) {
    files.push_back("r/f" + std::to_string(i) + ".bin");
    put(files.back(), random_bytes(20'000 + size_t(i), uint32_t(100 + i)));
  }
  std::string addr = "127.0.0.1:" + std::to_string(free_loopback_port());
  auto m = mount("mnt", "cache", "ro,metrics=" + addr);
  ASSERT_TRUE(m);
  for (int pass = 0; pass < 3; ++pass)
    for (const std::string& f : files) EXPECT_EQ(read_file(m->mountpoint() + "/" + f), read_file(work.sub("src/" + f)));
  auto requests = [](const std::vector<MetricSample>& s, const char* op) {
    return metric_value(s, "dlfs_fuse_requests_total", {{"op", op}}).value_or(0);
  };
  auto s = parse_metrics(scrape_metrics_until(addr, [&](const std::vector<MetricSample>& now) {
    return requests(now, "read") >= double(files.size());
  }));
  EXPECT_LE(requests(s, "open"), 1);   // (the first, answered ENOSYS)
  EXPECT_LE(requests(s, "flush"), 1);  // (the first, answered ENOSYS) — 60 closes
  EXPECT_EQ(requests(s, "release"), 0);
  EXPECT_GE(requests(s, "read"), double(files.size()));
  ASSERT_TRUE(m->unmount());
}

// The default (writable) mount too: after the first close, answered ENOSYS, the kernel sends no
// FLUSH — a warm read is no request at all. Files written since, with no close seen and no
// `dlfs sync`, still reach the platform (their writers let go once idle): a second mount reads
// them.
TEST_P(MountRead, OnTheDefaultMountClosesSendNothingAndWritesStillLand) {
  std::vector<std::string> files;
  for (int i = 0; i < 20; ++i) {
    files.push_back("r/f" + std::to_string(i) + ".bin");
    put(files.back(), random_bytes(20'000 + size_t(i), uint32_t(300 + i)));
  }
  put("r/edit.txt", "before\n");
  std::string addr = "127.0.0.1:" + std::to_string(free_loopback_port());
  auto m = mount("mnt", "cache", "metrics=" + addr);
  ASSERT_TRUE(m);
  for (int pass = 0; pass < 3; ++pass)
    for (const std::string& f : files) EXPECT_EQ(read_file(m->mountpoint() + "/" + f), read_file(work.sub("src/" + f)));
  std::string made = random_bytes(70'000, 7);
  write_file(work.sub("made.bin"), made);
  ASSERT_TRUE(run({"cp", work.sub("made.bin"), m->mountpoint() + "/r/made.bin"}, 60s).ok());
  ASSERT_TRUE(run({"sh", "-c", "echo after >> " + m->mountpoint() + "/r/edit.txt"}, 60s).ok());
  EXPECT_EQ(read_file(m->mountpoint() + "/r/edit.txt"), "before\nafter\n");
  auto requests = [](const std::vector<MetricSample>& s, const char* op) {
    return metric_value(s, "dlfs_fuse_requests_total", {{"op", op}}).value_or(0);
  };
  auto s = parse_metrics(scrape_metrics_until(addr, [&](const std::vector<MetricSample>& now) {
    return requests(now, "read") >= double(files.size()) && requests(now, "write") >= 2;
  }));
  EXPECT_LE(requests(s, "open"), 1);   // (the first, answered ENOSYS)
  EXPECT_LE(requests(s, "flush"), 1);  // (the first, answered ENOSYS) — 62 closes
  EXPECT_EQ(requests(s, "release"), 0);
  // On the platform while the mount runs (the command line asks it), then read by a second
  // client: a fresh mount with its own cache.
  EXPECT_TRUE(wait_until([&] {
    auto edited = dlfs({"cat", dataset + ":/r/edit.txt"}, 30s);
    auto copied = dlfs({"cat", dataset + ":/r/made.bin"}, 30s);
    return edited.ok() && edited.out == "before\nafter\n" && copied.ok() && copied.out == made;
  }, 30s)) << "not on the platform";
  auto two = mount("two", "cache2");
  ASSERT_TRUE(two);
  EXPECT_EQ(read_file(two->mountpoint() + "/r/made.bin"), made);
  EXPECT_EQ(read_file(two->mountpoint() + "/r/edit.txt"), "before\nafter\n");
  ASSERT_TRUE(m->unmount());
}

// A file replaced on the platform while a reader is halfway through it: the reader never gets a
// mix of the two versions. On the embedded platform its open descriptor keeps reading the version
// it opened (as a local disk's does); through dlfsd its next ranged read is refused (If-Match:
// ESTALE, "stale file handle") and the mount learns the new version, which the next open reads.
TEST_P(MountRead, AFileReplacedMidReadIsNeverReadMixed) {
  std::string v1 = random_bytes(48 << 20, 41), v2 = random_bytes(48 << 20, 42);
  put("big.bin", v1);
  auto m = mount("mnt", "cache", "dir_ttl=0");
  ASSERT_TRUE(m);
  std::string file = m->mountpoint() + "/big.bin";
  std::string v2_local = work.sub("src/v2.bin");
  write_file(v2_local, v2);
  // Reads 1 MiB at 0, has the file replaced (through the platform's client: the test writes a
  // marker and waits for it to be gone), then 1 MiB at 40 MiB; prints what that read got.
  std::string marker = work.sub("replace-now");
  std::string script = R"(
import errno, os, sys, time
f, marker = sys.argv[1], sys.argv[2]
fd = os.open(f, os.O_RDONLY)
first = os.pread(fd, 1 << 20, 0)
open(marker, "w").close()
while os.path.exists(marker): time.sleep(0.02)
try:
    later = os.pread(fd, 1 << 20, 40 << 20)
    print("read", len(first), len(later))
    sys.stdout.flush()
    os.write(3, first + later)
except OSError as e:
    print("error", errno.errorcode.get(e.errno, e.errno))
)";
  std::string out_file = work.sub("got.bin"), log = work.sub("reader.out");
  pid_t child = fork();  // (between fork and exec: only calls that allocate nothing)
  ASSERT_GE(child, 0);
  if (child == 0) {
    int out = ::open(out_file.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
    ::dup2(out, 3);
    int lfd = ::open(log.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
    ::dup2(lfd, 1);
    ::dup2(lfd, 2);
    ::execlp("python3", "python3", "-c", script.c_str(), file.c_str(), marker.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 1500 && !stdfs::exists(marker); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(stdfs::exists(marker)) << "the reader did not start";
  put("big.bin", v2);
  stdfs::remove(marker);
  int status = 0;
  for (int i = 0; i < 3000 && ::waitpid(child, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(20ms);
  if (::waitpid(child, &status, WNOHANG) == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    FAIL() << "the reader did not finish";
  }
  std::string said = read_file(log);
  if (GetParam() == Backend::kEmbedded) {
    ASSERT_EQ(said, "read 1048576 1048576\n");
    EXPECT_TRUE(read_file(out_file) == v1.substr(0, 1 << 20) + v1.substr(40 << 20, 1 << 20)) << "not the first version's bytes";
  } else {
    EXPECT_EQ(said, "error ESTALE\n");
  }
  // A new open reads the new version, whole.
  auto cmp = run({"cmp", v2_local, file}, 60s);
  EXPECT_TRUE(cmp.ok()) << cmp.out << cmp.err;
  EXPECT_TRUE(m->unmount());
}

INSTANTIATE_TEST_SUITE_P(Backends, MountRead, kBackends, backend_name);

}  // namespace
