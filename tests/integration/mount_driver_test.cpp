// A dataset whose binaries live in a bucket (a local-folder storage driver), mounted through the
// embedded platform and through dlfsd: objects found by a sync read back byte-exact, `cp` into
// the mount lands in the bucket, and what a later sync finds shows in a fresh mount.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

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
// the file, a folder's objects with the folder (a fresh mount and the bucket agree); where it may not, rename(2) is EXDEV and `mv`
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
  // A folder moves with the objects of everything below it.
  write_file(mnt + "/raw/deep/c.txt", "charlie");
  ASSERT_TRUE(sync(mnt).ok());
  mv = run({"mv", mnt + "/raw", mnt + "/cooked"}, 30s);
  ASSERT_TRUE(mv.ok()) << mv.err;
  EXPECT_FALSE(std::filesystem::exists(bucket + "/owned/raw/b.txt"));
  EXPECT_FALSE(std::filesystem::exists(bucket + "/owned/raw/deep/c.txt"));
  EXPECT_EQ(read_file(bucket + "/owned/cooked/b.txt"), "alpha");
  EXPECT_EQ(read_file(bucket + "/owned/cooked/deep/c.txt"), "charlie");
  auto fresh2 = mount("o3", "cache-o3");
  ASSERT_TRUE(fresh2);
  EXPECT_EQ(run({"ls", fresh2->mountpoint()}, 30s).out, "cooked\n");
  EXPECT_EQ(run({"cat", fresh2->mountpoint() + "/cooked/deep/c.txt"}, 30s).out, "charlie");
  EXPECT_TRUE(fresh2->unmount());
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

// A watched dataset (`dlfs dataset watch`): an object put in the bucket appears in a mount by
// itself — the embedded mount's own watcher syncs it, as dlfsd's does for mounts over it.
TEST_P(MountDriver, AnObjectPutInAWatchedBucketAppearsInTheMountByItself) {
  std::string bucket = work.sub("bucket");
  write_file(bucket + "/cams/a.txt", "alpha");
  {
    auto p = open_store();
    ASSERT_TRUE(p);
    auto driver = p->create_driver({{"name", "cams"}, {"type", "local"}, {"bucketName", bucket}, {"path", "cams"}}, "t");
    ASSERT_TRUE(driver) << driver.status().to_string();
    auto ds = p->create_dataset("cams", "t", driver->id);
    ASSERT_TRUE(ds) << ds.status().to_string();
    ASSERT_TRUE(p->set_sync_interval(ds->id, 1));
  }
  dataset = "cams";
  auto m = mount("m", "cache-m");
  ASSERT_TRUE(m);
  auto appears = [&](const std::string& name) {
    auto until = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < until) {
      if (std::filesystem::exists(m->mountpoint() + "/" + name)) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  };
  EXPECT_TRUE(appears("a.txt")) << "the first watched sync did not run";
  write_file(bucket + "/cams/b.txt", "bravo");
  ASSERT_TRUE(appears("b.txt")) << "a new object did not appear";
  EXPECT_EQ(read_file(m->mountpoint() + "/b.txt"), "bravo");
  EXPECT_TRUE(m->unmount());
}

// A file over the S3 store's multipart threshold (64 MiB: 5 parts of 16 MiB, sent 4 at once) cp'd
// into a mount of a dataset on an S3 bucket: whole in the bucket, and the same through a fresh
// mount, which reads it from the bucket itself. The 6 GiB file, on demand (about 20 GB of
// disk: the file, the mount's spool, s3rver's parts and object; minutes):
// `DLFS_BIG_FILE_MIB=6144 build-test/tests/mount_driver_test --gtest_filter='*Multipart*'`.
TEST_P(MountDriver, AFileOverTheMultipartThresholdLandsWholeInAnS3Bucket) {
  const char* mib = std::getenv("DLFS_BIG_FILE_MIB");
  const uint64_t size = mib ? (uint64_t(std::atoll(mib)) << 20) + 12345 : (70u << 20) + 12345;
  const auto slow = std::chrono::seconds(120 + size / (5u << 20));  // (at 5 MB/s at worst)
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
  // The file's bytes, made and checked 8 MiB at a time (a 6 GiB file is never in memory).
  constexpr size_t kChunk = 8u << 20;
  auto chunk = [&](uint64_t i) {
    std::string c = random_bytes(kChunk, uint32_t(13 + i));
    c.resize(std::min<uint64_t>(kChunk, size - i * kChunk));
    return c;
  };
  const uint64_t chunks = (size + kChunk - 1) / kChunk;
  {
    std::ofstream out(work.sub("big.bin"), std::ios::binary);
    for (uint64_t i = 0; i < chunks; ++i) out << chunk(i);
    ASSERT_TRUE(out.good());
  }
  // Compares what `read(offset, span)` reads with the file, chunk by chunk.
  auto same_bytes = [&](const std::function<Result<size_t>(uint64_t, std::span<char>)>& read) -> std::string {
    std::string got(kChunk, '\0');
    for (uint64_t i = 0; i < chunks; ++i) {
      std::string want = chunk(i);
      size_t have = 0;
      while (have < want.size()) {
        auto n = read(i * kChunk + have, std::span<char>(got.data() + have, want.size() - have));
        if (!n) return n.status().to_string();
        if (*n == 0) return "short at " + std::to_string(i * kChunk + have);
        have += *n;
      }
      if (std::string_view(got.data(), have) != want) return "differs in bytes " + std::to_string(i * kChunk) + "+";
    }
    return "";
  };
  dataset = "ons3";
  auto m = mount("m", "cache-m");
  ASSERT_TRUE(m);
  auto cp = run({"cp", work.sub("big.bin"), m->mountpoint() + "/big.bin"}, slow);
  ASSERT_TRUE(cp.ok()) << cp.err;
  std::filesystem::remove(work.sub("big.bin"));
  auto synced = dlfs({"sync", m->mountpoint()}, slow);
  ASSERT_TRUE(synced.ok()) << synced.out << synced.err << [&] {
    std::string log = read_file(work.sub("m.log"));
    return log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  }();
  EXPECT_TRUE(m->unmount());

  auto store = open_s3_store(s3.config());
  ASSERT_TRUE(store);
  auto head = (*store)->head("team/big.bin");
  ASSERT_TRUE(head) << head.status().to_string();
  EXPECT_EQ(head->size, size);
  EXPECT_EQ(same_bytes([&](uint64_t off, std::span<char> out) { return (*store)->read("team/big.bin", off, out); }), "")
      << "the bucket's object differs from the file cp'd in";
  const uint64_t parts = (size + (16u << 20) - 1) / (16u << 20);
  EXPECT_NE(s3.log().find("Stored part " + std::to_string(parts) + " of"), std::string::npos) << "not uploaded in parts";
  EXPECT_EQ(s3.log().find("Stored part " + std::to_string(parts + 1) + " of"), std::string::npos);
  auto fresh = mount("f", "cache-f");
  ASSERT_TRUE(fresh);
  {
    int fd = ::open((fresh->mountpoint() + "/big.bin").c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(same_bytes([&](uint64_t off, std::span<char> out) -> Result<size_t> {
                ssize_t n = ::pread(fd, out.data(), out.size(), off_t(off));
                if (n < 0) return Status(errno, "pread");
                return size_t(n);
              }),
              "")
        << "a fresh mount reads other bytes";
    ::close(fd);
  }
  EXPECT_TRUE(fresh->unmount());
  // Through dlfsd the mount read the bytes from the bucket by presigned URLs (dlfsd's own reads
  // of its bucket are signed in a header).
  if (GetParam() == Backend::kDlfsd)
    EXPECT_NE(s3.log().find("X-Amz-Signature="), std::string::npos) << "the mount's reads went through dlfsd";
}

INSTANTIATE_TEST_SUITE_P(Backends, MountDriver, kBackends, backend_name);

}  // namespace dlfs::test
