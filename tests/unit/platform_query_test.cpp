// The embedded platform's queries: folder listings (the path-index fast path against the general
// one), paging over thousands, DQL filters and wildcards, bulk update and delete, hidden items.
#include <gtest/gtest.h>

#include <algorithm>

#include "platform/dql.h"
#include "platform/platform.h"
#include "platform_fixture.h"

using namespace dlfs;
using namespace dlfs::test;
namespace fs = std::filesystem;

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

// Paging a folder sorts its ids once per catalogue state, not once per page (100 pages of a
// folder of 100,000 entries sorted it 100 times), and a change between two pages is seen by the
// next one, whichever way the pages are asked for.
TEST_F(PlatformTest, PagesOfAFolderSortItsIdsOnceAndSeeChangesBetweenPages) {
  for (int i = 0; i < 300; ++i) put("/many/f" + std::to_string(i), "x");
  uint64_t sorts = platform_->folder_id_sorts();
  auto page_after = [&](const std::string& after, bool via_query) -> ItemPage {
    if (!via_query) {
      auto page = platform_->list_dir(ds_.id, "/many", after, 50);
      EXPECT_TRUE(page) << page.status().to_string();
      return page ? *page : ItemPage{};
    }
    json conditions = {{{"dir", "/many"}}, {{"hidden", false}}};
    if (!after.empty()) conditions.push_back({{"id", {{"$gt", after}}}});
    auto out = platform_->query(ds_.id, {{"filter", {{"$and", conditions}}}, {"sort", {{"id", "ascending"}}},
                                         {"page", 0}, {"pageSize", 50}});
    EXPECT_TRUE(out) << out.status().to_string();
    return out ? out->page : ItemPage{};
  };
  for (bool via_query : {false, true}) {
    SCOPED_TRACE(via_query ? "query" : "list_dir");
    std::vector<std::string> seen;
    std::string after;
    do {
      auto page = page_after(after, via_query);
      for (auto& item : page.items) seen.push_back(item.id);
      after = page.next_after;
    } while (!after.empty() && seen.size() < 1000);
    EXPECT_EQ(seen.size(), 300u);
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
    EXPECT_LE(platform_->folder_id_sorts(), sorts + 1);  // 6 pages, one sort (or none: kept from before)
    sorts = platform_->folder_id_sorts();

    // Between two pages: one item not reached yet is deleted, one is added (ids grow with time:
    // after the cursor).
    auto first = page_after("", via_query);
    ASSERT_EQ(first.items.size(), 50u);
    std::string gone = page_after(first.next_after, via_query).items.at(10).id;
    ASSERT_TRUE(platform_->delete_item(gone));
    auto added = put("/many/new-" + std::string(via_query ? "q" : "l"), "y");
    std::set<std::string> rest;
    after = first.next_after;
    do {
      auto page = page_after(after, via_query);
      for (auto& item : page.items) rest.insert(item.id);
      after = page.next_after;
    } while (!after.empty() && rest.size() < 1000);
    EXPECT_EQ(rest.count(gone), 0u);
    EXPECT_EQ(rest.count(added.item.id), 1u);
    EXPECT_EQ(rest.size(), 250u);  // 300 - 50 seen - 1 gone + 1 added
    sorts = platform_->folder_id_sorts();
  }
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

// What a mount asks after its uploads' preprocessing: {"id": {"$in": [...]}} answers exactly
// those items of this dataset (each looked up by id: an item of another dataset, a missing id
// and duplicates are not answers), with the other conditions still applied.
TEST_F(PlatformTest, QueryByIdsAnswersThoseItemsOfTheDataset) {
  auto a = put("/x/a.jpg", "a");
  auto b = put("/x/b.jpg", "b");
  put("/x/c.jpg", "c");
  auto other = platform_->create_dataset("other", "dev@local");
  ASSERT_TRUE(other);
  auto theirs = platform_->upload_bytes(other->id, "t", "/t.jpg", {});
  ASSERT_TRUE(theirs);
  json ids = {b.item.id, a.item.id, theirs->item.id, "65f1c0ffee0000000000dead", a.item.id};
  auto out = platform_->query(ds_.id, {{"filter", {{"$and", {{{"id", {{"$in", ids}}}}}}}}});
  ASSERT_TRUE(out) << out.status().to_string();
  ASSERT_EQ(out->page.items.size(), 2u);
  EXPECT_EQ(out->page.items[0].id, std::min(a.item.id, b.item.id));
  EXPECT_EQ(out->page.total, 2u);
  auto named = platform_->query(ds_.id, {{"filter", {{"id", {{"$in", ids}}}, {"name", "b.jpg"}}}});
  ASSERT_TRUE(named) << named.status().to_string();
  ASSERT_EQ(named->page.items.size(), 1u);
  EXPECT_EQ(named->page.items[0].filename, "/x/b.jpg");
  EXPECT_EQ(platform_->query(ds_.id, {{"filter", {{"id", {{"$in", "x"}}}}}}).err(), EINVAL);
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

