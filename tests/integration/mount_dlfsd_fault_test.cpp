// Faults between a real FUSE mount of an http:// SOURCE and a real dlfsd on 127.0.0.1: dlfsd
// SIGKILLed and restarted while the mount reads and while it uploads (reads resume with the
// right bytes, uploads complete, nothing is lost), and a dlfsd that is SIGSTOPped (connections
// accepted, never answered): the mount answers an error within its -o http_* bound, serves what
// it has cached, recovers after SIGCONT and unmounts without hanging. A server killed in the
// middle of a `cp -r` of new files: every create is decided from what the mount knows, spooled,
// and uploaded once the server is back.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <iostream>
#include <map>
#include <filesystem>
#include <set>
#include <thread>

#include "remote/http_remote.h"
#include "support/dlfsd_process.h"
#include "support/mount_guard.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
const std::string kMountBin = std::string(DLFS_BIN_DIR) + "/mount.dlfs";
const std::string kDlfsBin = std::string(DLFS_BIN_DIR) + "/dlfs";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Every item under `dir` on the platform, recursively: path -> size.
void list_tree(Remote& remote, const std::string& dir, std::map<std::string, uint64_t>& out) {
  std::string after;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = remote.list(dir, after, 1000);
    ASSERT_TRUE(page) << dir << ": " << page.status().to_string();
    for (const auto& item : page->items) {
      if (item.is_dir()) list_tree(remote, item.filename, out);
      else out[item.filename] = item.size();
    }
    after = page->next_after;
    if (after.empty()) return;
  }
}

// The platform's bytes of the file at `path`.
std::string platform_bytes(Remote& remote, const std::string& path) {
  auto item = remote.get(path);
  if (!item) return "<" + item.status().to_string() + ">";
  std::string buf(item->size(), '\0');
  auto n = remote.read(*item, 0, std::span<char>(buf));
  if (!n) return "<" + n.status().to_string() + ">";
  buf.resize(*n);
  return buf;
}

// A file operation run in a child process (so that a hung FUSE call cannot hang the test): its
// outcome ("ok", else the errno name) and how long it took.
struct Probe {
  std::string outcome;
  double seconds = 0;
};
Probe probe(const std::string& op, const std::string& path) {
  static const std::string script =
      "import os,sys,errno\n"
      "op,p=sys.argv[1],sys.argv[2]\n"
      "try:\n"
      "  if op=='stat': os.stat(p)\n"
      "  elif op=='list': os.listdir(p)\n"
      "  else: open(p,'rb').read()\n"
      "  print('ok')\n"
      "except OSError as e: print(errno.errorcode.get(e.errno, e.errno))\n";
  auto start = Clock::now();
  CommandResult r = run({"python3", "-c", script, op, path}, 60s);
  Probe p{r.timed_out ? "timed out" : r.out.substr(0, r.out.find('\n')), seconds_since(start)};
  if (!r.ok()) p.outcome += " (exit " + std::to_string(r.exit_code) + ": " + r.err + ")";
  return p;
}

class MountDlfsdFault : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server.ok()) << server.error();
    write_file(work.sub("token"), server.token() + "\n");
    conn = std::make_unique<HttpConnection>(client_options());
  }

  HttpOptions client_options() const {
    HttpOptions o;
    o.base_url = server.base_url();
    o.token = server.token();
    o.connect_timeout_ms = 2000;
    o.low_speed_time_s = 10;
    o.max_attempts = 10;  // outlasts a restart
    return o;
  }

  // A new dataset, opened by its id.
  std::unique_ptr<Remote> dataset(const std::string& name) {
    Result<Dataset> made = conn->create_dataset(name);
    Result<std::unique_ptr<Remote>> opened = made ? conn->open(made->id) : Result<std::unique_ptr<Remote>>(made.status());
    EXPECT_TRUE(opened) << opened.status().to_string();
    return opened ? std::move(opened).value() : nullptr;
  }

  // Uploads `files` (path -> bytes) through HttpRemote, 8 at a time.
  void upload_all(Remote& remote, const std::map<std::string, std::string>& files) {
    std::vector<std::pair<std::string, std::string>> list(files.begin(), files.end());
    std::atomic<size_t> next{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < 8; ++w)
      workers.emplace_back([&, w] {
        std::string local = work.sub("upload-" + std::to_string(w));
        for (size_t i; (i = next++) < list.size();) {
          write_file(local, list[i].second);
          if (!remote.upload(local, list[i].first, UploadOptions{})) ++failed;
        }
      });
    for (auto& t : workers) t.join();
    ASSERT_EQ(failed, 0);
  }

  // Mounts dataset `name` at work/<tag>/mnt with its own cache and log, plus `extra` options.
  CommandResult mount(const std::string& name, const std::string& tag, const std::string& extra,
                      std::unique_ptr<MountGuard>& guard) {
    std::string mnt = work.sub(tag + "/mnt");
    fs::create_directories(mnt);
    std::string opts = "token_file=" + work.sub("token") + ",cache=" + work.sub(tag + "/cache") +
                       ",log=" + log_of(tag) + (extra.empty() ? "" : "," + extra);
    auto r = run({kMountBin, server.base_url() + "/datasets/" + name, mnt, "-o", opts}, 60s);
    guard = std::make_unique<MountGuard>(mnt, find_process("mount.dlfs", mnt));
    return r;
  }
  std::string log_of(const std::string& tag) const { return work.sub(tag + "/mount.log"); }

  DlfsdProcess server;
  TempDir work{"dlfs-dlfsd-fault"};
  std::unique_ptr<HttpConnection> conn;
};

}  // namespace

TEST_F(MountDlfsdFault, ReadsOutlastAKillAndRestart) {
  auto remote = dataset("reads");
  ASSERT_TRUE(remote);
  const std::string big = random_bytes(24u << 20, 1);
  std::map<std::string, std::string> small;
  for (int i = 0; i < 150; ++i)
    small["/small/f" + std::to_string(1000 + i)] = random_bytes(1000 + 97 * size_t(i), 100 + uint32_t(i));
  std::map<std::string, std::string> all = small;
  all["/big.bin"] = big;
  ASSERT_NO_FATAL_FAILURE(upload_all(*remote, all));

  std::unique_ptr<MountGuard> guard;
  auto m = mount("reads", "a", "ro,http_timeout=2,http_stall=5,http_retries=12", guard);
  ASSERT_TRUE(m.ok()) << m.err << read_file(log_of("a"));
  const std::string mnt = guard->mountpoint();

  // Two readers: the big file in throttled chunks, and the small files one by one.
  std::atomic<size_t> big_done{0}, small_done{0};
  std::atomic<bool> big_ok{false}, small_ok{false}, big_finished{false}, small_finished{false};
  // Each reader, part-way, waits (bounded) for the kill: under load one could end before it.
  std::atomic<bool> killed{false};
  std::string big_error, small_error;
  std::thread big_reader([&] {
    std::string got;
    int fd = ::open((mnt + "/big.bin").c_str(), O_RDONLY | O_CLOEXEC);
    std::vector<char> buf(256 << 10);
    ssize_t n = fd < 0 ? -1 : 0;
    while (fd >= 0 && (n = ::read(fd, buf.data(), buf.size())) > 0) {
      got.append(buf.data(), size_t(n));
      big_done = got.size();
      if (got.size() >= (8u << 20) && got.size() - size_t(n) < (8u << 20)) wait_until([&] { return killed.load(); }, 30s);
      std::this_thread::sleep_for(5ms);
    }
    if (n < 0) big_error = std::string("read: ") + strerror(errno);
    if (fd >= 0) ::close(fd);
    big_ok = got == big;
    big_finished = true;
  });
  std::thread small_reader([&] {
    bool ok = true;
    for (const auto& [path, bytes] : small) {
      std::string got = read_file(mnt + path);
      if (got != bytes) {
        ok = false;
        if (small_error.empty()) small_error = path + ": " + std::to_string(got.size()) + " bytes";
      }
      if (++small_done == 40) wait_until([&] { return killed.load(); }, 30s);
      std::this_thread::sleep_for(10ms);
    }
    small_ok = ok;
    small_finished = true;
  });
  // Kill once both are under way, then an outage of about a second.
  bool started = wait_until([&] { return big_done >= (4u << 20) && small_done >= 20; }, 30s);
  EXPECT_TRUE(started) << big_done << " " << small_done;
  server.kill();
  size_t big_at_kill = big_done, small_at_kill = small_done;
  killed = true;
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(server.restart()) << server.error();

  bool finished = wait_until([&] { return big_finished && small_finished; }, 60s);
  if (!finished) guard->unmount();  // fails the readers' calls, so that the joins are bounded
  big_reader.join();
  small_reader.join();
  ASSERT_TRUE(finished) << "the readers did not finish; log:\n" << read_file(log_of("a"));
  EXPECT_LT(big_at_kill, big.size()) << "the big read ended before the kill";
  EXPECT_LT(small_at_kill, small.size()) << "the small reads ended before the kill";
  EXPECT_TRUE(big_ok) << big_error << "\n" << read_file(log_of("a"));
  EXPECT_TRUE(small_ok) << small_error << "\n" << read_file(log_of("a"));

  // After the restart: a folder never listed and a file never read, added by another client.
  ASSERT_NO_FATAL_FAILURE(upload_all(*remote, {{"/later/x.bin", "after the restart"}}));
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(mnt + "/later")) names.insert(e.path().filename());
  EXPECT_EQ(names, std::set<std::string>({"x.bin"}));
  EXPECT_EQ(read_file(mnt + "/later/x.bin"), "after the restart");
  EXPECT_EQ(std::distance(fs::directory_iterator(mnt + "/small"), fs::directory_iterator()), 150);
  EXPECT_TRUE(guard->unmount()) << read_file(log_of("a"));
}

TEST_F(MountDlfsdFault, UploadsCompleteAcrossAKillAndRestart) {
  auto remote = dataset("uploads");
  ASSERT_TRUE(remote);
  std::map<std::string, std::string> files;  // relative path -> bytes
  for (int d = 0; d < 3; ++d)
    for (int i = 0; i < 100; ++i)
      files["tree/d" + std::to_string(d) + "/f" + std::to_string(i)] =
          random_bytes(500 + 131 * size_t(i), 1000 + uint32_t(d * 100 + i));
  for (int i = 0; i < 3; ++i) files["tree/big" + std::to_string(i) + ".bin"] = random_bytes(3u << 20, 7 + uint32_t(i));
  for (const auto& [rel, bytes] : files) write_file(work.sub("src/" + rel), bytes);

  std::unique_ptr<MountGuard> guard;
  auto m = mount("uploads", "b", "http_timeout=2,http_stall=5,http_retries=12,upload_workers=4,"
                 "upload_attempts=30,debug_retry_base_ms=100", guard);
  ASSERT_TRUE(m.ok()) << m.err << read_file(log_of("b"));
  const std::string mnt = guard->mountpoint();

  auto start = Clock::now();
  Child cp({"cp", "-r", work.sub("src/tree"), mnt + "/"});
  // Kill once some uploads have landed, others are still to come.
  auto landed = [&] {
    auto page = remote->query({{"filter", {{"$and", json::array({{{"hidden", false}}})}}}, {"page", 0}, {"pageSize", 1}});
    return page ? page->total : 0;
  };
  bool midway = wait_until([&] { return landed() >= 40; }, 60s);
  EXPECT_TRUE(midway) << "nothing uploaded; log:\n" << read_file(log_of("b"));
  server.kill();
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(server.restart()) << server.error();
  int cp_exit = cp.wait(60s);
  EXPECT_EQ(cp_exit, 0) << "cp -r failed or hung; log:\n" << read_file(log_of("b"));

  auto sync = run({kDlfsBin, "sync", mnt}, 120s);
  EXPECT_TRUE(sync.ok()) << sync.out << sync.err << "\nlog:\n" << read_file(log_of("b"));
  std::cout << "[ info ] copy + sync took " << seconds_since(start) << " s\n";

  // A second client sees every file, byte for byte, and nothing else.
  HttpConnection fresh(client_options());
  auto other = fresh.open("uploads");
  ASSERT_TRUE(other) << other.status().to_string();
  std::map<std::string, uint64_t> tree;
  ASSERT_NO_FATAL_FAILURE(list_tree(**other, "/", tree));
  EXPECT_EQ(tree.size(), files.size());
  int wrong = 0;
  for (const auto& [rel, bytes] : files) {
    if (platform_bytes(**other, "/" + rel) == bytes) continue;
    if (++wrong <= 5) ADD_FAILURE() << "/" << rel << " differs or is missing on the platform";
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(guard->unmount());
}

TEST_F(MountDlfsdFault, CreatesWhileTheServerIsAwayAreSpooledAndLoseNothing) {
  // The issue's user: `cp -r` of 200 new files while dlfsd is SIGKILLed and restarted 2 s later
  // failed about 1 run in 3 with "cannot create regular file: Input/output error". Names in a
  // folder this mount made are decided without the server; creates and mkdirs are spooled.
  // Three rounds, each into a new folder, with the server killed mid-copy each time.
  auto remote = dataset("away");
  ASSERT_TRUE(remote);
  std::map<std::string, std::string> files;  // relative path -> bytes
  for (int d = 0; d < 2; ++d)
    for (int i = 0; i < 100; ++i)
      files["d" + std::to_string(d) + "/f" + std::to_string(i)] = random_bytes(300 + 97 * size_t(i), uint32_t(d * 1000 + i));
  for (const auto& [rel, bytes] : files) write_file(work.sub("src/up/" + rel), bytes);

  std::unique_ptr<MountGuard> guard;
  auto m = mount("away", "e", "http_timeout=1,http_stall=2,http_retries=2,upload_attempts=60,debug_retry_base_ms=100",
                 guard);
  ASSERT_TRUE(m.ok()) << m.err << read_file(log_of("e"));
  const std::string mnt = guard->mountpoint();
  for (int round = 0; round < 3; ++round) {
    std::string target = mnt + "/r" + std::to_string(round);
    ASSERT_TRUE(run({"mkdir", target}).ok());
    Child cp({"cp", "-r", work.sub("src/up"), target + "/"});
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 200 * round));
    server.kill();
    std::this_thread::sleep_for(2s);
    ASSERT_TRUE(server.restart()) << server.error();
    int cp_exit = cp.wait(120s);
    EXPECT_EQ(cp_exit, 0) << "round " << round << ": cp -r failed or hung; log:\n" << read_file(log_of("e"));
    auto diff = run({"diff", "-r", work.sub("src/up"), target + "/up"}, 120s);
    EXPECT_TRUE(diff.ok()) << "round " << round << ": " << diff.out << diff.err;
  }
  auto sync = run({kDlfsBin, "sync", mnt}, 300s);
  EXPECT_TRUE(sync.ok()) << sync.out << sync.err << "\nlog:\n" << read_file(log_of("e"));

  // A second client sees every file of every round, byte for byte.
  HttpConnection fresh(client_options());
  auto other = fresh.open("away");
  ASSERT_TRUE(other) << other.status().to_string();
  std::map<std::string, uint64_t> tree;
  ASSERT_NO_FATAL_FAILURE(list_tree(**other, "/", tree));
  EXPECT_EQ(tree.size(), 3 * files.size());
  int wrong = 0;
  for (int round = 0; round < 3; ++round)
    for (const auto& [rel, bytes] : files) {
      std::string path = "/r" + std::to_string(round) + "/up/" + rel;
      if (platform_bytes(**other, path) == bytes) continue;
      if (++wrong <= 5) ADD_FAILURE() << path << " differs or is missing on the platform";
    }
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(guard->unmount());
}

TEST_F(MountDlfsdFault, AStoppedServerAnswersWithinTheBoundAndCachedDataStillServes) {
  auto remote = dataset("stall");
  ASSERT_TRUE(remote);
  const std::string warm = random_bytes(200000, 3), cold = random_bytes(300000, 4);
  ASSERT_NO_FATAL_FAILURE(upload_all(*remote, {{"/warm/a.bin", warm}, {"/warm/b.bin", cold}, {"/warm/e.bin", cold},
                                               {"/warm/sub/d.bin", cold}, {"/cold/c.bin", cold}}));

  std::unique_ptr<MountGuard> guard;
  auto m = mount("stall", "c", "ro,dir_ttl=120,http_timeout=2,http_stall=2,http_retries=2", guard);
  ASSERT_TRUE(m.ok()) << m.err << read_file(log_of("c"));
  const std::string mnt = guard->mountpoint();
  ASSERT_EQ(probe("list", mnt + "/warm").outcome, "ok");  // listed
  ASSERT_TRUE(read_file(mnt + "/warm/a.bin") == warm);    // and read: cached

  server.pause();
  // Not cached: each answers an error within http_retries x (http_stall + backoff) per request,
  // well under 15 s; in parallel, as a training job's loaders would. (The lookups are in
  // different folders: the kernel serializes the lookups of one folder here, so each would wait
  // for those before it.)
  std::vector<std::pair<std::string, std::string>> cold_ops = {
      {"stat", mnt + "/cold/c.bin"}, {"list", mnt + "/warm/sub"}, {"read", mnt + "/warm/b.bin"}};
  std::vector<Probe> results(cold_ops.size());
  std::vector<std::thread> probes;
  for (size_t i = 0; i < cold_ops.size(); ++i)
    probes.emplace_back([&, i] { results[i] = probe(cold_ops[i].first, cold_ops[i].second); });
  // Cached: answers at once while the others wait on the server.
  Probe cached_read = probe("read", mnt + "/warm/a.bin");
  Probe cached_list = probe("list", mnt + "/warm");
  for (auto& t : probes) t.join();
  for (size_t i = 0; i < cold_ops.size(); ++i) {
    const Probe& p = results[i];
    EXPECT_TRUE(p.outcome == "EIO" || p.outcome == "ETIMEDOUT") << cold_ops[i].first << ": " << p.outcome;
    EXPECT_LT(p.seconds, 15) << cold_ops[i].first;
    EXPECT_GE(p.seconds, 1.5) << cold_ops[i].first << " answered before the stall bound: " << p.outcome;
    std::cout << "[ info ] " << cold_ops[i].first << " on a stopped server: " << p.outcome << " in " << p.seconds
              << " s\n";
  }
  EXPECT_EQ(cached_read.outcome, "ok") << "the mount's log:\n" << read_file(log_of("c"));
  EXPECT_LT(cached_read.seconds, 2);
  EXPECT_EQ(cached_list.outcome, "ok");
  EXPECT_LT(cached_list.seconds, 2);

  // Back: what failed now works, with the right bytes (after the moment for which a read that
  // timed out answers the kernel's own retry at once).
  server.resume();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(probe("stat", mnt + "/cold/c.bin").outcome, "ok");
  EXPECT_TRUE(read_file(mnt + "/warm/b.bin") == cold);
  EXPECT_TRUE(read_file(mnt + "/warm/sub/d.bin") == cold);

  // Unmounting while a request waits on a stopped server does not hang.
  server.pause();
  std::thread waiting([&] { probe("read", mnt + "/warm/e.bin"); });  // listed, never read
  std::this_thread::sleep_for(300ms);
  auto start = Clock::now();
  guard->unmount();
  double unmount_s = seconds_since(start);
  waiting.join();
  server.resume();
  EXPECT_LT(unmount_s, 15);
  std::cout << "[ info ] unmount with a request waiting on a stopped server took " << unmount_s << " s\n";
  EXPECT_FALSE(is_mounted(mnt));
}

TEST_F(MountDlfsdFault, AMountOfAServerThatNeverAnswersFailsWithinTheBound) {
  ASSERT_TRUE(conn->create_dataset("silent"));
  server.pause();
  std::unique_ptr<MountGuard> guard;
  auto start = Clock::now();
  auto m = mount("silent", "d", "http_timeout=1,http_stall=1,http_retries=2", guard);
  double took = seconds_since(start);
  server.resume();
  EXPECT_FALSE(m.ok());
  EXPECT_FALSE(m.timed_out);
  EXPECT_NE(m.err.find("did not answer in time"), std::string::npos) << m.err;
  EXPECT_LT(took, 10);
  EXPECT_FALSE(is_mounted(guard->mountpoint()));
}

TEST_F(MountDlfsdFault, ACopyGoesOnWhileTheServerIsStopped) {
  // The issue's user: `cp -r` of 2,000 files into a folder of the mount while dlfsd was
  // SIGSTOPped (connections accepted, never answered) did 2 files in 11 minutes: every lookup of
  // a name waited the stall bound times the tries. The mount now learns once that the server is
  // away and answers what it knows (folders it made or listed, new files and folders spooled)
  // without waiting on it; a probe learns when it is back, and everything goes up.
  auto remote = dataset("stopped");
  ASSERT_TRUE(remote);
  std::map<std::string, std::string> files;  // relative path -> bytes
  for (int d = 0; d < 2; ++d)
    for (int i = 0; i < 100; ++i)
      files["d" + std::to_string(d) + "/f" + std::to_string(i)] = random_bytes(200 + 37 * size_t(i), uint32_t(d * 7000 + i));
  for (const auto& [rel, bytes] : files) write_file(work.sub("src/up/" + rel), bytes);

  std::unique_ptr<MountGuard> guard;
  // dir_ttl=1: the folders' listings are stale within a second, as they are after dir_ttl on any mount.
  auto m = mount("stopped", "s", "dir_ttl=1,http_timeout=1,http_stall=2,http_retries=2,upload_attempts=500,"
                 "debug_retry_base_ms=100", guard);
  ASSERT_TRUE(m.ok()) << m.err << read_file(log_of("s"));
  const std::string mnt = guard->mountpoint();
  ASSERT_TRUE(run({"mkdir", mnt + "/made"}).ok());  // while the server answers
  ASSERT_TRUE(run({"ls", mnt}).ok());                // the root is a folder the mount listed
  std::this_thread::sleep_for(1500ms);

  server.pause();
  auto start = Clock::now();
  int made_exit = Child({"cp", "-r", work.sub("src/up"), mnt + "/made/"}).wait(120s);
  double made_s = seconds_since(start);
  auto mkdir_later = run({"mkdir", mnt + "/later"}, 60s);  // a folder made while it is stopped
  int later_exit = mkdir_later.ok() ? Child({"cp", "-r", work.sub("src/up"), mnt + "/later/"}).wait(120s) : -1;
  double all_s = seconds_since(start);
  auto listed = run({"ls", "-R", mnt + "/made"}, 60s);
  server.resume();
  std::cout << "[ info ] cp -r of " << files.size() << " files while the server is stopped: " << made_s
            << " s; a folder made then and the same copy into it: " << all_s - made_s << " s\n";
  EXPECT_EQ(made_exit, 0) << read_file(log_of("s"));
  EXPECT_TRUE(mkdir_later.ok()) << mkdir_later.err;
  EXPECT_EQ(later_exit, 0);
  // Two stall bounds to learn it is away (and the folders' first stale lookups), then local speed.
  EXPECT_LT(all_s, 30) << read_file(log_of("s"));
  EXPECT_TRUE(listed.ok());
  EXPECT_NE(listed.out.find("f99"), std::string::npos);

  auto sync = run({kDlfsBin, "sync", mnt}, 300s);
  EXPECT_TRUE(sync.ok()) << sync.out << sync.err << "\nlog:\n" << read_file(log_of("s"));
  HttpConnection fresh(client_options());
  auto other = fresh.open("stopped");
  ASSERT_TRUE(other) << other.status().to_string();
  std::map<std::string, uint64_t> tree;
  ASSERT_NO_FATAL_FAILURE(list_tree(**other, "/", tree));
  EXPECT_EQ(tree.size(), 2 * files.size());
  int wrong = 0;
  for (const std::string top : {"/made/up/", "/later/up/"})
    for (const auto& [rel, bytes] : files) {
      if (platform_bytes(**other, top + rel) == bytes) continue;
      if (++wrong <= 5) ADD_FAILURE() << top + rel << " differs or is missing on the platform";
    }
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(guard->unmount());
}
