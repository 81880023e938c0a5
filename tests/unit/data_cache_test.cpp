// The data cache (cache/data_cache.h): what it answers is the item's bytes, read back through
// its descriptors; a changed item is never answered from an older copy; the bound holds, least
// recently used first, across caches sharing one folder; a crash's leftovers are never served.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <filesystem>
#include <thread>
#include <vector>

#include "cache/data_cache.h"
#include "core/clock.h"
#include "core/file_io.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
namespace stdfs = std::filesystem;

namespace {

Item item_of(const std::string& id, uint64_t size, int64_t updated_ms = 1000) {
  Item item;
  item.id = id;
  item.filename = "/" + id;
  item.updated_ms = updated_ms;
  item.metadata["system"] = {{"size", size}};
  return item;
}

// A remote's bytes by item id, counting the reads.
struct Source {
  std::map<std::string, std::string> bytes;
  std::atomic<int> reads{0};
  DataCache::ReadFn reader(const std::string& id) {
    return [this, id](uint64_t offset, std::span<char> out) -> Result<size_t> {
      ++reads;
      const std::string& b = bytes.at(id);
      if (offset >= b.size()) return size_t(0);
      size_t n = std::min(out.size(), size_t(b.size() - offset));
      std::copy_n(b.data() + offset, n, out.data());
      return n;
    };
  }
};

std::string all_of(int fd) {
  std::string out(1 << 22, '\0');
  auto n = pread_full(fd, 0, std::span<char>(out.data(), out.size()));
  ::close(fd);
  if (!n) return "<" + n.status().to_string() + ">";
  out.resize(*n);
  return out;
}

class DataCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<DataCache> open(uint64_t max_bytes = 1 << 20, std::string space = "s1") {
    DataCacheOptions o;
    o.dir = dir.sub("data");
    o.space = std::move(space);
    o.max_bytes = max_bytes;
    o.max_file_bytes = max_bytes / 2;
    o.clock = &clock;
    o.min_free = 0;
    auto c = DataCache::open(o);
    EXPECT_TRUE(c) << c.status().to_string();
    return c ? std::move(c).value() : nullptr;
  }
  std::string get(DataCache& c, const Item& item) {
    auto fd = c.get(item, src.reader(item.id));
    if (!fd) return "<" + fd.status().to_string() + ">";
    return all_of(*fd);
  }

  TempDir dir{"dlfs-datacache"};
  FakeClock clock{1'000'000};
  Source src;
};

TEST_F(DataCacheTest, AMissFetchesTheItemOnceThenHitsReadNothingAcrossReopens) {
  src.bytes["a"] = random_bytes(300'000, 1);
  Item a = item_of("a", 300'000);
  {
    auto c = open();
    EXPECT_EQ(get(*c, a), src.bytes["a"]);
    int after_fill = src.reads;
    EXPECT_GT(after_fill, 0);
    EXPECT_EQ(get(*c, a), src.bytes["a"]);
    EXPECT_EQ(src.reads, after_fill);
    EXPECT_EQ(c->counters().hits, 1u);
    EXPECT_EQ(c->counters().misses, 1u);
  }
  src.reads = 0;
  auto again = open();  // a remount
  EXPECT_EQ(again->usage(), std::make_pair(uint64_t(1), uint64_t(300'000)));
  int fd = again->lookup(a);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(all_of(fd), src.bytes["a"]);
  EXPECT_EQ(get(*again, a), src.bytes["a"]);
  EXPECT_EQ(src.reads, 0);
}

// A file a mount uploaded is kept as the item's bytes by a hard link (no copy, no fetch); one
// whose size is not the item's is refused.
TEST_F(DataCacheTest, AnUploadedFileIsAdoptedByALinkAndHitsAfter) {
  auto c = open();
  std::string bytes = random_bytes(200'000, 7), file = dir.sub("spool-file");
  write_file(file, bytes);
  Item a = item_of("a", 200'000);
  ASSERT_TRUE(c->adopt(a, file));
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);  // (the same inode: nothing copied)
  ASSERT_TRUE(stdfs::remove(file));  // (the spool lets its name go)
  int fd = c->lookup(a);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(all_of(fd), bytes);
  EXPECT_EQ(get(*c, a), bytes);
  EXPECT_EQ(src.reads, 0);
  EXPECT_EQ(c->usage(), std::make_pair(uint64_t(1), uint64_t(200'000)));
  std::string other = dir.sub("short");
  write_file(other, "abc");
  EXPECT_EQ(c->adopt(item_of("b", 10), other).err(), ESTALE);
  EXPECT_LT(c->lookup(item_of("b", 10)), 0);
}

TEST_F(DataCacheTest, AChangedItemIsFetchedAgainNeverAnsweredFromTheOlderCopy) {
  auto c = open();
  src.bytes["a"] = std::string(1000, 'x');
  EXPECT_EQ(get(*c, item_of("a", 1000, 1000)), std::string(1000, 'x'));
  src.bytes["a"] = std::string(1000, 'y');  // same size, updated later
  EXPECT_EQ(c->lookup(item_of("a", 1000, 2000)), -1);
  EXPECT_EQ(get(*c, item_of("a", 1000, 2000)), std::string(1000, 'y'));
  src.bytes["a"] = std::string(500, 'z');  // same time, another size
  EXPECT_EQ(get(*c, item_of("a", 500, 2000)), std::string(500, 'z'));
}

TEST_F(DataCacheTest, BytesShorterThanTheItemAreNotKept) {
  auto c = open();
  src.bytes["a"] = std::string(100, 'x');
  auto fd = c->get(item_of("a", 200), src.reader("a"));  // the item grew... no: shrank on the server
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.err(), ESTALE);
  EXPECT_EQ(c->lookup(item_of("a", 200)), -1);
  EXPECT_TRUE(stdfs::is_empty(dir.sub("data/tmp")));
  EXPECT_EQ(c->usage().first, 0u);
}

TEST_F(DataCacheTest, AFetchErrorIsAnsweredAndLeavesNothing) {
  auto c = open();
  auto fd = c->get(item_of("a", 100), [](uint64_t, std::span<char>) -> Result<size_t> {
    return Status(ETIMEDOUT, "the server did not answer");
  });
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.err(), ETIMEDOUT);
  EXPECT_TRUE(stdfs::is_empty(dir.sub("data/tmp")));
}

TEST_F(DataCacheTest, ACopyOfTheWrongSizeIsDroppedAndFetchedAgain) {
  auto c = open();
  src.bytes["a"] = random_bytes(4096, 2);
  Item a = item_of("a", 4096);
  ASSERT_EQ(get(*c, a), src.bytes["a"]);
  // What a power cut can leave: the name, without all of its bytes.
  ASSERT_EQ(::truncate(c->path_of(a).c_str(), 100), 0);
  auto reopened = open();
  EXPECT_EQ(reopened->lookup(a), -1);
  EXPECT_FALSE(stdfs::exists(c->path_of(a)));
  EXPECT_EQ(get(*reopened, a), src.bytes["a"]);
}

TEST_F(DataCacheTest, TooLargeItemsAreRefused) {
  auto c = open(1 << 20);
  EXPECT_FALSE(c->keeps((1 << 19) + 1));
  auto fd = c->get(item_of("a", (1 << 19) + 1), src.reader("a"));
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.err(), EFBIG);
}

TEST_F(DataCacheTest, TheBoundEvictsTheLeastRecentlyUsedFirst) {
  auto c = open(1000);  // files of 300: three fit
  for (std::string id : {"a", "b", "c", "d"}) src.bytes[id] = std::string(300, id[0]);
  for (std::string id : {"a", "b", "c"}) {
    ASSERT_EQ(get(*c, item_of(id, 300)), src.bytes[id]);
    clock.advance_ms(1000);
  }
  int fd = c->lookup(item_of("a", 300));  // a is now the most recent
  ASSERT_GE(fd, 0);
  ::close(fd);
  clock.advance_ms(1000);
  ASSERT_EQ(get(*c, item_of("d", 300)), src.bytes["d"]);  // 1,200 > 1,000: b goes (to <= 900 with d)
  EXPECT_EQ(c->lookup(item_of("b", 300)), -1);
  for (std::string id : {"a", "c", "d"}) {
    int kept = c->lookup(item_of(id, 300));
    EXPECT_GE(kept, 0) << id;
    if (kept >= 0) ::close(kept);
  }
  EXPECT_LE(c->usage().second, 1000u);
  EXPECT_EQ(c->counters().evictions, 1u);
}

TEST_F(DataCacheTest, ADescriptorOfAnEvictedFileStillReadsItsBytes) {
  auto c = open(1000);
  for (std::string id : {"a", "b", "c", "d"}) src.bytes[id] = std::string(300, id[0]);
  auto held = c->get(item_of("a", 300), src.reader("a"));
  ASSERT_TRUE(held);
  for (std::string id : {"b", "c", "d"}) {
    clock.advance_ms(1000);
    ASSERT_EQ(get(*c, item_of(id, 300)), src.bytes[id]);
  }
  EXPECT_EQ(c->lookup(item_of("a", 300)), -1);  // evicted
  EXPECT_EQ(all_of(*held), std::string(300, 'a'));
}

TEST_F(DataCacheTest, CachesSharingAFolderKeepTheBoundTogether) {
  auto one = open(1000, "s1");
  auto two = open(1000, "s2");
  for (std::string id : {"a", "b", "c", "d"}) src.bytes[id] = std::string(300, id[0]);
  ASSERT_EQ(get(*one, item_of("a", 300)), src.bytes["a"]);
  clock.advance_ms(1000);
  ASSERT_EQ(get(*one, item_of("b", 300)), src.bytes["b"]);
  clock.advance_ms(1000);
  ASSERT_EQ(get(*two, item_of("c", 300)), src.bytes["c"]);
  clock.advance_ms(1000);
  ASSERT_EQ(get(*two, item_of("d", 300)), src.bytes["d"]);  // two sees one's files when it evicts
  uint64_t on_disk = 0;
  for (auto& e : stdfs::recursive_directory_iterator(dir.sub("data")))
    if (e.is_regular_file()) on_disk += e.file_size();
  EXPECT_LE(on_disk, 1000u);
  EXPECT_EQ(one->lookup(item_of("a", 300)), -1);  // the oldest, one's own
}

TEST_F(DataCacheTest, AFileAnotherCacheUsedSinceThisOneLookedIsNotEvictedAsTheOldest) {
  auto one = open(1000);
  for (std::string id : {"a", "b", "c", "d"}) src.bytes[id] = std::string(300, id[0]);
  for (std::string id : {"a", "b", "c"}) {
    ASSERT_EQ(get(*one, item_of(id, 300)), src.bytes[id]);
    clock.advance_ms(1000);
  }
  auto two = open(1000);  // knows a, b, c from its scan: a the oldest
  clock.advance_ms(10 * 60 * 1000);
  int fd = one->lookup(item_of("a", 300));  // a used through one: its mtime stamped
  ASSERT_GE(fd, 0);
  ::close(fd);
  clock.advance_ms(1000);
  // two keeps d: 1,200 > 1,000, one file goes — b, the least recently used by anyone.
  ASSERT_EQ(get(*two, item_of("d", 300)), src.bytes["d"]);
  EXPECT_EQ(two->lookup(item_of("b", 300)), -1);
  for (std::string id : {"a", "c", "d"}) {
    int kept = two->lookup(item_of(id, 300));
    EXPECT_GE(kept, 0) << id;
    if (kept >= 0) ::close(kept);
  }
}

TEST_F(DataCacheTest, ManyThreadsAskingForOneItemFetchItOnce) {
  auto c = open(16 << 20);
  src.bytes["a"] = random_bytes(2 << 20, 3);
  Item a = item_of("a", 2 << 20);
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      if (get(*c, a) == src.bytes["a"]) ++right;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(right, 8);
  EXPECT_EQ(c->counters().fills, 1u);
  EXPECT_EQ(src.reads, 1);  // (2 MiB: one read of up to 4 MiB)
}

TEST_F(DataCacheTest, APrefetchBringsAnItemOnceAndSaysWhetherItDid) {
  auto c = open();
  Item a = item_of("a", 5000);
  src.bytes["a"] = std::string(5000, 'a');
  auto first = c->prefetch(a, src.reader("a"));
  ASSERT_TRUE(first) << first.status().to_string();
  EXPECT_TRUE(*first);
  int reads = src.reads;
  // Kept now: not brought again (it was answered "brought" before), and no remote read.
  auto again = c->prefetch(a, src.reader("a"));
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  auto other = open();  // another mount of the same space finds it on disk
  auto theirs = other->prefetch(a, src.reader("a"));
  ASSERT_TRUE(theirs);
  EXPECT_FALSE(*theirs);
  EXPECT_EQ(src.reads, reads);
  EXPECT_EQ(get(*c, a), src.bytes["a"]);
  EXPECT_EQ(c->counters().prefetches.load(), 1u);
  EXPECT_EQ(c->counters().prefetch_hits.load(), 1u);
  EXPECT_EQ(src.reads, reads);
}


TEST_F(DataCacheTest, APrefetchOfManyFetchesOnlyWhatIsNotKeptAndKeepsEachAsItsBytesEnd) {
  auto c = open(1 << 20);
  Item a = item_of("a", 5000), b = item_of("b", 4000), big = item_of("big", 600000), d = item_of("d", 3000);
  src.bytes = {{"a", random_bytes(5000, 1)}, {"b", random_bytes(4000, 2)}, {"d", random_bytes(3000, 4)}};
  EXPECT_EQ(get(*c, b), src.bytes["b"]);  // kept already
  std::vector<std::string> asked_ids;
  bool a_kept_before_d = false;
  auto answers = c->prefetch_many(std::vector<Item>{a, b, big, d}, [&](std::span<const Item> asked, ItemBytesSink& sink) {
    for (const Item& i : asked) asked_ids.push_back(i.id);
    ASSERT_EQ(asked.size(), 2u);
    EXPECT_TRUE(sink.bytes(0, 0, std::string_view(src.bytes["a"]).substr(0, 1000)));
    EXPECT_TRUE(sink.bytes(0, 1000, std::string_view(src.bytes["a"]).substr(1000)));
    sink.done(0, {});
    int fd = c->lookup(a);  // (kept now: its readers need not wait for the rest of the batch)
    a_kept_before_d = fd >= 0;
    if (fd >= 0) ::close(fd);
    EXPECT_TRUE(sink.bytes(1, 0, src.bytes["d"]));
    sink.done(1, {});
  });
  EXPECT_EQ(asked_ids, (std::vector<std::string>{"a", "d"}));
  EXPECT_TRUE(a_kept_before_d);
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_TRUE(answers[0] && *answers[0]);
  EXPECT_TRUE(answers[1] && !*answers[1]);  // kept already
  EXPECT_TRUE(answers[2] && !*answers[2]);  // too large to keep
  EXPECT_TRUE(answers[3] && *answers[3]);
  int reads = src.reads;
  EXPECT_EQ(get(*c, a), src.bytes["a"]);
  EXPECT_EQ(get(*c, d), src.bytes["d"]);
  EXPECT_EQ(src.reads, reads);
  EXPECT_EQ(c->counters().prefetches.load(), 2u);
}

TEST_F(DataCacheTest, ABatchItemStartedOverOrCutShortOrNeverEndedIsKeptOnlyWhole) {
  auto c = open(1 << 20);
  Item a = item_of("a", 5000), b = item_of("b", 4000), d = item_of("d", 3000), e = item_of("e", 2000);
  src.bytes = {{"a", random_bytes(5000, 1)}, {"b", random_bytes(4000, 2)}, {"d", random_bytes(3000, 4)},
               {"e", random_bytes(2000, 5)}};
  std::atomic<bool> waiter_done{false};
  std::string waiter_got;
  std::thread waiter;
  auto answers = c->prefetch_many(std::vector<Item>{a, b, d, e}, [&](std::span<const Item>, ItemBytesSink& sink) {
    // a: a broken answer's first bytes, then read again from its first byte (a fallback).
    EXPECT_TRUE(sink.bytes(0, 0, "garbage"));
    EXPECT_TRUE(sink.bytes(0, 0, src.bytes["a"]));
    sink.done(0, {});
    // b: fewer bytes than its size (it changed meanwhile).
    EXPECT_TRUE(sink.bytes(1, 0, std::string_view(src.bytes["b"]).substr(0, 100)));
    sink.done(1, {});
    // d: an error.
    sink.done(2, Status(ETIMEDOUT, "the server did not answer in time"));
    // e: a reader waits for it; its bytes start and never end.
    waiter = std::thread([&] {
      auto fd = c->get(e, src.reader("e"));
      waiter_got = fd ? all_of(*fd) : "<" + fd.status().to_string() + ">";
      waiter_done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(waiter_done.load());  // waiting for this fill, not fetching it again
    EXPECT_TRUE(sink.bytes(3, 0, std::string_view(src.bytes["e"]).substr(0, 10)));
  });
  waiter.join();
  EXPECT_TRUE(answers[0] && *answers[0]);
  EXPECT_EQ(answers[1].err(), ESTALE);
  EXPECT_EQ(answers[2].err(), ETIMEDOUT);
  EXPECT_EQ(answers[3].err(), EIO);
  EXPECT_NE(waiter_got.find("<"), std::string::npos);  // told the fill failed: it reads the remote itself
  EXPECT_EQ(get(*c, a), src.bytes["a"]);
  for (const Item& i : {b, d, e}) {
    EXPECT_EQ(c->lookup(i), -1) << i.id;
    EXPECT_EQ(get(*c, i), src.bytes[i.id]) << i.id;  // fetched whole now
  }
  EXPECT_TRUE(stdfs::is_empty(dir.sub("data/tmp")));  // no temp file left behind
}

TEST_F(DataCacheTest, TempFilesOfAGoneProcessAreSweptAtOpen) {
  auto c = open();
  std::string stale = dir.sub("data/tmp/999999999.0");  // (no such pid)
  write_file(stale, "half");
  std::string mine = dir.sub("data/tmp/" + std::to_string(::getpid()) + ".77");
  write_file(mine, "in use");
  auto again = open();
  EXPECT_FALSE(stdfs::exists(stale));
  EXPECT_TRUE(stdfs::exists(mine));
}

}  // namespace

// A fill renames its file into its shard folder (<space>/<xx>/), made only when the rename finds
// it missing: one removed meanwhile (a hand cleaning the folder) is made again, and the file kept.
TEST_F(DataCacheTest, AShardFolderRemovedMeanwhileIsMadeAgainByTheNextFill) {
  auto c = open();
  src.bytes["a"] = random_bytes(1000, 3);
  src.bytes["b"] = random_bytes(2000, 4);
  Item a = item_of("a", 1000), b = item_of("b", 2000);
  EXPECT_EQ(get(*c, a), src.bytes["a"]);
  std::string shard = stdfs::path(c->path_of(b)).parent_path();
  std::error_code ec;
  stdfs::remove_all(shard, ec);
  ASSERT_FALSE(stdfs::exists(shard));
  EXPECT_EQ(get(*c, b), src.bytes["b"]);
  EXPECT_TRUE(stdfs::exists(c->path_of(b)));
  int reads = src.reads;
  EXPECT_EQ(get(*c, b), src.bytes["b"]);  // (a hit)
  EXPECT_EQ(src.reads, reads);
  EXPECT_EQ(get(*c, a), src.bytes["a"]);
}
