// mount(8) integration: `mount -t dlfs` and an /etc/fstab line (through `mount --fstab FILE`)
// reach mount.dlfs as /sbin/mount.dlfs, with the options mount(8) and systemd add.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "remote/local_remote.h"
#include "support/mount_guard.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

// Installs build/bin/mount.dlfs as /sbin/mount.dlfs for the test (mount(8) looks only there),
// unless a mount.dlfs is installed already; removes what it added.
class SbinHelper {
 public:
  SbinHelper() {
    if (std::filesystem::exists(kPath)) return;
    std::error_code ec;
    std::filesystem::create_symlink(std::string(DLFS_BIN_DIR) + "/mount.dlfs", kPath, ec);
    added_ = !ec;
    error_ = ec.message();
  }
  ~SbinHelper() {
    if (added_) ::unlink(kPath);
  }
  bool usable() const { return added_ || std::filesystem::exists(kPath); }
  const std::string& error() const { return error_; }

 private:
  static constexpr const char* kPath = "/sbin/mount.dlfs";
  bool added_ = false;
  std::string error_;
};

class MountHelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "mount(8) with a helper needs root";
    if (!helper_.usable()) GTEST_SKIP() << "cannot install /sbin/mount.dlfs: " << helper_.error();
    auto conn = LocalConnection::open(LocalOptions{dir_.sub("store")});
    ASSERT_TRUE(conn) << conn.status().to_string();
    ASSERT_TRUE((*conn)->create_dataset("cars"));
    auto remote = (*conn)->open("cars");
    ASSERT_TRUE(remote);
    write_file(dir_.sub("src/a.jpg"), "jpeg bytes");
    ASSERT_TRUE((*remote)->upload(dir_.sub("src/a.jpg"), "/photos/a.jpg", UploadOptions{}));
    ASSERT_EQ(::mkdir(mnt_.c_str(), 0755), 0);
  }

  TempDir dir_{"dlfs-mount-helper"};
  std::string mnt_ = dir_.sub("mnt");
  SbinHelper helper_;
};

}  // namespace

TEST_F(MountHelperTest, MountTypeDlfs) {
  std::string opts = "store=" + dir_.sub("store") + ",cache=" + dir_.sub("cache");
  auto r = run({"mount", "-t", "dlfs", "-o", opts, "cars", mnt_}, 60s);
  MountGuard guard(mnt_);
  ASSERT_TRUE(r.ok()) << r.err;
  EXPECT_TRUE(is_mounted(mnt_));
  EXPECT_EQ(read_file(mnt_ + "/photos/a.jpg"), "jpeg bytes");
  auto u = run({"umount", mnt_}, 30s);
  EXPECT_TRUE(u.ok()) << u.err;
  EXPECT_TRUE(wait_until([&] { return !is_mounted(mnt_); }, 10s));
}

TEST_F(MountHelperTest, FstabLineWithTheOptionsMountAndSystemdAdd) {
  std::string fstab = dir_.sub("fstab");
  write_file(fstab, "# an /etc/fstab of the test's own\n"
                    "cars:/photos " + mnt_ + " dlfs store=" + dir_.sub("store") + ",cache=" + dir_.sub("cache") +
                        ",ro,noauto,nofail,_netdev,user,x-systemd.automount,x-systemd.idle-timeout=60 0 0\n");
  auto r = run({"mount", "--fstab", fstab, mnt_}, 60s);
  MountGuard guard(mnt_);
  ASSERT_TRUE(r.ok()) << r.err;
  EXPECT_EQ(read_file(mnt_ + "/a.jpg"), "jpeg bytes");  // DATASET:/folder mounts the folder
  EXPECT_NE(::access((mnt_ + "/a.jpg").c_str(), W_OK), 0);  // ro reached the kernel
  auto u = run({"umount", mnt_}, 30s);
  EXPECT_TRUE(u.ok()) << u.err;
}

TEST_F(MountHelperTest, FakeMountChecksButMountsNothing) {
  // `mount -f` runs the helper with -f, meaning "fake": it must not mount (nor stay in the
  // foreground, which -f means when a user types it).
  std::string opts = "store=" + dir_.sub("store") + ",cache=" + dir_.sub("cache");
  auto r = run({"mount", "-f", "-t", "dlfs", "-o", opts, "cars", mnt_}, 30s);
  MountGuard guard(mnt_);
  EXPECT_TRUE(r.ok()) << r.err << (r.timed_out ? " (timed out: mounted in the foreground)" : "");
  EXPECT_FALSE(is_mounted(mnt_));
  // A bad mount point still fails the fake mount.
  auto bad = run({"mount", "-f", "-t", "dlfs", "-o", opts, "cars", dir_.sub("missing")}, 30s);
  EXPECT_FALSE(bad.ok());
}
