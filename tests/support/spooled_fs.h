// A filesystem core that writes (a real UploadSpool in the fixture's temp dir) over a FakeRemote,
// for the unit tests of attributes, symlinks, batched uploads and preprocessing polls: uploads are
// started by the test itself.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>

#include <memory>
#include <string>

#include "cache/upload_spool.h"
#include "support/fs_fixture.h"

namespace dlfs::test {

class SpooledFsTest : public ::testing::Test, public FsFixture {
 protected:
  void SetUp() override {
    SpoolOptions so;
    so.dir = dir.sub("spool");
    spool = std::move(UploadSpool::open(so)).value();
    options.spool = spool.get();
    options.retry_base_ms = 5;
    options.preprocess_polls = 0;
    options.uid = 1000;
    options.gid = 1000;
    configure();
    mount();
  }
  // A test's own options or backend (FsFixture::backend), set before the mount.
  virtual void configure() {}
  void TearDown() override {
    fs.reset();
    spool.reset();
  }
  // create + write + flush + release; answers the inode.
  Ino put(Ino parent, const std::string& name, const std::string& content, const NewNode& as = {}) {
    auto made = fs->create(parent, name, O_WRONLY | O_CREAT | O_TRUNC, as);
    EXPECT_TRUE(made) << made.status().to_string();
    if (!made) return 0;
    EXPECT_TRUE(fs->write(made->first.ino, made->second.fh, 0, std::span<const char>(content.data(), content.size())));
    EXPECT_TRUE(fs->flush(made->first.ino, made->second.fh));
    fs->release(made->second.fh);
    return made->first.ino;
  }
  struct stat attr_of(const std::string& path) {
    auto e = walk(path);
    EXPECT_TRUE(e) << path << ": " << e.status().to_string();
    return e ? fs->getattr(e->ino)->attr : (struct stat){};
  }
  std::unique_ptr<UploadSpool> spool;
};

}  // namespace dlfs::test
