// `dlfs driver` and `dlfs dataset create --driver / sync` as a user runs them, against the
// embedded store and against dlfsd: a local-folder bucket's objects become items whose bytes
// `dlfs cat` reads, a second sync reports what changed, bad input fails with one line.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/mounted_dataset.h"

namespace dlfs::test {
namespace {

using namespace std::chrono_literals;

class CliDrivers : public MountedDatasetTest {
 protected:
  std::string ok(std::vector<std::string> args) {
    auto r = dlfs(std::move(args));
    EXPECT_TRUE(r.ok()) << r.out << r.err;
    return r.out;
  }
};

}  // namespace

TEST_P(CliDrivers, DriverCreateDatasetOnItSyncAndRead) {
  std::string bucket = work.sub("bucket");
  write_file(bucket + "/raw/a.txt", "alpha");
  write_file(bucket + "/raw/sub/b.txt", "bravo");
  json driver = {{"name", "nfs"}, {"type", "local"}, {"bucketName", bucket}, {"path", "raw"},
                 {"credentials", {{"secret", "s3cret"}}}};
  write_file(work.sub("driver.json"), driver.dump());

  std::string made = ok({"driver", "create", "--json", work.sub("driver.json")});
  const std::string said = "created driver nfs (";
  ASSERT_EQ(made.rfind(said, 0), 0u) << made;
  std::string id = made.substr(said.size(), 24);
  ASSERT_EQ(made.substr(said.size() + 24), ")\n") << made;
  std::string listed = ok({"driver", "list"});
  EXPECT_NE(listed.find(id), std::string::npos) << listed;
  EXPECT_NE(listed.find(bucket + ":raw"), std::string::npos) << listed;
  EXPECT_EQ(listed.find("s3cret"), std::string::npos);

  ok({"dataset", "create", "photos", "--driver", id});
  EXPECT_NE(ok({"dataset", "list"}).find("driver " + id), std::string::npos);
  std::string synced = ok({"dataset", "sync", "photos"});
  EXPECT_NE(synced.find("2 added"), std::string::npos) << synced;
  EXPECT_EQ(ok({"cat", "photos:/sub/b.txt"}), "bravo");

  write_file(bucket + "/raw/a.txt", "alpha, longer");
  std::filesystem::remove(bucket + "/raw/sub/b.txt");
  synced = ok({"dataset", "sync", "photos"});
  EXPECT_NE(synced.find("1 updated, 1 removed"), std::string::npos) << synced;
  EXPECT_EQ(ok({"cat", "photos:/a.txt"}), "alpha, longer");
  EXPECT_EQ(dlfs({"cat", "photos:/sub/b.txt"}).exit_code, 1);

  // Bad input: one line each, never a crash.
  write_file(work.sub("bad.json"), R"({"name":"x","type":"ftp","bucketName":"b"})");
  auto bad = dlfs({"driver", "create", "--json", work.sub("bad.json")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("ftp"), std::string::npos) << bad.err;
  auto plain = dlfs({"dataset", "sync", dataset});  // "w": the platform's own storage
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_NE(plain.err.find("no storage driver"), std::string::npos) << plain.err;
  EXPECT_EQ(dlfs({"dataset", "create", "x", "--driver", "ffffffffffffffffffffffff"}).exit_code, 1);

  // Watched: the interval is kept (in the dataset's record, for the server that watches).
  EXPECT_NE(ok({"dataset", "watch", "photos", "30"}).find("every 30 s"), std::string::npos);
  EXPECT_NE(ok({"dataset", "watch", "photos", "off"}).find("not watched"), std::string::npos);
  auto unwatchable = dlfs({"dataset", "watch", dataset, "30"});
  EXPECT_EQ(unwatchable.exit_code, 1);
  EXPECT_NE(unwatchable.err.find("no storage driver"), std::string::npos) << unwatchable.err;
  auto soon = dlfs({"dataset", "watch", "photos", "soon"});
  EXPECT_EQ(soon.exit_code, 1);
  EXPECT_NE(soon.err.find("number of seconds"), std::string::npos) << soon.err;
}

// `dlfs dataset clone` by the seed's rules, against the embedded store and against dlfsd (its
// POST /datasets/{id}/clone command): a folder of a dataset written through a mount is cloned
// into a new dataset, which a fresh mount reads; a bucket's dataset only into a clone of the same
// driver, which is not synced.
TEST_P(CliDrivers, CloneWithinTheStorageAndNoSyncOfABucketsClone) {
  auto m = mount("m", "cache");
  ASSERT_TRUE(m);
  write_file(m->mountpoint() + "/day1/a.txt", "alpha");
  write_file(m->mountpoint() + "/day1/deep/b.txt", "bravo");
  write_file(m->mountpoint() + "/day2/c.txt", "charlie");
  ASSERT_TRUE(sync(m->mountpoint()).ok());

  std::string said = ok({"dataset", "clone", dataset, "w-day1", "--folder", "/day1/", "--to", "/copied"});
  EXPECT_NE(said.find("cloned w into w-day1"), std::string::npos) << said;
  EXPECT_NE(said.find(": 3 items cloned, 0 there already, 0 failed"), std::string::npos) << said;
  EXPECT_EQ(ok({"cat", "w-day1:/copied/day1/deep/b.txt"}), "bravo");
  {
    MountedDatasetTest::dataset = "w-day1";
    auto fresh = mount("m2", "cache2");
    MountedDatasetTest::dataset = "w";
    ASSERT_TRUE(fresh);
    EXPECT_EQ(read_file(fresh->mountpoint() + "/copied/day1/a.txt"), "alpha");
    EXPECT_FALSE(std::filesystem::exists(fresh->mountpoint() + "/copied/day2"));
  }
  // Again into it: nothing twice.
  said = ok({"dataset", "clone", dataset, "--into", "w-day1", "--folder", "/day1", "--to", "/copied"});
  EXPECT_NE(said.find(": 0 items cloned, 3 there already"), std::string::npos) << said;

  std::string bucket = work.sub("bucket");
  write_file(bucket + "/raw/x.txt", "x-ray");
  write_file(work.sub("driver.json"), json({{"name", "nfs"}, {"type", "local"}, {"bucketName", bucket},
                                            {"path", "raw"}, {"allowExternalDelete", true}}).dump());
  std::string made = ok({"driver", "create", "--json", work.sub("driver.json")});
  std::string id = made.substr(std::string("created driver nfs (").size(), 24);
  ok({"dataset", "create", "photos", "--driver", id});
  ok({"dataset", "sync", "photos"});
  auto across = dlfs({"dataset", "clone", "photos", "--into", "w-day1"});
  EXPECT_EQ(across.exit_code, 1);
  EXPECT_NE(across.err.find("cloned only from the platform's storage to the platform's storage"), std::string::npos)
      << across.err;
  ok({"dataset", "clone", "photos", "photos-clone"});
  EXPECT_EQ(ok({"cat", "photos-clone:/x.txt"}), "x-ray");
  auto no_sync = dlfs({"dataset", "sync", "photos-clone"});
  EXPECT_EQ(no_sync.exit_code, 1);
  EXPECT_NE(no_sync.err.find("is a clone"), std::string::npos) << no_sync.err;
  ok({"rm", "photos:/x.txt"});
  EXPECT_TRUE(std::filesystem::exists(bucket + "/raw/x.txt")) << "the clone's object deleted with the original's item";
  EXPECT_EQ(ok({"cat", "photos-clone:/x.txt"}), "x-ray");
}

INSTANTIATE_TEST_SUITE_P(Backends, CliDrivers, kBackends, backend_name);

}  // namespace dlfs::test
