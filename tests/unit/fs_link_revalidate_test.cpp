// Link items whose size (and validators) preprocessing recorded: lookups, getattr and listings
// never ask the target; an open revalidates at most once per link_revalidate_ms; a changed
// target shows its new size and its kernel cache is dropped; a gone one answers EIO and
// user.dl.link.error says why.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <algorithm>

#include "support/fs_fixture.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

constexpr const char* kUrl = "http://example.invalid/t.bin";

class FsLinkRevalidate : public ::testing::Test, public FsFixture {
 protected:
  // A link item as preprocessing leaves it: linkInfo.size recorded.
  void add_preprocessed_link(const std::string& path, uint64_t size) {
    Item item = remote.add_link(path, kUrl);
    item.system()["shebang"]["linkInfo"]["size"] = size;
    item.system()["shebang"]["linkInfo"]["lastModified"] = "Fri, 04 Dec 2026 10:00:00 GMT";
    remote.put_item(item);
  }
  void open_and_close(Ino ino, Result<OpenResult>* out = nullptr) {
    auto r = fs->open(ino, O_RDONLY);
    if (r) fs->release(r->fh);
    if (out) *out = r;
  }
};

}  // namespace

TEST_F(FsLinkRevalidate, RecordedSizeNeedsNoRequestUntilOpen) {
  links.targets[kUrl] = std::string(1000, 'a');
  add_preprocessed_link("/l.bin", 1000);
  options.link_revalidate_ms = 30000;
  mount();
  auto e = fs->lookup(kRootIno, "l.bin");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->attr.st_size, 1000);
  ASSERT_TRUE(list(kRootIno));
  ASSERT_TRUE(fs->getattr(e->ino));
  EXPECT_EQ(links.heads, 0);  // lookup, readdir, getattr: no request to the target
  Result<OpenResult> r = Status(EIO, "");
  open_and_close(e->ino, &r);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(links.heads, 1);  // the open revalidated
  open_and_close(e->ino, &r);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->keep_cache);  // unchanged: the kernel keeps what it has
  EXPECT_EQ(links.heads, 1);  // within the TTL: no second request
  clock.advance_ms(30001);
  open_and_close(e->ino);
  EXPECT_EQ(links.heads, 2);  // after it: once more
}

TEST_F(FsLinkRevalidate, AChangedTargetShowsItsNewSizeAndDropsTheKernelCache) {
  links.targets[kUrl] = std::string(1000, 'a');
  add_preprocessed_link("/l.bin", 1000);
  mount();
  auto e = fs->lookup(kRootIno, "l.bin");
  ASSERT_TRUE(e);
  EXPECT_EQ(*cat(e->ino), std::string(1000, 'a'));
  clock.advance_ms(options.link_revalidate_ms + 1);
  links.targets[kUrl] = std::string(1500, 'b');  // the target changed
  auto r = fs->open(e->ino, O_RDONLY);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_FALSE(r->keep_cache);
  // (the kernel may read before the invalidation reaches it, its old size cached: this open
  // reads past it directly)
  EXPECT_TRUE(r->direct_io);
  fs->release(r->fh);
  auto inodes = invalidator.inodes();
  EXPECT_NE(std::find(inodes.begin(), inodes.end(), e->ino), inodes.end());
  auto st = fs->getattr(e->ino);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->attr.st_size, 1500);
  EXPECT_EQ(*cat(e->ino), std::string(1500, 'b'));
  // Compared with what the target answered last: unchanged since, the kernel keeps its cache.
  clock.advance_ms(options.link_revalidate_ms + 1);
  auto again = fs->open(e->ino, O_RDONLY);
  ASSERT_TRUE(again) << again.status().to_string();
  EXPECT_TRUE(again->keep_cache);
  EXPECT_FALSE(again->direct_io);
  fs->release(again->fh);
  EXPECT_EQ(fs->getattr(e->ino)->attr.st_size, 1500);
}

TEST_F(FsLinkRevalidate, AGoneTargetAnswersEioWithTheReason) {
  links.targets[kUrl] = std::string(1000, 'a');
  add_preprocessed_link("/l.bin", 1000);
  mount();
  auto e = fs->lookup(kRootIno, "l.bin");
  ASSERT_TRUE(e);
  links.targets.erase(kUrl);  // the fake answers ENOENT, as a 404 does
  auto r = fs->open(e->ino, O_RDONLY);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err(), EIO);
  auto why = fs->getxattr(e->ino, "user.dl.link.error");
  ASSERT_TRUE(why) << why.status().to_string();
  EXPECT_NE(why->find("no target"), std::string::npos) << *why;
  EXPECT_EQ(fs->open(e->ino, O_RDONLY).err(), EIO);  // within the TTL: remembered, no request
  EXPECT_EQ(links.heads, 1);
}

TEST_F(FsLinkRevalidate, NegativeTtlNeverRevalidates) {
  links.targets[kUrl] = std::string(1000, 'a');
  add_preprocessed_link("/l.bin", 1000);
  options.link_revalidate_ms = -1;
  mount();
  auto e = fs->lookup(kRootIno, "l.bin");
  ASSERT_TRUE(e);
  open_and_close(e->ino);
  EXPECT_EQ(links.heads, 0);
}

// A target that cannot be reached for a moment fails the opens of the next second only (the
// kernel's and readers' retries make no request), not those of the whole interval.
TEST_F(FsLinkRevalidate, AnUnreachableTargetIsAskedAgainAfterASecond) {
  links.targets[kUrl] = std::string(1000, 'a');
  add_preprocessed_link("/l.bin", 1000);
  mount();
  auto e = fs->lookup(kRootIno, "l.bin");
  ASSERT_TRUE(e);
  links.failures[kUrl] = Status(ETIMEDOUT, "the target did not answer");
  EXPECT_EQ(fs->open(e->ino, O_RDONLY).err(), ETIMEDOUT);
  EXPECT_EQ(fs->open(e->ino, O_RDONLY).err(), ETIMEDOUT);  // remembered for a moment: no request
  EXPECT_EQ(links.heads, 1);
  links.failures.clear();
  clock.advance_ms(1001);
  Result<OpenResult> r = Status(EIO, "");
  open_and_close(e->ino, &r);
  EXPECT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(links.heads, 2);
  // A gone target is remembered for the whole interval.
  links.targets.erase(kUrl);
  clock.advance_ms(options.link_revalidate_ms + 1);
  EXPECT_EQ(fs->open(e->ino, O_RDONLY).err(), EIO);
  clock.advance_ms(1001);
  EXPECT_EQ(fs->open(e->ino, O_RDONLY).err(), EIO);
  EXPECT_EQ(links.heads, 3);
}
