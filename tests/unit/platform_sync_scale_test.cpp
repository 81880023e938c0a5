// A sync joins the bucket's listing with the catalogue's index of items by object
// (Catalog::external_items) a chunk at a time: over many chunks it finds what is new, changed
// and gone wherever they fall; a store that lists out of order removes nothing; object keys too
// long for the ordered index are synced too; the index follows uploads, moves and deletes, and a
// store of the format before it gets it when opened.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "core/lmdb.h"
#include "platform/catalog.h"
#include "platform/driver.h"
#include "platform/platform.h"
#include "support/read_item.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
namespace fs = std::filesystem;

namespace {

// A store that lists its objects in reverse key order once `reversed` is set (a store that does
// not keep S3's order).
class ReversingStore : public ObjectStore {
 public:
  ReversingStore(std::unique_ptr<ObjectStore> inner, const bool& reversed) : inner_(std::move(inner)), reversed_(reversed) {}
  Result<ObjectInfo> head(std::string_view key) override { return inner_->head(key); }
  Result<size_t> read(std::string_view key, uint64_t offset, std::span<char> out) override {
    return inner_->read(key, offset, out);
  }
  Result<ObjectInfo> put_file(std::string_view key, const std::string& path) override { return inner_->put_file(key, path); }
  Result<ObjectInfo> put_bytes(std::string_view key, std::string_view bytes) override {
    return inner_->put_bytes(key, bytes);
  }
  Result<ObjectInfo> copy(std::string_view from, std::string_view to) override { return inner_->copy(from, to); }
  Status remove(std::string_view key) override { return inner_->remove(key); }
  std::function<void()> during_listing;  // tests: runs while a listing is under way
  Status list(std::string_view prefix, const std::function<bool(const ObjectInfo&)>& fn) override {
    if (during_listing) {
      // The hook runs once the listing is under way (after its first object).
      int n = 0;
      return inner_->list(prefix, [&](const ObjectInfo& o) {
        if (n++ == 1 && during_listing) std::exchange(during_listing, nullptr)();
        return fn(o);
      });
    }
    if (!reversed_) return inner_->list(prefix, fn);
    std::vector<ObjectInfo> all;
    DLFS_TRY(inner_->list(prefix, [&](const ObjectInfo& o) {
      all.push_back(o);
      return true;
    }));
    for (auto it = all.rbegin(); it != all.rend(); ++it)
      if (!fn(*it)) break;
    return {};
  }

 private:
  std::unique_ptr<ObjectStore> inner_;
  const bool& reversed_;
};

class PlatformSyncScale : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(bucket());
    open();
    auto d = platform_->create_driver({{"name", "b"}, {"type", "local"}, {"bucketName", bucket()}, {"path", "s"},
                                       {"allowExternalDelete", true}},
                                      "t");
    ASSERT_TRUE(d) << d.status().to_string();
    auto ds = platform_->create_dataset("scale", "t", d->id);
    ASSERT_TRUE(ds) << ds.status().to_string();
    ds_ = *ds;
  }
  void open() {
    platform_.reset();
    PlatformOptions o{dir_.sub("store")};
    o.sync_chunk = 50;
    o.open_store = [this](const Driver& d) -> Result<std::unique_ptr<ObjectStore>> {
      DLFS_ASSIGN(auto inner, open_driver_store(d));
      auto store = std::make_unique<ReversingStore>(std::move(inner), reversed_);
      store_ = store.get();
      return std::unique_ptr<ObjectStore>(std::move(store));
    };
    auto p = Platform::open(o);
    ASSERT_TRUE(p) << p.status().to_string();
    platform_ = std::move(*p);
  }
  std::string bucket() const { return dir_.sub("bucket"); }
  void put(const std::string& key, const std::string& bytes) { write_file(bucket() + "/s/" + key, bytes); }
  SyncReport sync() {
    auto r = platform_->sync_dataset(ds_.id, "t");
    EXPECT_TRUE(r) << r.status().to_string();
    return r ? *r : SyncReport{};
  }
  // The dataset's file items, path -> bytes (or "" with `bytes` false); and what the bucket
  // holds, the same way.
  std::map<std::string, std::string> paths() { return items(false); }
  std::map<std::string, std::string> items(bool bytes = true) {
    std::map<std::string, std::string> out;
    for (;;) {
      json q = {{"filter", {{"$and", json::array({json{{"type", "file"}}, json{{"hidden", false}}})}}},
                {"pageSize", 1000}, {"page", int(out.size() / 1000)}};
      auto r = platform_->query(ds_.id, q);
      EXPECT_TRUE(r) << r.status().to_string();
      if (!r) return out;
      for (const Item& item : r->page.items) out[item.filename] = bytes ? read_item(*platform_, item) : "";
      if (!r->page.has_next()) return out;
    }
  }
  std::map<std::string, std::string> objects() {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(bucket() + "/s"))
      if (e.is_regular_file()) {
        std::string rel = e.path().string().substr(bucket().size() + 3);  // past "/s/"
        if (!rel.starts_with(".dataloop")) out["/" + rel] = read_file(e.path().string());
      }
    return out;
  }
  static std::string name(int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "f%05d", i);
    return buf;
  }

  TempDir dir_{"dlfs-sync-scale"};
  bool reversed_ = false;
  ReversingStore* store_ = nullptr;  // the driver's store, once the platform opened it
  std::unique_ptr<Platform> platform_;
  Dataset ds_;
};

}  // namespace

TEST_F(PlatformSyncScale, NewChangedAndGoneAreFoundInEveryChunk) {
  const int n = 380;  // seven chunks of the join and a part
  for (int i = 0; i < n; ++i) put("d" + std::to_string(i % 7) + "/" + name(i), std::to_string(i));
  SyncReport first = sync();
  EXPECT_EQ(first.added, uint64_t(n));
  EXPECT_EQ(first.listed, uint64_t(n));
  uint64_t removed = 0, changed = 0, added = 0;
  for (int i = 0; i < n; ++i) {
    std::string key = "d" + std::to_string(i % 7) + "/" + name(i);
    if (i % 9 == 4) {
      fs::remove(bucket() + "/s/" + key);
      ++removed;
    } else if (i % 13 == 0) {
      put(key, "changed " + std::to_string(i));  // another size
      ++changed;
    }
    if (i % 29 == 0) {
      put(key + "b", "new");  // sorts right after its neighbour
      ++added;
    }
  }
  put("zz/last", "after every other key");
  ++added;
  SyncReport second = sync();
  EXPECT_EQ(second.removed, removed);
  EXPECT_EQ(second.updated, changed);
  EXPECT_EQ(second.added, added);
  EXPECT_EQ(second.unchanged, uint64_t(n) - removed - changed);
  EXPECT_TRUE(second.skipped.empty()) << second.skipped.front();
  auto have = items(), want = objects();
  EXPECT_EQ(have.size(), want.size());
  for (const auto& [path, bytes] : want) {
    auto it = have.find(path);
    if (it == have.end()) ADD_FAILURE() << path << " is not in the dataset";
    else if (it->second != bytes) ADD_FAILURE() << path << " reads '" << it->second << "', not '" << bytes << "'";
  }
  SyncReport third = sync();
  EXPECT_EQ(third.unchanged, uint64_t(n) - removed + added);
  EXPECT_EQ(third.added + third.updated + third.removed, 0u);
  // Everything gone: every item goes, the chunks past the listing's end included.
  fs::remove_all(bucket() + "/s");
  fs::create_directories(bucket() + "/s");
  SyncReport emptied = sync();
  EXPECT_EQ(emptied.removed, uint64_t(n) - removed + added);
  EXPECT_TRUE(items().empty());
}

TEST_F(PlatformSyncScale, AStoreListingOutOfOrderRemovesNothing) {
  for (int i = 0; i < 5; ++i) put(name(i), "x");
  EXPECT_EQ(sync().added, 5u);
  fs::remove(bucket() + "/s/" + name(2));
  reversed_ = true;
  auto r = platform_->sync_dataset(ds_.id, "t");
  EXPECT_EQ(r.err(), EIO);
  EXPECT_NE(r.status().to_string().find("out of key order"), std::string::npos) << r.status().to_string();
  EXPECT_EQ(paths().size(), 5u);
  reversed_ = false;
  EXPECT_EQ(sync().removed, 1u);
}

TEST_F(PlatformSyncScale, KeysTooLongForTheOrderedIndexAreSyncedToo) {
  std::string long_key = std::string(200, 'a') + "/" + std::string(200, 'b') + "/x.txt";
  ASSERT_GT(external_blob_key("000000000000000000000000", "s/" + long_key).size(), kMaxOrderedBlobKey);
  put(long_key, "long");
  put("short.txt", "short");
  SyncReport first = sync();
  EXPECT_EQ(first.added, 2u);
  SyncReport again = sync();
  EXPECT_EQ(again.unchanged, 2u);
  EXPECT_EQ(again.added + again.updated + again.removed, 0u);
  put(long_key, "longer now");
  EXPECT_EQ(sync().updated, 1u);
  EXPECT_EQ(items()["/" + long_key], "longer now");
  fs::remove(bucket() + "/s/" + long_key);
  SyncReport gone = sync();
  EXPECT_EQ(gone.removed, 1u);
  EXPECT_EQ(gone.unchanged, 1u);
  EXPECT_EQ(items().size(), 1u);
}

TEST_F(PlatformSyncScale, TheIndexFollowsUploadsMovesAndDeletesAndIsBuiltForAnOlderStore) {
  auto indexed = [&] {
    std::set<std::string> keys;
    auto cat = Catalog::open(dir_.sub("store") + "/catalog");
    EXPECT_TRUE(cat) << cat.status().to_string();
    auto txn = (*cat)->read();
    EXPECT_TRUE((*cat)->external_items(*txn, ds_.id, "@", "", [&](std::string_view key, std::string_view) {
      keys.insert(std::string(key.substr(key.find('/') + 1)));
      return true;
    }));
    return keys;
  };
  ASSERT_TRUE(platform_->upload_bytes(ds_.id, "a", "/a.txt", UploadOptions{}));
  auto b = platform_->upload_bytes(ds_.id, "b", "/b.txt", UploadOptions{});
  ASSERT_TRUE(b);
  EXPECT_EQ(indexed(), (std::set<std::string>{"s/a.txt", "s/b.txt"}));
  ASSERT_TRUE(platform_->move_item(b->item.id, "/moved/b.txt", "t"));
  EXPECT_EQ(indexed(), (std::set<std::string>{"s/a.txt", "s/moved/b.txt"}));
  ASSERT_TRUE(platform_->delete_item(platform_->get_item_by_path(ds_.id, "/a.txt")->id));
  EXPECT_EQ(indexed(), (std::set<std::string>{"s/moved/b.txt"}));

  // A format 2 store (no index): built when opened.
  platform_.reset();
  {
    auto env = LmdbEnv::open({.dir = dir_.sub("store") + "/catalog", .databases = {"meta", "external_blobs"}});
    ASSERT_TRUE(env);
    auto txn = LmdbTxn::begin(**env, true);
    ASSERT_TRUE(txn);
    ASSERT_TRUE(txn->drop_all((*env)->dbi("external_blobs")));
    ASSERT_TRUE(txn->put((*env)->dbi("meta"), "format", "2"));
    ASSERT_TRUE(txn->commit());
  }
  open();
  EXPECT_EQ(indexed(), (std::set<std::string>{"s/moved/b.txt"}));
  put("c.txt", "c");
  SyncReport r = sync();
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(r.unchanged, 1u);
}

// An upload into a key range the listing already went past (its object not listed) is not taken
// for an object gone: its item stays, as does the object (the driver may delete objects).
TEST_F(PlatformSyncScale, AnUploadDuringTheSyncIsNotTakenForAnObjectGone) {
  for (int i = 0; i < 120; ++i) put(name(i), "x");
  EXPECT_EQ(sync().added, 120u);
  ASSERT_TRUE(store_);
  store_->during_listing = [&] {
    auto up = platform_->upload_bytes(ds_.id, "uploaded meanwhile", "/" + name(0) + "a", UploadOptions{});
    EXPECT_TRUE(up) << up.status().to_string();
  };
  SyncReport r = sync();
  EXPECT_EQ(r.removed, 0u);
  EXPECT_EQ(r.unchanged, 120u);
  EXPECT_EQ(items()["/" + name(0) + "a"], "uploaded meanwhile");
  EXPECT_TRUE(fs::exists(bucket() + "/s/" + name(0) + "a"));
  EXPECT_EQ(sync().unchanged, 121u);
}
