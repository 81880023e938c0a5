#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include "cache/cache_admin.h"
#include "cache/metadata_cache.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/item.h"

using namespace dlfs;
namespace fs = std::filesystem;

namespace {

Item make_item(const std::string& path, int i = 0) {
  Item item;
  item.id = new_id();
  item.dataset_id = "65f1c0ffee0000000000d5e7";
  item.set_path(path);
  item.created_ms = 1700000000123 + i;
  item.updated_ms = 1700000100456 + i;
  item.creator = "ann@example.com";
  item.metadata["system"] = {{"mimetype", "image/jpeg"}, {"size", 12345 + i}, {"width", 640}, {"height", 480}};
  item.metadata["user"] = {{"label", "cat"}, {"score", 0.5 + i}, {"tags", {"a", "b"}}};
  return item;
}

std::string jpeg_bytes(size_t n, int seed) {
  std::string out(n, '\0');
  std::mt19937 rng{uint32_t(seed)};
  for (auto& c : out) c = char(rng());
  out[0] = char(0xff), out[1] = char(0xd8);  // SOI, and NULs inside are fine
  return out;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  stat(path.c_str(), &st);
  return st.st_mode & 07777;
}

// Direct LMDB access to an environment, for tests that damage it. Only while no MetadataCache
// of this process has it open (LMDB: one handle per process).
void raw_edit(const std::string& env_dir, const char* db, const std::function<void(MDB_txn*, MDB_dbi)>& fn) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 8);
  ASSERT_EQ(mdb_env_open(env, env_dir.c_str(), MDB_NOTLS, 0600), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi;
  ASSERT_EQ(mdb_dbi_open(txn, db, 0, &dbi), 0);
  fn(txn, dbi);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

std::string raw_get(MDB_txn* txn, MDB_dbi dbi, const std::string& key) {
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
  if (mdb_get(txn, dbi, &k, &v) != 0) return "<missing>";
  return std::string(static_cast<char*>(v.mv_data), v.mv_size);
}

void raw_put(MDB_txn* txn, MDB_dbi dbi, const std::string& key, const std::string& value) {
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
}

class MetadataCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dlfs-cache-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/cache";
  }
  void TearDown() override { fs::remove_all(root_); }

  CacheOptions options(const std::string& key = "ds1-0badcafe") {
    CacheOptions o;
    o.dir = dir_;
    o.key = key;
    o.clock = &clock_;
    return o;
  }
  std::unique_ptr<MetadataCache> open(const CacheOptions& o) {
    auto r = MetadataCache::open(o);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r ? std::move(r).value() : nullptr;
  }
  std::unique_ptr<MetadataCache> open() { return open(options()); }
  std::string env_dir(const std::string& key = "ds1-0badcafe") { return dir_ + "/" + key; }

  std::string root_, dir_;
  FakeClock clock_;
};

TEST(CacheKey, IsSafeStableAndParsable) {
  std::string k = cache_key("http://server:8080/api/v1", "65f1c0ffee0000000000d5e7");
  EXPECT_EQ(k.size(), 24u + 1 + 8);
  EXPECT_EQ(k, cache_key("http://server:8080/api/v1", "65f1c0ffee0000000000d5e7"));
  EXPECT_NE(k, cache_key("/var/lib/dlfs", "65f1c0ffee0000000000d5e7"));
  EXPECT_EQ(dataset_id_of_key(k), "65f1c0ffee0000000000d5e7");
  std::string odd = cache_key("s", "../a/b c");
  EXPECT_EQ(odd.find('/'), std::string::npos);
  EXPECT_EQ(dataset_id_of_key(odd), ".._a_b_c");
  EXPECT_NE(cache_key("s", "a/b"), cache_key("s", "a_b"));  // sanitizing keeps them apart
  EXPECT_EQ(dataset_id_of_key(cache_key("s", "")), "_");
  EXPECT_EQ(dataset_id_of_key("no-hash"), "");
}

TEST_F(MetadataCacheTest, RoundTripsListingsItemsAndThumbnails) {
  auto cache = open();
  ASSERT_TRUE(cache);
  Item dir = make_item("/фото");
  dir.type = ItemType::kDir;
  std::vector<Item> items = {make_item("/фото/猫 🐱.jpg", 1), make_item("/фото/b.png", 2)};
  Item big = make_item("/фото/big.jpg", 3);
  big.description = "a big one";
  big.metadata["user"]["blob"] = std::string(300000, 'x');
  big.metadata["user"]["nested"] = {{"deep", {{"deeper", json::array({1, 2.25, "three", nullptr, true})}}}};
  for (int i = 0; i < 2000; ++i) big.metadata["user"]["list"].push_back(i * 7);
  items.push_back(big);

  EXPECT_FALSE(cache->get_listing("/фото"));
  ASSERT_TRUE(cache->put_listing("/фото", items).is_ok());
  auto listing = cache->get_listing("/фото");
  ASSERT_TRUE(listing);
  EXPECT_EQ(listing->items.items().value(), items);
  for (const Item& item : items) {  // each item also by path
    auto got = cache->get_item(item.filename);
    ASSERT_TRUE(got) << item.filename;
    EXPECT_EQ(got->item, item);
  }
  ASSERT_TRUE(cache->put_item(dir).is_ok());
  EXPECT_EQ(cache->get_item("/фото")->item, dir);
  EXPECT_FALSE(cache->get_item("/фото/none.jpg"));
  EXPECT_FALSE(cache->get_item(""));

  // Paths longer than LMDB's key limit work, and do not collide.
  std::string long_dir = "/" + std::string(250, 'd') + "/" + std::string(250, 'e');
  Item l1 = make_item(long_dir + "/" + std::string(200, 'f'), 4);
  Item l2 = make_item(long_dir + "/" + std::string(199, 'f') + "g", 5);
  ASSERT_TRUE(cache->put_listing(long_dir, {l1, l2}).is_ok());
  EXPECT_EQ(cache->get_item(l1.filename)->item, l1);
  EXPECT_EQ(cache->get_item(l2.filename)->item, l2);
  EXPECT_EQ(cache->get_listing(long_dir)->items.size(), 2u);

  std::string thumb = jpeg_bytes(20000, 1);
  ASSERT_TRUE(cache->put_thumbnail(items[0].id, thumb).is_ok());
  EXPECT_TRUE(cache->get_thumbnail(items[0].id) == thumb);
  EXPECT_FALSE(cache->get_thumbnail(items[1].id));
  ASSERT_TRUE(cache->forget_thumbnail(items[0].id).is_ok());
  EXPECT_FALSE(cache->get_thumbnail(items[0].id));

  // An empty listing is a listing.
  ASSERT_TRUE(cache->put_listing("/empty", std::vector<Item>{}).is_ok());
  ASSERT_TRUE(cache->get_listing("/empty"));
  EXPECT_TRUE(cache->get_listing("/empty")->items.empty());

  // forget_item drops the item and its parent's listing, not its siblings.
  ASSERT_TRUE(cache->forget_item(items[1].filename).is_ok());
  EXPECT_FALSE(cache->get_item(items[1].filename));
  EXPECT_FALSE(cache->get_listing("/фото"));
  EXPECT_TRUE(cache->get_item(items[0].filename));
  ASSERT_TRUE(cache->forget_listing("/empty").is_ok());
  EXPECT_FALSE(cache->get_listing("/empty"));

  EXPECT_EQ(cache->put_item(Item{}).err(), EINVAL);
  EXPECT_EQ(cache->put_listing("", std::vector<Item>{}).err(), EINVAL);
  CacheStats st = cache->stats();
  EXPECT_EQ(st.listings, 1u);
  EXPECT_EQ(st.items, 5u);  // 2 of /фото + the folder + 2 long ones
  EXPECT_EQ(st.thumbnails, 0u);
  EXPECT_GT(st.bytes_used, 300000u);
  ASSERT_TRUE(cache->clear().is_ok());
  st = cache->stats();
  EXPECT_EQ(st.listings + st.items + st.thumbnails, 0u);
  EXPECT_FALSE(cache->get_item(items[0].filename));
}

TEST_F(MetadataCacheTest, StampComesFromTheClock) {
  auto cache = open();
  int64_t t0 = clock_.now_ms();
  ASSERT_TRUE(cache->put_listing("/a", {make_item("/a/x.jpg")}).is_ok());
  clock_.advance_ms(5000);
  ASSERT_TRUE(cache->put_item(make_item("/a/y.jpg")).is_ok());
  clock_.advance_ms(5000);
  EXPECT_EQ(cache->get_listing("/a")->fetched_ms, t0);
  EXPECT_EQ(cache->get_item("/a/x.jpg")->fetched_ms, t0);  // same stamp as its listing
  EXPECT_EQ(cache->get_item("/a/y.jpg")->fetched_ms, t0 + 5000);
  ASSERT_TRUE(cache->put_item(make_item("/a/x.jpg")).is_ok());
  EXPECT_EQ(cache->get_item("/a/x.jpg")->fetched_ms, t0 + 10000);
}

TEST_F(MetadataCacheTest, ForgettingAFolderForgetsEverythingBelowIt) {
  // A folder moved or removed must not leave its contents cached under the old paths: after a
  // remount a lookup of /a/x/y would find a folder that is not there (found by the FUSE
  // reference-model test: EISDIR for a create at a name the folder had before its move).
  auto cache = open();
  std::string long_name = "/a/x/" + std::string(400, 'l');
  for (const char* p : {"/a/x", "/a/x/y", "/a/x/y/z", "/a/xz", "/a/x.jpg", "/b"}) ASSERT_TRUE(cache->put_item(make_item(p)));
  ASSERT_TRUE(cache->put_item(make_item(long_name)));
  ASSERT_TRUE(cache->put_listing("/a/x", {make_item("/a/x/y")}));
  ASSERT_TRUE(cache->put_listing("/a/x/y", {make_item("/a/x/y/z")}));
  ASSERT_TRUE(cache->put_listing("/a", {make_item("/a/x"), make_item("/a/xz")}));
  ASSERT_TRUE(cache->forget_item("/a/x"));
  for (const std::string& p : std::vector<std::string>{"/a/x", "/a/x/y", "/a/x/y/z", long_name}) EXPECT_FALSE(cache->get_item(p)) << p;
  EXPECT_FALSE(cache->get_listing("/a/x"));
  EXPECT_FALSE(cache->get_listing("/a/x/y"));
  EXPECT_FALSE(cache->get_listing("/a"));  // its parent's listing had it
  for (const char* p : {"/a/xz", "/a/x.jpg", "/b"}) EXPECT_TRUE(cache->get_item(p)) << p;
  EXPECT_EQ(cache->stats().items, 3u);
}

TEST_F(MetadataCacheTest, SurvivesCloseAndReopen) {
  Item item = make_item("/cars/a.jpg");
  {
    auto cache = open();
    ASSERT_TRUE(cache->put_listing("/cars", {item}).is_ok());
    ASSERT_TRUE(cache->put_thumbnail(item.id, "jpeg!").is_ok());
  }
  auto cache = open();
  ASSERT_TRUE(cache->get_listing("/cars"));
  EXPECT_EQ(cache->get_listing("/cars")->items.items().value(), std::vector<Item>{item});
  EXPECT_EQ(cache->get_item("/cars/a.jpg")->item, item);
  EXPECT_EQ(cache->get_thumbnail(item.id), "jpeg!");
  EXPECT_EQ(cache->get_item("/cars/a.jpg")->fetched_ms, clock_.now_ms());
}

TEST_F(MetadataCacheTest, DirectoriesArePrivate) {
  fs::create_directories(dir_);
  chmod(dir_.c_str(), 0755);
  fs::create_directories(env_dir());
  chmod(env_dir().c_str(), 0777);
  auto cache = open();
  ASSERT_TRUE(cache);
  EXPECT_EQ(mode_of(dir_), 0700u);
  EXPECT_EQ(mode_of(env_dir()), 0700u);
  EXPECT_EQ(mode_of(env_dir() + "/data.mdb") & 077, 0u);
  auto fresh = options("other-12345678");
  fresh.dir = root_ + "/new/deeper/cache";
  ASSERT_TRUE(open(fresh));
  EXPECT_EQ(mode_of(fresh.dir), 0700u);
  EXPECT_EQ(mode_of(fresh.dir + "/other-12345678"), 0700u);
  auto bad = options("../escape");
  EXPECT_EQ(MetadataCache::open(bad).err(), EINVAL);
}

TEST_F(MetadataCacheTest, EvictsLeastRecentlyUsedWithinMaxBytes) {
  CacheOptions o = options();
  o.max_bytes = 1 << 20;
  auto cache = open(o);
  const size_t n = 40000;  // each thumbnail ~10 overflow pages
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back("thumb" + std::to_string(i));
    ASSERT_TRUE(cache->put_thumbnail(ids.back(), jpeg_bytes(n, i)).is_ok());
    clock_.advance_ms(120000);
  }
  EXPECT_TRUE(cache->get_thumbnail(ids[0]));  // now the most recently used of the first ten
  for (int i = 10; i < 60; ++i) {
    ids.push_back("thumb" + std::to_string(i));
    ASSERT_TRUE(cache->put_thumbnail(ids.back(), jpeg_bytes(n, i)).is_ok());
    clock_.advance_ms(120000);
    CacheStats st = cache->stats();
    ASSERT_LE(st.bytes_used, o.max_bytes) << "after " << i;
    if (i % 10 == 0) {
      EXPECT_TRUE(cache->get_thumbnail(ids[0])) << i;  // keep it recently used
    }
  }
  EXPECT_TRUE(cache->get_thumbnail(ids[0]) == jpeg_bytes(n, 0));
  EXPECT_FALSE(cache->get_thumbnail(ids[1]));
  EXPECT_FALSE(cache->get_thumbnail(ids[2]));
  EXPECT_TRUE(cache->get_thumbnail(ids[59]) == jpeg_bytes(n, 59));
  CacheStats st = cache->stats();
  EXPECT_GT(st.thumbnails, 10u);
  EXPECT_LT(st.thumbnails, 30u);
  // Too big for the cache at all: refused, nothing else lost.
  EXPECT_EQ(cache->put_thumbnail("huge", std::string(o.max_bytes, 'x')).err(), EFBIG);
  EXPECT_TRUE(cache->get_thumbnail(ids[59]));
}

TEST_F(MetadataCacheTest, MapFullEvictsAndRetries) {
  CacheOptions o = options();
  o.max_bytes = 64 << 20;
  o.map_bytes = 1 << 20;  // far below max_bytes: only MDB_MAP_FULL bounds it
  auto cache = open(o);
  for (int i = 0; i < 100; ++i) {
    Status s = cache->put_thumbnail("t" + std::to_string(i), jpeg_bytes(30000, i));
    ASSERT_TRUE(s.is_ok()) << i << ": " << s.to_string();
    clock_.advance_ms(1000);
  }
  EXPECT_TRUE(cache->get_thumbnail("t99") == jpeg_bytes(30000, 99));
  EXPECT_FALSE(cache->get_thumbnail("t0"));
  EXPECT_LE(cache->stats().bytes_used, o.map_bytes);
}

TEST_F(MetadataCacheTest, GarbageEnvironmentIsDiscarded) {
  {
    auto cache = open();
    ASSERT_TRUE(cache->put_item(make_item("/a.jpg")).is_ok());
  }
  {
    std::ofstream out(env_dir() + "/data.mdb", std::ios::binary | std::ios::trunc);
    out << jpeg_bytes(64 * 1024, 7);
  }
  auto cache = open();
  ASSERT_TRUE(cache);
  EXPECT_FALSE(cache->get_item("/a.jpg"));
  EXPECT_EQ(cache->stats().items, 0u);
  ASSERT_TRUE(cache->put_item(make_item("/b.jpg")).is_ok());
  EXPECT_TRUE(cache->get_item("/b.jpg"));
}

TEST_F(MetadataCacheTest, OtherFormatVersionIsDiscarded) {
  {
    auto cache = open();
    ASSERT_TRUE(cache->put_item(make_item("/a.jpg")).is_ok());
  }
  raw_edit(env_dir(), "meta", [](MDB_txn* txn, MDB_dbi dbi) {
    EXPECT_EQ(raw_get(txn, dbi, "version"), std::to_string(kCacheFormatVersion));
    raw_put(txn, dbi, "version", std::to_string(kCacheFormatVersion + 1));
  });
  {
    auto cache = open();
    ASSERT_TRUE(cache);
    EXPECT_FALSE(cache->get_item("/a.jpg"));
    ASSERT_TRUE(cache->put_item(make_item("/b.jpg")).is_ok());
  }
  raw_edit(env_dir(), "meta", [](MDB_txn* txn, MDB_dbi dbi) {
    EXPECT_EQ(raw_get(txn, dbi, "version"), std::to_string(kCacheFormatVersion));
  });
  EXPECT_TRUE(open()->get_item("/b.jpg"));
}

TEST_F(MetadataCacheTest, CorruptValueIsAMissAndDeleted) {
  Item a = make_item("/d/a.jpg"), b = make_item("/d/b.jpg");
  {
    auto cache = open();
    ASSERT_TRUE(cache->put_listing("/d", {a, b}).is_ok());
    ASSERT_TRUE(cache->put_thumbnail(a.id, "jpeg").is_ok());
  }
  raw_edit(env_dir(), "items", [](MDB_txn* txn, MDB_dbi dbi) { raw_put(txn, dbi, "/d/a.jpg", "garbage"); });
  raw_edit(env_dir(), "listings", [](MDB_txn* txn, MDB_dbi dbi) {
    std::string v = raw_get(txn, dbi, "/d");
    v[v.size() - 3] ^= 0x40;  // one flipped bit deep in the payload
    raw_put(txn, dbi, "/d", v);
  });
  raw_edit(env_dir(), "thumbs", [&](MDB_txn* txn, MDB_dbi dbi) { raw_put(txn, dbi, a.id, ""); });
  auto cache = open();
  EXPECT_FALSE(cache->get_item("/d/a.jpg"));
  EXPECT_FALSE(cache->get_listing("/d"));
  EXPECT_FALSE(cache->get_thumbnail(a.id));
  EXPECT_EQ(cache->get_item("/d/b.jpg")->item, b);
  CacheStats st = cache->stats();
  EXPECT_EQ(st.items, 1u);
  EXPECT_EQ(st.listings, 0u);
  EXPECT_EQ(st.thumbnails, 0u);
}

TEST_F(MetadataCacheTest, CorruptPageDisablesTheCacheUntilItIsRecreated) {
  {
    auto cache = open();
    ASSERT_TRUE(cache->put_item(make_item("/a.jpg")).is_ok());
  }
  // Zero the root page of the items database (its MDB_db record in the main database holds
  // the root page number at offset 40 on 64-bit builds).
  uint64_t root = 0, psize = 0;
  raw_edit(env_dir(), nullptr, [&](MDB_txn* txn, MDB_dbi dbi) {
    std::string rec = raw_get(txn, dbi, "items");
    ASSERT_EQ(rec.size(), 48u);
    std::memcpy(&root, rec.data() + 40, 8);
    MDB_stat st;
    mdb_env_stat(mdb_txn_env(txn), &st);
    psize = st.ms_psize;
  });
  ASSERT_GT(root, 1u);
  {
    std::fstream f(env_dir() + "/data.mdb", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(root * psize));
    f << std::string(psize, '\0');
  }
  auto cache = open();
  EXPECT_FALSE(cache->get_item("/a.jpg"));  // MDB_CORRUPTED: a miss, a warning, no crash
  EXPECT_FALSE(cache->put_item(make_item("/b.jpg")).is_ok());
  EXPECT_FALSE(cache->get_listing("/"));
  EXPECT_TRUE(fs::exists(env_dir() + "/corrupt"));
  auto second = open();  // while the broken one is still open here: recreated
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->get_item("/a.jpg"));
  ASSERT_TRUE(second->put_item(make_item("/c.jpg")).is_ok());
  cache.reset();
  second.reset();
  EXPECT_TRUE(open()->get_item("/c.jpg"));
}

TEST_F(MetadataCacheTest, ConcurrentReadersAndWriters) {
  CacheOptions o = options();
  o.max_bytes = 4 << 20;  // small enough that eviction runs too
  auto cache = open(o);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng{uint32_t(t)};
      for (int i = 0; i < 300; ++i) {
        int n = int(rng() % 50);
        std::string dir = "/d" + std::to_string(n % 5), path = dir + "/f" + std::to_string(n) + ".jpg";
        switch (rng() % 6) {
          case 0:
            if (!cache->put_item(make_item(path, n))) ++failures;
            break;
          case 1: {
            std::vector<Item> items;
            for (int k = 0; k < 20; ++k) items.push_back(make_item(dir + "/f" + std::to_string(k) + ".jpg", k));
            if (!cache->put_listing(dir, items)) ++failures;
            break;
          }
          case 2:
            if (!cache->put_thumbnail(path, jpeg_bytes(5000, n))) ++failures;
            break;
          case 3:
            if (auto got = cache->get_item(path); got && got->item.filename != path) ++failures;
            break;
          case 4:
            if (auto got = cache->get_listing(dir); got && got->items.size() != 20) ++failures;
            break;
          default:
            if (auto got = cache->get_thumbnail(path); got && *got != jpeg_bytes(5000, n)) ++failures;
            if (rng() % 10 == 0 && !cache->forget_item(path)) ++failures;
        }
        clock_.advance_ms(1000);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(cache->stats().bytes_used, o.max_bytes);
}

TEST_F(MetadataCacheTest, TwoInstancesOnOneKeySeeEachOther) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->put_item(make_item("/from-a.jpg")).is_ok());
  EXPECT_TRUE(b->get_item("/from-a.jpg"));
  ASSERT_TRUE(b->put_listing("/", {make_item("/from-b.jpg")}).is_ok());
  EXPECT_TRUE(a->get_listing("/"));
  a.reset();  // closing one leaves the other working
  ASSERT_TRUE(b->put_item(make_item("/later.jpg")).is_ok());
  EXPECT_TRUE(b->get_item("/later.jpg"));
  // The same directory spelled differently is the same environment.
  CacheOptions o = options();
  o.dir = dir_ + "/../cache/";
  auto c = open(o);
  EXPECT_TRUE(c->get_item("/later.jpg"));
}

TEST_F(MetadataCacheTest, TwoProcessesShareTheEnvironment) {
  CacheOptions small = options();
  small.max_bytes = 1 << 20;
  small.map_bytes = 2 << 20;
  auto cache = open(small);
  ASSERT_TRUE(cache->put_item(make_item("/parent.jpg")).is_ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // the other mount: sees the parent's write, writes, and grows the map
    CacheOptions big = small;
    big.max_bytes = 64 << 20;
    big.map_bytes = 0;
    auto r = MetadataCache::open(big);
    int code = !r ? 2 : !(*r)->get_item("/parent.jpg") ? 3 : 0;
    if (code == 0 && !(*r)->put_item(make_item("/child.jpg"))) code = 4;
    for (int i = 0; code == 0 && i < 200; ++i)  // 6 MB: beyond the parent's 2 MB map
      if (!(*r)->put_thumbnail("c" + std::to_string(i), jpeg_bytes(30000, i))) code = 5;
    if (r) r.value().reset();
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(cache->get_item("/child.jpg"));  // adopts the grown map (MDB_MAP_RESIZED)
  EXPECT_TRUE(cache->get_thumbnail("c199") == jpeg_bytes(30000, 199));
  clock_.advance_ms(60000);
  ASSERT_TRUE(cache->put_item(make_item("/after.jpg")).is_ok());  // and evicts to its own bound
  EXPECT_LE(cache->stats().bytes_used, small.max_bytes);
  EXPECT_TRUE(cache->get_item("/after.jpg"));
}

TEST_F(MetadataCacheTest, TenThousandItemListing) {
  auto cache = open();
  std::vector<Item> items;
  for (int i = 0; i < 10000; ++i) {
    Item item = make_item("/big/img_" + std::to_string(i) + ".jpg", i);
    item.metadata["system"]["exif"] = {{"Make", "Canon"}, {"Model", "EOS 5D"}, {"ISO", 100 + i}};
    items.push_back(std::move(item));
  }
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(cache->put_listing("/big", items).is_ok());
  auto t1 = std::chrono::steady_clock::now();
  auto listing = cache->get_listing("/big");
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(listing);
  EXPECT_EQ(listing->items.items().value(), items);
  // Each item's own record too (they are stored in several transactions, in path order): a
  // sample from every transaction, and the last.
  for (size_t i = 0; i < items.size(); i += (i + 97 < items.size() ? 97 : std::max<size_t>(1, items.size() - 1 - i))) {
    const Item& item = items[i];
    auto got = cache->get_item(item.filename);
    ASSERT_TRUE(got) << item.filename;
    EXPECT_EQ(got->item, item);
  }
  using ms = std::chrono::milliseconds;  // reported, not asserted: timing belongs to bench/
  std::printf("10,000-item listing: put %lld ms, get %lld ms\n",
              (long long)std::chrono::duration_cast<ms>(t1 - t0).count(),
              (long long)std::chrono::duration_cast<ms>(t2 - t1).count());
}

TEST_F(MetadataCacheTest, ListAndClearCaches) {
  EXPECT_TRUE(list_caches(dir_)->empty());  // no cache dir yet
  std::string a1 = cache_key("/store", "dsA"), a2 = cache_key("http://s", "dsA"), b = cache_key("/store", "dsB");
  {
    auto ca1 = open(options(a1));
    ASSERT_TRUE(ca1->put_listing("/", {make_item("/x.jpg"), make_item("/y.jpg")}).is_ok());
    ASSERT_TRUE(ca1->put_thumbnail("id1", "jpeg").is_ok());
    ASSERT_TRUE(open(options(a2)));
  }
  auto cb = open(options(b));  // stays open while its directory is removed
  ASSERT_TRUE(cb->put_item(make_item("/b.jpg")).is_ok());
  fs::create_directories(dir_ + "/not-a-cache");
  std::ofstream(dir_ + "/not-a-cache/keep.txt") << "mine";

  auto list = list_caches(dir_);
  ASSERT_TRUE(list.is_ok()) << list.status().to_string();
  ASSERT_EQ(list->size(), 3u);
  std::map<std::string, CacheEntryInfo> by_key;
  for (auto& e : *list) by_key[e.key] = e;
  ASSERT_TRUE(by_key.count(a1));
  EXPECT_EQ(by_key[a1].dataset_id, "dsA");
  EXPECT_EQ(by_key[a1].listings, 1u);
  EXPECT_EQ(by_key[a1].items, 2u);
  EXPECT_EQ(by_key[a1].thumbnails, 1u);
  EXPECT_EQ(by_key[a1].max_bytes, 1ull << 30);
  EXPECT_GT(by_key[a1].bytes_on_disk, 0u);
  EXPECT_TRUE(by_key[a1].error.empty()) << by_key[a1].error;
  EXPECT_EQ(by_key[b].items, 1u);  // read through the open instance's environment

  EXPECT_EQ(clear_caches(dir_, "nope").err(), ENOENT);
  ASSERT_TRUE(clear_caches(dir_, "dsB").is_ok());
  EXPECT_FALSE(fs::exists(dir_ + "/" + b));
  EXPECT_EQ(list_caches(dir_)->size(), 2u);
  // The mount whose cache was removed keeps working; a new open starts empty.
  EXPECT_TRUE(cb->get_item("/b.jpg"));
  EXPECT_TRUE(cb->put_item(make_item("/b2.jpg")).is_ok());
  auto fresh = open(options(b));
  EXPECT_FALSE(fresh->get_item("/b.jpg"));
  fresh.reset();
  cb.reset();

  ASSERT_TRUE(clear_caches(dir_, "").is_ok());
  EXPECT_TRUE(list_caches(dir_)->empty());
  EXPECT_TRUE(fs::exists(dir_ + "/not-a-cache/keep.txt"));
}

TEST_F(MetadataCacheTest, ListCachesReportsAnUnreadableOne) {
  { ASSERT_TRUE(open(options("bad-00000000"))); }
  std::ofstream(env_dir("bad-00000000") + "/data.mdb", std::ios::trunc) << std::string(20000, 'z');
  auto list = list_caches(dir_);
  ASSERT_TRUE(list.is_ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_FALSE((*list)[0].error.empty());
  EXPECT_EQ((*list)[0].dataset_id, "bad");
}

}  // namespace
