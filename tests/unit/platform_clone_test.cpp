// Cloning a dataset's items (Platform::clone_items, platform/platform_clone.cpp) by the seed's
// rules: internal to internal (binaries hard-linked, the clone independent of its original),
// a bucket's items into a clone of the same driver (objects shared, not indexed: no sync; an
// object deleted only with its last holder), filters, target folders, the quota, commands
// resumed after a restart, and a clone racing writers of its source.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "core/clock.h"
#include "platform/catalog.h"
#include "platform/commands.h"
#include "platform/driver.h"
#include "platform/platform.h"
#include "preprocess_fixtures.h"
#include "support/read_item.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
namespace fs = std::filesystem;

namespace {

class PlatformCloneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(bucket());
    reopen();
  }
  void reopen() {
    platform_.reset();
    auto p = Platform::open(PlatformOptions{dir_.sub("store")});
    ASSERT_TRUE(p) << p.status().to_string();
    platform_ = std::move(*p);
  }
  std::string bucket() const { return dir_.sub("bucket"); }
  Dataset dataset(const std::string& name, const std::string& driver = {}) {
    auto ds = platform_->create_dataset(name, "dev@local", driver);
    EXPECT_TRUE(ds) << ds.status().to_string();
    return ds ? *ds : Dataset{};
  }
  Driver driver(bool external_delete, const std::string& path = "cams") {
    auto d = platform_->create_driver({{"name", "bucket-" + path}, {"type", "local"}, {"bucketName", bucket()},
                                       {"path", path}, {"allowExternalDelete", external_delete}},
                                      "dev@local");
    EXPECT_TRUE(d) << d.status().to_string();
    return d ? *d : Driver{};
  }
  Item put(const Dataset& ds, const std::string& path, const std::string& bytes, json user_meta = nullptr) {
    UploadOptions options;
    options.mode = UploadMode::kOverwrite;
    if (!user_meta.is_null()) options.metadata = json{{"user", user_meta}};
    auto r = platform_->upload_bytes(ds.id, bytes, path, options);
    EXPECT_TRUE(r) << path << ": " << r.status().to_string();
    return r ? r->item : Item{};
  }
  Item at(const Dataset& ds, const std::string& path) {
    auto item = platform_->get_item_by_path(ds.id, path);
    EXPECT_TRUE(item) << path << ": " << item.status().to_string();
    return item ? *item : Item{};
  }
  // Every visible item of the dataset: path -> bytes ("<dir>" for folders).
  std::map<std::string, std::string> tree(const Dataset& ds) {
    std::map<std::string, std::string> out;
    auto r = platform_->query(ds.id, {{"filter", {{"hidden", false}}}, {"pageSize", 1000}});
    EXPECT_TRUE(r) << r.status().to_string();
    if (r)
      for (const Item& item : r->page.items)
        if (item.filename != "/") out[item.filename] = item.is_dir() ? "<dir>" : read_item(*platform_, item);
    return out;
  }
  Result<CloneReport> clone(const Dataset& from, json body) {
    auto request = CloneRequest::from_api(body);
    if (!request) return request.status();
    DLFS_TRY(platform_->clone_target(from.id, *request, "dev@local").status());
    return platform_->clone_items(from.id, *request, "dev@local");
  }
  size_t files_under(const std::string& dir) {
    size_t n = 0;
    if (fs::exists(dir))
      for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file();
    return n;
  }

  TempDir dir_{"dlfs-clone"};
  std::unique_ptr<Platform> platform_;
};

}  // namespace

// The API's way (dtlpy: POST /datasets/{id}/clone, a command whose spec names the new dataset):
// the clone has the same tree, bytes, user metadata and thumbnails; its binaries are links (no
// bytes copied); after, each dataset's changes leave the other as it was.
TEST_F(PlatformCloneTest, AnInternalCloneHasTheSameItemsAndIsIndependentOfItsOriginal) {
  Dataset cars = dataset("cars");
  std::string jpeg = slurp(make_picture(dir_, "a.jpg", 320, 240));
  Item a = put(cars, "/a.jpg", jpeg);
  ASSERT_TRUE(platform_->preprocess_now(a.id));
  put(cars, "/day1/b.txt", "bee", {{"camera", "cam-7"}});
  ASSERT_TRUE(platform_->make_dir(cars.id, "/empty", "dev@local"));

  auto request = CloneRequest::from_api({{"name", "cars-copy"}, {"filter", nullptr}});
  ASSERT_TRUE(request) << request.status().to_string();
  auto started = platform_->start_clone(cars.id, *request, "dev@local");
  ASSERT_TRUE(started) << started.status().to_string();
  auto done = platform_->commands().wait(started->id, std::chrono::seconds(30));
  ASSERT_TRUE(done);
  ASSERT_EQ(done->status, "success") << done->error;
  auto copy = platform_->get_dataset(done->spec.value("returnedModelId", ""));
  ASSERT_TRUE(copy) << done->spec.dump();
  EXPECT_EQ(copy->name, "cars-copy");
  EXPECT_EQ(done->report["cloned"], 4) << done->report.dump();  // two files, two folders

  auto original_tree = tree(cars);
  EXPECT_EQ(tree(*copy), original_tree);
  EXPECT_EQ(copy->items_count, 2u);
  Item b = at(*copy, "/day1/b.txt");
  EXPECT_EQ(b.user().value("camera", ""), "cam-7");
  EXPECT_NE(b.id, at(cars, "/day1/b.txt").id);
  Item a2 = at(*copy, "/a.jpg");
  EXPECT_EQ(a2.system().value("width", 0), 320);
  auto thumb = platform_->thumbnail(a2);
  auto thumb_of_original = platform_->thumbnail(at(cars, "/a.jpg"));
  ASSERT_TRUE(thumb) << thumb.status().to_string();
  ASSERT_TRUE(thumb_of_original);
  EXPECT_EQ(*thumb, *thumb_of_original);
  EXPECT_NE(a2.system().value("thumbnailId", ""), at(cars, "/a.jpg").system().value("thumbnailId", ""));
  // No bytes copied: the clone's binary is the original's inode.
  int fd1 = *platform_->open_binary(a2), fd2 = *platform_->open_binary(at(cars, "/a.jpg"));
  struct stat s1 {}, s2 {};
  fstat(fd1, &s1);
  fstat(fd2, &s2);
  EXPECT_EQ(s1.st_ino, s2.st_ino);
  close(fd1);
  close(fd2);

  // Independent: the original overwritten and emptied, the clone as it was; and back.
  put(cars, "/day1/b.txt", "changed");
  ASSERT_TRUE(platform_->delete_item(at(cars, "/a.jpg").id));
  auto copy_tree = tree(*copy);
  EXPECT_EQ(copy_tree, original_tree);
  ASSERT_TRUE(platform_->delete_dataset(copy->id));
  EXPECT_EQ(tree(cars).at("/day1/b.txt"), "changed");
}

// A filter (dtlpy sends a whole query), a target folder, no metadata, into an existing dataset;
// run again, it finds its items there and clones nothing twice.
TEST_F(PlatformCloneTest, AFilteredCloneIntoAFolderOfAnotherDatasetSkipsWhatIsThereWhenRunAgain) {
  Dataset cars = dataset("cars");
  Dataset mix = dataset("mix");
  put(cars, "/day1/a.txt", "a", {{"camera", "cam-1"}});
  put(cars, "/day1/deep/b.txt", "b");
  put(cars, "/day2/c.txt", "c");
  json body = {{"filter", {{"filter", {{"$and", json::array({json{{"filename", "/day1/*"}}, json{{"type", "file"}}})}}},
                           {"page", 0}, {"pageSize", 1000}, {"resource", "items"}}},
               {"cloneDatasetParams",
                {{"targetDatasetId", mix.id}, {"targetDirectory", "/from-cars"}, {"withMetadata", false}}}};
  auto r = clone(cars, body);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->matched, 2u);
  EXPECT_EQ(r->cloned, 2u);
  EXPECT_EQ(tree(mix), (std::map<std::string, std::string>{{"/from-cars", "<dir>"},
                                                           {"/from-cars/day1", "<dir>"},
                                                           {"/from-cars/day1/a.txt", "a"},
                                                           {"/from-cars/day1/deep", "<dir>"},
                                                           {"/from-cars/day1/deep/b.txt", "b"}}));
  EXPECT_TRUE(at(mix, "/from-cars/day1/a.txt").user().empty()) << "withMetadata false";
  auto again = clone(cars, body);
  ASSERT_TRUE(again) << again.status().to_string();
  EXPECT_EQ(again->cloned, 0u);
  EXPECT_EQ(again->existing, 2u);
  EXPECT_EQ(platform_->get_dataset(mix.id)->items_count, 2u);
}

// The quota counts a clone's items: a batch past it is refused whole (EDQUOT, saying which
// quota), and the clone completes once it is raised.
TEST_F(PlatformCloneTest, ACloneCountsInTheQuotaAndPastItIsRefused) {
  Dataset cars = dataset("cars");
  Dataset small = dataset("small");
  for (int i = 0; i < 3; ++i) put(cars, "/f" + std::to_string(i), "x");
  ASSERT_TRUE(platform_->set_dataset_quota(small.id, 2));
  json body = {{"cloneDatasetParams", {{"targetDatasetId", small.id}}}};
  auto r = clone(cars, body);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err(), EDQUOT);
  EXPECT_NE(r.status().to_string().find("dataset 'small' is full"), std::string::npos) << r.status().to_string();
  EXPECT_TRUE(tree(small).empty());
  ASSERT_TRUE(platform_->set_dataset_quota(small.id, 3));
  r = clone(cars, body);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(tree(small).size(), 3u);
}

// The seed's rules: internal to internal, a bucket's items only into a clone of the same driver.
TEST_F(PlatformCloneTest, ItemsAreClonedOnlyWithinTheirStorage) {
  Driver d = driver(false);
  Dataset cars = dataset("cars");
  Dataset cams = dataset("cams", d.id);
  Dataset cams2 = dataset("cams2", d.id);
  auto refused = [&](const Dataset& from, const Dataset& to) {
    auto r = clone(from, {{"cloneDatasetParams", {{"targetDatasetId", to.id}}}});
    return r ? 0 : r.err();
  };
  EXPECT_EQ(refused(cars, cams), EXDEV);   // internal into a bucket
  EXPECT_EQ(refused(cams, cars), EXDEV);   // a bucket into internal
  EXPECT_EQ(refused(cams, cams2), EXDEV);  // into a dataset indexed to the bucket
  EXPECT_EQ(refused(cars, cars), EINVAL);  // into itself
  EXPECT_EQ(clone(cars, {{"name", "cams"}}).err(), EEXIST);
  EXPECT_EQ(clone(cars, json::object()).err(), EINVAL);  // neither a name nor a target
  EXPECT_EQ(clone(cars, {{"name", "x"}, {"filter", {{"size", {{"$regex", "."}}}}}}).err(), EINVAL);
  // A clone of a bucket's dataset is a clone of the same driver; another clone of it may go in.
  auto c = clone(cams, {{"name", "cams-clone"}});
  ASSERT_TRUE(c) << c.status().to_string();
  auto made = platform_->get_dataset(c->dataset_id);
  ASSERT_TRUE(made);
  EXPECT_EQ(made->driver, d.id);
  EXPECT_TRUE(is_bucket_clone(*made));
  EXPECT_TRUE(clone(cams, {{"cloneDatasetParams", {{"targetDatasetId", made->id}, {"targetDirectory", "/again"}}}}));
}

// A clone of a bucket's dataset holds the same objects (nothing copied in the bucket); it is not
// indexed to the bucket (no sync, import or watch; its moves leave objects alone; its uploads go
// to new objects under /.dataloop/clones/); an object is deleted (allowExternalDelete) only
// when its last holder goes.
TEST_F(PlatformCloneTest, ABucketsCloneSharesItsObjectsAndTheLastHolderDeletesThem) {
  Driver d = driver(/*external_delete=*/true);
  Dataset cams = dataset("cams", d.id);
  write_file(bucket() + "/cams/day1/a.txt", "apple");
  write_file(bucket() + "/cams/day1/b.txt", "banana");
  ASSERT_TRUE(platform_->sync_dataset(cams.id, "dev@local"));
  size_t objects = files_under(bucket());
  auto c = clone(cams, {{"name", "cams-clone"}});
  ASSERT_TRUE(c) << c.status().to_string();
  Dataset clone_ds = *platform_->get_dataset(c->dataset_id);
  EXPECT_EQ(tree(clone_ds), tree(cams));
  EXPECT_EQ(files_under(bucket()), objects) << "a clone copied objects";

  EXPECT_EQ(platform_->sync_dataset(clone_ds.id, "dev@local").err(), EINVAL);
  EXPECT_EQ(platform_->set_sync_interval(clone_ds.id, 60).err(), EINVAL);
  EXPECT_EQ(platform_->import_items(clone_ds.id, json::array(), "dev@local").err(), EINVAL);
  // A move in the clone leaves the object; an upload to the clone writes an object of its own.
  auto moved = platform_->move_item(at(clone_ds, "/day1/a.txt").id, "/elsewhere/a.txt", "dev@local");
  ASSERT_TRUE(moved) << moved.status().to_string();
  EXPECT_EQ(read_item(*platform_, *moved), "apple");
  EXPECT_TRUE(fs::exists(bucket() + "/cams/day1/a.txt"));
  EXPECT_FALSE(fs::exists(bucket() + "/cams/elsewhere"));
  Item own = put(clone_ds, "/day1/b.txt", "blueberry");  // over the shared one
  EXPECT_EQ(read_file(bucket() + "/cams/day1/b.txt"), "banana") << "a clone wrote its original's object";
  EXPECT_EQ(read_item(*platform_, at(cams, "/day1/b.txt")), "banana");
  EXPECT_EQ(read_item(*platform_, own), "blueberry");
  EXPECT_EQ(files_under(bucket() + "/cams/.dataloop/clones/" + clone_ds.id), 1u);

  // a.txt: held by both. The original's delete keeps it for the clone; the clone's deletes it.
  ASSERT_TRUE(platform_->delete_item(at(cams, "/day1/a.txt").id));
  EXPECT_TRUE(fs::exists(bucket() + "/cams/day1/a.txt"));
  EXPECT_EQ(read_item(*platform_, at(clone_ds, "/elsewhere/a.txt")), "apple");
  ASSERT_TRUE(platform_->delete_item(at(clone_ds, "/elsewhere/a.txt").id));
  EXPECT_FALSE(fs::exists(bucket() + "/cams/day1/a.txt"));
  // b.txt: the original holds it alone now; the clone's own object goes with the clone.
  ASSERT_TRUE(platform_->delete_dataset(clone_ds.id));
  EXPECT_EQ(files_under(bucket() + "/cams/.dataloop/clones/" + clone_ds.id), 0u);
  EXPECT_EQ(read_file(bucket() + "/cams/day1/b.txt"), "banana");
  EXPECT_EQ(tree(cams), (std::map<std::string, std::string>{{"/day1", "<dir>"}, {"/day1/b.txt", "banana"}}));
}

// A clone a stopped server left in progress runs again after a restart (recover_commands) and
// ends with every item once.
TEST_F(PlatformCloneTest, ACloneLeftUnfinishedByAStoppedServerRunsAgainAfterARestart) {
  Dataset cars = dataset("cars");
  for (int i = 0; i < 4; ++i) put(cars, "/f" + std::to_string(i), std::to_string(i));
  auto request = CloneRequest::from_api({{"name", "cars-copy"}});
  ASSERT_TRUE(request);
  auto target = platform_->clone_target(cars.id, *request, "dev@local");
  ASSERT_TRUE(target);
  ASSERT_TRUE(platform_->clone_items(cars.id, *request, "dev@local"));
  ASSERT_TRUE(platform_->delete_item(at(*target, "/f2").id));  // as if cut short before it
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  Command left;
  left.id = "0123456789abcdef01234567";
  left.type = "clone";
  left.status = "in-progress";
  left.spec = {{"datasetId", cars.id}, {"returnedModelId", target->id}, {"user", "dev@local"},
               {"request", request->to_json()}};
  left.created_ms = left.updated_ms = SystemClock::instance().now_ms();
  left.owner_pid = gone;
  platform_.reset();
  {
    auto cat = Catalog::open(dir_.sub("store") + "/catalog");
    ASSERT_TRUE(cat) << cat.status().to_string();
    auto txn = (*cat)->write();
    ASSERT_TRUE(txn);
    ASSERT_TRUE((*cat)->put_command(*txn, left.id, command_record(left)));
    ASSERT_TRUE(txn->commit());
  }
  reopen();
  ASSERT_TRUE(platform_->recover_commands());
  auto done = platform_->commands().wait(left.id, std::chrono::seconds(30));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, "success") << done->error;
  EXPECT_EQ(done->report["cloned"], 1) << done->report.dump();
  EXPECT_EQ(done->report["existing"], 3) << done->report.dump();
  EXPECT_EQ(tree(*platform_->get_dataset(target->id)), tree(cars));
}

// Clones racing writers of their source (overwrites, deletes, moves, from several threads;
// seeded): every item a clone made reads bytes its source had at that path at some time, and
// none is left without its bytes — in the platform's storage and in a bucket whose objects the
// original's deletes remove. DLFS_CLONE_RACE_ROUNDS makes it longer.
TEST_F(PlatformCloneTest, ClonesRacingWritersOfTheirSourceNeverLoseOrMixBytes) {
  const char* env = std::getenv("DLFS_CLONE_RACE_ROUNDS");
  const int rounds = env ? std::atoi(env) : 3;
  for (int round = 0; round < rounds; ++round) {
    Driver d = driver(/*external_delete=*/true, "cams" + std::to_string(round));
    for (bool in_bucket : {false, true}) {
      SCOPED_TRACE("round " + std::to_string(round) + (in_bucket ? " (bucket)" : " (internal)"));
      Dataset src = dataset("src-" + std::to_string(round) + std::to_string(in_bucket), in_bucket ? d.id : "");
      const int files = 40;
      // Bytes name their path's version: "<path>#<n>" (a move carries the bytes along).
      for (int i = 0; i < files; ++i) put(src, "/f" + std::to_string(i), "/f" + std::to_string(i) + "#0");
      std::atomic<bool> stop{false};
      std::vector<std::thread> writers;
      for (int w = 0; w < 2; ++w)
        writers.emplace_back([&, w] {
          std::mt19937 rng(1000 * round + w);
          for (int n = 1; !stop; ++n) {
            std::string path = "/f" + std::to_string(rng() % files);
            auto item = platform_->get_item_by_path(src.id, path);
            switch (rng() % 3) {
              case 0: put(src, path, path + "#" + std::to_string(n)); break;
              case 1:
                if (item) (void)platform_->delete_item(item->id);
                break;
              default:
                if (item) (void)platform_->move_item(item->id, path + "-moved" + std::to_string(n), "dev@local");
            }
          }
        });
      std::vector<Dataset> clones;
      for (int c = 0; c < 3; ++c) {
        auto r = clone(src, {{"name", "clone-" + std::to_string(round) + std::to_string(in_bucket) + std::to_string(c)}});
        ASSERT_TRUE(r) << r.status().to_string();
        clones.push_back(*platform_->get_dataset(r->dataset_id));
      }
      stop = true;
      for (auto& t : writers) t.join();
      for (const Dataset& c : clones)
        for (const auto& [path, bytes] : tree(c)) {
          if (bytes == "<dir>") continue;
          // "/f7#3" at "/f7", or at "/f7-moved12" (moved with its bytes).
          std::string written_at = bytes.substr(0, bytes.find('#'));
          EXPECT_TRUE(path == written_at || path.starts_with(written_at + "-moved"))
              << path << " holds '" << bytes << "'";
        }
    }
  }
}
