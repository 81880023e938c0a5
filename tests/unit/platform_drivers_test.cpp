// Storage drivers on the embedded platform, with a local-folder bucket (real files): a driver's
// dataset keeps its uploads in the bucket, imports index objects already there, a sync makes
// the dataset match the bucket (new, changed, gone), as a call and as a command.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>
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

class PlatformDriversTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(bucket());
    auto p = Platform::open(PlatformOptions{dir_.sub("store")});
    ASSERT_TRUE(p) << p.status().to_string();
    platform_ = std::move(*p);
  }
  std::string bucket() const { return dir_.sub("bucket"); }
  // A driver on the bucket folder, with `prefix`, and a dataset using it.
  Dataset driver_dataset(const std::string& prefix = "team/cars", bool external_delete = false) {
    json body = {{"name", "bucket"}, {"type", "local"}, {"bucketName", bucket()}, {"path", prefix},
                 {"allowExternalDelete", external_delete}};
    auto d = platform_->create_driver(body, "dev@local");
    EXPECT_TRUE(d) << d.status().to_string();
    driver_ = d ? *d : Driver{};
    auto ds = platform_->create_dataset("cars-" + std::to_string(++datasets_), "dev@local", driver_.id);
    EXPECT_TRUE(ds) << ds.status().to_string();
    return ds ? *ds : Dataset{};
  }
  std::string read_all(const Item& item) { return test::read_item(*platform_, item); }
  // Every file item of the dataset: path -> bytes read through the platform.
  std::map<std::string, std::string> files_of(const Dataset& ds) {
    std::map<std::string, std::string> out;
    json q = {{"filter", {{"$and", json::array({json{{"type", "file"}}, json{{"hidden", false}}})}}},
              {"pageSize", 1000}};
    auto r = platform_->query(ds.id, q);
    EXPECT_TRUE(r) << r.status().to_string();
    if (r)
      for (const Item& item : r->page.items) out[item.filename] = read_all(item);
    return out;
  }

  // Whether the dataset shows file `path` within `within` (a watched sync's doing).
  bool shows(const Dataset& ds, const std::string& path, std::chrono::milliseconds within) {
    auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
      if (files_of(ds).count(path)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // The syncs this process's platform started (running or ended).
  static uint64_t syncs_started(Platform& p) {
    auto tally = p.commands().tally();
    const CommandTally& t = tally["sync"];
    return t.running + t.succeeded + t.failed;
  }

  TempDir dir_{"dlfs-drivers"};
  std::unique_ptr<Platform> platform_;
  Driver driver_;
  int datasets_ = 0;
};

// A bucket whose credentials lack some permissions: the named calls are refused (EACCES).
class DenyingStore : public ObjectStore {
 public:
  DenyingStore(std::unique_ptr<ObjectStore> inner, std::set<std::string> denied)
      : inner_(std::move(inner)), denied_(std::move(denied)) {}
  Result<ObjectInfo> head(std::string_view key) override {
    DLFS_TRY(allowed("Get"));
    return inner_->head(key);
  }
  Result<size_t> read(std::string_view key, uint64_t offset, std::span<char> out) override {
    DLFS_TRY(allowed("Get"));
    return inner_->read(key, offset, out);
  }
  Result<ObjectInfo> put_file(std::string_view key, const std::string& file) override {
    DLFS_TRY(allowed("Put"));
    return inner_->put_file(key, file);
  }
  Result<ObjectInfo> put_bytes(std::string_view key, std::string_view bytes) override {
    DLFS_TRY(allowed("Put"));
    return inner_->put_bytes(key, bytes);
  }
  Result<ObjectInfo> copy(std::string_view from, std::string_view to) override {
    DLFS_TRY(allowed("Put"));
    return inner_->copy(from, to);
  }
  Status remove(std::string_view key) override {
    DLFS_TRY(allowed("Delete"));
    return inner_->remove(key);
  }
  Status list(std::string_view prefix, const std::function<bool(const ObjectInfo&)>& fn) override {
    DLFS_TRY(allowed("List"));
    return inner_->list(prefix, fn);
  }

 private:
  Status allowed(const std::string& what) const {
    if (denied_.count(what)) return Status(EACCES, "access denied (" + what + ")");
    return {};
  }
  std::unique_ptr<ObjectStore> inner_;
  std::set<std::string> denied_;
};

}  // namespace

// The seed's permission test at a driver's creation: each permission the driver needs is tried
// (List, Put, Get; Delete where it allows external deletes), and a driver lacking any is refused
// naming every one missing; nothing is kept of a refused driver, nor of the test in the bucket.
TEST_F(PlatformDriversTest, ADriverLackingAPermissionIsRefusedNamingEachMissingOne) {
  std::set<std::string> denied;
  PlatformOptions options{dir_.sub("store2")};
  options.open_store = [&](const Driver& d) -> Result<std::unique_ptr<ObjectStore>> {
    DLFS_ASSIGN(auto inner, open_local_folder_store(d.bucket));
    return std::unique_ptr<ObjectStore>(std::make_unique<DenyingStore>(std::move(inner), denied));
  };
  auto p = Platform::open(options);
  ASSERT_TRUE(p) << p.status().to_string();
  write_file(bucket() + "/cams/one.jpg", "an object the listing finds");
  auto create = [&](std::set<std::string> deny, bool external_delete) {
    denied = std::move(deny);
    return (*p)->create_driver({{"name", "cams"}, {"type", "local"}, {"bucketName", bucket()}, {"path", "cams"},
                                {"allowExternalDelete", external_delete}},
                               "dev@local");
  };
  struct Case {
    std::set<std::string> deny;
    bool external_delete;
    std::vector<std::string> named;
  };
  for (const Case& c : std::vector<Case>{{{"Put"}, false, {"Put"}},
                                         {{"Get"}, false, {"Get"}},
                                         {{"List", "Put"}, false, {"List", "Put"}},
                                         {{"Delete"}, true, {"Delete"}},
                                         {{"Put", "Get", "Delete"}, true, {"Put", "Get"}}}) {
    auto d = create(c.deny, c.external_delete);
    ASSERT_EQ(d.err(), EACCES) << *c.deny.begin();
    std::string message = d.status().to_string();
    for (const std::string name : {"List", "Put", "Get", "Delete"}) {
      bool named = std::find(c.named.begin(), c.named.end(), name) != c.named.end();
      EXPECT_EQ(message.find(name + " (") != std::string::npos, named) << name << " in: " << message;
    }
  }
  EXPECT_TRUE((*p)->list_drivers()->empty()) << "a refused driver was kept";
  // Delete denied but not needed: accepted, its test object left under .dataloop (as the refused
  // one's that could not delete). Everything allowed: accepted, its test object removed.
  ASSERT_TRUE(create({"Delete"}, false));
  ASSERT_TRUE(create({}, true));
  size_t test_objects = 0;
  for (const auto& e : fs::recursive_directory_iterator(bucket())) {
    if (!e.is_regular_file() || !e.path().filename().string().starts_with("permission-test-")) continue;
    EXPECT_EQ(e.path().parent_path(), fs::path(bucket() + "/cams/.dataloop"));
    ++test_objects;
  }
  EXPECT_EQ(test_objects, 2u);
  EXPECT_EQ((*p)->list_drivers()->size(), 2u);
}

TEST_F(PlatformDriversTest, DriversAreCheckedKeptAndNeverShowTheirCredentials) {
  EXPECT_EQ(platform_->create_driver({{"name", "x"}, {"type", "ftp"}, {"bucketName", "b"}}, "u").err(), EINVAL);
  EXPECT_EQ(platform_->create_driver({{"type", "local"}, {"bucketName", bucket()}}, "u").err(), EINVAL);  // no name
  EXPECT_EQ(platform_->create_driver({{"name", "x"}, {"type", "local"}, {"bucketName", bucket() + "/nope"}}, "u").err(),
            ENOENT);
  EXPECT_EQ(platform_->create_driver({{"name", "x"}, {"type", "s3"}, {"bucketName", "b"}}, "u").err(), EINVAL);
  EXPECT_EQ(platform_->create_driver({{"name", "x"}, {"type", "local"}, {"bucketName", bucket()}, {"path", "a/../b"}},
                                     "u")
                .err(),
            EINVAL);

  json body = {{"name", "mine"}, {"type", "local"}, {"bucketName", bucket()}, {"path", "/p/"},
               {"credentials", {{"secret", "do-not-show"}}}};
  auto d = platform_->create_driver(body, "dev@local");
  ASSERT_TRUE(d) << d.status().to_string();
  EXPECT_EQ(d->path, "p");
  auto all = platform_->list_drivers();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().id, d->id);
  auto again = platform_->get_driver(d->id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->credentials["secret"], "do-not-show");  // kept, for opening the bucket
  EXPECT_EQ(driver_to_json(*again).dump().find("do-not-show"), std::string::npos);
  EXPECT_EQ(platform_->get_driver("000000000000000000000000").err(), ENOENT);
  EXPECT_EQ(platform_->create_dataset("x", "u", "000000000000000000000000").err(), EINVAL);
}

TEST_F(PlatformDriversTest, ADriversDatasetKeepsItsUploadsInTheBucket) {
  Dataset ds = driver_dataset();
  auto up = platform_->upload_bytes(ds.id, "first bytes", "/red/a.txt", {});
  ASSERT_TRUE(up) << up.status().to_string();
  EXPECT_EQ(read_file(bucket() + "/team/cars/red/a.txt"), "first bytes");
  EXPECT_EQ(read_all(up->item), "first bytes");

  UploadOptions overwrite;
  overwrite.mode = UploadMode::kOverwrite;
  auto again = platform_->upload_bytes(ds.id, "second, longer bytes", "/red/a.txt", overwrite);
  ASSERT_TRUE(again) << again.status().to_string();
  EXPECT_EQ(read_file(bucket() + "/team/cars/red/a.txt"), "second, longer bytes");
  EXPECT_EQ(read_all(again->item), "second, longer bytes");

  // The bucket is the user's: deleting the item leaves the object (allowExternalDelete false).
  ASSERT_TRUE(platform_->delete_item(again->item.id));
  EXPECT_TRUE(fs::exists(bucket() + "/team/cars/red/a.txt"));

  Dataset owned = driver_dataset("owned", /*external_delete=*/true);
  auto mine = platform_->upload_bytes(owned.id, "x", "/b.txt", {});
  ASSERT_TRUE(mine);
  ASSERT_TRUE(fs::exists(bucket() + "/owned/b.txt"));
  ASSERT_TRUE(platform_->delete_item(mine->item.id));
  EXPECT_FALSE(fs::exists(bucket() + "/owned/b.txt"));
}

TEST_F(PlatformDriversTest, ImportIndexesObjectsAlreadyThereAllOrNothing) {
  Dataset ds = driver_dataset("");
  write_file(bucket() + "/cam1/0001.txt", "frame one");
  write_file(bucket() + "/cam1/0002.txt", "frame two!");
  json body = json::array({json{{"filename", "/day1/a.txt"}, {"storageId", bucket() + ":cam1/0001.txt"}},
                           json{{"filename", "/day1/b.txt"}, {"storageId", bucket() + ":cam1/0002.txt"}}});
  auto items = platform_->import_items(ds.id, body, "dev@local");
  ASSERT_TRUE(items) << items.status().to_string();
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ((*items)[1].filename, "/day1/b.txt");
  EXPECT_EQ((*items)[1].size(), 10u);
  EXPECT_EQ(files_of(ds), (std::map<std::string, std::string>{{"/day1/a.txt", "frame one"}, {"/day1/b.txt", "frame two!"}}));
  auto got = platform_->get_dataset(ds.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->items_count, 2u);

  // A missing object, another bucket, a bad name: nothing is made.
  json missing = json::array({json{{"filename", "/c.txt"}, {"storageId", bucket() + ":cam1/0001.txt"}},
                              json{{"filename", "/d.txt"}, {"storageId", bucket() + ":cam1/none.txt"}}});
  EXPECT_EQ(platform_->import_items(ds.id, missing, "u").err(), ENOENT);
  EXPECT_EQ(platform_->import_items(ds.id, json::array({json{{"filename", "/e.txt"}, {"storageId", "other:k"}}}), "u")
                .err(),
            EINVAL);
  EXPECT_EQ(platform_->import_items(ds.id, json::array({json{{"filename", "/e.txt"}}}), "u").err(), EINVAL);
  EXPECT_EQ(files_of(ds).size(), 2u);

  // A dataset of the platform's own storage has nothing to import from.
  auto plain = platform_->create_dataset("plain", "u");
  ASSERT_TRUE(plain);
  EXPECT_EQ(platform_->import_items(plain->id, body, "u").err(), EINVAL);
  EXPECT_EQ(platform_->sync_dataset(plain->id, "u").err(), EINVAL);
}

TEST_F(PlatformDriversTest, SyncAddsChangedAndRemovesToMatchTheBucket) {
  Dataset ds = driver_dataset("team/cars");
  write_file(bucket() + "/team/cars/a.txt", "a");
  write_file(bucket() + "/team/cars/red/b.txt", "bee");
  write_file(bucket() + "/team/cars/red/deep/c.txt", "sea");
  write_file(bucket() + "/team/other/x.txt", "not under the prefix");
  write_file(bucket() + "/team/carsick.txt", "not under the prefix either");
  auto first = platform_->sync_dataset(ds.id, "dev@local");
  ASSERT_TRUE(first) << first.status().to_string();
  EXPECT_EQ(first->listed, 3u);
  EXPECT_EQ(first->added, 3u);
  EXPECT_EQ(files_of(ds), (std::map<std::string, std::string>{
                              {"/a.txt", "a"}, {"/red/b.txt", "bee"}, {"/red/deep/c.txt", "sea"}}));

  // Nothing changed: nothing done.
  auto idle = platform_->sync_dataset(ds.id, "dev@local");
  ASSERT_TRUE(idle);
  EXPECT_EQ(idle->unchanged, 3u);
  EXPECT_EQ(idle->added + idle->updated + idle->removed, 0u);

  // One changed, one gone, one new; an item uploaded through the platform stays (its object is there).
  ASSERT_TRUE(platform_->upload_bytes(ds.id, "uploaded", "/up.txt", {}));
  write_file(bucket() + "/team/cars/red/b.txt", "bumble bee");
  fs::remove(bucket() + "/team/cars/a.txt");
  write_file(bucket() + "/team/cars/new.txt", "new");
  auto second = platform_->sync_dataset(ds.id, "dev@local");
  ASSERT_TRUE(second) << second.status().to_string();
  EXPECT_EQ(second->added, 1u);
  EXPECT_EQ(second->updated, 1u);
  EXPECT_EQ(second->removed, 1u);
  EXPECT_EQ(second->unchanged, 2u);
  EXPECT_EQ(files_of(ds), (std::map<std::string, std::string>{{"/new.txt", "new"},
                                                              {"/red/b.txt", "bumble bee"},
                                                              {"/red/deep/c.txt", "sea"},
                                                              {"/up.txt", "uploaded"}}));
  auto got = platform_->get_dataset(ds.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->items_count, 4u);
}

// metadata.system can be patched (?system=true) into any shape: an etag that is not a string
// made the sync throw (nlohmann's value() refuses a default of another type) instead of
// treating the item as changed.
TEST_F(PlatformDriversTest, SyncMendsAnEtagThatIsNotAString) {
  Dataset ds = driver_dataset("team/cars");
  write_file(bucket() + "/team/cars/a.txt", "a");
  ASSERT_TRUE(platform_->sync_dataset(ds.id, "dev@local"));
  auto item = platform_->get_item_by_path(ds.id, "/a.txt");
  ASSERT_TRUE(item) << item.status().to_string();
  std::string etag = item->etag();
  ASSERT_FALSE(etag.empty());
  ASSERT_TRUE(platform_->patch_item(item->id, {{"metadata", {{"system", {{"etag", 7}}}}}}, true, "dev@local"));
  auto synced = platform_->sync_dataset(ds.id, "dev@local");
  ASSERT_TRUE(synced) << synced.status().to_string();
  EXPECT_EQ(synced->updated, 1u);
  auto mended = platform_->get_item_by_path(ds.id, "/a.txt");
  ASSERT_TRUE(mended);
  EXPECT_EQ(mended->etag(), etag);
  EXPECT_EQ(files_of(ds), (std::map<std::string, std::string>{{"/a.txt", "a"}}));
}

TEST_F(PlatformDriversTest, SyncPastTheQuotaSkipsWhatDoesNotFitAndRemovalsMakeRoomFirst) {
  Dataset ds = driver_dataset("q");
  ASSERT_TRUE(platform_->set_dataset_quota(ds.id, 2));
  write_file(bucket() + "/q/a.txt", "a");
  write_file(bucket() + "/q/b.txt", "b");
  ASSERT_TRUE(platform_->sync_dataset(ds.id, "dev@local"));
  // One more object than the quota has room for: refused, with the quota's message.
  write_file(bucket() + "/q/c.txt", "c");
  auto full = platform_->sync_dataset(ds.id, "dev@local");
  ASSERT_TRUE(full) << full.status().to_string();
  EXPECT_EQ(full->added, 0u);
  ASSERT_EQ(full->skipped.size(), 1u);  // reported per object, with the quota's message
  EXPECT_NE(full->skipped[0].find("c.txt: "), std::string::npos) << full->skipped[0];
  EXPECT_NE(full->skipped[0].find("is full: 2 of its quota of 2 items"), std::string::npos) << full->skipped[0];
  EXPECT_EQ(files_of(ds).size(), 2u);
  // An object gone and one new: the removal is done first, so the new one fits.
  fs::remove(bucket() + "/q/a.txt");
  auto swapped = platform_->sync_dataset(ds.id, "dev@local");
  ASSERT_TRUE(swapped) << swapped.status().to_string();
  EXPECT_EQ(files_of(ds), (std::map<std::string, std::string>{{"/b.txt", "b"}, {"/c.txt", "c"}}));
}

TEST_F(PlatformDriversTest, SyncRunsAsACommand) {
  Dataset ds = driver_dataset("p");
  for (int i = 0; i < 250; ++i) write_file(bucket() + "/p/f" + std::to_string(i) + ".txt", std::to_string(i));
  auto started = platform_->start_sync(ds.id, "dev@local");
  ASSERT_TRUE(started) << started.status().to_string();
  EXPECT_EQ(started->type, "sync");
  EXPECT_EQ(started->spec["datasetId"], ds.id);
  auto done = platform_->commands().wait(started->id, std::chrono::seconds(60));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, "success") << done->error;
  EXPECT_EQ(done->progress, 100);
  EXPECT_EQ(done->report["added"], 250);
  EXPECT_EQ(files_of(ds).size(), 250u);
  EXPECT_FALSE(platform_->commands().get("000000000000000000000000"));

  // A bucket that went away fails the command, with why.
  fs::rename(bucket(), bucket() + "-moved");
  auto broken = platform_->start_sync(ds.id, "dev@local");
  ASSERT_TRUE(broken);
  auto failed = platform_->commands().wait(broken->id, std::chrono::seconds(60));
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, "failed");
  EXPECT_NE(failed->error, "");
}

// An item whose bytes are an object in the bucket moves with its object where the driver may
// delete objects: the object is at the key of the new path (bytes, etag), the old key is gone,
// and a sync afterwards changes nothing. Moved over another item, that item's object (at the
// same key) is replaced, not deleted after the commit. A folder moves with all its objects.
TEST_F(PlatformDriversTest, AMoveTakesTheItemsObjectWithItWhereTheDriverMayDelete) {
  Dataset ds = driver_dataset("team/cars", /*external_delete=*/true);
  auto a = platform_->upload_bytes(ds.id, "alpha bytes", "/raw/a.txt", {});
  auto b = platform_->upload_bytes(ds.id, "bravo", "/raw/b.txt", {});
  ASSERT_TRUE(a && b);
  const std::string root = bucket() + "/team/cars";

  auto moved = platform_->move_item(a->item.id, "/done/a2.txt", "dev@local");
  ASSERT_TRUE(moved) << moved.status().to_string();
  EXPECT_EQ(moved->filename, "/done/a2.txt");
  EXPECT_FALSE(fs::exists(root + "/raw/a.txt"));
  EXPECT_EQ(read_file(root + "/done/a2.txt"), "alpha bytes");
  EXPECT_EQ(read_all(*moved), "alpha bytes");
  EXPECT_NE(moved->etag(), a->item.etag()) << "the etag is the new object's";

  // The sync finds each item at its object: nothing added, nothing removed.
  auto sync = platform_->sync_dataset(ds.id, "dev@local");
  ASSERT_TRUE(sync) << sync.status().to_string();
  EXPECT_EQ(sync->unchanged, 2u);
  EXPECT_EQ(sync->added + sync->updated + sync->removed, 0u);

  // Renamed over b (rename(2) over an existing file): b's object is replaced by a's bytes.
  auto over = platform_->move_item(moved->id, "/raw/b.txt", "dev@local", b->item.id);
  ASSERT_TRUE(over) << over.status().to_string();
  EXPECT_EQ(read_file(root + "/raw/b.txt"), "alpha bytes") << "the replaced target's delete took the moved object";
  EXPECT_FALSE(fs::exists(root + "/done/a2.txt"));
  EXPECT_EQ(files_of(ds), (std::map<std::string, std::string>{{"/raw/b.txt", "alpha bytes"}}));

  // Refused moves leave the bucket alone: onto an item without replace_id, into a file.
  auto c = platform_->upload_bytes(ds.id, "charlie", "/raw/c.txt", {});
  ASSERT_TRUE(c);
  EXPECT_EQ(platform_->move_item(c->item.id, "/raw/b.txt", "dev@local").err(), EEXIST);
  EXPECT_EQ(platform_->move_item(c->item.id, "/raw/b.txt/x", "dev@local").err(), ENOTDIR);
  EXPECT_EQ(read_file(root + "/raw/b.txt"), "alpha bytes");
  EXPECT_EQ(read_file(root + "/raw/c.txt"), "charlie");

  // A PATCH of filename (the API's move) moves the object too.
  auto patched = platform_->patch_item(c->item.id, {{"filename", "/raw/charlie.txt"}}, true, "dev@local");
  ASSERT_TRUE(patched) << patched.status().to_string();
  EXPECT_EQ(read_file(root + "/raw/charlie.txt"), "charlie");
  EXPECT_FALSE(fs::exists(root + "/raw/c.txt"));

  // A folder moves with the objects of every file below it (copied in parallel, re-pointed in
  // one transaction, the old ones deleted after); a sync then finds each item at its object.
  auto d = platform_->upload_bytes(ds.id, "delta", "/raw/deep/d.txt", {});
  ASSERT_TRUE(d);
  auto raw = platform_->get_item_by_path(ds.id, "/raw");
  ASSERT_TRUE(raw);
  auto cooked = platform_->move_item(raw->id, "/cooked", "dev@local");
  ASSERT_TRUE(cooked) << cooked.status().to_string();
  for (const auto& e : fs::recursive_directory_iterator(root + "/raw"))
    EXPECT_FALSE(e.is_regular_file()) << e.path() << " is left at the old key";
  EXPECT_EQ(read_file(root + "/cooked/deep/d.txt"), "delta");
  EXPECT_EQ(files_of(ds), (std::map<std::string, std::string>{{"/cooked/b.txt", "alpha bytes"},
                                                              {"/cooked/charlie.txt", "charlie"},
                                                              {"/cooked/deep/d.txt", "delta"}}));
  sync = platform_->sync_dataset(ds.id, "dev@local");
  ASSERT_TRUE(sync) << sync.status().to_string();
  EXPECT_EQ(sync->unchanged, 3u);
  EXPECT_EQ(sync->added + sync->updated + sync->removed, 0u);
  // Refused (into itself), it copies nothing.
  EXPECT_EQ(platform_->move_item(cooked->id, "/cooked/deeper", "dev@local").err(), EINVAL);
  EXPECT_FALSE(fs::exists(root + "/cooked/deeper"));
  ASSERT_TRUE(platform_->make_dir(ds.id, "/empty", "dev@local"));
  auto empty = platform_->get_item_by_path(ds.id, "/empty");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(platform_->move_item(empty->id, "/emptied", "dev@local"));
}

// Where the driver may not delete objects, moving an item in the bucket is refused (EXDEV, with
// why): the object stays at its key and the item where it was, so a sync keeps both in step. The
// issue's case: the item moved, the object not, and a later delete in the bucket dropped the
// moved item in the next sync.
TEST_F(PlatformDriversTest, AMoveOfAnItemInABucketThatMayNotDeleteIsRefused) {
  Dataset ds = driver_dataset("team/cars", /*external_delete=*/false);
  auto a = platform_->upload_bytes(ds.id, "alpha", "/raw/a.txt", {});
  ASSERT_TRUE(a);
  auto moved = platform_->move_item(a->item.id, "/raw/b.txt", "dev@local");
  ASSERT_EQ(moved.err(), EXDEV);
  EXPECT_NE(moved.status().to_string().find("may not delete objects"), std::string::npos) << moved.status().to_string();
  EXPECT_EQ(platform_->patch_item(a->item.id, {{"filename", "/b.txt"}}, true, "dev@local").err(), EXDEV);
  EXPECT_EQ(read_file(bucket() + "/team/cars/raw/a.txt"), "alpha");
  EXPECT_FALSE(fs::exists(bucket() + "/team/cars/raw/b.txt"));
  EXPECT_EQ(files_of(ds), (std::map<std::string, std::string>{{"/raw/a.txt", "alpha"}}));

  // Metadata patches and moves of items outside the bucket (a folder with none) still work.
  EXPECT_TRUE(platform_->patch_item(a->item.id, {{"description", "kept"}}, false, "dev@local"));
  ASSERT_TRUE(platform_->make_dir(ds.id, "/empty", "dev@local"));
  auto empty = platform_->get_item_by_path(ds.id, "/empty");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(platform_->move_item(empty->id, "/emptied", "dev@local"));
  // Nor does a folder holding such an object move (EXDEV: `mv` copies).
  auto raw = platform_->get_item_by_path(ds.id, "/raw");
  ASSERT_TRUE(raw);
  auto folder = platform_->move_item(raw->id, "/cooked", "dev@local");
  EXPECT_EQ(folder.err(), EXDEV);
  EXPECT_NE(folder.status().to_string().find("may not delete objects"), std::string::npos) << folder.status().to_string();
  EXPECT_EQ(files_of(ds), (std::map<std::string, std::string>{{"/raw/a.txt", "alpha"}}));

  // The object deleted in the bucket: the sync drops the item, adds nothing.
  fs::remove(bucket() + "/team/cars/raw/a.txt");
  auto sync = platform_->sync_dataset(ds.id, "dev@local");
  ASSERT_TRUE(sync);
  EXPECT_EQ(sync->removed, 1u);
  EXPECT_TRUE(files_of(ds).empty());
}

// Watched upstream sync: a dataset with a sync interval is synced again on it by the watcher, so
// an object put in the bucket becomes an item without anyone asking; unwatched, it does not.
TEST_F(PlatformDriversTest, AWatchedDatasetIsSyncedAgainOnItsInterval) {
  Dataset plain = *platform_->create_dataset("plain", "dev@local");
  EXPECT_EQ(platform_->set_sync_interval(plain.id, 1).err(), EINVAL);
  Dataset ds = driver_dataset("cams");
  write_file(bucket() + "/cams/a.txt", "a");
  ASSERT_TRUE(platform_->set_sync_interval(ds.id, 1));
  EXPECT_EQ(dataset_sync_interval(*platform_->get_dataset(ds.id)), 1u);
  platform_->watch_syncs(std::chrono::milliseconds(50));
  EXPECT_TRUE(shows(ds, "/a.txt", std::chrono::seconds(10))) << "the first watched sync starts at once";
  write_file(bucket() + "/cams/b.txt", "b");
  EXPECT_TRUE(shows(ds, "/b.txt", std::chrono::seconds(10))) << "no sync an interval later";

  ASSERT_TRUE(platform_->set_sync_interval(ds.id, 0));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // (a sync started just before ends)
  write_file(bucket() + "/cams/c.txt", "c");
  EXPECT_FALSE(shows(ds, "/c.txt", std::chrono::milliseconds(2500))) << "synced although no longer watched";
  EXPECT_EQ(dataset_sync_interval(*platform_->get_dataset(ds.id)), 0u);
}

// A local folder's store sends change notifications: a watched dataset on it is synced soon after
// its folder changes (here with an interval of an hour), in folders made since too; changes in
// what the platform keeps there (.dataloop/) start no sync.
TEST_F(PlatformDriversTest, AWatchedLocalFolderIsSyncedSoonAfterItChanges) {
  Dataset ds = driver_dataset("cams");
  write_file(bucket() + "/cams/a.txt", "a");
  ASSERT_TRUE(platform_->set_sync_interval(ds.id, 3600));
  platform_->watch_syncs(std::chrono::milliseconds(50));
  ASSERT_TRUE(shows(ds, "/a.txt", std::chrono::seconds(10))) << "the first watched sync starts at once";
  write_file(bucket() + "/cams/b.txt", "b");
  EXPECT_TRUE(shows(ds, "/b.txt", std::chrono::seconds(10))) << "no sync after a change";
  fs::create_directories(bucket() + "/cams/day2/morning");
  write_file(bucket() + "/cams/day2/morning/c.txt", "c");
  EXPECT_TRUE(shows(ds, "/day2/morning/c.txt", std::chrono::seconds(10))) << "no sync after a change in a new folder";

  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // (the last sync ends)
  uint64_t before = syncs_started(*platform_);
  fs::create_directories(bucket() + "/cams/.dataloop/thumbnails");
  write_file(bucket() + "/cams/.dataloop/thumbnails/x.jpg", "x");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(syncs_started(*platform_), before) << "the platform's own files started a sync";
  EXPECT_EQ(files_of(ds).size(), 3u);
}

// Two processes serving one store (dlfsd and an embedded mount; here two platforms) both watch:
// they take turns, one sync per interval between them, not one each.
TEST_F(PlatformDriversTest, WatchersOfOneStoreTakeTurnsOneSyncAnInterval) {
  Dataset ds = driver_dataset("cams");
  write_file(bucket() + "/cams/a.txt", "a");
  ASSERT_TRUE(platform_->set_sync_interval(ds.id, 1));
  auto other = Platform::open(PlatformOptions{dir_.sub("store")});
  ASSERT_TRUE(other) << other.status().to_string();
  platform_->watch_syncs(std::chrono::milliseconds(20));
  (*other)->watch_syncs(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  other->reset();  // (stops its watcher; syncs under way end)
  auto cat = Catalog::open(dir_.sub("store") + "/catalog");
  ASSERT_TRUE(cat) << cat.status().to_string();
  auto txn = (*cat)->read();
  ASSERT_TRUE(txn);
  auto commands = (*cat)->commands(*txn);
  ASSERT_TRUE(commands) << commands.status().to_string();
  size_t syncs = 0;
  for (const json& c : *commands)
    syncs += c.value("type", "") == "sync" && c.value("spec", json::object()).value("datasetId", "") == ds.id;
  EXPECT_GE(syncs, 3u) << "not synced every interval";
  EXPECT_LE(syncs, 5u) << "both watchers synced every interval";
  EXPECT_EQ(files_of(ds).size(), 1u);
}

// ... and for a change too: both see it, one syncs.
TEST_F(PlatformDriversTest, WatchersOfOneStoreTakeTurnsOneSyncAChange) {
  Dataset ds = driver_dataset("cams");
  ASSERT_TRUE(platform_->set_sync_interval(ds.id, 3600));
  auto other = Platform::open(PlatformOptions{dir_.sub("store")});
  ASSERT_TRUE(other) << other.status().to_string();
  auto syncs = [&] { return syncs_started(*platform_) + syncs_started(**other); };
  platform_->watch_syncs(std::chrono::milliseconds(20));
  (*other)->watch_syncs(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_EQ(syncs(), 1u) << "the interval's first sync: one of them";
  write_file(bucket() + "/cams/a.txt", "a");
  EXPECT_TRUE(shows(ds, "/a.txt", std::chrono::seconds(10))) << "no sync after the change";
  EXPECT_EQ(files_of(ds).size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  EXPECT_EQ(syncs(), 2u) << "both watchers synced the change";
  other->reset();
}

// What the platform makes for a driver's dataset (a thumbnail) is kept in the bucket under
// <path>/.dataloop, as the seed does, not in the platform's storage; it is read back through
// the platform, left out of syncs, and deleted with its item even where the driver may not delete
// the user's objects (it is the platform's).
TEST_F(PlatformDriversTest, ThumbnailsOfADriversDatasetAreKeptInItsBucketUnderDataloop) {
  Dataset ds = driver_dataset("cams", /*external_delete=*/false);
  std::string jpeg = slurp(make_picture(dir_, "a.jpg", 320, 240));
  auto up = platform_->upload_bytes(ds.id, jpeg, "/day1/a.jpg", {});
  ASSERT_TRUE(up) << up.status().to_string();
  auto done = platform_->preprocess_now(up->item.id);
  ASSERT_TRUE(done) << done.status().to_string();
  EXPECT_EQ(done->system().value("preprocessPhase", ""), "done") << done->system().dump();
  std::vector<fs::path> thumbs;
  if (fs::exists(bucket() + "/cams/.dataloop/thumbnails"))
    for (const auto& e : fs::directory_iterator(bucket() + "/cams/.dataloop/thumbnails")) thumbs.push_back(e.path());
  ASSERT_EQ(thumbs.size(), 1u) << "no thumbnail in the bucket";
  std::string in_bucket = read_file(thumbs[0].string());
  EXPECT_EQ(in_bucket.substr(0, 2), "\xff\xd8") << "not a JPEG";
  auto via_platform = platform_->thumbnail(*done);
  ASSERT_TRUE(via_platform) << via_platform.status().to_string();
  EXPECT_EQ(*via_platform, in_bucket);
  // Preprocessed again (an overwrite): the new thumbnail replaces the old one in the bucket.
  UploadOptions overwrite;
  overwrite.mode = UploadMode::kOverwrite;
  auto again = platform_->upload_bytes(ds.id, slurp(make_picture(dir_, "b.jpg", 200, 100)), "/day1/a.jpg", overwrite);
  ASSERT_TRUE(again);
  ASSERT_TRUE(platform_->preprocess_now(again->item.id));
  thumbs.clear();
  for (const auto& e : fs::directory_iterator(bucket() + "/cams/.dataloop/thumbnails")) thumbs.push_back(e.path());
  ASSERT_EQ(thumbs.size(), 1u);
  EXPECT_NE(read_file(thumbs[0].string()), in_bucket);
  // A sync leaves it alone; deleting the item deletes it (not the user's object).
  auto sync = platform_->sync_dataset(ds.id, "dev@local");
  ASSERT_TRUE(sync);
  EXPECT_EQ(sync->added, 0u);
  EXPECT_EQ(sync->listed, 1u);
  EXPECT_TRUE(sync->skipped.empty()) << "the platform's own objects reported as skipped";
  EXPECT_EQ(files_of(ds).size(), 1u);
  ASSERT_TRUE(platform_->delete_item(again->item.id));
  EXPECT_FALSE(fs::exists(thumbs[0]));
  EXPECT_TRUE(fs::exists(bucket() + "/cams/day1/a.jpg"));
}

// A sync a stopped server left in progress (its record in the catalogue, its process gone) runs
// again when the store is served anew (recover_commands), under the same id, to the end.
TEST_F(PlatformDriversTest, ASyncLeftUnfinishedByAStoppedServerRunsAgainAfterARestart) {
  Dataset ds = driver_dataset("cams");
  for (int i = 0; i < 5; ++i) write_file(bucket() + "/cams/f" + std::to_string(i) + ".txt", "x");
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  Command left;
  left.id = "0123456789abcdef01234567";
  left.type = "sync";
  left.status = "in-progress";
  left.progress = 30;
  left.spec = {{"datasetId", ds.id}, {"driverId", driver_.id}, {"user", "dev@local"}};
  left.created_ms = left.updated_ms = SystemClock::instance().now_ms();
  left.owner_pid = gone;
  {
    auto cat = Catalog::open(dir_.sub("store") + "/catalog");
    ASSERT_TRUE(cat) << cat.status().to_string();
    auto txn = (*cat)->write();
    ASSERT_TRUE(txn);
    ASSERT_TRUE((*cat)->put_command(*txn, left.id, command_record(left)));
    ASSERT_TRUE(txn->commit());
  }
  platform_.reset();
  auto p = Platform::open(PlatformOptions{dir_.sub("store")});
  ASSERT_TRUE(p) << p.status().to_string();
  platform_ = std::move(*p);
  EXPECT_FALSE(platform_->commands().get(left.id)) << "known before the recovery";
  ASSERT_TRUE(platform_->recover_commands());
  auto done = platform_->commands().wait(left.id, std::chrono::seconds(30));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, "success") << done->error;
  EXPECT_EQ(done->report["added"], 5) << done->report.dump();
  EXPECT_EQ(files_of(ds).size(), 5u);
  // Known again after one more restart, as it ended.
  platform_.reset();
  auto reopened = Platform::open(PlatformOptions{dir_.sub("store")});
  ASSERT_TRUE(reopened);
  platform_ = std::move(*reopened);
  ASSERT_TRUE(platform_->recover_commands());
  auto again = platform_->commands().get(left.id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, "success");
}
