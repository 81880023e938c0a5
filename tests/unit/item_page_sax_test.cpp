// The SAX decoder of query pages (remote/item_page_sax.h) against the tree decoder it replaced
// (item_from_json of each item of the parsed page): the same Items for random items (metadata
// trees of every JSON kind, escapes, unicode, fields it must skip whole, the API's URLs), and
// EIO with a reason for each malformed page.
#include <gtest/gtest.h>

#include <random>

#include "core/item.h"
#include "remote/item_page_sax.h"
#include "support/random_items.h"

using namespace dlfs;
using dlfs::test::random_item;

namespace {

// The page as dlfsd sends it, with fields the decoder must skip before and after the items.
std::string page_text(const std::vector<Item>& items, bool next, uint64_t total) {
  json page = {{"totalItemsCount", total},
               {"skipped", {{"items", json::array({1, 2})}, {"id", "not an item"}}},
               {"items", json::array()},
               {"hasNextPage", next},
               {"after", json::array({json::object({{"id", "x"}})})}};
  for (const Item& item : items) {
    json doc = item_to_json(item, "http://127.0.0.1:1/api/v1");
    doc["annotationsList"] = json::array({json::object({{"id", "nope"}, {"filename", "/nope"}})});
    page["items"].push_back(std::move(doc));
  }
  return page.dump();
}

}  // namespace

TEST(ItemPageSax, DecodesWhatTheTreeDecoderDid) {
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    std::vector<Item> items;
    for (int i = 0; i < int(rng() % 40); ++i) items.push_back(random_item(rng, round * 100 + i));
    bool next = rng() % 2;
    std::string text = page_text(items, next, 1234 + round);
    auto page = parse_item_page(text);
    ASSERT_TRUE(page) << page.status().to_string();
    // The same document in MessagePack (what dlfsd answers a mount): the same page.
    std::string packed;
    json::to_msgpack(json::parse(text), packed);
    auto unpacked = parse_item_page(packed, PageFormat::kMsgpack);
    ASSERT_TRUE(unpacked) << unpacked.status().to_string();
    EXPECT_EQ(unpacked->items, page->items) << "round " << round;
    EXPECT_EQ(unpacked->total, page->total);
    EXPECT_EQ(unpacked->next_after, page->next_after);
    EXPECT_EQ(page->total, uint64_t(1234 + round));
    EXPECT_EQ(page->next_after, next && !items.empty() ? items.back().id : "");
    ASSERT_EQ(page->items.size(), items.size());
    json tree = json::parse(text);
    for (size_t i = 0; i < items.size(); ++i) {
      auto want = item_from_json(tree["items"][i]);
      ASSERT_TRUE(want);
      EXPECT_EQ(page->items[i], *want) << "round " << round << " item " << i << "\n"
                                       << item_to_json(page->items[i]).dump() << "\n" << item_to_json(*want).dump();
      EXPECT_EQ(page->items[i], items[i]);
    }
  }
}

TEST(ItemPageSax, AnItemWithoutMetadataGetsAnEmptySystem) {
  auto page = parse_item_page(R"({"items": [{"id": "a", "filename": "/a", "metadata": null}, {"id": "b", "filename": "/b"}]})");
  ASSERT_TRUE(page) << page.status().to_string();
  ASSERT_EQ(page->items.size(), 2u);
  for (const Item& item : page->items) EXPECT_EQ(item.metadata, (json{{"system", json::object()}}));
  EXPECT_TRUE(page->next_after.empty());
}

TEST(ItemPageSax, MalformedPagesAreEioSayingWhy) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"", "not JSON"},
      {"{\"items\": [", "not JSON"},
      {"[]", "not an object"},
      {"{\"total\": 1}", "no \"items\" array"},
      {"{\"items\": {}}", "\"items\" is not an array"},
      {"{\"items\": [[1]]}", "not an object"},
      {"{\"items\": [{\"filename\": \"/a\"}]}", "missing field 'id'"},
      {"{\"items\": [{\"id\": \"a\"}]}", "missing field 'filename'"},
      {"{\"items\": [{\"id\": \"a\", \"filename\": \"/a\", \"type\": \"blob\"}]}", "blob"},
      {"{\"items\": [{\"id\": \"a\", \"filename\": \"/a\", \"updatedAt\": \"yesterday\"}]}", "updatedAt"},
  };
  for (const Case& c : cases) {
    auto page = parse_item_page(c.text);
    ASSERT_FALSE(page) << c.text;
    EXPECT_EQ(page.err(), EIO) << c.text;
    EXPECT_NE(page.status().to_string().find(c.says), std::string::npos) << c.text << ": " << page.status().to_string();
    // The same in MessagePack, where the text is JSON at all.
    auto doc = json::parse(c.text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) continue;
    std::string packed;
    json::to_msgpack(doc, packed);
    auto unpacked = parse_item_page(packed, PageFormat::kMsgpack);
    EXPECT_EQ(unpacked.err(), EIO) << c.text;
    EXPECT_NE(unpacked.status().to_string().find(c.says), std::string::npos) << c.text << ": " << unpacked.status().to_string();
  }
  std::string packed;
  json::to_msgpack(json{{"items", json::array({json{{"id", "a"}, {"filename", "/a"}}})}}, packed);
  packed.resize(packed.size() - 3);
  EXPECT_EQ(parse_item_page(packed, PageFormat::kMsgpack).err(), EIO) << "a page cut short";
}
