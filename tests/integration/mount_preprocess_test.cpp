// What preprocessing made, seen through a real mount: the user.dl.* xattrs of an image and its
// thumbnail at /.thumbnails/<path>, a JPEG of at most 256 px with the EXIF orientation applied.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/xattr.h>

#include "platform/platform.h"
#include "remote/local_remote.h"
#include "support/mount_guard.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

std::string xattr(const std::string& path, const std::string& name) {
  char buf[65536];
  ssize_t n = getxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  return n < 0 ? std::string("<errno ") + std::to_string(errno) + ">" : std::string(buf, size_t(n));
}

}  // namespace

TEST(MountPreprocessTest, XattrsAndThumbnailOfAnImage) {
  TempDir dir("dlfs-mount-pre");
  // 640x480, shown rotated (EXIF orientation 6): a viewer sees 480x640.
  auto made = sh("convert -size 640x480 gradient:red-blue " + dir.sub("photo.jpg") +
                 " && exiftool -q -overwrite_original -Make=Pixel -Orientation=6 -n " + dir.sub("photo.jpg"));
  ASSERT_TRUE(made.ok()) << made.err;
  {
    auto conn = LocalConnection::open(LocalOptions{dir.sub("store")});
    ASSERT_TRUE(conn) << conn.status().to_string();
    ASSERT_TRUE((*conn)->create_dataset("pics"));
    auto remote = (*conn)->open("pics");
    ASSERT_TRUE(remote);
    auto up = (*remote)->upload(dir.sub("photo.jpg"), "/cam/photo.jpg", UploadOptions{});
    ASSERT_TRUE(up) << up.status().to_string();
    auto& platform = *(*conn)->platform();
    ASSERT_TRUE(platform.start_preprocessing(1));
    auto tally = platform.wait_preprocessed({up->item.id}, 60s);
    ASSERT_TRUE(tally) << tally.status().to_string();
    ASSERT_EQ(tally->done, 1u);
  }
  std::string mnt = dir.sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  auto r = run({std::string(DLFS_BIN_DIR) + "/mount.dlfs", "pics", mnt, "-o",
                "store=" + dir.sub("store") + ",cache=" + dir.sub("cache")}, 60s);
  MountGuard guard(mnt);
  ASSERT_TRUE(r.ok()) << r.err;

  std::string photo = mnt + "/cam/photo.jpg";
  EXPECT_EQ(xattr(photo, "user.dl.width"), "640");
  EXPECT_EQ(xattr(photo, "user.dl.height"), "480");
  EXPECT_EQ(xattr(photo, "user.dl.orientation"), "6");
  EXPECT_EQ(xattr(photo, "user.dl.mimetype"), "image/jpeg");
  EXPECT_EQ(xattr(photo, "user.dl.preprocess"), "done");
  EXPECT_NE(xattr(photo, "user.dl.exif").find("\"Make\":\"Pixel\""), std::string::npos);
  auto dump = run({"getfattr", "-d", photo}, 30s);
  EXPECT_NE(dump.out.find("user.dl.width=\"640\""), std::string::npos) << dump.out;

  // The thumbnail: a JPEG, long side 256, rotated as the viewer sees it (portrait).
  std::string thumb = mnt + "/.thumbnails/cam/photo.jpg";
  auto id = run({"identify", "-format", "%m %w %h", thumb}, 30s);
  ASSERT_TRUE(id.ok()) << id.err;
  EXPECT_EQ(id.out, "JPEG 192 256");
  EXPECT_EQ(xattr(photo, "user.dl.thumbnail").substr(0, 3), std::string("\xff\xd8\xff", 3));
  // Neither the thumbnails folder nor the platform's hidden items are listed.
  auto ls = run({"ls", "-a", mnt}, 30s);
  EXPECT_EQ(ls.out, ".\n..\ncam\n");
}

TEST(MountPreprocessTest, AnImageCopiedInGetsItsXattrsAndThumbnailWithoutARemount) {
  TempDir dir("dlfs-mount-pre-cp");
  auto made = sh("convert -size 300x200 gradient:green-yellow " + dir.sub("in.jpg") +
                 " && exiftool -q -overwrite_original -Model=Cam -Orientation=1 -n " + dir.sub("in.jpg"));
  ASSERT_TRUE(made.ok()) << made.err;
  {
    auto conn = LocalConnection::open(LocalOptions{dir.sub("store")});
    ASSERT_TRUE(conn) << conn.status().to_string();
    ASSERT_TRUE((*conn)->create_dataset("pics"));
  }
  std::string mnt = dir.sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  auto r = run({std::string(DLFS_BIN_DIR) + "/mount.dlfs", "pics", mnt, "-o",
                "store=" + dir.sub("store") + ",cache=" + dir.sub("cache")}, 60s);
  MountGuard guard(mnt);
  ASSERT_TRUE(r.ok()) << r.err;

  auto cp = run({"cp", dir.sub("in.jpg"), mnt + "/in.jpg"}, 60s);
  ASSERT_TRUE(cp.ok()) << cp.err;
  // fsync waits for this file's upload; preprocessing then runs in the mount's platform.
  auto synced = run({"python3", "-c", "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)", mnt + "/in.jpg"}, 60s);
  ASSERT_TRUE(synced.ok()) << synced.err;
  std::string photo = mnt + "/in.jpg";
  EXPECT_TRUE(wait_until([&] { return xattr(photo, "user.dl.preprocess") == "done"; }, 30s))
      << "phase: " << xattr(photo, "user.dl.preprocess");
  EXPECT_EQ(xattr(photo, "user.dl.width"), "300");
  EXPECT_EQ(xattr(photo, "user.dl.height"), "200");
  EXPECT_NE(xattr(photo, "user.dl.exif").find("\"Model\":\"Cam\""), std::string::npos);
  auto id = run({"identify", "-format", "%m %w %h", mnt + "/.thumbnails/in.jpg"}, 30s);
  EXPECT_TRUE(id.ok()) << id.err;
  EXPECT_EQ(id.out, "JPEG 256 171");
}
