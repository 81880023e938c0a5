// The embedded platform's operations, each with its bad inputs.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "core/lmdb.h"
#include "platform/dql.h"
#include "platform/platform.h"
#include "support/read_item.h"

using namespace dlfs;
namespace fs = std::filesystem;

namespace {

UploadOptions with_meta(json metadata) {
  UploadOptions options;
  options.metadata = std::move(metadata);
  return options;
}

class PlatformTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dlfs-platform-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    reopen();
    auto ds = platform_->create_dataset("cars", "dev@local");
    ASSERT_TRUE(ds) << ds.status().to_string();
    ds_ = *ds;
  }
  void TearDown() override {
    platform_.reset();
    fs::remove_all(dir_);
  }
  void reopen() {
    platform_.reset();
    auto p = Platform::open(PlatformOptions{(dir_ / "store").string(), &clock_});
    ASSERT_TRUE(p) << p.status().to_string();
    platform_ = std::move(*p);
  }
  UploadResult put(const std::string& path, const std::string& bytes, UploadOptions options = {}) {
    auto r = platform_->upload_bytes(ds_.id, bytes, path, options);
    EXPECT_TRUE(r) << path << ": " << r.status().to_string();
    return r ? *r : UploadResult{};
  }
  std::string read_all(const Item& item) { return test::read_item(*platform_, item); }
  std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> names;
    std::string after;
    do {
      auto page = platform_->list_dir(ds_.id, dir, after, 7);
      EXPECT_TRUE(page) << page.status().to_string();
      if (!page) break;
      for (auto& item : page->items) names.push_back(item.name);
      after = page->next_after;
    } while (!after.empty());
    std::sort(names.begin(), names.end());
    return names;
  }
  std::string write_file(const std::string& name, const std::string& bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  FakeClock clock_;
  fs::path dir_;
  std::unique_ptr<Platform> platform_;
  Dataset ds_;
};

}  // namespace

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
  while (deep.size() <= 4096) deep += "/" + std::string(100, 'p');
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

TEST_F(PlatformTest, PagingAcross2500Items) {
  std::set<std::string> expected;
  for (int i = 0; i < 2500; ++i) {
    std::string name = "img" + std::to_string(i) + ".jpg";
    put("/big/" + name, std::to_string(i));
    expected.insert(name);
  }
  put("/big/sub/inner.jpg", "deeper: not a child of /big");
  std::vector<std::string> ids;
  std::set<std::string> seen;
  std::string after;
  int pages = 0;
  do {
    auto page = platform_->list_dir(ds_.id, "/big", after, 1000);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->total, 2501u);  // exact on every page (the sub folder included)
    for (auto& item : page->items) {
      ids.push_back(item.id);
      if (item.is_file()) seen.insert(item.name);
    }
    after = page->next_after;
    ++pages;
  } while (!after.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, expected);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());

  // The same through DQL keyset paging, as clients of the API page.
  std::set<std::string> via_query;
  std::string last;
  for (int guard = 0; guard < 10; ++guard) {
    json filter = {{"$and", json::array({{{"dir", "/big"}}, {{"type", "file"}}})}};
    if (!last.empty()) filter["$and"].push_back({{"id", {{"$gt", last}}}});
    auto out = platform_->query(ds_.id, {{"filter", filter}, {"page", 0}, {"pageSize", 1000}, {"sort", {{"id", "ascending"}}}});
    ASSERT_TRUE(out) << out.status().to_string();
    for (auto& item : out->page.items) via_query.insert(item.name);
    if (!out->page.has_next()) break;
    last = out->page.items.back().id;
  }
  EXPECT_EQ(via_query, expected);
  auto total = platform_->query(ds_.id, {{"filter", {{"dir", "/big"}}}, {"pageSize", 10}});
  ASSERT_TRUE(total);
  EXPECT_EQ(total->page.total, 2501u);
  EXPECT_EQ(total->page.items.size(), 10u);
  EXPECT_EQ(platform_->list_dir(ds_.id, "/big", "", 0).err(), EINVAL);
}

// A folder listing (a "dir", maybe "hidden" and an id cursor, in id order) is answered from the
// path index alone; it must answer exactly what the general path answers. An always-true extra
// condition sends the same query down the general path.
TEST_F(PlatformTest, FolderListingQueriesAnswerWhatTheGeneralPathAnswers) {
  for (int i = 0; i < 12; ++i) put("/f" + std::to_string(i) + ".jpg", "x");
  for (int i = 0; i < 4; ++i) put("/d" + std::to_string(i) + "/inner.jpg", "nested: not a child of /");
  put("/d0/deeper/e.jpg", "e");
  put("/.dataloop/thumbnails/t.jpg", "hidden, as is its folder");
  put("/.dataloop/u.jpg", "hidden");
  auto ask = [&](json conditions, int64_t page, int64_t page_size, bool general) {
    if (general) conditions.push_back({{"type", {{"$exists", true}}}});
    json body = {{"filter", {{"$and", conditions}}}, {"sort", {{"id", "ascending"}}},
                 {"page", page}, {"pageSize", page_size}};
    EXPECT_EQ(DqlQuery::parse(body)->listing().has_value(), !general) << body.dump();
    auto out = platform_->query(ds_.id, body);
    EXPECT_TRUE(out) << body.dump() << ": " << out.status().to_string();
    std::vector<std::string> ids;
    if (!out) return std::tuple(ids, uint64_t(0), std::string());
    for (auto& item : out->page.items) ids.push_back(item.id);
    return std::tuple(ids, out->page.total, out->page.next_after);
  };

  auto root = platform_->list_dir(ds_.id, "/", "", 100, /*include_hidden=*/true);
  ASSERT_TRUE(root);
  ASSERT_EQ(root->items.size(), 17u);  // 12 files, 4 folders, /.dataloop
  std::vector<std::string> cursors = {"", root->items[0].id, root->items[8].id, root->items.back().id,
                                      platform_->get_item_by_path(ds_.id, "/d1/inner.jpg")->id};
  const std::pair<int64_t, int64_t> pages[] = {{0, 1000}, {0, 3}, {1, 3}, {5, 3}};  // (page, pageSize)
  for (std::string dir : {"/", "/d0", "/.dataloop", "/f0.jpg", "/nope", "", "/d0/"}) {
    for (const auto& after : cursors) {
      for (json hidden : {json(), json(false), json(true)}) {
        json conditions = {{{"dir", dir}}};
        if (!hidden.is_null()) conditions.push_back({{"hidden", hidden}});
        if (!after.empty()) conditions.push_back({{"id", {{"$gt", after}}}});
        for (auto [page, size] : pages)
          EXPECT_EQ(ask(conditions, page, size, false), ask(conditions, page, size, true))
              << conditions.dump() << " page " << page << " of " << size;
      }
    }
  }

  // Paging through "/" as a mount does: every visible child once, in id order, nothing nested.
  std::vector<std::string> seen, expected;
  for (auto& item : root->items)
    if (!item.hidden) expected.push_back(item.id);
  std::string after;
  do {
    json conditions = {{{"dir", "/"}}, {{"hidden", false}}};
    if (!after.empty()) conditions.push_back({{"id", {{"$gt", after}}}});
    auto [ids, total, next] = ask(conditions, 0, 5, false);
    EXPECT_EQ(total, expected.size() - seen.size());  // counted from the cursor on
    seen.insert(seen.end(), ids.begin(), ids.end());
    after = next;
  } while (!after.empty() && seen.size() < 100);
  EXPECT_EQ(seen, expected);
}

TEST_F(PlatformTest, QueryFiltersWildcardsBulkUpdateAndDelete) {
  put("/cars/a.jpg", "a", with_meta({{"user", {{"camera", "cam-7"}}}}));
  put("/cars/b.png", "b", with_meta({{"user", {{"camera", "cam-8"}}}}));
  put("/cars/deep/c.jpg", "c");
  put("/people/d.jpg", "d");
  auto names = [&](const json& filter) {
    auto out = platform_->query(ds_.id, {{"filter", filter}});
    EXPECT_TRUE(out) << out.status().to_string();
    std::vector<std::string> n;
    if (out)
      for (auto& i : out->page.items) n.push_back(i.filename);
    std::sort(n.begin(), n.end());
    return n;
  };
  EXPECT_EQ(names({{"metadata.user.camera", "cam-7"}}), (std::vector<std::string>{"/cars/a.jpg"}));
  EXPECT_EQ(names({{"metadata", {{"user", {{"camera", "cam-8"}}}}}}), (std::vector<std::string>{"/cars/b.png"}));
  EXPECT_EQ(names({{"$and", {{{"filename", "/cars/*"}}, {{"type", "file"}}}}}),
            (std::vector<std::string>{"/cars/a.jpg", "/cars/b.png", "/cars/deep/c.jpg"}));
  EXPECT_EQ(names({{"metadata.system.mimetype", "image/*"}, {"dir", "/cars"}}),
            (std::vector<std::string>{"/cars/a.jpg", "/cars/b.png"}));
  EXPECT_EQ(names({{"filename", "/people/d.jpg"}}), (std::vector<std::string>{"/people/d.jpg"}));
  EXPECT_EQ(names({{"$or", {{{"name", "a.jpg"}}, {{"name", "d.jpg"}}}}}),
            (std::vector<std::string>{"/cars/a.jpg", "/people/d.jpg"}));

  // Malformed DQL is a clear EINVAL.
  EXPECT_EQ(platform_->query(ds_.id, {{"filter", {{"name", {{"$near", 1}}}}}}).err(), EINVAL);
  EXPECT_EQ(platform_->query(ds_.id, {{"filter", {{"$and", "x"}}}}).err(), EINVAL);
  EXPECT_EQ(platform_->query(ds_.id, {{"pageSize", 5000}}).err(), EINVAL);
  EXPECT_EQ(platform_->query(ds_.id, {{"resource", "datasets"}}).err(), EINVAL);

  // Bulk update of every match.
  auto upd = platform_->query(ds_.id, {{"filter", {{"dir", "/cars"}, {"type", "file"}}},
                                       {"update", {{"metadata", {{"user", {{"checked", true}}}}}}}});
  ASSERT_TRUE(upd) << upd.status().to_string();
  EXPECT_EQ(upd->affected, 2u);
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/cars/a.jpg")->user(), (json{{"camera", "cam-7"}, {"checked", true}}));
  EXPECT_FALSE(platform_->get_item_by_path(ds_.id, "/people/d.jpg")->user().contains("checked"));
  // A bulk update may not touch metadata.system.
  EXPECT_EQ(platform_->query(ds_.id, {{"update", {{"metadata", {{"system", {{"size", 1}}}}}}}}).err(), EPERM);

  // Bulk delete of every match (a folder goes with its contents; the root stays).
  auto del = platform_->query(ds_.id, {{"filter", {{"filename", "/cars*"}}}, {"delete", true}});
  ASSERT_TRUE(del) << del.status().to_string();
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/cars").err(), ENOENT);
  EXPECT_EQ(platform_->get_item_by_path(ds_.id, "/cars/deep/c.jpg").err(), ENOENT);
  EXPECT_EQ(names_in("/"), (std::vector<std::string>{"people"}));
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 1u);
  ASSERT_TRUE(platform_->query(ds_.id, {{"delete", true}}));
  EXPECT_TRUE(platform_->get_item_by_path(ds_.id, "/")->is_dir());
  EXPECT_TRUE(names_in("/").empty());
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

TEST_F(PlatformTest, HiddenItemsAreNotListed) {
  put("/.dataloop/thumbnails/t.jpg", "thumb");
  put("/visible.jpg", "v");
  EXPECT_EQ(names_in("/"), (std::vector<std::string>{"visible.jpg"}));
  auto hidden = platform_->get_item_by_path(ds_.id, "/.dataloop/thumbnails/t.jpg");
  ASSERT_TRUE(hidden);
  EXPECT_TRUE(hidden->hidden);
  auto with_hidden = platform_->list_dir(ds_.id, "/", "", 100, true);
  EXPECT_EQ(with_hidden->items.size(), 2u);
  EXPECT_EQ(platform_->get_dataset(ds_.id)->items_count, 1u);
  // A thumbnail is found through metadata.system.thumbnailId.
  auto v = platform_->get_item_by_path(ds_.id, "/visible.jpg");
  EXPECT_EQ(platform_->thumbnail(*v).err(), ENOENT);
  auto patched = platform_->patch_item(v->id, {{"metadata", {{"system", {{"thumbnailId", hidden->id}}}}}}, true, "u");
  EXPECT_EQ(*platform_->thumbnail(*patched), "thumb");
}

TEST_F(PlatformTest, LinkItemsKeepTheirShebang) {
  std::string link = make_link_json("https://example.com/a.jpg", "image/jpeg").dump();
  auto r = put("/links/a.json", link);
  EXPECT_TRUE(r.item.is_link());
  EXPECT_EQ(r.item.link_url(), "https://example.com/a.jpg");
  EXPECT_EQ(r.item.size(), link.size());  // the JSON's size
  auto plain = put("/links/not-a-link.json", R"({"type":"other"})");
  EXPECT_FALSE(plain.item.is_link());
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
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto p = Platform::open(PlatformOptions{store});
      if (!p) _exit(1);
      std::string bytes(256 * 1024, char('a' + round));
      UploadOptions over;
      over.mode = UploadMode::kOverwrite;
      for (int i = 0;; ++i) (void)(*p)->upload_bytes(ds, bytes, "/crash/r" + std::to_string(round) + "-" + std::to_string(i % 20), over);
    }
    usleep(useconds_t(50000 + round * 37000));  // let it get somewhere, then pull the plug
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
