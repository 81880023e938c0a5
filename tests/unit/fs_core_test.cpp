// The filesystem core without FUSE: lookups and forget, inode numbers, attributes, listings,
// reads and errors, over a FakeRemote and a real MetadataCache.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <set>
#include <thread>

#include "core/item_pack.h"
#include "core/packed_items.h"
#include "fs/inode_table.h"
#include "support/fs_fixture.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

std::string pattern(size_t n, int seed = 1) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 131 + size_t(seed) * 7) % 251);
  return s;
}

class FsCore : public ::testing::Test, public FsFixture {};

}  // namespace

TEST(InodeTable, NumbersComeFromIdsAndRootIsOne) {
  Item root;
  root.id = "65f1c0ffee0000000000a000";
  root.type = ItemType::kDir;
  root.set_path("/");
  InodeTable table(root, 0);
  Item a;
  a.id = "65f1c0ffee0000000000a001";
  a.set_path("/a");
  Ino ino = table.add_lookup(NodeKind::kItem, a, 0, table.mark());
  EXPECT_EQ(ino, ino_hash("65f1c0ffee0000000000a001"));
  EXPECT_GT(ino, kRootIno);
  EXPECT_EQ(table.get(kRootIno)->item->id, root.id);
  // A second table (a remount) gives the same number.
  InodeTable again(root, 0);
  EXPECT_EQ(again.add_lookup(NodeKind::kItem, a, 0, again.mark()), ino);
}

TEST(InodeTable, LookupCountsAndForget) {
  Item root;
  root.id = "65f1c0ffee0000000000a000";
  root.type = ItemType::kDir;
  InodeTable table(root, 0);
  Item a;
  a.id = "65f1c0ffee0000000000a001";
  Ino ino = table.add_lookup(NodeKind::kItem, a, 0, table.mark());
  table.add_lookup(NodeKind::kItem, a, 0, table.mark(), 2);
  EXPECT_EQ(table.lookup_count(ino), 3u);
  table.forget(ino, 2);
  EXPECT_TRUE(table.get(ino));
  table.forget(ino, 1);
  EXPECT_FALSE(table.get(ino));
  EXPECT_EQ(table.size(), 1u);
  table.forget(kRootIno, 100);  // the root is never dropped
  EXPECT_TRUE(table.get(kRootIno));
}

TEST(InodeTable, AnAnswerAskedBeforeAStateSetHereDoesNotReplaceIt) {
  Item root;
  root.id = "65f1c0ffee0000000000a000";
  root.type = ItemType::kDir;
  InodeTable table(root, 0);
  Item v1;
  v1.id = "65f1c0ffee0000000000a001";
  v1.set_path("/y");
  v1.system()["size"] = 100;
  Ino ino = table.add_lookup(NodeKind::kItem, v1, 10, table.mark());
  uint64_t asked_before = table.mark();  // a listing is asked ...
  Item v2 = v1;
  v2.system()["size"] = 202;
  table.refresh(ino, v2, 20, kSetHere);  // ... the mount's upload lands ...
  // ... and the listing's answer (v1) arrives, even with a later clock.
  EXPECT_FALSE(table.refresh(ino, v1, 30, asked_before));
  table.add_lookup(NodeKind::kItem, v1, 30, asked_before);
  EXPECT_EQ(table.get(ino)->item->size(), 202u);
  // An answer asked after it replaces it (someone else changed the item since).
  Item v3 = v1;
  v3.system()["size"] = 7;
  uint64_t asked_after = table.mark();
  EXPECT_TRUE(table.refresh(ino, v3, 40, asked_after));
  EXPECT_EQ(table.get(ino)->item->size(), 7u);
}

TEST(InodeTable, CollisionsProbeToAFreeNumber) {
  Item root;
  root.id = "65f1c0ffee0000000000a000";
  root.type = ItemType::kDir;
  InodeTable table(root, 0);
  // Many ids: all distinct numbers, never 0 or 1, thumbnails apart from their items.
  std::set<Ino> seen;
  for (int i = 0; i < 20000; ++i) {
    Item it;
    char id[25];
    snprintf(id, sizeof id, "65f1c0ffee00000000%06x", i);
    it.id = id;
    Ino ino = table.add_lookup(NodeKind::kItem, it, 0, table.mark());
    EXPECT_GT(ino, 1u);
    EXPECT_TRUE(seen.insert(ino).second);
    EXPECT_NE(table.add_lookup(NodeKind::kThumbFile, it, 0, table.mark()), ino);
  }
}

TEST_F(FsCore, LookupGetattrAndStableInodesAcrossRemounts) {
  Item file = remote.add_file("/cars/a.jpg", pattern(48213));
  Item folder = *remote.item_at("/cars");
  mount();
  auto dir = fs->lookup(kRootIno, "cars");
  ASSERT_TRUE(dir) << dir.status().to_string();
  EXPECT_TRUE(S_ISDIR(dir->attr.st_mode));
  EXPECT_EQ(dir->attr.st_mode & 07777, 0755u);
  auto e = fs->lookup(dir->ino, "a.jpg");
  ASSERT_TRUE(e);
  EXPECT_TRUE(S_ISREG(e->attr.st_mode));
  EXPECT_EQ(e->attr.st_mode & 07777, 0644u);
  EXPECT_EQ(e->attr.st_size, 48213);
  EXPECT_EQ(e->attr.st_mtim.tv_sec, file.updated_ms / 1000);
  EXPECT_EQ(e->attr.st_mtim.tv_nsec, (file.updated_ms % 1000) * 1000000);
  EXPECT_EQ(e->attr.st_uid, 1234u);
  EXPECT_EQ(e->attr.st_gid, 5678u);
  EXPECT_EQ(e->attr.st_ino, e->ino);
  EXPECT_EQ(e->ino, ino_hash(file.id));
  EXPECT_EQ(dir->ino, ino_hash(folder.id));
  auto attr = fs->getattr(e->ino);
  ASSERT_TRUE(attr);
  EXPECT_EQ(attr->attr.st_size, 48213);
  EXPECT_EQ(fs->inodes().lookup_count(e->ino), 1u);
  fs->lookup(dir->ino, "a.jpg").value();
  EXPECT_EQ(fs->inodes().lookup_count(e->ino), 2u);
  fs->forget(e->ino, 2);
  EXPECT_EQ(fs->getattr(e->ino).err(), ESTALE);
  Ino before = e->ino;
  unmount();
  mount();
  EXPECT_EQ(walk("/cars/a.jpg")->ino, before);
}

TEST_F(FsCore, MissingNamesAndErrorsMapToErrno) {
  remote.add_file("/a.txt", "hi");
  mount();
  EXPECT_EQ(fs->lookup(kRootIno, "nope").err(), ENOENT);
  EXPECT_EQ(fs->lookup(kRootIno, std::string(300, 'x')).err(), ENAMETOOLONG);
  Ino file = fs->lookup(kRootIno, "a.txt")->ino;
  EXPECT_EQ(fs->lookup(file, "x").err(), ENOTDIR);
  EXPECT_EQ(fs->opendir(file).err(), ENOTDIR);
  EXPECT_EQ(fs->open(kRootIno, O_RDONLY).err(), EISDIR);
  EXPECT_EQ(fs->open(file, O_WRONLY).err(), EROFS);
  EXPECT_EQ(fs->getattr(987654321).err(), ESTALE);
  // A remote failure surfaces as its errno (no stale copy to fall back on).
  remote.fail_next(RemoteCall::kGet, 1, EACCES);
  EXPECT_EQ(fs->lookup(kRootIno, "other").err(), EACCES);
  remote.fail_next(RemoteCall::kRead, 1, EIO);
  EXPECT_EQ(cat(file).err(), EIO);
  EXPECT_EQ(*cat(file), "hi");
}

// The kernel tries a failed readahead again at once: a read that just timed out answers that
// retry without waiting on the server a second time, and asks the server again moments later.
TEST_F(FsCore, AReadThatJustTimedOutIsNotWaitedForTwice) {
  remote.add_file("/a.bin", "abc");
  mount();
  Ino file = walk("/a.bin")->ino;
  remote.fail_next(RemoteCall::kRead, 1, ETIMEDOUT);
  EXPECT_EQ(cat(file).err(), ETIMEDOUT);
  uint64_t reads = remote.calls(RemoteCall::kRead);
  EXPECT_EQ(cat(file).err(), ETIMEDOUT);
  EXPECT_EQ(remote.calls(RemoteCall::kRead), reads);
  clock.advance_ms(250);
  EXPECT_EQ(*cat(file), "abc");
  remote.fail_next(RemoteCall::kRead, 1, EIO);  // other errors are not remembered
  EXPECT_EQ(cat(file).err(), EIO);
  EXPECT_EQ(*cat(file), "abc");
}

TEST_F(FsCore, MountingAFolderAndAMissingRoot) {
  remote.add_file("/sub/dir/x.bin", "xyz");
  remote.add_file("/sub/y.bin", "yy");
  options.root = "/sub";
  mount();
  EXPECT_EQ(*list(kRootIno), (std::vector<std::string>{".", "..", "dir", "y.bin"}));
  EXPECT_EQ(*cat(walk("/dir/x.bin")->ino), "xyz");
  options.root = "/none";
  EXPECT_THROW(mount(), std::runtime_error);
  options.root = "/sub/y.bin";
  EXPECT_THROW(mount(), std::runtime_error);
}

TEST_F(FsCore, PagedReaddirPlusOf2500ItemsWithFullItems) {
  for (int i = 0; i < 2500; ++i) remote.add_file("/big/f" + std::to_string(i), std::string(size_t(i % 7), 'x'));
  mount();
  Ino big = fs->lookup(kRootIno, "big")->ino;
  remote.reset_calls();
  auto names = list(big, true);
  ASSERT_TRUE(names);
  EXPECT_EQ(names->size(), 2502u);
  EXPECT_EQ(remote.calls(RemoteCall::kList), 3u);  // pages of 1000
  EXPECT_EQ(remote.calls(RemoteCall::kGet), 0u);   // never a request per entry
  std::set<std::string> unique(names->begin() + 2, names->end());
  EXPECT_EQ(unique.size(), 2500u);
  // Each readdirplus entry counted one lookup; the sizes came with the listing.
  auto e = fs->lookup(big, "f13");
  EXPECT_EQ(fs->inodes().lookup_count(e->ino), 2u);
  EXPECT_EQ(e->attr.st_size, 13 % 7);
  EXPECT_EQ(remote.calls(RemoteCall::kGet), 0u);
  EXPECT_EQ(fs->inodes().size(), 2502u);  // root, big, 2500 files
  // Plain readdir counts nothing but gives the same stable numbers.
  auto plain = list(big, false);
  EXPECT_EQ(fs->inodes().lookup_count(e->ino), 2u);
  EXPECT_EQ(plain->size(), 2502u);
}

TEST_F(FsCore, ReaddirStopsWhenTheBufferIsFullWithoutLeakingLookups) {
  remote.add_file("/d/a", "1");
  remote.add_file("/d/b", "2");
  mount();
  Ino d = fs->lookup(kRootIno, "d")->ino;
  uint64_t fh = *fs->opendir(d);
  int calls = 0;
  ASSERT_TRUE(fs->readdir(d, fh, 2, true, [&](const DirEntry&) { return ++calls == 1; }));
  fs->releasedir(fh);
  EXPECT_EQ(fs->inodes().size(), 3u);  // root, d and the one entry accepted
  EXPECT_EQ(fs->readdir(d, fh, 0, true, [](const DirEntry&) { return true; }).err(), EBADF);
}

TEST_F(FsCore, HiddenItemsAndDataloopAreNeverShown) {
  remote.add_file("/visible.jpg", "v");
  remote.add_hidden_file("/.dataloop/thumbnails/t.jpg", "t");
  remote.add_hidden_file("/secret.jpg", "s");
  mount();
  auto names = *list(kRootIno);
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "visible.jpg"}));
  EXPECT_EQ(fs->lookup(kRootIno, ".dataloop").err(), ENOENT);
  EXPECT_EQ(fs->lookup(kRootIno, "secret.jpg").err(), ENOENT);
}

TEST_F(FsCore, ReadsAtOffsetsAndNothingPastTheEnd) {
  std::string data = pattern(1 << 20, 3);
  remote.add_file("/f.bin", data);
  mount();
  Ino f = fs->lookup(kRootIno, "f.bin")->ino;
  auto opened = fs->open(f, O_RDONLY);
  ASSERT_TRUE(opened);
  EXPECT_FALSE(opened->keep_cache);  // first open
  std::string buf(10000, '\0');
  for (uint64_t off : {0ull, 1ull, 4095ull, 500000ull, (1ull << 20) - 10}) {
    auto n = fs->read(f, opened->fh, off, std::span<char>(buf.data(), buf.size()));
    ASSERT_TRUE(n);
    size_t want = std::min<size_t>(buf.size(), data.size() - off);
    ASSERT_EQ(*n, want);
    EXPECT_EQ(buf.substr(0, want), data.substr(off, want)) << off;
  }
  remote.reset_calls();
  EXPECT_EQ(*fs->read(f, opened->fh, 1 << 20, std::span<char>(buf.data(), buf.size())), 0u);
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 0u);
  fs->release(opened->fh);
  EXPECT_EQ(fs->read(f, opened->fh, 0, std::span<char>(buf.data(), 10)).err(), EBADF);
  // Without open (the kernel skipped it: no_open), fh 0 reads the node's item.
  EXPECT_EQ(*fs->read(f, 0, 5, std::span<char>(buf.data(), 10)), 10u);
  EXPECT_EQ(buf.substr(0, 10), data.substr(5, 10));
  // An empty file.
  remote.add_file("/empty", "");
  Ino empty = fs->lookup(kRootIno, "empty")->ino;
  EXPECT_EQ(fs->getattr(empty)->attr.st_size, 0);
  EXPECT_EQ(*cat(empty), "");
}

TEST_F(FsCore, KeepCacheOnlyWhenUnchangedSinceLastOpen) {
  remote.add_file("/f", "one");
  options.dir_ttl_ms = 1000;
  mount();
  Ino f = fs->lookup(kRootIno, "f")->ino;
  auto first = *fs->open(f, O_RDONLY);
  fs->release(first.fh);
  auto second = *fs->open(f, O_RDONLY);
  fs->release(second.fh);
  EXPECT_FALSE(first.keep_cache);
  EXPECT_TRUE(second.keep_cache);
  remote.rewrite_file("/f", "two!");
  clock.advance_ms(1500);
  EXPECT_EQ(fs->getattr(f)->attr.st_size, 4);
  EXPECT_EQ(invalidator.inodes(), std::vector<Ino>{f});
  auto third = *fs->open(f, O_RDONLY);
  EXPECT_FALSE(third.keep_cache);
  std::string buf(10, '\0');
  EXPECT_EQ(*fs->read(f, third.fh, 0, std::span<char>(buf.data(), buf.size())), 4u);
  fs->release(third.fh);
}

TEST_F(FsCore, ConcurrentLookupsReadsAndForgets) {
  for (int i = 0; i < 50; ++i) remote.add_file("/d/f" + std::to_string(i), pattern(5000, i));
  mount();
  Ino d = fs->lookup(kRootIno, "d")->ino;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        int i = (t * 7 + round) % 50;
        auto e = fs->lookup(d, "f" + std::to_string(i));
        if (!e) { ++failures; continue; }
        auto data = cat(e->ino, 1000);
        if (!data || *data != pattern(5000, i)) ++failures;
        fs->forget(e->ino, 1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(fs->inodes().size(), 2u);  // every lookup forgotten: root and d
}

TEST_F(FsCore, StatfsAnswers) {
  mount();
  auto st = fs->statfs();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->f_namemax, 255u);
  EXPECT_EQ(st->f_bsize, 4096u);
}

TEST_F(FsCore, LinksReadTheirTargetWithItsSize) {
  remote.add_link("/l.jpg", "http://example.invalid/t.jpg");
  std::string target = pattern(70000, 9);
  links.targets["http://example.invalid/t.jpg"] = target;
  mount();
  auto e = fs->lookup(kRootIno, "l.jpg");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->attr.st_size, 70000);
  EXPECT_GT(e->attr_timeout, 0);
  EXPECT_EQ(links.heads, 1);
  EXPECT_EQ(*cat(e->ino, 65536), target);
  EXPECT_EQ(remote.calls(RemoteCall::kRead), 0u);  // never the link's JSON
  // A link whose target does not answer a size: unknown, kernel told to ask again.
  remote.add_link("/dead.jpg", "http://example.invalid/none.jpg");
  ASSERT_TRUE(list(kRootIno));
  auto d = fs->lookup(kRootIno, "dead.jpg");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->attr_timeout, 0);
  EXPECT_TRUE(fs->open(d->ino, O_RDONLY)->direct_io);
}

TEST_F(FsCore, ThumbnailsAnsweredByLookupAndCached) {
  remote.add_file("/cars/a.jpg", "full image");
  remote.set_thumbnail("/cars/a.jpg", "\xff\xd8 thumb");
  remote.add_file("/cars/b.jpg", "no thumb");
  mount();
  EXPECT_EQ(*list(kRootIno), (std::vector<std::string>{".", "..", "cars"}));  // never listed
  auto t = walk("/.thumbnails/cars/a.jpg");
  ASSERT_TRUE(t) << t.status().to_string();
  EXPECT_EQ(t->attr.st_size, 8);
  EXPECT_NE(t->ino, walk("/cars/a.jpg")->ino);
  EXPECT_EQ(*cat(t->ino), "\xff\xd8 thumb");
  EXPECT_EQ(walk("/.thumbnails/cars/b.jpg").err(), ENOENT);
  EXPECT_EQ(remote.calls(RemoteCall::kThumbnail), 2u);
  // Cached in the metadata cache: a remount fetches it no more.
  unmount();
  remote.reset_calls();
  mount();
  EXPECT_EQ(*cat(walk("/.thumbnails/cars/a.jpg")->ino), "\xff\xd8 thumb");
  EXPECT_EQ(remote.calls(RemoteCall::kThumbnail), 0u);
}

namespace {
Item rich_item(int n) {
  Item item;
  item.id = "65f1c0ffee00000000" + std::to_string(100000 + n);
  item.dataset_id = "65f1c0ffee0000000000d000";
  item.set_path("/photos/sub/img-" + std::to_string(n) + ".jpg");
  item.created_ms = 1796493007128 + n;
  item.updated_ms = 1796493007999 + n;
  item.creator = "someone.with.a.long.name@example.com";
  item.updated_by = "dev@local";
  item.system()["size"] = 4096 + n;
  item.system()["mimetype"] = "image/jpeg";
  item.system()["posix"] = {{"mode", 420}, {"uid", 1000}, {"mtime", 1796493007128000000ll}};
  item.metadata["user"] = {{"camera", "cam-7"}, {"score", 0.25}, {"tags", {"a", "ü", nullptr}}, {"big", UINT64_MAX}};
  return item;
}
}  // namespace

TEST(ItemPack, EveryFieldComesBackAndThePackIsSmall) {
  Item rich = rich_item(1);
  rich.description = "a description";
  Item root;
  root.id = "65f1c0ffee0000000000a000";
  root.type = ItemType::kDir;
  root.set_path("/");
  Item odd = rich_item(2);  // dir and name set apart from the filename: kept as they were
  odd.dir = "/elsewhere";
  odd.name = "other";
  odd.hidden = true;
  odd.description = "";
  for (const Item& item : {rich, root, odd, Item{}}) {
    std::string packed = pack_item(item);
    EXPECT_EQ(packed_item_id(packed), item.id);
    EXPECT_EQ(packed_item_filename(packed), item.filename);
    auto back = unpack_item(packed);
    ASSERT_TRUE(back) << back.status().to_string();
    EXPECT_EQ(*back, item) << item_to_json(item).dump() << "\n" << item_to_json(*back).dump();
  }
  EXPECT_LT(pack_item(rich).size(), 500u);
  EXPECT_FALSE(unpack_item("no separators"));
  EXPECT_FALSE(unpack_item(std::string("id\0/f\0garbage", 14)));
}

// A listing kept packed: names, ids and kinds without unpacking, each item back whole; bytes
// read back from the cache (add_packed) answer the same, a name of its own included.
TEST(PackedItems, NamesIdsAndKindsWithoutUnpackingAndEveryItemBackWhole) {
  Item rich = rich_item(1);
  Item root;
  root.id = "65f1c0ffee0000000000a000";
  root.type = ItemType::kDir;
  root.set_path("/");
  Item folder = rich_item(3);
  folder.type = ItemType::kDir;
  folder.set_path("/photos/sub/folder");
  Item odd = rich_item(2);
  odd.dir = "/elsewhere";
  odd.name = "other";
  std::vector<Item> items = {rich, root, folder, odd};
  PackedItems packed(items);
  PackedItems read_back;
  for (size_t i = 0; i < packed.size(); ++i)
    ASSERT_TRUE(read_back.add_packed(std::string(packed.packed(i)), packed.is_dir(i)));
  for (const PackedItems* p : {&packed, &read_back}) {
    ASSERT_EQ(p->size(), 4u);
    EXPECT_EQ(p->name(0), "img-1.jpg");
    EXPECT_EQ(p->name(1), "");
    EXPECT_EQ(p->name(2), "folder");
    EXPECT_EQ(p->name(3), "other");
    for (size_t i = 0; i < items.size(); ++i) {
      EXPECT_EQ(p->id(i), items[i].id);
      EXPECT_EQ(p->is_dir(i), items[i].is_dir());
      EXPECT_EQ(p->item(i).value(), items[i]);
    }
    EXPECT_EQ(p->items().value(), items);
  }
  PackedItems some;
  some.add_from(packed, 3);
  some.add(folder);
  EXPECT_EQ(some.items().value(), (std::vector<Item>{odd, folder}));
  EXPECT_EQ(some.add_packed("not a packed item", false).err(), EIO);
  EXPECT_EQ(some.size(), 2u);
}

TEST(InodeTable, NodesNotUsedLatelyKeepTheirItemsPackedAndGiveThemBackWhole) {
  Item root;
  root.id = "65f1c0ffee0000000000a000";
  root.type = ItemType::kDir;
  root.set_path("/");
  InodeTable table(root, 0, /*hot_items=*/4);
  std::vector<Ino> inos;
  for (int n = 0; n < 100; ++n) inos.push_back(table.add_lookup(NodeKind::kItem, rich_item(n), 0, table.mark()));
  EXPECT_EQ(table.size(), 101u);
  EXPECT_GE(table.packed(), 95u);
  for (int n = 0; n < 100; ++n) {
    auto node = table.get(inos[n]);
    ASSERT_TRUE(node && node->item);
    EXPECT_EQ(*node->item, rich_item(n));
  }
  // A refresh of a packed node compares without unpacking, and tells a change.
  ASSERT_GE(table.packed(), 95u);
  EXPECT_FALSE(table.refresh(inos[0], rich_item(0), 1, table.mark()));
  Item grown = rich_item(1);
  grown.system()["size"] = 1;
  for (int n = 2; n < 10; ++n) table.get(inos[n]);  // (pushes 1 out again)
  EXPECT_TRUE(table.refresh(inos[1], grown, 1, table.mark()));
  EXPECT_EQ(table.get(inos[1])->item->size(), 1u);
  // note_open, rebind, moved_below and forget work on packed nodes as on the others.
  for (int n = 2; n < 10; ++n) table.get(inos[n]);
  EXPECT_FALSE(table.note_open(inos[50]));
  EXPECT_TRUE(table.note_open(inos[50]));
  Item renamed = rich_item(60);
  renamed.id = "65f1c0ffee0000000000b060";
  for (int n = 2; n < 10; ++n) table.get(inos[n]);
  EXPECT_TRUE(table.rebind(inos[60], renamed, 2));
  EXPECT_EQ(table.find(NodeKind::kItem, renamed.id), inos[60]);
  EXPECT_FALSE(table.find(NodeKind::kItem, rich_item(60).id));
  EXPECT_EQ(table.add_lookup(NodeKind::kItem, rich_item(60), 0, table.mark()), inos[60]);  // the old id: an alias
  for (int n = 2; n < 10; ++n) table.get(inos[n]);
  table.moved_below("/photos/sub", "/photos/moved");
  for (int n : {3, 70, 99}) EXPECT_EQ(table.get(inos[n])->item->filename, "/photos/moved/img-" + std::to_string(n) + ".jpg");
  for (int n = 2; n < 10; ++n) table.get(inos[n]);
  size_t packed = table.packed();
  table.forget(inos[80], 1);
  EXPECT_FALSE(table.get(inos[80]));
  EXPECT_FALSE(table.find(NodeKind::kItem, rich_item(80).id));
  EXPECT_EQ(table.packed(), packed - 1);
  EXPECT_EQ(table.size(), 100u);
  // The root is never packed.
  EXPECT_EQ(table.get(kRootIno)->item->id, root.id);
}
