// The embedded platform's operations, each with its bad inputs (queries: platform_query_test).
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "core/lmdb.h"
#include "core/paths.h"
#include "core/posix_attrs.h"
#include "platform/dql.h"
#include "platform/platform.h"
#include "platform_fixture.h"

using namespace dlfs;
using namespace dlfs::test;
namespace fs = std::filesystem;

TEST_F(PlatformTest, DatasetsCreateListFindDelete) {
  auto second = platform_->create_dataset("bikes", "dev@local");
  ASSERT_TRUE(second);
  EXPECT_EQ(platform_->create_dataset("cars", "x").err(), EEXIST);
  EXPECT_EQ(platform_->create_dataset("", "x").err(), EINVAL);
  EXPECT_EQ(platform_->create_dataset("a/b", "x").err(), EINVAL);
  EXPECT_EQ(platform_->create_dataset(std::string(300, 'd'), "x").err(), ENAMETOOLONG);
  auto all = platform_->list_datasets();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "bikes");
  EXPECT_EQ(platform_->find_dataset("cars")->id, ds_.id);
  EXPECT_EQ(platform_->find_dataset(ds_.id)->name, "cars");
  EXPECT_EQ(platform_->find_dataset("nope").err(), ENOENT);
  auto root = platform_->get_item_by_path(ds_.id, "/");
  ASSERT_TRUE(root);
  EXPECT_TRUE(root->is_dir());

  put("/a/x.jpg", "bytes");
  ASSERT_TRUE(platform_->delete_dataset(second->id));
  ASSERT_TRUE(platform_->delete_dataset(ds_.id));
  EXPECT_EQ(platform_->delete_dataset(ds_.id).err(), ENOENT);
  EXPECT_TRUE(platform_->list_datasets()->empty());
  // No binary is left behind.
  size_t blobs = 0;
  for (auto& e : fs::recursive_directory_iterator(dir_ / "store" / "blobs"))
    if (e.is_regular_file()) ++blobs;
  EXPECT_EQ(blobs, 0u);
}

TEST_F(PlatformTest, MissingDatasetIsEnoentEverywhere) {
  std::string ghost = "65f0c0ffee0000000000dead";
  EXPECT_EQ(platform_->get_dataset(ghost).err(), ENOENT);
  EXPECT_EQ(platform_->upload_bytes(ghost, "x", "/a", {}).err(), ENOENT);
  EXPECT_EQ(platform_->list_dir(ghost, "/", "", 10).err(), ENOENT);
  EXPECT_EQ(platform_->make_dir(ghost, "/d", "u").err(), ENOENT);
  EXPECT_EQ(platform_->get_item_by_path(ghost, "/").err(), ENOENT);
  EXPECT_EQ(platform_->query(ghost, json::object()).err(), ENOENT);
}

TEST_F(PlatformTest, UploadStoresExactBytesAndSystemMetadata) {
  std::string bytes(1 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = char(i * 7);
  UploadOptions opts;
  opts.metadata = {{"user", {{"camera", "cam-7"}}}, {"system", {{"size", 1}}}};
  opts.description = "front view";
  auto r = platform_->upload_file(ds_.id, write_file("src.jpg", bytes), "/cars/red/a.jpg", opts);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->op, UploadOp::kCreated);
  const Item& item = r->item;
  EXPECT_EQ(item.filename, "/cars/red/a.jpg");
  EXPECT_EQ(item.dir, "/cars/red");
  EXPECT_EQ(item.name, "a.jpg");
  EXPECT_EQ(item.size(), bytes.size());  // the client's system.size is ignored
  EXPECT_EQ(item.mimetype(), "image/jpeg");
  EXPECT_EQ(item.system()["originalname"], "a.jpg");
  EXPECT_EQ(item.user()["camera"], "cam-7");
  EXPECT_EQ(item.description, "front view");
  EXPECT_EQ(read_all(item), bytes);
  // Parents were made implicitly.
  EXPECT_TRUE(platform_->get_item_by_path(ds_.id, "/cars")->is_dir());
  EXPECT_TRUE(platform_->get_item_by_path(ds_.id, "/cars/red")->is_dir());
  // Ranged reads.
  char buf[10];
  auto n = platform_->read(item, bytes.size() - 4, std::span<char>(buf, 10));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(std::string(buf, 4), bytes.substr(bytes.size() - 4));
  EXPECT_EQ(*platform_->read(item, bytes.size() + 5, std::span<char>(buf, 10)), 0u);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 1u);
  // An empty file is an item too.
  auto empty = put("/empty.bin", "");
  EXPECT_EQ(empty.item.size(), 0u);
  EXPECT_EQ(read_all(empty.item), "");
  // A missing source file is a clear error.
  EXPECT_EQ(platform_->upload_file(ds_.id, (dir_ / "missing").string(), "/m", {}).err(), ENOENT);
}

TEST_F(PlatformTest, UploadToAnExistingNameInEachMode) {
  auto first = put("/a.txt", "one", with_meta({{"user", {{"k", 1}}}}));
  UploadOptions skip;
  skip.mode = UploadMode::kSkip;
  auto skipped = put("/a.txt", "two", skip);
  EXPECT_EQ(skipped.op, UploadOp::kSkipped);
  EXPECT_EQ(skipped.item.id, first.item.id);
  EXPECT_EQ(read_all(skipped.item), "one");

  UploadOptions over;
  over.mode = UploadMode::kOverwrite;
  over.metadata = {{"user", {{"j", 2}}}};
  clock_.advance_ms(5000);
  auto replaced = put("/a.txt", "three!", over);
  EXPECT_EQ(replaced.op, UploadOp::kOverwritten);
  EXPECT_EQ(replaced.item.id, first.item.id);  // same item, new bytes
  EXPECT_EQ(replaced.item.size(), 6u);
  EXPECT_EQ(replaced.item.user(), (json{{"k", 1}, {"j", 2}}));
  EXPECT_GT(replaced.item.updated_ms, first.item.updated_ms);
  EXPECT_EQ(replaced.item.created_ms, first.item.created_ms);
  EXPECT_EQ(read_all(*platform_->get_item(first.item.id)), "three!");
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 1u);

  // A folder is never overwritten by a file, and a file is never a parent.
  ASSERT_TRUE(platform_->make_dir(ds_.id, "/d", "u"));
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", "/d", over).err(), EISDIR);
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", "/a.txt/b", over).err(), ENOTDIR);
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", "/", over).err(), EISDIR);
}

TEST_F(PlatformTest, EveryPathRuleIsRefusedOnUpload) {
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", "/a/../b", {}).err(), EINVAL);
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", "/a/./b", {}).err(), EINVAL);
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", std::string("/a\0b", 4), {}).err(), EINVAL);
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", "/" + std::string(256, 'n'), {}).err(), ENAMETOOLONG);
  std::string deep;
  while (deep.size() <= kMaxPathBytes) deep += "/" + std::string(100, 'p');
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", deep, {}).err(), ENAMETOOLONG);
  EXPECT_EQ(platform_->make_dir(ds_.id, "/x/..", "u").err(), EINVAL);
  // Non-normal but unambiguous forms are normalized.
  auto r = platform_->upload_bytes(ds_.id, "x", "a//b/", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->item.filename, "/a/b");
  // Bad metadata is refused before anything is stored.
  UploadOptions bad;
  bad.metadata = json::array({1});
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", "/m", bad).err(), EINVAL);
  bad.metadata = {{"user", "str"}};
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", "/m", bad).err(), EINVAL);
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/m").err(), ENOENT);
}

TEST_F(PlatformTest, MakeDirAndGetByPath) {
  auto d = platform_->make_dir(ds_.id, "/x/y/z", "u");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->filename, "/x/y/z");
  EXPECT_TRUE(d->is_dir());
  EXPECT_EQ(platform_->make_dir(ds_.id, "/x/y", "u").err(), EEXIST);
  EXPECT_EQ(platform_->make_dir(ds_.id, "/", "u").err(), EEXIST);
  put("/f", "x");
  EXPECT_EQ(platform_->make_dir(ds_.id, "/f/g", "u").err(), ENOTDIR);
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/x/nope").err(), ENOENT);
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/x")->id, platform_->get_item_by_path(ds_.id, "x/")->id);
  EXPECT_EQ(platform_->list_dir(ds_.id, "/f", "", 10).err(), ENOTDIR);
  EXPECT_EQ(platform_->list_dir(ds_.id, "/nope", "", 10).err(), ENOENT);
  EXPECT_EQ(names_in("/"), (std::vector<std::string>{"f", "x"}));
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 1u);  // folders don't count
}

TEST_F(PlatformTest, PatchMergeRulesAndReadOnlyKeys) {
  auto up = put("/p.jpg", "x", with_meta({{"user", {{"a", 1}, {"nested", {{"x", 1}, {"y", 2}}}, {"list", {1, 2}}}}}));
  const std::string id = up.item.id;
  clock_.advance_ms(1000);
  auto p = platform_->patch_item(id, {{"metadata", {{"user", {{"a", nullptr}, {"nested", {{"y", 3}}}, {"list", {9}}}}}}},
                                 false, "other@local");
  ASSERT_TRUE(p) << p.status().to_string();
  EXPECT_EQ(p->user(), (json{{"nested", {{"x", 1}, {"y", 3}}}, {"list", {9}}}));
  EXPECT_EQ(p->updated_by, "other@local");
  EXPECT_GT(p->updated_ms, up.item.updated_ms);

  // Read-only keys echoed back are ignored: the item keeps its own.
  json echo = item_to_json(*p, "http://h/api/v1");
  echo["id"] = "000000000000000000000000";
  echo["createdAt"] = "2001-01-01T00:00:00.000Z";
  echo["dir"] = "/elsewhere";
  echo["name"] = "renamed.jpg";
  echo["url"] = "http://evil/";
  echo.erase("metadata");
  echo.erase("filename");
  auto same = platform_->patch_item(id, echo, false, "u");
  ASSERT_TRUE(same) << same.status().to_string();
  EXPECT_EQ(same->id, id);
  EXPECT_EQ(same->filename, "/p.jpg");
  EXPECT_EQ(same->created_ms, up.item.created_ms);

  // metadata.system and filename need the system flag.
  EXPECT_EQ(platform_->patch_item(id, {{"metadata", {{"system", {{"size", 1}}}}}}, false, "u").err(), EPERM);
  EXPECT_EQ(platform_->patch_item(id, {{"filename", "/q.jpg"}}, false, "u").err(), EPERM);
  auto sys = platform_->patch_item(id, {{"metadata", {{"system", {{"preprocessPhase", "done"}}}}}}, true, "u");
  ASSERT_TRUE(sys);
  EXPECT_EQ(sys->system()["preprocessPhase"], "done");
  EXPECT_EQ(sys->size(), 1u);
  auto moved = platform_->patch_item(id, {{"filename", "/new/dir/q.jpg"}}, true, "u");
  ASSERT_TRUE(moved) << moved.status().to_string();
  EXPECT_EQ(moved->dir, "/new/dir");
  EXPECT_EQ(moved->name, "q.jpg");

  // Description, and malformed patches.
  EXPECT_EQ(platform_->patch_item(id, {{"description", "d"}}, false, "u")->description, "d");
  EXPECT_FALSE(platform_->patch_item(id, {{"description", nullptr}}, false, "u")->description.has_value());
  EXPECT_EQ(platform_->patch_item(id, {{"description", 5}}, false, "u").err(), EINVAL);
  EXPECT_EQ(platform_->patch_item(id, json::array(), false, "u").err(), EINVAL);
  EXPECT_EQ(platform_->patch_item(id, {{"metadata", nullptr}}, false, "u").err(), EINVAL);
  EXPECT_EQ(platform_->patch_item(id, {{"metadata", {{"user", 3}}}}, false, "u").err(), EINVAL);
  EXPECT_EQ(platform_->patch_item("65f0c0ffee0000000000dead", {{"description", "d"}}, false, "u").err(), ENOENT);
}

// Many patches in one commit (what the mount sends access times in): each applied as
// patch_item would apply it, and one refused (no such item, another dataset's, a move, a bad
// patch) undoes only itself.
TEST_F(PlatformTest, PatchItemsAppliesEachInOneCommitAndARefusedOneUndoesOnlyItself) {
  auto a = put("/a.txt", "a"), b = put("/b.txt", "b");
  auto other_ds = platform_->create_dataset("bikes", "dev@local");
  ASSERT_TRUE(other_ds);
  auto theirs = platform_->upload_bytes(other_ds->id, "t", "/t.txt", {});
  ASSERT_TRUE(theirs);
  clock_.advance_ms(1000);
  std::vector<ItemPatch> patches = {
      {a.item.id, {{"metadata", {{"user", {{"k", 1}}}}}}, false},
      {"65f0c0ffee0000000000dead", {{"description", "none"}}, false},
      {theirs->item.id, {{"description", "not this dataset's"}}, false},
      {b.item.id, {{"filename", "/moved.txt"}}, true},
      {b.item.id, {{"metadata", {{"system", {{"size", 5}}}}}}, false},
      {b.item.id, {{"metadata", {{"system", {{kPosixKey, {{"atime", int64_t(1577836800000000001)}}}}}}}}, true},
  };
  auto out = platform_->patch_items(ds_.id, patches, "u");
  ASSERT_EQ(out.size(), patches.size());
  ASSERT_TRUE(out[0]) << out[0].status().to_string();
  EXPECT_EQ(out[0]->user(), (json{{"k", 1}}));
  EXPECT_GT(out[0]->updated_ms, a.item.updated_ms);
  EXPECT_EQ(out[1].err(), ENOENT);
  EXPECT_EQ(out[2].err(), ENOENT);
  EXPECT_EQ(out[3].err(), EINVAL);
  EXPECT_EQ(out[4].err(), EPERM);
  EXPECT_TRUE(out[5]) << out[5].status().to_string();
  // What was stored is what the answers say, and nothing of the refused ones.
  EXPECT_EQ(platform_->get_item(a.item.id)->user(), (json{{"k", 1}}));
  Item b_now = *platform_->get_item(b.item.id);
  EXPECT_EQ(b_now.filename, "/b.txt");
  EXPECT_EQ(b_now.size(), 1u);
  EXPECT_TRUE(b_now.system().contains(kPosixKey));
  EXPECT_FALSE(platform_->get_item(theirs->item.id)->description.has_value());
}

TEST_F(PlatformTest, MoveFilesAndWholeFolders) {
  put("/a/1.jpg", "1");
  put("/a/sub/2.jpg", "2");
  put("/ab/3.jpg", "3");  // shares a prefix with /a: must not move with it
  auto a = platform_->get_item_by_path(ds_.id, "/a");
  ASSERT_TRUE(a);
  auto moved = platform_->move_item(a->id, "/z/a2", "u");
  ASSERT_TRUE(moved) << moved.status().to_string();
  EXPECT_EQ(moved->filename, "/z/a2");
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/z/a2/1.jpg")), "1");
  auto deep = platform_->get_item_by_path(ds_.id, "/z/a2/sub/2.jpg");
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->dir, "/z/a2/sub");
  EXPECT_EQ(read_all(*deep), "2");
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/a/1.jpg").err(), ENOENT);
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/a").err(), ENOENT);
  EXPECT_TRUE(platform_->get_item_by_path(ds_.id, "/ab/3.jpg"));
  EXPECT_EQ(names_in("/z/a2"), (std::vector<std::string>{"1.jpg", "sub"}));

  // Onto an existing name, into itself, the root, bad paths.
  auto three = platform_->get_item_by_path(ds_.id, "/ab/3.jpg");
  EXPECT_EQ(platform_->move_item(three->id, "/z/a2/1.jpg", "u").err(), EEXIST);
  EXPECT_EQ(platform_->move_item(three->id, "/z", "u").err(), EEXIST);
  EXPECT_EQ(platform_->move_item(moved->id, "/z/a2/sub/x", "u").err(), EINVAL);
  auto root = platform_->get_item_by_path(ds_.id, "/");
  EXPECT_EQ(platform_->move_item(root->id, "/r", "u").err(), EBUSY);
  EXPECT_EQ(platform_->move_item(three->id, "/a/../b", "u").err(), EINVAL);
  EXPECT_EQ(platform_->move_item(three->id, "/ab/3.jpg/x", "u").err(), ENOTDIR);
  // A rename in place.
  auto renamed = platform_->move_item(three->id, "/ab/three.jpg", "u");
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->id, three->id);
  EXPECT_EQ(names_in("/ab"), (std::vector<std::string>{"three.jpg"}));
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 3u);
}

TEST_F(PlatformTest, DeleteFilesAndFolders) {
  put("/d/1", "1");
  put("/d/e/2", "2");
  put("/keep", "k");
  auto one = platform_->get_item_by_path(ds_.id, "/d/1");
  ASSERT_TRUE(platform_->delete_item(one->id));
  EXPECT_EQ(platform_->get_item(one->id).err(), ENOENT);
  EXPECT_EQ(platform_->delete_item(one->id).err(), ENOENT);
  auto d = platform_->get_item_by_path(ds_.id, "/d");
  ASSERT_TRUE(platform_->delete_item(d->id));
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/d/e/2").err(), ENOENT);
  EXPECT_EQ(names_in("/"), (std::vector<std::string>{"keep"}));
  EXPECT_EQ(platform_->delete_item(platform_->get_item_by_path(ds_.id, "/")->id).err(), EBUSY);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 1u);
}

TEST_F(PlatformTest, LinkItemsKeepTheirShebang) {
  std::string link = make_link_json("https://example.com/a.jpg", "image/jpeg").dump();
  auto r = put("/links/a.json", link);
  EXPECT_TRUE(r.item.is_link());
  EXPECT_EQ(r.item.link_url(), "https://example.com/a.jpg");
  EXPECT_EQ(r.item.size(), link.size());  // the JSON's size
  auto plain = put("/links/not-a-link.json", R"({"type":"other"})");
  EXPECT_FALSE(plain.item.is_link());
  // Under its target's name (dlfs link, ln -s in a mount): the JSON's shebang tells.
  auto named = put("/links/cat.jpg", link);
  EXPECT_TRUE(named.item.is_link());
  EXPECT_EQ(named.item.link_url(), "https://example.com/a.jpg");
  EXPECT_FALSE(put("/links/plain.txt", "{\"type\":\"link\"}").item.is_link());
  // Any small JSON file is looked at: fields of other types make it a plain file (they threw,
  // failing the upload of e.g. a config.json with "type": 3).
  int n = 0;
  for (std::string odd : {R"({"type":3})", R"({"type":"link","shebang":["dataloop"]})", R"([1,2])", R"({"type":null})"}) {
    auto r = platform_->upload_bytes(ds_.id, odd, "/links/odd-" + std::to_string(++n) + ".json", {});
    ASSERT_TRUE(r) << odd << ": " << r.status().to_string();
    EXPECT_FALSE(r->item.is_link()) << odd;
    EXPECT_EQ(read_all(r->item), odd);
  }
}

TEST_F(PlatformTest, SurvivesReopenAndCleansUnfinishedUploads) {
  put("/persist.txt", "still here");
  // A temp file left by a process that died mid-upload (pid 2^22+ is never a live process here).
  fs::path stale = dir_ / "store" / "tmp" / "4194999-65f0c0ffee0000000000beef";
  std::ofstream(stale) << "partial";
  reopen();
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/persist.txt")), "still here");
}

TEST_F(PlatformTest, RefusesAStoreOfANewerFormat) {
  platform_.reset();
  {
    auto env = LmdbEnv::open({.dir = (dir_ / "store" / "catalog").string(), .databases = {"meta"}});
    ASSERT_TRUE(env);
    auto txn = LmdbTxn::begin(**env, true);
    ASSERT_TRUE(txn.value().put((*env)->dbi("meta"), "format", "99"));
    ASSERT_TRUE(txn.value().commit());
  }
  auto p = Platform::open(PlatformOptions{(dir_ / "store").string(), &clock_});
  ASSERT_FALSE(p);
  EXPECT_NE(p.status().to_string().find("newer dlfs"), std::string::npos) << p.status().to_string();
}

// A store of format 1 keyed every child by its folder's whole path; opened by this dlfs, its
// folders over 230 bytes are rekeyed by hash, and their items are found where they were.
TEST_F(PlatformTest, AFormat1StoreIsRekeyedWhenOpened) {
  std::string dir = "/" + std::string(240, 'd');
  put(dir + "/f.txt", "long folder");
  put("/short/g.txt", "short folder");
  platform_.reset();
  {  // turn it back into format 1: the hashed key under the folder's whole path again
    auto env = LmdbEnv::open({.dir = (dir_ / "store" / "catalog").string(), .databases = {"meta", "paths"}});
    ASSERT_TRUE(env);
    auto txn = LmdbTxn::begin(**env, true);
    ASSERT_TRUE(txn);
    MDB_dbi paths = (*env)->dbi("paths");
    std::vector<std::pair<std::string, std::string>> hashed;
    ASSERT_TRUE(txn->scan(paths, "", [&](std::string_view key, std::string_view value) {
      if (key.size() > 24 && key[24] == '#') hashed.emplace_back(std::string(key), std::string(value));
      return true;
    }));
    ASSERT_EQ(hashed.size(), 1u);
    auto [key, value] = hashed[0];
    ASSERT_TRUE(txn->del(paths, key));
    ASSERT_TRUE(txn->put(paths, key.substr(0, 24) + dir + std::string(1, '\0') + "f.txt", value));
    ASSERT_TRUE(txn->put((*env)->dbi("meta"), "format", "1"));
    ASSERT_TRUE(txn->commit());
  }
  reopen();
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, dir + "/f.txt")), "long folder");
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/short/g.txt")), "short folder");
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"f.txt"});
}

TEST_F(PlatformTest, ConcurrentUploadsFromManyThreads) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string path = "/shared/t" + std::to_string(t) + "-" + std::to_string(i);
        auto r = platform_->upload_bytes(ds_.id, path, path, {});
        EXPECT_TRUE(r) << r.status().to_string();
        auto page = platform_->list_dir(ds_.id, "/shared", "", 1000);  // readers alongside
        EXPECT_TRUE(page);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(names_in("/shared").size(), 400u);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 400u);
  for (const auto& name : names_in("/shared"))
    EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/shared/" + name)), "/shared/" + name);
}

TEST_F(PlatformTest, TwoProcessesShareOneStore) {
  // A forked child opens the same store and uploads while the parent does too.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto p = Platform::open(PlatformOptions{(dir_ / "store").string()});
    int bad = p ? 0 : 1;
    for (int i = 0; p && i < 100; ++i) {
      std::string path = "/two/child-" + std::to_string(i);
      if (!(*p)->upload_bytes(ds_.id, path, path, {})) ++bad;
    }
    _exit(bad == 0 ? 0 : 1);
  }
  for (int i = 0; i < 100; ++i) put("/two/parent-" + std::to_string(i), "/two/parent-" + std::to_string(i));
  int status = 0;
  for (int waited = 0; waited < 600 && waitpid(child, &status, WNOHANG) == 0; ++waited) usleep(100000);
  ASSERT_TRUE(WIFEXITED(status)) << "the child did not finish in 60 s";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto names = names_in("/two");
  EXPECT_EQ(names.size(), 200u);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 200u);
  for (const auto& name : names)
    EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/two/" + name)), "/two/" + name);
}

TEST_F(PlatformTest, KilledMidUploadLeavesNoItemWithoutItsBytes) {
  platform_.reset();  // the children own the store while they run
  std::string store = (dir_ / "store").string();
  std::string ds = ds_.id;
  for (int round = 0; round < 5; ++round) {
    int started[2];
    ASSERT_EQ(pipe(started), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(started[0]);
      auto p = Platform::open(PlatformOptions{store});
      if (!p) _exit(1);
      std::string bytes(256 * 1024, char('a' + round));
      UploadOptions over;
      over.mode = UploadMode::kOverwrite;
      for (int i = 0;; ++i) {
        (void)(*p)->upload_bytes(ds, bytes, "/crash/r" + std::to_string(round) + "-" + std::to_string(i % 20), over);
        if (i == 0) (void)!write(started[1], "x", 1);  // (one upload done: a loaded machine is slow to get here)
      }
    }
    close(started[1]);
    char c;
    pollfd wait_for{started[0], POLLIN, 0};
    ASSERT_EQ(poll(&wait_for, 1, 30000), 1) << "the child made no upload in 30 s";
    ASSERT_EQ(read(started[0], &c, 1), 1);
    close(started[0]);
    usleep(useconds_t(20000 + round * 37000));  // let it get further, then pull the plug
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
  }
  reopen();
  auto page = platform_->list_dir(ds_.id, "/crash", "", 1000);
  ASSERT_TRUE(page) << page.status().to_string();
  EXPECT_GT(page->items.size(), 0u);
  for (const Item& item : page->items) {
    std::string bytes = read_all(item);
    ASSERT_EQ(bytes.size(), item.size()) << item.filename;
    EXPECT_EQ(bytes, std::string(bytes.size(), bytes[0])) << item.filename << " holds a partial or mixed binary";
  }
  // Reopening removed the dead processes' temp files; nothing partial is published.
  size_t temps = 0;
  for (auto& e : fs::directory_iterator(dir_ / "store" / "tmp")) temps += e.is_regular_file();
  EXPECT_EQ(temps, 0u);
  for (auto& e : fs::recursive_directory_iterator(dir_ / "store" / "blobs")) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(fs::file_size(e.path()), 256u * 1024) << e.path();
  }
}

TEST_F(PlatformTest, TwoOpensInOneProcessShareTheStoreSafely) {
  // A second Platform on the same store in this process (say, two connections) shares one LMDB
  // handle: closing it must leave the first one working, locks included.
  put("/one", "1");
  {
    auto second = Platform::open(PlatformOptions{(dir_ / "store").string(), &clock_});
    ASSERT_TRUE(second) << second.status().to_string();
    EXPECT_EQ(read_all(*(*second)->get_item_by_path(ds_.id, "/one")), "1");
    ASSERT_TRUE((*second)->upload_bytes(ds_.id, "2", "/two", {}));
  }
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/two")), "2");
  // Another process still sees our writes and we see its: the locks are intact.
  put("/three", "3");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto p = Platform::open(PlatformOptions{(dir_ / "store").string()});
    bool good = p && (*p)->get_item_by_path(ds_.id, "/three") && (*p)->upload_bytes(ds_.id, "4", "/four", {});
    _exit(good ? 0 : 1);
  }
  int status = 0;
  for (int waited = 0; waited < 300 && waitpid(child, &status, WNOHANG) == 0; ++waited) usleep(100000);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/four")), "4");
}

TEST_F(PlatformTest, AFailedUploadInACommitGroupUndoesOnlyItself) {
  // Uploads running at once share catalogue commits; one that fails inside the group (a file
  // where its folder should be: ENOTDIR after its bytes were stored) must leave the others in.
  put("/blocker", "a file, not a folder");
  std::atomic<int> good{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        bool bad = (t + i) % 3 == 0;
        std::string path = bad ? "/blocker/x" + std::to_string(t) + "-" + std::to_string(i)
                               : "/group/ok" + std::to_string(t) + "-" + std::to_string(i);
        auto r = platform_->upload_bytes(ds_.id, path, path, {});
        if (bad) {
          EXPECT_EQ(r.err(), ENOTDIR) << path;
          ++refused;
        } else {
          EXPECT_TRUE(r) << path << ": " << r.status().to_string();
          ++good;
        }
      }
    });
  for (auto& th : threads) th.join();
  auto names = names_in("/group");
  EXPECT_EQ(int(names.size()), good.load());
  for (const auto& name : names) EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/group/" + name)), "/group/" + name);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, uint64_t(good.load()) + 1);
  // The refused uploads' binaries were removed: only the stored items' remain.
  size_t blobs = 0;
  for (auto& e : fs::recursive_directory_iterator(dir_ / "store" / "blobs")) blobs += e.is_regular_file();
  EXPECT_EQ(blobs, size_t(good.load()) + 1);
  EXPECT_GT(refused.load(), 0);
}

// A mount keeps modes, owners and times in metadata.system.posix (core/posix_attrs.h): an upload
// may set them (no other system key), a system patch changes them, bad ones are refused, and an
// overwrite keeps the mode and owners (the same file written again) but not the old times.
TEST_F(PlatformTest, PosixAttributesAreTheClientsPartOfSystemMetadata) {
  json posix = {{"mode", 0600}, {"uid", 1234}, {"gid", 5678}, {"mtime", 1577836800123456789LL}};
  auto up = put("/p/f.bin", "bytes", with_meta({{"system", {{"posix", posix}, {"size", 99}}}, {"user", {{"k", 1}}}}));
  EXPECT_EQ(up.item.system()["posix"], posix);
  EXPECT_EQ(up.item.size(), 5u);  // the platform's own keys stay the platform's
  EXPECT_EQ(up.item.user()["k"], 1);
  reopen();
  auto got = platform_->get_item_by_path(ds_.id, "/p/f.bin");
  ASSERT_TRUE(got) << got.status().to_string();
  EXPECT_EQ(got->system()["posix"], posix);

  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", "/p/bad", with_meta({{"system", {{"posix", {{"mode", 070000}}}}}}))
                .err(), EINVAL);
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", "/p/bad", with_meta({{"system", {{"posix", {{"colour", 1}}}}}}))
                .err(), EINVAL);
  EXPECT_EQ(platform_->patch_item(up.item.id, {{"metadata", {{"system", {{"posix", {{"uid", -1}}}}}}}}, true, "dev@local")
                .err(), EINVAL);
  // A symlink's target: 1 to 4,095 bytes of text.
  for (json bad : {json(""), json(std::string(4096, 'x')), json(7), json(std::string("a\0b", 3))})
    EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", "/p/bad", with_meta({{"system", {{"posix", {{"symlink", bad}}}}}}))
                  .err(), EINVAL) << bad.dump();
  auto patched = platform_->patch_item(up.item.id, {{"metadata", {{"system", {{"posix", {{"mode", 0640}}}}}}}}, true,
                                       "dev@local");
  ASSERT_TRUE(patched) << patched.status().to_string();
  EXPECT_EQ(patched->system()["posix"]["mode"], 0640);
  EXPECT_EQ(patched->system()["posix"]["uid"], 1234);

  UploadOptions overwrite;
  overwrite.mode = UploadMode::kOverwrite;
  auto again = put("/p/f.bin", "new bytes", overwrite);
  EXPECT_EQ(again.op, UploadOp::kOverwritten);
  EXPECT_EQ(again.item.system()["posix"], json({{"mode", 0640}, {"uid", 1234}, {"gid", 5678}}));
}

// Paths up to kMaxPathBytes (longer than PATH_MAX) are stored, listed, read, moved and deleted,
// with folders deep enough that their children are keyed by hash (LMDB keys are at most 511
// bytes); one byte more is ENAMETOOLONG up front. (A 600-byte path answered HTTP 500 at every try.)
TEST_F(PlatformTest, LongPathsWorkAndALongerOneIsRefusedUpFront) {
  std::string top = "/top";
  std::string dir = top;
  while (dir.size() + 256 < kMaxPathBytes - 300) dir += "/" + std::string(255, char('a' + dir.size() % 26));
  std::string path = dir + "/" + std::string(255, 'f');
  std::string longest = path + "/" + std::string(kMaxPathBytes - path.size() - 1, 'g');
  ASSERT_EQ(longest.size(), kMaxPathBytes);
  auto up = put(longest, "bytes");
  ASSERT_TRUE(up.item.id.size() > 0);
  put(top + "/short.txt", "short");
  put(dir + "/mid.txt", "mid");
  EXPECT_EQ(names_in(path), std::vector<std::string>{std::string(kMaxPathBytes - path.size() - 1, 'g')});
  EXPECT_EQ(names_in(dir), (std::vector<std::string>{std::string(255, 'f'), "mid.txt"}));
  EXPECT_EQ(read_all(up.item), "bytes");
  EXPECT_EQ(platform_->upload_bytes(ds_.id, "x", longest + "g", {}).err(), ENAMETOOLONG);
  EXPECT_EQ(platform_->make_dir(ds_.id, path + "/" + std::string(kMaxPathBytes - path.size(), 'h'), "dev@local").err(),
            ENAMETOOLONG);
  // A reopened store finds them; a move of the top folder takes every one along, a delete removes them all.
  reopen();
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, longest)), "bytes");
  std::string top_id = platform_->get_item_by_path(ds_.id, top)->id;
  // (one byte longer, the deepest path would pass the bound: refused, nothing moved)
  EXPECT_EQ(platform_->move_item(top_id, "/top2", "u").err(), ENAMETOOLONG);
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, longest)), "bytes");
  auto moved = platform_->move_item(top_id, "/tip", "u");
  ASSERT_TRUE(moved) << moved.status().to_string();
  std::string moved_longest = "/tip" + longest.substr(top.size());
  ASSERT_TRUE(platform_->get_item_by_path(ds_.id, moved_longest)) << "not moved";
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, moved_longest)), "bytes");
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/tip" + dir.substr(top.size()) + "/mid.txt")), "mid");
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, longest).err(), ENOENT);
  EXPECT_EQ(names_in("/tip" + path.substr(top.size())).size(), 1u);
  ASSERT_TRUE(platform_->delete_item(moved->id));
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, moved_longest).err(), ENOENT);
  EXPECT_EQ(platform_->get_item(up.item.id).err(), ENOENT);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 0u);
}

// dlfsd's upload temp file is moved into the storage rather than copied (no second copy, and no
// file made and deleted per upload); a skipped upload leaves it to its owner; one on another
// filesystem is copied.
TEST_F(PlatformTest, AnOwnedFileIsMovedInAndOneSkippedOrElsewhereIsLeftInPlace) {
  fs::create_directories(dir_ / "store" / "tmp");
  std::string owned = (dir_ / "store" / "tmp" / "owned").string();
  { std::ofstream(owned) << "moved bytes"; }
  auto r = platform_->upload_owned_file(ds_.id, owned, "/o/a.txt", {});
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_FALSE(fs::exists(owned));
  EXPECT_EQ(read_all(r->item), "moved bytes");
  EXPECT_EQ(r->item.size(), 11u);
  reopen();  // (and it is the store's now: a reopen's sweep keeps it)
  EXPECT_EQ(read_all(*platform_->get_item_by_path(ds_.id, "/o/a.txt")), "moved bytes");

  { std::ofstream(owned) << "skipped"; }
  auto skipped = platform_->upload_owned_file(ds_.id, owned, "/o/a.txt", {});
  ASSERT_TRUE(skipped);
  EXPECT_EQ(skipped->op, UploadOp::kSkipped);
  EXPECT_TRUE(fs::exists(owned));
  EXPECT_EQ(read_all(skipped->item), "moved bytes");

  // On another filesystem (tmpfs), a rename cannot move it: copied, the original left.
  if (fs::exists("/dev/shm")) {
    std::string shm = "/dev/shm/dlfs-owned-" + std::to_string(getpid());
    { std::ofstream(shm) << "copied bytes"; }
    auto copied = platform_->upload_owned_file(ds_.id, shm, "/o/b.txt", {});
    ASSERT_TRUE(copied) << copied.status().to_string();
    EXPECT_EQ(read_all(copied->item), "copied bytes");
    EXPECT_TRUE(fs::exists(shm));
    fs::remove(shm);
  }
  EXPECT_EQ(platform_->upload_owned_file(ds_.id, owned + ".missing", "/o/c.txt", {}).err(), ENOENT);
}
