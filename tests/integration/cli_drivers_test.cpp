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

INSTANTIATE_TEST_SUITE_P(Backends, CliDrivers, kBackends, backend_name);

}  // namespace dlfs::test
