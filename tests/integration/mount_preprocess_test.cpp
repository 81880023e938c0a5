// What preprocessing made, seen through a real mount (of the embedded platform and of dlfsd):
// the user.dl.* xattrs of an image and its thumbnail at /.thumbnails/<path>, a JPEG of at most
// 256 px with the EXIF orientation applied.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/xattr.h>

#include "support/mounted_dataset.h"
#include "support/posix_read.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

class MountPreprocess : public MountedDatasetTest {};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, MountPreprocess, kBackends, backend_name);

TEST_P(MountPreprocess, XattrsAndThumbnailOfAnImage) {
  // 640x480, shown rotated (EXIF orientation 6): a viewer sees 480x640.
  std::string jpg = work.sub("photo.jpg");
  auto made = sh("convert -size 640x480 gradient:red-blue " + jpg +
                 " && exiftool -q -overwrite_original -Make=Pixel -Orientation=6 -n " + jpg);
  ASSERT_TRUE(made.ok()) << made.err;
  // Uploaded by another client of the platform, which preprocesses it (embedded: the platform's
  // queue runs in the mount; dlfsd: in the server).
  auto remote = platform->connection()->open(dataset);
  ASSERT_TRUE(remote) << remote.status().to_string();
  auto up = (*remote)->upload(jpg, "/cam/photo.jpg", UploadOptions{});
  ASSERT_TRUE(up) << up.status().to_string();
  // Another client's item: the mount sees its preprocessing results when its entry expires.
  auto m = mount("mnt", "cache", "dir_ttl=1");
  ASSERT_TRUE(m);
  std::string mnt = m->mountpoint();

  std::string photo = mnt + "/cam/photo.jpg";
  EXPECT_TRUE(wait_until([&] { return xattr(photo, "user.dl.preprocess") == "done"; }, 60s))
      << "phase: " << xattr(photo, "user.dl.preprocess");
  EXPECT_EQ(xattr(photo, "user.dl.width"), "640");
  EXPECT_EQ(xattr(photo, "user.dl.height"), "480");
  EXPECT_EQ(xattr(photo, "user.dl.orientation"), "6");
  EXPECT_EQ(xattr(photo, "user.dl.mimetype"), "image/jpeg");
  EXPECT_EQ(xattr(photo, "user.dl.preprocess"), "done");
  EXPECT_NE(xattr(photo, "user.dl.exif").find("\"Make\":\"Pixel\""), std::string::npos);
  // getfattr -d stays readable: the thumbnail's bytes are not listed, its path is.
  auto dump = run({"getfattr", "-d", photo}, 30s);
  EXPECT_NE(dump.out.find("user.dl.width=\"640\""), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("\nuser.dl.thumbnail_path=\"/.thumbnails/cam/photo.jpg\"\n"), std::string::npos) << dump.out;
  EXPECT_EQ(dump.out.find("user.dl.thumbnail="), std::string::npos) << dump.out;
  auto by_name = run({"getfattr", "-n", "user.dl.thumbnail", photo}, 30s);
  EXPECT_NE(by_name.out.find("user.dl.thumbnail=0s/9j/"), std::string::npos) << by_name.out;  // base64 of FF D8 FF

  // The thumbnail: a JPEG, long side 256, rotated as the viewer sees it (portrait).
  std::string thumb = mnt + xattr(photo, "user.dl.thumbnail_path");
  EXPECT_EQ(thumb, mnt + "/.thumbnails/cam/photo.jpg");
  auto id = run({"identify", "-format", "%m %w %h", thumb}, 30s);
  ASSERT_TRUE(id.ok()) << id.err;
  EXPECT_EQ(id.out, "JPEG 192 256");
  EXPECT_EQ(xattr(photo, "user.dl.thumbnail").substr(0, 3), std::string("\xff\xd8\xff", 3));
  // Neither the thumbnails folder nor the platform's hidden items are listed.
  auto ls = run({"ls", "-a", mnt}, 30s);
  EXPECT_EQ(ls.out, ".\n..\ncam\n");
}

TEST_P(MountPreprocess, AnImageCopiedInGetsItsXattrsAndThumbnailWithoutARemount) {
  std::string jpg = work.sub("in.jpg");
  auto made = sh("convert -size 300x200 gradient:green-yellow " + jpg +
                 " && exiftool -q -overwrite_original -Model=Cam -Orientation=1 -n " + jpg);
  ASSERT_TRUE(made.ok()) << made.err;
  auto m = mount("mnt", "cache");
  ASSERT_TRUE(m);
  std::string mnt = m->mountpoint();

  auto cp = run({"cp", jpg, mnt + "/in.jpg"}, 60s);
  ASSERT_TRUE(cp.ok()) << cp.err;
  // fsync waits for this file's upload; preprocessing then runs in the platform.
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
