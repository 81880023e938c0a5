// Items as extended attributes (DESIGN.md's xattr map, read-only part).
#include <gtest/gtest.h>

#include <fcntl.h>

#include <sstream>
#include <thread>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "fs/xattr_map.h"
#include "support/fs_fixture.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

class FsXattr : public ::testing::Test, public FsFixture {};

std::vector<std::string> split_names(const std::string& packed) {
  std::vector<std::string> names;
  for (size_t start = 0; start < packed.size();) {
    size_t end = packed.find('\0', start);
    names.push_back(packed.substr(start, end - start));
    start = end + 1;
  }
  return names;
}

}  // namespace

TEST_F(FsXattr, ValuesOfAnImageItem) {
  Item item = remote.add_file("/cars/a.jpg", std::string(48213, 'x'),
                              {{"camera", "cam-7"}, {"score", 0.5}, {"tags", {"a", "b"}},
                               {"nested", {{"deep", {{"x", 1}}}, {"label", "car"}}}, {"flag", true}});
  item.system()["mimetype"] = "image/jpeg";
  item.system()["width"] = 640;
  item.system()["height"] = 480;
  item.system()["exif"] = {{"Orientation", 6}};
  item.system()["preprocessPhase"] = "done";
  item.description = "a red car";
  remote.put_item(item);
  remote.set_thumbnail("/cars/a.jpg", "JPEGBYTES");
  item = *remote.item_at("/cars/a.jpg");
  mount();
  Ino ino = walk("/cars/a.jpg")->ino;
  auto get = [&](const std::string& name) {
    auto v = fs->getxattr(ino, name);
    return v ? *v : "<errno " + std::to_string(v.err()) + ">";
  };
  EXPECT_EQ(get("user.dl.id"), item.id);
  EXPECT_EQ(get("user.dl.dataset"), remote.dataset().id);
  EXPECT_EQ(get("user.dl.type"), "file");
  EXPECT_EQ(get("user.dl.mimetype"), "image/jpeg");
  EXPECT_EQ(get("user.dl.size"), "48213");
  EXPECT_EQ(get("user.dl.width"), "640");
  EXPECT_EQ(get("user.dl.height"), "480");
  EXPECT_EQ(get("user.dl.orientation"), "6");
  EXPECT_EQ(get("user.dl.exif"), R"({"Orientation":6})");
  EXPECT_EQ(get("user.dl.created_at"), format_iso8601(item.created_ms));
  EXPECT_EQ(get("user.dl.updated_at"), format_iso8601(item.updated_ms));
  EXPECT_EQ(get("user.dl.creator"), "dev@local");
  EXPECT_EQ(get("user.dl.original_name"), "a.jpg");
  EXPECT_EQ(get("user.dl.upload_state"), "uploaded");
  EXPECT_EQ(get("user.dl.preprocess"), "done");
  EXPECT_EQ(get("user.dl.thumbnail"), "JPEGBYTES");  // by name, though not listed
  EXPECT_EQ(get("user.dl.thumbnail_path"), "/.thumbnails/cars/a.jpg");
  EXPECT_EQ(json::parse(get("user.dl.metadata")), item.metadata);
  EXPECT_EQ(get("user.dl.description"), "a red car");
  EXPECT_EQ(get("user.meta.camera"), "cam-7");  // strings raw
  EXPECT_EQ(get("user.meta.score"), "0.5");     // other JSON values as JSON
  EXPECT_EQ(get("user.meta.tags"), R"(["a","b"])");
  EXPECT_EQ(get("user.meta.flag"), "true");
  EXPECT_EQ(get("user.meta.nested.label"), "car");
  EXPECT_EQ(get("user.meta.nested.deep.x"), "1");
  EXPECT_EQ(fs->getxattr(ino, "user.dl.link.url").err(), ENODATA);
  EXPECT_EQ(fs->getxattr(ino, "user.meta.nope").err(), ENODATA);
  EXPECT_EQ(fs->getxattr(ino, "user.other").err(), ENODATA);

  auto names = split_names(*fs->listxattr(ino));
  std::vector<std::string> want = {
      "user.dl.id", "user.dl.dataset", "user.dl.type", "user.dl.mimetype", "user.dl.size",
      "user.dl.width", "user.dl.height", "user.dl.orientation", "user.dl.exif",
      "user.dl.created_at", "user.dl.updated_at", "user.dl.creator", "user.dl.original_name",
      "user.dl.upload_state", "user.dl.preprocess", "user.dl.thumbnail_path", "user.dl.metadata",
      "user.dl.description", "user.meta.camera", "user.meta.flag", "user.meta.nested.deep.x",
      "user.meta.nested.label", "user.meta.score", "user.meta.tags"};
  EXPECT_EQ(names, want);
  // Every listed name has a value.
  for (auto& name : names) EXPECT_TRUE(fs->getxattr(ino, name)) << name;
}

TEST_F(FsXattr, FoldersLinksAndAbsentFields) {
  remote.add_dir("/folder");
  remote.add_link("/l.jpg", "https://example.invalid/x.jpg", "image/png");
  remote.add_file("/plain.bin", "p");
  mount();
  Ino folder = walk("/folder")->ino;
  EXPECT_EQ(*fs->getxattr(folder, "user.dl.type"), "dir");
  EXPECT_EQ(fs->getxattr(folder, "user.dl.size").err(), ENODATA);
  EXPECT_EQ(fs->getxattr(folder, "user.dl.upload_state").err(), ENODATA);
  Ino link = walk("/l.jpg")->ino;
  EXPECT_EQ(*fs->getxattr(link, "user.dl.type"), "link");
  EXPECT_EQ(*fs->getxattr(link, "user.dl.link.url"), "https://example.invalid/x.jpg");
  EXPECT_EQ(*fs->getxattr(link, "user.dl.link.mimetype"), "image/png");
  Ino plain = walk("/plain.bin")->ino;
  for (auto name : {"user.dl.width", "user.dl.height", "user.dl.orientation", "user.dl.exif",
                    "user.dl.thumbnail", "user.dl.thumbnail_path", "user.dl.description", "user.dl.preprocess",
                    "user.dl.preprocess_error"}) {
    EXPECT_EQ(fs->getxattr(plain, name).err(), ENODATA) << name;
  }
  auto names = split_names(*fs->listxattr(plain));
  EXPECT_EQ(std::count(names.begin(), names.end(), "user.dl.thumbnail_path"), 0);
  EXPECT_EQ(std::count(names.begin(), names.end(), "user.dl.width"), 0);
}

TEST_F(FsXattr, OtherNamespacesAreNotSupportedWithoutAnyWork) {
  remote.add_file("/a", "a");
  mount();
  Ino a = walk("/a")->ino;
  remote.reset_calls();
  auto before = fs->counters().xattr_gets.load();
  for (auto name : {"security.selinux", "system.posix_acl_access", "system.posix_acl_default",
                    "trusted.overlay.opaque", "security.capability", "os2.x"}) {
    EXPECT_EQ(fs->getxattr(a, name).err(), ENOTSUP) << name;
    // Not even the inode is looked at: a stale number gives the same answer.
    EXPECT_EQ(fs->getxattr(987654321, name).err(), ENOTSUP) << name;
  }
  EXPECT_EQ(fs->counters().xattr_gets.load(), before);
  EXPECT_EQ(remote.total_calls(), 0u);
}

TEST_F(FsXattr, UnaddressableAndHugeUserKeys) {
  remote.add_file("/a", "a",
                  {{"dotted.key", 1}, {"", 2}, {"big", std::string(70000, 'b')}, {"empty", json::object()}});
  mount();
  Ino a = walk("/a")->ino;
  auto names = split_names(*fs->listxattr(a));
  EXPECT_EQ(std::count(names.begin(), names.end(), "user.meta.dotted.key"), 0);
  EXPECT_EQ(fs->getxattr(a, "user.meta.big").err(), E2BIG);
  EXPECT_EQ(*fs->getxattr(a, "user.meta.empty"), "{}");
}

TEST_F(FsXattr, ThumbnailPathIsWhereTheMountShowsIt) {
  // A mount of the folder /cars: the path is the mount's, and /.thumbnails/<it> is the JPEG.
  Item item = remote.add_file("/cars/red/a.jpg", "jpeg");
  remote.put_item(item);
  remote.set_thumbnail("/cars/red/a.jpg", "JPEGBYTES");
  options.root = "/cars";
  mount();
  Ino ino = walk("/red/a.jpg")->ino;
  std::string path = *fs->getxattr(ino, "user.dl.thumbnail_path");
  EXPECT_EQ(path, "/.thumbnails/red/a.jpg");
  auto thumb = walk(path);
  ASSERT_TRUE(thumb) << thumb.status().to_string();
  EXPECT_EQ(*cat(thumb->ino), "JPEGBYTES");
  auto names = split_names(*fs->listxattr(ino));
  EXPECT_EQ(std::count(names.begin(), names.end(), "user.dl.thumbnail_path"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "user.dl.thumbnail"), 0);
}

TEST_F(FsXattr, LargeDlValuesAreReadableByNameButNotListed) {
  // A big EXIF (and so a big user.dl.metadata): `getfattr -d` stays readable; the user's own
  // large values are still listed (`cp -a` and `rsync -X` must carry them).
  Item item = remote.add_file("/a.jpg", "jpeg", {{"notes", std::string(6000, 'n')}});
  item.system()["exif"] = {{"MakerNote", std::string(kMaxListedValue, 'm')}};
  item.system()["width"] = 10;
  remote.put_item(item);
  mount();
  Ino ino = walk("/a.jpg")->ino;
  auto names = split_names(*fs->listxattr(ino));
  for (auto name : {"user.dl.exif", "user.dl.metadata"}) {
    EXPECT_EQ(std::count(names.begin(), names.end(), name), 0) << name;
    auto value = fs->getxattr(ino, name);
    ASSERT_TRUE(value) << name;
    EXPECT_GT(value->size(), kMaxListedValue) << name;
  }
  EXPECT_EQ(std::count(names.begin(), names.end(), "user.dl.width"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "user.meta.notes"), 1);
  EXPECT_EQ(fs->getxattr(ino, "user.meta.notes")->size(), 6000u);
}

// user.dl.link.error: why the last fetch of a link's target failed, absent while it is fine; the
// reason is logged once per URL, not once per read.
TEST_F(FsXattr, LinkErrorSaysWhyTheLastFetchFailed) {
  const std::string url = "http://127.0.0.1:8080/x";
  const std::string why = "link target " + url +
                          " refused: 127.0.0.1 is a loopback address; mount with -o link_allow_private to allow it";
  remote.add_link("/l.jpg", url);
  remote.add_file("/plain.bin", "p");
  links.targets[url] = "the target's bytes";
  links.failures[url] = Status(EACCES, why);
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  mount();
  auto e = walk("/l.jpg");
  ASSERT_TRUE(e) << e.status().to_string();
  EXPECT_EQ(*fs->getxattr(e->ino, "user.dl.link.error"), why);  // the lookup's HEAD was refused
  auto names = split_names(*fs->listxattr(e->ino));
  EXPECT_EQ(std::count(names.begin(), names.end(), "user.dl.link.error"), 1);
  auto fh = fs->open(e->ino, O_RDONLY);
  ASSERT_TRUE(fh);
  std::string buf(100, '\0');
  for (int i = 0; i < 3; ++i) {
    auto n = fs->read(e->ino, fh->fh, 0, std::span<char>(buf.data(), buf.size()));
    EXPECT_EQ(n.err(), EACCES);
    EXPECT_NE(n.status().message().find(why), std::string::npos) << n.status().to_string();
  }
  EXPECT_EQ(*fs->getxattr(e->ino, "user.dl.link.error"), why);
  spdlog::default_logger()->flush();
  std::string logged = log.str();
  size_t first = logged.find(why);
  EXPECT_NE(first, std::string::npos) << logged;
  EXPECT_EQ(logged.find(why, first + 1), std::string::npos) << "logged more than once:\n" << logged;
  // Another reason is logged too.
  links.failures[url] = Status(EIO, "cannot reach link target " + url);
  EXPECT_EQ(fs->read(e->ino, fh->fh, 0, std::span<char>(buf.data(), buf.size())).err(), EIO);
  EXPECT_EQ(*fs->getxattr(e->ino, "user.dl.link.error"), "cannot reach link target " + url);
  spdlog::default_logger()->flush();
  EXPECT_NE(log.str().find("cannot reach link target " + url), std::string::npos);
  spdlog::set_default_logger(previous);
  // Not on other items.
  EXPECT_EQ(fs->getxattr(walk("/plain.bin")->ino, "user.dl.link.error").err(), ENODATA);
  // A fetch that works clears it.
  links.failures.clear();
  auto n = fs->read(e->ino, fh->fh, 0, std::span<char>(buf.data(), buf.size()));
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(buf.substr(0, *n), "the target's bytes");
  EXPECT_EQ(fs->getxattr(e->ino, "user.dl.link.error").err(), ENODATA);
  names = split_names(*fs->listxattr(e->ino));
  EXPECT_EQ(std::count(names.begin(), names.end(), "user.dl.link.error"), 0);
  fs->release(fh->fh);
}
