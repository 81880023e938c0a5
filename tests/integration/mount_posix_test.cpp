// POSIX attributes through a real FUSE mount, on the embedded platform and over dlfsd: the mode
// a file or folder is made with, chmod, chown, touch -d, kept across a remount (a fresh mount
// with its own cache is a second client); cp -a, rsync -a and tar -xpf keep them as on a local
// disk (symlinks too), and make rebuilds by them; device nodes, fifos and hard links answer EPERM;
// names and paths as long as a local disk takes them; a mount with
// -o no_posix_attrs answers EPERM to chmod and touch -d instead of pretending.
#include <gtest/gtest.h>

#include <thread>

#include "support/mounted_dataset.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace std::chrono_literals;
using namespace dlfs::test;

namespace {

class MountPosix : public MountedDatasetTest {};

// `stat -c FORMAT` of each path, one line each.
std::string stat_of(const std::string& format, const std::vector<std::string>& paths) {
  std::vector<std::string> argv = {"stat", "-c", format};
  argv.insert(argv.end(), paths.begin(), paths.end());
  CommandResult r = run(argv);
  return r.ok() ? r.out : "<" + r.err + ">";
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, MountPosix, kBackends, backend_name);

TEST_P(MountPosix, ModesOwnersAndTimesAreKeptAcrossARemount) {
  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  const std::string d = m->mountpoint();
  ASSERT_TRUE(sh("cd '" + d + "' && umask 027 && echo hi > made && mkdir -m 700 private && mkdir shared && "
                 "echo x > shared/f && echo y > g").ok());
  EXPECT_EQ(stat_of("%a %n", {d + "/made", d + "/private", d + "/shared"}),
            "640 " + d + "/made\n700 " + d + "/private\n750 " + d + "/shared\n");
  // Right away (the files are still pending) and on what the platform has.
  ASSERT_TRUE(run({"chmod", "600", d + "/g"}).ok());
  ASSERT_TRUE(run({"touch", "-d", "2020-01-01 00:00:00.25 UTC", d + "/g"}).ok());
  ASSERT_TRUE(run({"chown", "1234:5678", d + "/g"}).ok());
  ASSERT_TRUE(sync(d).ok());
  ASSERT_TRUE(run({"chmod", "2770", d + "/shared"}).ok());
  ASSERT_TRUE(run({"chmod", "755", d + "/shared/f"}).ok());
  ASSERT_TRUE(run({"touch", "-d", "2021-06-01 12:00:00 UTC", d + "/shared/f"}).ok());
  const std::string want = "600 1234 5678 1577836800.250000000\n2770 0 0\n755 1622548800.000000000\n";
  auto now = [&](const std::string& root) {
    return stat_of("%a %u %g %.9Y", {root + "/g"}) + stat_of("%a %u %g", {root + "/shared"}) +
           stat_of("%a %.9Y", {root + "/shared/f"});
  };
  EXPECT_EQ(now(d), want);
  ASSERT_TRUE(sync(d).ok());
  EXPECT_TRUE(m->unmount());
  auto two = mount("two", "cache2");
  ASSERT_TRUE(two);
  EXPECT_EQ(now(two->mountpoint()), want);
}

TEST_P(MountPosix, CpARsyncTarAndMakeSeeALocalDisk) {
  std::string src = work.sub("src");
  ASSERT_TRUE(sh("mkdir -p '" + src + "/tree/sub' && cd '" + src + "/tree' && echo a > a && echo b > sub/b && "
                 "chmod 600 a && chmod 750 sub && chmod 700 sub/b && touch -d '2019-05-05 05:05:05 UTC' a sub/b && "
                 "ln -s ../a sub/link && touch -h -d '2017-07-07 UTC' sub/link && touch -d '2018-01-01 UTC' sub && tar -C '" + src + "' -cf '" + src + "/tree.tar' tree").ok());
  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  const std::string d = m->mountpoint();
  const std::string fmt = "%a %F %.9Y %N";  // (a folder's size is each filesystem's own)
  auto listing = [&](const std::string& root) {
    std::string out = stat_of(fmt, {root + "/a", root + "/sub", root + "/sub/b", root + "/sub/link"});
    size_t at;
    while ((at = out.find(root)) != std::string::npos) out.replace(at, root.size(), "R");
    return out;
  };
  const std::string local = listing(src + "/tree");
  ASSERT_TRUE(run({"cp", "-a", src + "/tree", d + "/copied"}).ok());
  EXPECT_EQ(listing(d + "/copied"), local);
  EXPECT_TRUE(run({"diff", "-r", src + "/tree", d + "/copied"}).ok());
  auto tar = run({"tar", "-xpf", src + "/tree.tar", "-C", d + "/"});
  ASSERT_TRUE(tar.ok()) << tar.err;
  EXPECT_EQ(listing(d + "/tree"), local);
  auto rsync = run({"rsync", "-a", src + "/tree/", d + "/synced"});
  ASSERT_TRUE(rsync.ok()) << rsync.err;
  EXPECT_EQ(listing(d + "/synced"), local);
  // A second rsync finds nothing to send: sizes and times match.
  auto again_rsync = run({"rsync", "-ai", src + "/tree/", d + "/synced"});
  EXPECT_TRUE(again_rsync.ok()) << again_rsync.err;
  EXPECT_EQ(again_rsync.out, "");
  // make rebuilds what is older than its source, and only that.
  ASSERT_TRUE(sh("cd '" + d + "' && printf 'out: in\\n\\tcat in > out\\n' > Makefile && echo 1 > in && "
                 "touch -d '2000-01-01 UTC' in && make -s && echo 2 > in && make -s && cat out").ok());
  EXPECT_EQ(run({"cat", d + "/out"}).out, "2\n");
  auto again = sh("cd '" + d + "' && make");
  EXPECT_NE(again.out.find("up to date"), std::string::npos) << again.out << again.err;
  ASSERT_TRUE(sync(d).ok());
  EXPECT_TRUE(m->unmount());
  auto two = mount("two", "cache2");
  ASSERT_TRUE(two);
  EXPECT_EQ(listing(two->mountpoint() + "/copied"), local);
}

TEST_P(MountPosix, NodesFifosAndHardLinksAnswerEperm) {
  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  const std::string d = m->mountpoint();
  ASSERT_TRUE(sh("echo x > '" + d + "/f'").ok());
  for (auto argv : std::vector<std::vector<std::string>>{{"mkfifo", d + "/fifo"},
                                                          {"mknod", d + "/dev", "c", "1", "3"},
                                                          {"ln", d + "/f", d + "/hard"}}) {
    auto r = run(argv);
    EXPECT_FALSE(r.ok()) << argv[0];
    EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << argv[0] << ": " << r.err;
  }
  EXPECT_EQ(run({"ls", d}).out, "f\n");
}

TEST_P(MountPosix, AMountThatDoesNotKeepThemSaysSo) {
  auto m = mount("mnt", "cache", "no_posix_attrs");
  ASSERT_TRUE(m);
  const std::string d = m->mountpoint();
  ASSERT_TRUE(sh("umask 077 && echo x > '" + d + "/f'").ok());
  EXPECT_EQ(stat_of("%a", {d + "/f"}), "644\n");
  for (auto argv : std::vector<std::vector<std::string>>{{"chmod", "600", d + "/f"},
                                                          {"touch", "-d", "2020-01-01", d + "/f"},
                                                          {"chown", "1:1", d + "/f"}}) {
    auto r = run(argv);
    EXPECT_FALSE(r.ok()) << argv[0];
    EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << argv[0] << ": " << r.err;
  }
}

// Names up to 255 bytes, and paths as deep as a local disk allows: a path argument of 4,095
// bytes (PATH_MAX less its NUL), and deeper still from a folder on the way (the dataset path
// passes 4,096 bytes). A second mount reads the deepest file byte for byte.
TEST_P(MountPosix, LongNamesAndDeepPathsWorkAsOnALocalDisk) {
  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  const std::string d = m->mountpoint();
  // Python walks the chain with relative paths (as pjdfstest does), then from its deepest folder.
  const std::string script = R"PY(
import errno, os, sys
os.chdir(sys.argv[1])
names = [c * 255 for c in "abcdefghijklmnop"]  # 16 folders: 4,096 bytes with their slashes
os.makedirs("/".join(names[:15]))
argument = "/".join(names[:15]) + "/" + "z" * (4095 - 15 * 256)
assert len(argument) == 4095
with open(argument, "w") as f: f.write("at PATH_MAX")
try:
    open(argument + "z", "w")
    sys.exit("a 4,096-byte argument was taken")
except OSError as e:
    assert e.errno == errno.ENAMETOOLONG, e
try:
    open("x" * 256, "w")
    sys.exit("a 256-byte name was taken")
except OSError as e:
    assert e.errno == errno.ENAMETOOLONG, e
os.chdir("/".join(names[:15]))
os.makedirs("/".join(names[15:] + ["q" * 255]))
os.chdir("/".join(names[15:] + ["q" * 255]))
with open("deepest.txt", "w") as f: f.write("past 4 KiB")
print(len(os.getcwd()) - len(sys.argv[1]))
)PY";
  auto r = run({"python3", "-c", script, d});
  ASSERT_TRUE(r.ok()) << r.out << r.err;
  EXPECT_GT(std::stoi(r.out), 4096);
  ASSERT_TRUE(sync(d).ok());
  auto two = mount("two", "cache2");
  ASSERT_TRUE(two);
  const std::string read_back = R"PY(
import os, sys
os.chdir(sys.argv[1])
names = [c * 255 for c in "abcdefghijklmnop"]
os.chdir("/".join(names[:15]))
print(open("z" * (4095 - 15 * 256)).read())
os.chdir("/".join(names[15:] + ["q" * 255]))
print(open("deepest.txt").read())
)PY";
  auto back = run({"python3", "-c", read_back, two->mountpoint()});
  EXPECT_TRUE(back.ok()) << back.err;
  EXPECT_EQ(back.out, "at PATH_MAX\npast 4 KiB\n");
  EXPECT_TRUE(two->unmount());
  EXPECT_TRUE(m->unmount());
}

// A name made in a folder moves the folder's mtime, and a second mount sees the same time (the
// mount sends it to the platform a moment later).
TEST_P(MountPosix, AFoldersTimeAfterANewNameIsSeenByASecondMount) {
  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  const std::string d = m->mountpoint();
  ASSERT_TRUE(run({"mkdir", d + "/folder"}).ok());
  const std::string made = stat_of("%.9Y", {d + "/folder"});
  std::this_thread::sleep_for(1100ms);
  ASSERT_TRUE(sh("echo new > '" + d + "/folder/new.txt'").ok());
  const std::string changed = stat_of("%.9Y", {d + "/folder"});
  EXPECT_NE(changed, made);
  ASSERT_TRUE(sync(d).ok());
  std::string seen;
  for (int i = 0; i < 20; ++i) {  // (the patch follows the change by a second: a fresh mount until it shows)
    auto three = mount("three-" + std::to_string(i), "cache3-" + std::to_string(i));
    ASSERT_TRUE(three);
    seen = stat_of("%.9Y", {three->mountpoint() + "/folder"});
    EXPECT_TRUE(three->unmount());
    if (seen == changed) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(seen, changed);
  EXPECT_TRUE(m->unmount());
}
