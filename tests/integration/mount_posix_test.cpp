// POSIX attributes through a real FUSE mount, on the embedded platform and over dlfsd: the mode
// a file or folder is made with, chmod, chown, touch -d, kept across a remount (a fresh mount
// with its own cache is a second client); cp -a, rsync -a and tar -xpf keep them as on a local
// disk, and make rebuilds by them; device nodes, fifos and hard links answer EPERM; a mount with
// -o no_posix_attrs answers EPERM to chmod and touch -d instead of pretending.
#include <gtest/gtest.h>

#include "support/mounted_dataset.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace dlfs;
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
                 "touch -d '2018-01-01 UTC' sub && tar -C '" + src + "' -cf '" + src + "/tree.tar' tree").ok());
  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  const std::string d = m->mountpoint();
  const std::string fmt = "%a %.9Y %n";  // (a folder's size is each filesystem's own)
  auto listing = [&](const std::string& root) {
    std::string out = stat_of(fmt, {root + "/a", root + "/sub", root + "/sub/b"});
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
