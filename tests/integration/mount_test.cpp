// Real FUSE mounts with the built mount.dlfs, checked with real tools; every test runs against
// the embedded platform and against dlfsd on 127.0.0.1 (TestPlatform). Every mount is held by a
// MountGuard (unmounts on every path) and every wait is bounded.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "support/mount_guard.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_platform.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

namespace {

const std::string kMountBin = std::string(DLFS_BIN_DIR) + "/mount.dlfs";

// A platform (the test's backend) with one dataset uploaded, by a client of the platform, from
// a local source tree.
struct Store {
  TempDir root{"dlfs-mount"};
  std::string src = root.sub("src");
  std::unique_ptr<TestPlatform> platform;
  std::unique_ptr<Remote> remote;  // (before the platform goes)
  std::vector<std::string> files;  // relative paths of every file uploaded

  Store(Backend backend, const std::string& dataset) {
    platform = std::make_unique<TestPlatform>(backend, root.sub("platform"));
    if (!platform->ok()) throw std::runtime_error(platform->error());
    auto d = platform->connection()->create_dataset(dataset);
    if (!d) throw std::runtime_error(d.status().to_string());
    auto r = platform->connection()->open(dataset);
    if (!r) throw std::runtime_error(r.status().to_string());
    remote = std::move(r).value();
  }

  void add(const std::string& rel, const std::string& content) {
    write_file(src + "/" + rel, content);
    auto up = remote->upload(src + "/" + rel, "/" + rel, UploadOptions{});
    if (!up) throw std::runtime_error("upload " + rel + ": " + up.status().to_string());
    files.push_back(rel);
  }
};

// The tree the issue asks for: nested folders, 1,000 files in one folder, names with spaces and
// UTF-8, a 0-byte file, a 50 MB file. Built once per backend and test process, removed at its
// exit.
std::unique_ptr<Store> make_big_tree(Backend backend) {
  auto s = std::make_unique<Store>(backend, "tree");
  s->add("a/b/c/deep.txt", "deep down\n");
  s->add("a/b/mid.bin", random_bytes(300000, 1));
  s->add("a/top.txt", "top\n");
  for (int i = 0; i < 1000; ++i)
    s->add("many/f" + std::to_string(i) + ".dat", random_bytes(size_t(100 + (i * 37) % 5000), uint32_t(i)));
  s->add("names/with space.txt", "spaces\n");
  s->add("names/ünïcødé ✓ 日本.bin", random_bytes(777, 7));
  s->add("empty.bin", "");
  s->add("large.bin", random_bytes(50u << 20, 50));
  return s;
}

Store& big_tree(Backend backend) {
  static std::unique_ptr<Store> embedded, dlfsd;
  auto& s = backend == Backend::kEmbedded ? embedded : dlfsd;
  if (!s) s = make_big_tree(backend);
  return *s;
}

struct Mount {
  MountGuard guard;
  std::string dir;
};

// Mounts `dataset` ("tree", or "tree:/folder") with extra -o options; fails the test (and leaves
// nothing mounted) on error.
std::unique_ptr<Mount> mount(const Store& s, const std::string& dataset, const std::string& mp,
                             const std::string& options, const std::string& cache) {
  stdfs::create_directories(mp);
  std::string opts = s.platform->mount_options() + ",cache=" + cache + ",log=" + mp + ".log";
  if (!options.empty()) opts += "," + options;
  size_t colon = dataset.find(':');
  std::string source = colon == std::string::npos
                           ? s.platform->source(dataset)
                           : s.platform->source(dataset.substr(0, colon), dataset.substr(colon + 1));
  auto r = run({kMountBin, source, mp, "-o", opts}, 60s);
  auto m = std::make_unique<Mount>();
  m->dir = mp;
  m->guard = MountGuard(mp, find_process("mount.dlfs", mp));
  EXPECT_TRUE(r.ok()) << "mount.dlfs failed: " << r.err << read_file(mp + ".log");
  if (!r.ok()) return nullptr;
  EXPECT_TRUE(is_mounted(mp));
  return m;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in, nullptr, false);
}

class MountTest : public ::testing::TestWithParam<Backend> {
 protected:
  TempDir work{"dlfs-mt"};
  std::string mp(const std::string& name = "mnt") { return work.sub(name); }
  std::string cache(const std::string& name = "cache") { return work.sub(name); }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, MountTest, kBackends, backend_name);

TEST_P(MountTest, MountIsLiveWhenTheCommandReturnsAndUnmountLeavesNothing) {
  Store& s = big_tree(GetParam());
  std::string dir = mp();
  stdfs::create_directories(dir);
  std::string opts = s.platform->mount_options() + ",cache=" + cache();
  auto r = sh("'" + kMountBin + "' '" + s.platform->source("tree") + "' '" + dir + "' -o '" + opts + "' && ls '" + dir + "'", 60s);
  MountGuard guard(dir, find_process("mount.dlfs", dir));
  ASSERT_TRUE(r.ok()) << r.err;
  EXPECT_EQ(r.out, "a\nempty.bin\nlarge.bin\nmany\nnames\n");
  auto m = run({"sh", "-c", "mount | grep '" + dir + "'"}, 10s);
  EXPECT_NE(m.out.find("fuse.dlfs"), std::string::npos) << m.out;
  pid_t pid = guard.daemon_pid();
  ASSERT_GT(pid, 0);
  auto u = run({"fusermount3", "-u", dir}, 20s);
  ASSERT_TRUE(u.ok()) << u.err;
  EXPECT_TRUE(wait_until([&] { return process_gone(pid); }, 20s));
  EXPECT_FALSE(is_mounted(dir));
  EXPECT_TRUE(stdfs::is_empty(dir));
}

TEST_P(MountTest, ListStatAndFindSeeTheTree) {
  Store& s = big_tree(GetParam());
  auto m = mount(s, "tree", mp(), "", cache());
  ASSERT_TRUE(m);
  auto ls = run({"ls", "-la", m->dir + "/names"}, 30s);
  ASSERT_TRUE(ls.ok()) << ls.err;
  EXPECT_NE(ls.out.find("with space.txt"), std::string::npos);
  EXPECT_NE(ls.out.find("ünïcødé ✓ 日本.bin"), std::string::npos);
  auto st = run({"stat", "-c", "%s %a %F %u %g", m->dir + "/large.bin", m->dir + "/empty.bin", m->dir + "/a/b"}, 30s);
  ASSERT_TRUE(st.ok()) << st.err;
  std::string id = std::to_string(getuid()) + " " + std::to_string(getgid());
  EXPECT_EQ(st.out, "52428800 644 regular file " + id + "\n0 644 regular empty file " + id + "\n" +
                        "0 755 directory " + id + "\n");
  // mtime is the item's updatedAt.
  auto item = s.remote->get("/a/top.txt");
  ASSERT_TRUE(item);
  auto mt = run({"stat", "-c", "%Y", m->dir + "/a/top.txt"}, 10s);
  EXPECT_EQ(mt.out, std::to_string(item->updated_ms / 1000) + "\n");
  auto files = sh("find '" + m->dir + "' -type f | wc -l", 60s);
  EXPECT_EQ(std::stoul(files.out), s.files.size());
  auto dirs = sh("find '" + m->dir + "' -mindepth 1 -type d | wc -l", 60s);
  EXPECT_EQ(std::stoul(dirs.out), 5u);  // a a/b a/b/c many names; nothing hidden
  auto many = sh("ls '" + m->dir + "/many' | wc -l", 60s);
  EXPECT_EQ(std::stoul(many.out), 1000u);
  // Inode numbers are stable: find -inum finds the file by the number stat gave.
  auto ino = run({"stat", "-c", "%i", m->dir + "/a/b/c/deep.txt"}, 10s);
  auto found = run({"find", m->dir, "-inum", ino.out.substr(0, ino.out.size() - 1)}, 60s);
  EXPECT_EQ(found.out, m->dir + "/a/b/c/deep.txt\n");
}

TEST_P(MountTest, EveryFileMatchesItsSource) {
  Store& s = big_tree(GetParam());
  auto m = mount(s, "tree", mp(), "", cache());
  ASSERT_TRUE(m);
  auto cmp = sh("cd '" + s.src + "' && find . -type f -print0 | xargs -0 -I{} cmp '{}' '" + m->dir + "/{}' && echo same",
                300s);
  EXPECT_EQ(cmp.out, "same\n") << cmp.err;
  auto diff = run({"diff", "-r", s.src, m->dir}, 300s);
  EXPECT_TRUE(diff.ok()) << diff.out << diff.err;
}

TEST_P(MountTest, PythonWalksAndReadsEverythingWithRandomOffsetsAndConcurrentReaders) {
  Store& s = big_tree(GetParam());
  auto m = mount(s, "tree", mp(), "", cache());
  ASSERT_TRUE(m);
  std::string script = work.sub("walk.py");
  write_file(script, R"PY(
import hashlib, os, random, sys, threading
src, mnt = sys.argv[1], sys.argv[2]
def tree(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, 'rb') as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out
a, b = tree(src), tree(mnt)
assert a == b, (len(a), len(b), sorted(set(a) ^ set(b))[:5])
# random offsets of the large file
rng = random.Random(7)
with open(os.path.join(src, 'large.bin'), 'rb') as x, open(os.path.join(mnt, 'large.bin'), 'rb') as y:
    for _ in range(300):
        off, n = rng.randrange(0, 50 << 20), rng.randrange(1, 300000)
        x.seek(off); y.seek(off)
        assert x.read(n) == y.read(n), off
# 8 concurrent readers of everything in many/ plus the large file
errors = []
def reader(k):
    try:
        names = sorted(os.listdir(os.path.join(mnt, 'many')))
        rng = random.Random(k); rng.shuffle(names)
        for n in names + ['../large.bin']:
            with open(os.path.join(mnt, 'many', n), 'rb') as fh, open(os.path.join(src, 'many', n), 'rb') as ref:
                if fh.read() != ref.read(): errors.append(n)
    except Exception as e:
        errors.append(repr(e))
ts = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
assert not errors, errors[:5]
print('ok', len(b))
)PY");
  auto r = run({"python3", script, s.src, m->dir}, 400s);
  EXPECT_TRUE(r.ok()) << r.out << r.err;
  EXPECT_EQ(r.out, "ok " + std::to_string(s.files.size()) + "\n");
}

TEST_P(MountTest, GetfattrShowsTheItem) {
  Store& s = big_tree(GetParam());
  auto m = mount(s, "tree", mp(), "", cache());
  ASSERT_TRUE(m);
  auto item = s.remote->get("/a/top.txt");
  ASSERT_TRUE(item);
  auto d = run({"getfattr", "-d", m->dir + "/a/top.txt"}, 30s);
  ASSERT_TRUE(d.ok()) << d.err;
  EXPECT_NE(d.out.find("user.dl.id=\"" + item->id + "\""), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("user.dl.type=\"file\""), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("user.dl.size=\"4\""), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("user.dl.metadata="), std::string::npos) << d.out;
  auto one = run({"getfattr", "--only-values", "-n", "user.dl.dataset", m->dir + "/a/top.txt"}, 30s);
  EXPECT_EQ(one.out, s.remote->dataset().id);
  // Other namespaces: not supported (so cp -a / ls -l are fine), and ls -l works.
  auto sel = run({"getfattr", "-n", "security.selinux", m->dir + "/a/top.txt"}, 30s);
  EXPECT_FALSE(sel.ok());
  EXPECT_NE(sel.err.find("Operation not supported"), std::string::npos) << sel.err;
  EXPECT_TRUE(run({"ls", "-l", m->dir + "/many"}, 60s).ok());
}

TEST_P(MountTest, ASecondMountOfTheSameDatasetSharesOnlyTheStore) {
  Store& s = big_tree(GetParam());
  auto one = mount(s, "tree", mp("one"), "", cache("c1"));
  auto two = mount(s, "tree", mp("two"), "ro", cache("c2"));
  ASSERT_TRUE(one && two);
  auto a = sh("cd '" + one->dir + "' && find . | sort", 60s);
  auto b = sh("cd '" + two->dir + "' && find . | sort", 60s);
  EXPECT_EQ(a.out, b.out);
  EXPECT_TRUE(run({"cmp", one->dir + "/a/b/mid.bin", two->dir + "/a/b/mid.bin"}, 30s).ok());
  EXPECT_TRUE(run({"cmp", s.src + "/large.bin", two->dir + "/large.bin"}, 60s).ok());  // ro: no_open path
}

TEST_P(MountTest, WarmRemountListsWithoutRemoteListingCalls) {
  Store& s = big_tree(GetParam());
  std::string stats = work.sub("stats.json");
  {
    auto m = mount(s, "tree", mp(), "stats=" + stats, cache());
    ASSERT_TRUE(m);
    ASSERT_TRUE(sh("ls -lR '" + m->dir + "' > /dev/null", 60s).ok());
    EXPECT_TRUE(m->guard.unmount());  // the daemon exits on its own
  }
  json cold = read_json(stats);
  EXPECT_GT(cold["remote"]["list_pages"].get<int>(), 0) << cold.dump();
  stdfs::remove(stats);
  {
    auto m = mount(s, "tree", mp(), "stats=" + stats, cache());
    ASSERT_TRUE(m);
    auto ls = sh("ls -lR '" + m->dir + "' | wc -l", 60s);
    EXPECT_GT(std::stoul(ls.out), 1000u);
    EXPECT_TRUE(m->guard.unmount());
  }
  json warm = read_json(stats);
  EXPECT_EQ(warm["remote"]["list_pages"].get<int>(), 0) << warm.dump();
  EXPECT_GT(warm["listings"]["cache_hits"].get<int>(), 0) << warm.dump();
}

TEST_P(MountTest, MountingOneFolder) {
  Store& s = big_tree(GetParam());
  auto m = mount(s, "tree:/a/b", mp(), "ro", cache());
  ASSERT_TRUE(m);
  auto ls = run({"ls", m->dir}, 30s);
  EXPECT_EQ(ls.out, "c\nmid.bin\n");
  EXPECT_TRUE(run({"cmp", s.src + "/a/b/c/deep.txt", m->dir + "/c/deep.txt"}, 30s).ok());
}

TEST_P(MountTest, StartErrorsAreOneClearLine) {
  Store s(GetParam(), "small");
  s.add("x.txt", "x");
  std::string dir = mp();
  stdfs::create_directories(dir);
  std::string opts = s.platform->mount_options() + ",cache=" + cache();
  std::string small = s.platform->source("small");
  auto missing = run({kMountBin, s.platform->source("nosuch"), dir, "-o", opts}, 60s);
  MountGuard guard(dir);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
  EXPECT_NE(missing.err.find("nosuch"), std::string::npos) << missing.err;
  EXPECT_FALSE(is_mounted(dir));

  auto nodir = run({kMountBin, small, work.sub("nope"), "-o", opts}, 60s);
  EXPECT_NE(nodir.exit_code, 0);
  EXPECT_NE(nodir.err.find("does not exist"), std::string::npos) << nodir.err;

  auto badopt = run({kMountBin, small, dir, "-o", opts + ",bogus=1"}, 60s);
  EXPECT_NE(badopt.exit_code, 0);
  EXPECT_NE(badopt.err.find("bogus"), std::string::npos) << badopt.err;

  auto m = mount(s, "small", dir, "", cache());
  ASSERT_TRUE(m);
  auto busy = run({kMountBin, small, dir, "-o", opts}, 60s);
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_NE(busy.err.find("busy"), std::string::npos) << busy.err;
  std::string other = mp("other");
  stdfs::create_directories(other);
  if (GetParam() == Backend::kEmbedded) {
    auto badstore = run({kMountBin, "small", other, "-o", "store=/proc/nonexistent/x"}, 60s);
    EXPECT_NE(badstore.exit_code, 0);
    EXPECT_EQ(std::count(badstore.err.begin(), badstore.err.end(), '\n'), 1) << badstore.err;
  } else {
    // A token the server did not sign, and a server that is not there.
    write_file(work.sub("bad-token"), "not.a.token");
    auto badtoken = run({kMountBin, small, other, "-o", "token_file=" + work.sub("bad-token")}, 60s);
    EXPECT_NE(badtoken.exit_code, 0);
    EXPECT_EQ(std::count(badtoken.err.begin(), badtoken.err.end(), '\n'), 1) << badtoken.err;
    EXPECT_NE(badtoken.err.find("invalid token"), std::string::npos) << badtoken.err;
    auto noserver = run({kMountBin, "http://127.0.0.1:1/api/v1/datasets/small", other, "-o",
                         s.platform->mount_options()}, 60s);
    EXPECT_NE(noserver.exit_code, 0);
    EXPECT_EQ(std::count(noserver.err.begin(), noserver.err.end(), '\n'), 1) << noserver.err;
  }
  EXPECT_FALSE(is_mounted(other));
}

TEST_P(MountTest, UnmountWhileAReaderIsBlockedNeverHangs) {
  Store s(GetParam(), "slow");
  s.add("slow.bin", random_bytes(100000, 3));
  // Every read stalls for a minute, like a server that stopped answering.
  auto m = mount(s, "slow", mp(), "debug_read_delay_ms=60000", cache());
  ASSERT_TRUE(m);
  pid_t daemon = m->guard.daemon_pid();
  ASSERT_GT(daemon, 0);
  Child reader({"cat", m->dir + "/slow.bin"});
  // Let the reader reach the stalled read.
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(reader.running());
  auto start = std::chrono::steady_clock::now();
  auto u = run({"fusermount3", "-u", "-z", m->dir}, 20s);
  EXPECT_TRUE(u.ok()) << u.err;
  EXPECT_TRUE(stop_process(daemon, 10s));
  reader.wait(15s);  // bounded; a reader still blocked after this fails the next line
  EXPECT_FALSE(reader.running());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_FALSE(is_mounted(m->dir));
}

TEST_P(MountTest, UmountWorksToo) {
  Store s(GetParam(), "um");
  s.add("f", "data");
  auto m = mount(s, "um", mp(), "", cache());
  ASSERT_TRUE(m);
  pid_t daemon = m->guard.daemon_pid();
  EXPECT_EQ(read_file(m->dir + "/f"), "data");
  auto u = run({"umount", m->dir}, 20s);
  EXPECT_TRUE(u.ok()) << u.err;
  EXPECT_TRUE(wait_until([&] { return process_gone(daemon); }, 20s));
  EXPECT_FALSE(is_mounted(m->dir));
}

TEST_P(MountTest, RemoteChangesAreSeenAfterTheTtl) {
  Store s(GetParam(), "fresh");
  s.add("d/one", "1");
  auto m = mount(s, "fresh", mp(), "dir_ttl=1", cache());
  ASSERT_TRUE(m);
  EXPECT_EQ(run({"ls", m->dir + "/d"}, 30s).out, "one\n");
  s.add("d/two", "22");
  EXPECT_TRUE(wait_until([&] { return run({"ls", m->dir + "/d"}, 30s).out == "one\ntwo\n"; }, 20s));
  EXPECT_EQ(read_file(m->dir + "/d/two"), "22");
}

TEST_P(MountTest, ForegroundModeServesUntilUnmountedAndExitsCleanly) {
  Store s(GetParam(), "fg");
  s.add("d/f.txt", "foreground\n");
  std::string dir = mp();
  stdfs::create_directories(dir);
  std::string err = work.sub("fg.err");
  Child daemon({"sh", "-c", "exec '" + kMountBin + "' '" + s.platform->source("fg") + "' '" + dir + "' -f -o '" +
                                s.platform->mount_options() + ",cache=" + cache() + "' 2> '" + err + "'"});
  MountGuard guard(dir, daemon.pid());
  ASSERT_TRUE(wait_until([&] { return is_mounted(dir); }, 30s)) << read_file(err);
  EXPECT_EQ(read_file(dir + "/d/f.txt"), "foreground\n");
  EXPECT_TRUE(run({"ls", "-lR", dir}, 30s).ok());
  auto u = run({"fusermount3", "-u", dir}, 20s);
  EXPECT_TRUE(u.ok()) << u.err;
  EXPECT_EQ(daemon.wait(30s), 0);  // a clean exit (and, in sanitizer builds, no reports)
  std::string log = read_file(err);
  EXPECT_EQ(log.find("Sanitizer"), std::string::npos) << log;
  EXPECT_EQ(log.find("runtime error"), std::string::npos) << log;
}
