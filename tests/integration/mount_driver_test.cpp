// A dataset whose binaries live in a bucket (a local-folder storage driver), mounted through the
// embedded platform and through dlfsd: objects found by a sync read back byte-exact, `cp` into
// the mount lands in the bucket, and what a later sync finds shows in a fresh mount.
#include <gtest/gtest.h>

#include <filesystem>

#include "platform/driver.h"
#include "platform/object_store_s3.h"
#include "platform/platform.h"
#include "support/mounted_dataset.h"
#include "support/s3_emulator.h"

namespace dlfs::test {
namespace {

using namespace std::chrono_literals;

class MountDriver : public MountedDatasetTest {
 protected:
  // Opens the store in this process (beside mount.dlfs or dlfsd, as several processes may).
  std::unique_ptr<Platform> open_store() {
    auto p = Platform::open(PlatformOptions{platform->store()});
    EXPECT_TRUE(p) << p.status().to_string();
    return p ? std::move(*p) : nullptr;
  }
};

}  // namespace

TEST_P(MountDriver, ADatasetOnABucketReadsTakesCpAndShowsWhatSyncFinds) {
  std::string bucket = work.sub("bucket");
  std::string a = random_bytes(300'000, 11);
  write_file(bucket + "/cams/day1/a.bin", a);
  write_file(bucket + "/cams/b.txt", "bee");
  write_file(bucket + "/other/c.txt", "not the driver's");
  std::string ds_id;
  {
    auto p = open_store();
    ASSERT_TRUE(p);
    auto driver = p->create_driver({{"name", "nfs"}, {"type", "local"}, {"bucketName", bucket}, {"path", "cams"}}, "t");
    ASSERT_TRUE(driver) << driver.status().to_string();
    auto ds = p->create_dataset("ondriver", "t", driver->id);
    ASSERT_TRUE(ds) << ds.status().to_string();
    ds_id = ds->id;
    auto synced = p->sync_dataset(ds->id, "t");
    ASSERT_TRUE(synced) << synced.status().to_string();
    EXPECT_EQ(synced->added, 2u);
  }
  dataset = "ondriver";
  auto m = mount("m", "cache-m");
  ASSERT_TRUE(m);
  std::string mnt = m->mountpoint();
  EXPECT_EQ(run({"ls", mnt}, 30s).out, "b.txt\nday1\n");
  auto cat = run({"cat", mnt + "/day1/a.bin"}, 30s);
  ASSERT_TRUE(cat.ok()) << cat.err;
  EXPECT_TRUE(cat.out == a) << "the bucket's bytes differ through the mount";

  // cp in: uploaded into the bucket, under the driver's path.
  std::string c = random_bytes(200'000, 12);
  write_file(work.sub("c.bin"), c);
  ASSERT_TRUE(run({"mkdir", mnt + "/new"}, 30s).ok());
  auto cp = run({"cp", work.sub("c.bin"), mnt + "/new/c.bin"}, 60s);
  ASSERT_TRUE(cp.ok()) << cp.err;
  auto synced = sync(mnt);
  ASSERT_TRUE(synced.ok()) << synced.out << synced.err;
  EXPECT_TRUE(read_file(bucket + "/cams/new/c.bin") == c) << "the bucket does not hold what cp wrote";

  // An object put there later: a sync finds it; a fresh mount shows it.
  write_file(bucket + "/cams/day2/d.txt", "dee");
  {
    auto p = open_store();
    ASSERT_TRUE(p);
    auto again = p->sync_dataset(ds_id, "t");
    ASSERT_TRUE(again) << again.status().to_string();
    EXPECT_EQ(again->added, 1u);
    EXPECT_EQ(again->unchanged, 3u);  // b.txt, day1/a.bin and the cp'd new/c.bin
  }
  auto fresh = mount("f", "cache-f");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(run({"cat", fresh->mountpoint() + "/day2/d.txt"}, 30s).out, "dee");
  EXPECT_TRUE(read_file(fresh->mountpoint() + "/new/c.bin") == c);
  EXPECT_TRUE(fresh->unmount());
  EXPECT_TRUE(m->unmount());
}

// mv in a mount of a bucket's dataset: where the driver may delete objects, the object moves with
// the file (a fresh mount and the bucket agree); where it may not, rename(2) is EXDEV and `mv`
// copies the file and deletes the item, as between two filesystems (the old object stays: the
// bucket is the user's).
TEST_P(MountDriver, MvMovesTheObjectOrIsExdevWhereTheDriverMayNotDelete) {
  std::string bucket = work.sub("bucket");
  write_file(bucket + "/owned/raw/a.txt", "alpha");
  write_file(bucket + "/theirs/raw/a.txt", "alpha, theirs");
  {
    auto p = open_store();
    ASSERT_TRUE(p);
    for (bool may_delete : {true, false}) {
      std::string name = may_delete ? "owned" : "theirs";
      auto driver = p->create_driver({{"name", name}, {"type", "local"}, {"bucketName", bucket}, {"path", name},
                                      {"allowExternalDelete", may_delete}}, "t");
      ASSERT_TRUE(driver) << driver.status().to_string();
      auto ds = p->create_dataset(name, "t", driver->id);
      ASSERT_TRUE(ds) << ds.status().to_string();
      ASSERT_TRUE(p->sync_dataset(ds->id, "t"));
    }
  }
  dataset = "owned";
  auto owned = mount("o", "cache-o");
  ASSERT_TRUE(owned);
  std::string mnt = owned->mountpoint();
  auto mv = run({"mv", mnt + "/raw/a.txt", mnt + "/raw/b.txt"}, 30s);
  ASSERT_TRUE(mv.ok()) << mv.err;
  EXPECT_FALSE(std::filesystem::exists(bucket + "/owned/raw/a.txt"));
  EXPECT_EQ(read_file(bucket + "/owned/raw/b.txt"), "alpha");
  EXPECT_EQ(run({"cat", mnt + "/raw/b.txt"}, 30s).out, "alpha");
  auto fresh = mount("o2", "cache-o2");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(run({"ls", fresh->mountpoint() + "/raw"}, 30s).out, "b.txt\n");
  EXPECT_EQ(run({"cat", fresh->mountpoint() + "/raw/b.txt"}, 30s).out, "alpha");
  EXPECT_TRUE(fresh->unmount());
  EXPECT_TRUE(owned->unmount());

  dataset = "theirs";
  auto theirs = mount("t", "cache-t");
  ASSERT_TRUE(theirs);
  mnt = theirs->mountpoint();
  auto rename = run({"python3", "-c", "import os, sys; os.rename(sys.argv[1], sys.argv[2])", mnt + "/raw/a.txt",
                     mnt + "/raw/b.txt"}, 30s);
  EXPECT_FALSE(rename.ok());
  EXPECT_NE(rename.err.find("Errno 18"), std::string::npos) << "rename(2) is not EXDEV: " << rename.err;
  mv = run({"mv", mnt + "/raw/a.txt", mnt + "/raw/b.txt"}, 30s);
  ASSERT_TRUE(mv.ok()) << mv.err;
  EXPECT_EQ(run({"ls", mnt + "/raw"}, 30s).out, "b.txt\n");
  auto synced = sync(mnt);
  ASSERT_TRUE(synced.ok()) << synced.out << synced.err;
  EXPECT_EQ(read_file(bucket + "/theirs/raw/b.txt"), "alpha, theirs");
  EXPECT_EQ(read_file(bucket + "/theirs/raw/a.txt"), "alpha, theirs") << "an object the driver may not delete went";
  EXPECT_TRUE(theirs->unmount());
}

// A file over the S3 store's multipart threshold (64 MiB: 5 parts of 16 MiB, sent 4 at once) cp'd
// into a mount of a dataset on an S3 bucket: whole in the bucket, and the same through a fresh
// mount, which reads it from the bucket itself. (6 GiB files take the same path, in 384 parts.)
TEST_P(MountDriver, AFileOverTheMultipartThresholdLandsWholeInAnS3Bucket) {
  S3Emulator s3;
  ASSERT_EQ(s3.start(), "");
  {
    auto p = open_store();
    ASSERT_TRUE(p);
    auto driver = p->create_driver({{"name", "s3"}, {"type", "s3"}, {"bucketName", kS3Bucket}, {"path", "team"},
                                    {"endpoint", s3.endpoint()}, {"credentials", {{"key", kS3Login}, {"secret", kS3Login}}}},
                                   "t");
    ASSERT_TRUE(driver) << driver.status().to_string();
    ASSERT_TRUE(p->create_dataset("ons3", "t", driver->id));
  }
  const size_t size = (70u << 20) + 12345;
  std::string bytes = random_bytes(size, 13);
  write_file(work.sub("big.bin"), bytes);
  dataset = "ons3";
  auto m = mount("m", "cache-m");
  ASSERT_TRUE(m);
  auto cp = run({"cp", work.sub("big.bin"), m->mountpoint() + "/big.bin"}, 120s);
  ASSERT_TRUE(cp.ok()) << cp.err;
  auto synced = sync(m->mountpoint());
  ASSERT_TRUE(synced.ok()) << synced.out << synced.err;
  EXPECT_TRUE(m->unmount());

  auto store = open_s3_store(s3.config());
  ASSERT_TRUE(store);
  auto head = (*store)->head("team/big.bin");
  ASSERT_TRUE(head) << head.status().to_string();
  EXPECT_EQ(head->size, size);
  std::string back(size, '\0');
  size_t got = 0;
  while (got < size) {
    auto n = (*store)->read("team/big.bin", got, std::span<char>(back.data() + got, std::min<size_t>(size - got, 8u << 20)));
    ASSERT_TRUE(n && *n > 0) << (n ? "short object" : n.status().to_string());
    got += *n;
  }
  EXPECT_TRUE(back == bytes) << "the bucket's object differs from the file cp'd in";
  EXPECT_NE(s3.log().find("Stored part 5 of"), std::string::npos) << "not uploaded in parts";
  EXPECT_EQ(s3.log().find("Stored part 6 of"), std::string::npos);
  auto fresh = mount("f", "cache-f");
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(read_file(fresh->mountpoint() + "/big.bin") == bytes) << "a fresh mount reads other bytes";
  EXPECT_TRUE(fresh->unmount());
  // Through dlfsd the mount read the bytes from the bucket by presigned URLs (dlfsd's own reads
  // of its bucket are signed in a header).
  if (GetParam() == Backend::kDlfsd)
    EXPECT_NE(s3.log().find("X-Amz-Signature="), std::string::npos) << "the mount's reads went through dlfsd";
}

INSTANTIATE_TEST_SUITE_P(Backends, MountDriver, kBackends, backend_name);

}  // namespace dlfs::test
