// Link items preprocessed by the platform from a real static server on 127.0.0.1 (`python3 -m
// http.server`), seen through a real mount, on the embedded platform (preprocessing runs in the
// mount, allowed to fetch private addresses by -o link_allow_private) and on dlfsd (in the
// server, allowed by --link-allow-private): the target's size, mimetype and validators, an
// image's width, height, EXIF and thumbnail, all recorded so that a listing asks no target; an
// open revalidates (a changed target is read with its new size, a gone one answers EIO and says
// why). Without the permission, the platform refuses to fetch 127.0.0.1 and says so.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/xattr.h>

#include <filesystem>

#include "support/mounted_dataset.h"
#include "support/posix_read.h"
#include "support/process.h"
#include "support/static_http_server.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

int64_t size_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? int64_t(st.st_size) : -1;
}

class MountLinkPreprocess : public MountedDatasetTest {
 protected:
  void serve() {
    www = work.sub("www");
    std::filesystem::create_directories(www);
    // 640x480, shown rotated (EXIF orientation 6).
    auto made = sh("convert -size 640x480 gradient:red-blue " + www + "/photo.jpg && exiftool -q -overwrite_original "
                   "-Make=Pixel -Orientation=6 -n " + www + "/photo.jpg");
    ASSERT_TRUE(made.ok()) << made.err;
    write_file(www + "/notes.txt", "hello notes\n");
    server = std::make_unique<StaticHttpServer>(www);
    ASSERT_TRUE(server->ok()) << server->error();
  }
  void link(const std::string& path, const std::string& name) {
    auto r = dlfs({"link", dataset + ":" + path, server->origin() + "/" + name});
    ASSERT_TRUE(r.ok()) << r.out << r.err;
  }
  std::string www;
  std::unique_ptr<StaticHttpServer> server;
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, MountLinkPreprocess, kBackends, backend_name);

TEST_P(MountLinkPreprocess, TargetsAreRecordedAndRevalidatedAtOpen) {
  serve();
  link("/l/photo.jpg", "photo.jpg");
  link("/l/notes.txt", "notes.txt");
  // dir_ttl=1: the mount sees preprocessing's results soon; link_revalidate=0: every open asks.
  auto m = mount("mnt", "cache", "link_allow_private,dir_ttl=1,link_revalidate=0");
  ASSERT_TRUE(m);
  std::string photo = m->mountpoint() + "/l/photo.jpg", notes = m->mountpoint() + "/l/notes.txt";
  EXPECT_TRUE(wait_until([&] { return xattr(photo, "user.dl.preprocess") == "done"; }, 60s))
      << xattr(photo, "user.dl.preprocess") << " " << xattr(photo, "user.dl.preprocess_error");
  EXPECT_TRUE(wait_until([&] { return xattr(notes, "user.dl.preprocess") == "done"; }, 60s))
      << xattr(notes, "user.dl.preprocess") << " " << xattr(notes, "user.dl.preprocess_error");
  EXPECT_EQ(xattr(photo, "user.dl.width"), "640");
  EXPECT_EQ(xattr(photo, "user.dl.height"), "480");
  EXPECT_EQ(xattr(photo, "user.dl.orientation"), "6");
  EXPECT_EQ(xattr(photo, "user.dl.mimetype"), "image/jpeg");
  EXPECT_NE(xattr(photo, "user.dl.exif").find("\"Make\":\"Pixel\""), std::string::npos);
  EXPECT_EQ(xattr(photo, "user.dl.preprocess_error"), "<errno 61>");  // ENODATA: nothing failed
  // What was recorded: the size, and a validator the server gave (Last-Modified).
  json link_info = json::parse(xattr(photo, "user.dl.metadata"), nullptr, false)["system"]["shebang"]["linkInfo"];
  EXPECT_EQ(link_info.value("size", uint64_t(0)), std::filesystem::file_size(www + "/photo.jpg")) << link_info.dump();
  EXPECT_FALSE(link_info.value("lastModified", "").empty()) << link_info.dump();
  EXPECT_EQ(size_of(photo), int64_t(std::filesystem::file_size(www + "/photo.jpg")));
  EXPECT_EQ(read_all(photo).bytes, read_file(www + "/photo.jpg"));
  // The thumbnail, made from the target through the same guard, rotated as a viewer sees it.
  auto id = run({"identify", "-format", "%m %w %h", m->mountpoint() + "/.thumbnails/l/photo.jpg"}, 30s);
  EXPECT_EQ(id.out, "JPEG 192 256") << id.err;
  EXPECT_EQ(xattr(notes, "user.dl.mimetype"), "text/plain");
  EXPECT_EQ(size_of(notes), 12);
  EXPECT_EQ(read_all(notes).bytes, "hello notes\n");

  // The target changes: the next open sees its new size and bytes.
  write_file(www + "/notes.txt", "hello notes, now longer\n");
  auto changed = read_all(notes);
  EXPECT_EQ(changed.err, 0);
  EXPECT_EQ(changed.bytes, "hello notes, now longer\n");
  EXPECT_EQ(size_of(notes), 24);
  // The target goes: EIO, and the reason.
  std::filesystem::remove(www + "/notes.txt");
  EXPECT_EQ(read_all(notes).err, EIO);
  EXPECT_NE(xattr(notes, "user.dl.link.error").find("404"), std::string::npos) << xattr(notes, "user.dl.link.error");
}

// Without the permission the platform never fetches 127.0.0.1: preprocessing fails, with why.
TEST_P(MountLinkPreprocess, APlatformNotAllowedPrivateAddressesRefusesThem) {
  serve();
  platform.reset();  // the same store, served again without the permission
  platform = std::make_unique<TestPlatform>(GetParam(), work.sub("platform"), /*link_allow_private=*/false);
  ASSERT_TRUE(platform->ok()) << platform->error();
  link("/l/notes.txt", "notes.txt");
  auto m = mount("mnt", "cache", "dir_ttl=1");
  ASSERT_TRUE(m);
  std::string notes = m->mountpoint() + "/l/notes.txt";
  EXPECT_TRUE(wait_until([&] { return xattr(notes, "user.dl.preprocess") == "failed"; }, 60s))
      << xattr(notes, "user.dl.preprocess");
  std::string why = xattr(notes, "user.dl.preprocess_error");
  EXPECT_NE(why.find("127.0.0.1"), std::string::npos) << why;
  EXPECT_NE(why.find("loopback"), std::string::npos) << why;
  EXPECT_EQ(read_all(notes).err, EACCES);  // nor does the mount, without -o link_allow_private
}
