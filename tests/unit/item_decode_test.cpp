// The decoders that read an item field by field, never building its document (core/json_fields.h):
// item_from_bytes (a catalogue record in MessagePack, an item's JSON text) and unpack_item (a
// packed item), against the tree decoder item_from_json and pack_item: the same Item, or the same
// error, for random items, random damage to their fields, and bytes that do not parse.
#include <gtest/gtest.h>

#include <random>

#include "core/item.h"
#include "core/item_pack.h"
#include "core/json_fields.h"
#include "support/random_items.h"

using namespace dlfs;
using dlfs::test::random_item;
using dlfs::test::random_json_value;

namespace {

std::string msgpack_of(const json& doc) {
  std::string out;
  json::to_msgpack(doc, out);
  return out;
}

// An item's API JSON with fields no decoder reads, containers among them (skipped whole).
json api_doc(const Item& item, bool urls) {
  json doc = item_to_json(item, urls ? "http://127.0.0.1:1/api/v1" : "");
  doc["annotationsList"] = json::array({json::object({{"id", "nope"}, {"metadata", {{"system", 1}}}})});
  doc["zz"] = json::object({{"filename", "/not/this"}});
  return doc;
}

}  // namespace

TEST(ItemDecode, BytesDecodeAsTheTreeDoes) {
  std::mt19937 rng(7);
  for (int i = 0; i < 400; ++i) {
    Item item = random_item(rng, i);
    json doc = api_doc(item, i % 2);
    auto tree = item_from_json(doc);
    ASSERT_TRUE(tree) << tree.status().to_string();
    EXPECT_EQ(*tree, item);
    for (JsonFormat format : {JsonFormat::kText, JsonFormat::kMsgpack}) {
      auto read = item_from_bytes(format == JsonFormat::kText ? doc.dump() : msgpack_of(doc), format);
      ASSERT_TRUE(read) << read.status().to_string();
      EXPECT_EQ(*read, item) << "item " << i << "\n" << item_to_json(*read).dump() << "\n" << doc.dump();
    }
  }
}

TEST(ItemDecode, DamagedFieldsFailOrPassAsTheTreeDoes) {
  std::mt19937 rng(11);
  const char* keys[] = {"id", "datasetId", "filename", "dir", "name", "type", "hidden", "createdAt",
                        "updatedAt", "creator", "updatedBy", "description", "metadata"};
  int failed = 0;
  for (int i = 0; i < 2000; ++i) {
    json doc = api_doc(random_item(rng, i), false);
    for (int damage = 1 + int(rng() % 3); damage > 0; --damage) {
      const char* key = keys[rng() % std::size(keys)];
      switch (rng() % 4) {
        case 0: doc.erase(key); break;
        case 1: doc[key] = nullptr; break;
        case 2: doc[key] = rng() % 2 ? json("2024-01-01T00:00:00.000Z") : json("dir"); break;
        default: doc[key] = random_json_value(rng, 1);
      }
    }
    auto tree = item_from_json(doc);
    auto read = item_from_bytes(msgpack_of(doc), JsonFormat::kMsgpack);
    ASSERT_EQ(read.err(), tree.err()) << doc.dump() << "\n" << tree.status().to_string() << "\n"
                                      << read.status().to_string();
    if (tree) EXPECT_EQ(*read, *tree) << doc.dump();
    else ++failed;
  }
  EXPECT_GT(failed, 100);  // (the damage reached the required and typed fields)
}

TEST(ItemDecode, BytesThatAreNotAnItem) {
  EXPECT_EQ(item_from_bytes("", JsonFormat::kText).err(), EIO);
  EXPECT_EQ(item_from_bytes("{\"id\": \"a\", \"filename\": ", JsonFormat::kText).err(), EIO);
  EXPECT_EQ(item_from_bytes("{\"id\": \"a\", \"filename\": \"/a\"} x", JsonFormat::kText).err(), EIO);
  EXPECT_EQ(item_from_bytes("[1, 2]", JsonFormat::kText).err(), EINVAL);  // (item_from_json: not an object)
  EXPECT_EQ(item_from_bytes("\"a\"", JsonFormat::kText).err(), EINVAL);
  std::mt19937 rng(3);
  std::string record = msgpack_of(api_doc(random_item(rng, 1), false));
  ASSERT_TRUE(item_from_bytes(record, JsonFormat::kMsgpack));
  for (size_t cut : {size_t(1), size_t(9), record.size() / 2, record.size() - 1})
    EXPECT_EQ(item_from_bytes(record.substr(0, cut), JsonFormat::kMsgpack).err(), EIO) << "cut at " << cut;
  EXPECT_EQ(item_from_bytes(record + "\x01", JsonFormat::kMsgpack).err(), EIO);
}

TEST(ItemPack, RandomItemsUnpackToThemselves) {
  std::mt19937 rng(5);
  for (int i = 0; i < 400; ++i) {
    Item item = random_item(rng, i);
    if (i % 9 == 0) item.name = "not-the-filename's-" + std::to_string(i);  // (kept apart, see pack_item)
    std::string packed = pack_item(item);
    auto back = unpack_item(packed);
    ASSERT_TRUE(back) << back.status().to_string();
    EXPECT_EQ(*back, item) << "item " << i;
    EXPECT_EQ(packed_item_keeps_name(packed), i % 9 == 0) << item.name;
  }
}

TEST(ItemPack, DamagedPackedItemsAreEio) {
  std::mt19937 rng(6);
  std::string packed = pack_item(random_item(rng, 3));
  size_t rest = packed.find('\0', packed.find('\0') + 1) + 1;
  auto with_rest = [&](const json& fields) { return packed.substr(0, rest) + msgpack_of(fields); };
  json fields = json::from_msgpack(packed.substr(rest));
  ASSERT_TRUE(unpack_item(with_rest(fields)));
  json ten = fields;
  ten.push_back("/d");
  json twelve = ten;
  twelve.push_back("n");
  twelve.push_back("extra");
  json wrong = fields;
  wrong[1] = "dir";  // (a folder is a boolean)
  for (const json& bad : {ten, twelve, wrong, json::object({{"a", 1}}), json::array()})
    EXPECT_EQ(unpack_item(with_rest(bad)).err(), EIO) << bad.dump();
  EXPECT_EQ(unpack_item(packed.substr(0, packed.size() - 2)).err(), EIO);
  EXPECT_EQ(unpack_item(packed.substr(0, rest - 1)).err(), EIO);
}

TEST(JsonFields, WalksTheTopLevelOnly) {
  json doc = json::parse(R"({"a": 1, "b": {"c": [1, {"d": [2, []]}], "e": {}}, "f": "x", "g": [null, true, 1.5]})");
  for (JsonFormat format : {JsonFormat::kText, JsonFormat::kMsgpack}) {
    std::string bytes = format == JsonFormat::kText ? doc.dump() : msgpack_of(doc);
    json seen = json::object();
    std::vector<size_t> indices;
    Status walked = for_each_field(bytes, format, false, [&](std::string_view key, size_t index, json& value) {
      seen[std::string(key)] = std::move(value);
      indices.push_back(index);
      return Status();
    });
    ASSERT_TRUE(walked) << walked.to_string();
    EXPECT_EQ(seen, doc);
    EXPECT_EQ(indices, (std::vector<size_t>{0, 1, 2, 3}));
    // The first error a field answers ends the walk, and is the answer.
    int calls = 0;
    Status stopped = for_each_field(bytes, format, false, [&](std::string_view key, size_t, json&) {
      ++calls;
      return key == "b" ? Status(ENOSPC, "stop at b") : Status();
    });
    EXPECT_EQ(stopped.err(), ENOSPC);
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(for_each_field(bytes, format, true, [](std::string_view, size_t, json&) { return Status(); }).err(),
              EINVAL);  // (not an array)
  }
  json array = doc["g"];
  json seen = json::array();
  auto element = [&](std::string_view key, size_t i, json& v) {
    EXPECT_TRUE(key.empty());
    EXPECT_EQ(i, seen.size());
    seen.push_back(v);
    return Status();
  };
  ASSERT_TRUE(for_each_field(msgpack_of(array), JsonFormat::kMsgpack, true, element));
  EXPECT_EQ(seen, array);
}
