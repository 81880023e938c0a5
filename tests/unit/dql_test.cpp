#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "core/item.h"
#include "platform/dql.h"

using namespace dlfs;

namespace {

DqlQuery query(const json& body, std::string_view resource = "items") {
  auto r = DqlQuery::parse(body, resource);
  EXPECT_TRUE(r.is_ok()) << body.dump() << ": " << r.status().to_string();
  if (!r) return *DqlQuery::parse(json::object());
  return *r;
}

DqlQuery filter(const json& f) { return query({{"filter", f}}); }

bool match(const json& f, const json& doc) { return filter(f).matches(doc); }

// EINVAL, and the message names the problem.
void expect_invalid(const json& body, const std::string& needle, std::string_view resource = "items") {
  auto r = DqlQuery::parse(body, resource);
  ASSERT_FALSE(r.is_ok()) << body.dump();
  EXPECT_EQ(r.err(), EINVAL) << body.dump();
  EXPECT_NE(r.status().message().find(needle), std::string::npos)
      << body.dump() << " -> " << r.status().message() << " (wanted '" << needle << "')";
}

void expect_invalid_filter(const json& f, const std::string& needle) { expect_invalid({{"filter", f}}, needle); }

const json kDoc = json::parse(R"({
  "id":"65f1c0ffee0000000000a001","datasetId":"65f0c0ffee0000000000abcd",
  "filename":"/cars/sub/a.jpg","dir":"/cars/sub","name":"a.jpg","type":"file","hidden":false,
  "createdAt":"2024-01-02T00:00:00.000Z","description":null,"annotationsCount":3,
  "metadata":{"system":{"size":48213,"mimetype":"image/jpeg","width":640.0,"exif":{"Orientation":1}},
              "user":{"camera":"cam-7","tags":["red","blue"],"score":0.5,"flags":[1,2,3]}}})");

}  // namespace

TEST(DqlParse, DefaultsAndEmptyFilterMatchEverything) {
  auto q = query(json::object());
  EXPECT_EQ(q.page(), 0);
  EXPECT_EQ(q.page_size(), 1000u);
  ASSERT_EQ(q.sort().size(), 1u);
  EXPECT_EQ(q.sort()[0], (DqlSortKey{"id", true}));
  EXPECT_FALSE(q.update());
  EXPECT_FALSE(q.is_delete());
  EXPECT_FALSE(q.has_filter());
  EXPECT_TRUE(q.matches(kDoc));
  EXPECT_TRUE(q.matches(json::object()));
  EXPECT_TRUE(filter(json::object()).matches(kDoc));
  // null means absent; unknown keys (the SDK's "join", "context", ...) are ignored.
  auto n = query({{"filter", nullptr}, {"sort", nullptr}, {"page", nullptr}, {"join", {{"on", 1}}}, {"context", 1}});
  EXPECT_TRUE(n.matches(kDoc));
  EXPECT_EQ(n.page_size(), 1000u);
}

TEST(DqlParse, FullBody) {
  auto q = query(json::parse(R"({"filter":{"$and":[{"dir":"/cars"},{"hidden":false}]},"sort":{"filename":"descending"},
    "page":3,"pageSize":50,"resource":"items","update":{"metadata":{"user":{"k":1}}}})"));
  EXPECT_TRUE(q.has_filter());
  EXPECT_EQ(q.page(), 3);
  EXPECT_EQ(q.page_size(), 50u);
  EXPECT_EQ(q.sort(), (std::vector<DqlSortKey>{{"filename", false}}));
  ASSERT_TRUE(q.update());
  EXPECT_EQ((*q.update())["metadata"]["user"]["k"], 1);
  EXPECT_TRUE(query({{"delete", true}}).is_delete());
  EXPECT_FALSE(query({{"delete", false}}).is_delete());
  EXPECT_TRUE(query({{"update", json::object()}}).update());  // the SDK sends {} for "no values"
  EXPECT_EQ(query({{"pageSize", 1}}).page_size(), 1u);
  EXPECT_EQ(query({{"pageSize", 1000}}).page_size(), 1000u);
  EXPECT_EQ(query({{"resource", "datasets"}}, "datasets").page(), 0);
}

TEST(DqlParse, SortDirections) {
  for (const json& asc : {json("ascending"), json("asc"), json("ASC"), json(1)})
    EXPECT_TRUE(query({{"sort", {{"name", asc}}}}).sort()[0].ascending) << asc;
  for (const json& desc : {json("descending"), json("desc"), json("Descending"), json(-1)})
    EXPECT_FALSE(query({{"sort", {{"name", desc}}}}).sort()[0].ascending) << desc;
  // Multi-key: nlohmann::json keeps object keys alphabetically, so that is the key order.
  auto q = query({{"sort", {{"name", "asc"}, {"dir", "desc"}}}});
  EXPECT_EQ(q.sort(), (std::vector<DqlSortKey>{{"dir", false}, {"name", true}}));
  EXPECT_EQ(query({{"sort", json::object()}}).sort(), (std::vector<DqlSortKey>{{"id", true}}));
}

TEST(DqlParse, MalformedBodies) {
  expect_invalid(json::array(), "JSON object");
  expect_invalid({{"resource", "datasets"}}, "'datasets'");
  expect_invalid({{"resource", "items"}}, "'items'", "datasets");
  expect_invalid({{"resource", 3}}, "'resource'");
  expect_invalid({{"filter", "dir=/a"}}, "'filter'");
  expect_invalid({{"filter", json::array()}}, "'filter'");
  expect_invalid({{"page", -1}}, "'page'");
  expect_invalid({{"page", 1.5}}, "'page'");
  expect_invalid({{"page", "0"}}, "'page'");
  expect_invalid({{"pageSize", 0}}, "1 to 1000");
  expect_invalid({{"pageSize", 1001}}, "1 to 1000");
  expect_invalid({{"pageSize", -5}}, "1 to 1000");
  expect_invalid({{"pageSize", "10"}}, "'pageSize'");
  expect_invalid({{"sort", "id"}}, "'sort'");
  expect_invalid({{"sort", {{"id", "up"}}}}, "sort direction for 'id'");
  expect_invalid({{"sort", {{"id", 2}}}}, "sort direction for 'id'");
  expect_invalid({{"sort", {{"a..b", 1}}}}, "empty path segment");
  expect_invalid({{"update", json::array()}}, "'update'");
  expect_invalid({{"update", "x"}}, "'update'");
  expect_invalid({{"delete", "yes"}}, "'delete'");
  expect_invalid({{"delete", 1}}, "'delete'");
  expect_invalid({{"delete", true}, {"update", {{"a", 1}}}}, "both");
}

TEST(DqlParse, MalformedFilters) {
  expect_invalid_filter({{"$nor", json::array({{{"a", 1}}})}}, "'$nor'");
  expect_invalid_filter({{"$where", "x"}}, "'$where'");
  expect_invalid_filter({{"name", {{"$regex", "a.*"}}}}, "'$regex'");
  expect_invalid_filter({{"name", {{"$eq", "a"}, {"$like", "b"}}}}, "'$like'");
  expect_invalid_filter({{"type", {{"$in", "file"}}}}, "'$in' on field 'type' needs an array");
  expect_invalid_filter({{"type", {{"$nin", 3}}}}, "'$nin' on field 'type' needs an array");
  expect_invalid_filter({{"x", {{"$exists", 1}}}}, "'$exists' on field 'x' needs true or false");
  expect_invalid_filter({{"x", {{"$exists", "true"}}}}, "'$exists'");
  expect_invalid_filter({{"x", {{"$gt", nullptr}}}}, "field 'x' needs a number, string or boolean");
  expect_invalid_filter({{"x", {{"$lt", json::array({1})}}}}, "needs a number");
  expect_invalid_filter({{"$and", json::array()}}, "'$and' needs a non-empty array");
  expect_invalid_filter({{"$or", json::array()}}, "'$or' needs a non-empty array");
  expect_invalid_filter({{"$and", {{"dir", "/a"}}}}, "'$and'");
  expect_invalid_filter({{"$or", json::array({{{"a", 1}}, 7})}}, "element 1 of '$or'");
  expect_invalid_filter({{"$or", json::array({{{"$and", json::array({{{"a", {{"$bad", 1}}}}})}}})}}, "'$bad'");
  expect_invalid_filter({{"metadata", {{"user", 1}, {"$gt", 2}}}}, "field 'metadata' mixes operators and nested");
  expect_invalid_filter({{"metadata", {{"user", {{"camera", "x"}, {"$exists", true}}}}}}, "'metadata.user' mixes");
  expect_invalid_filter({{"", 1}}, "empty field name");
  expect_invalid_filter({{"a..b", 1}}, "'a..b' has an empty path segment");
  expect_invalid_filter({{"a.", 1}}, "empty path segment");
  expect_invalid_filter({{"metadata", {{"", 1}}}}, "empty path segment");
  // Absurd nesting is refused instead of recursing without bound.
  json deep = {{"a", 1}};
  for (int i = 0; i < 200; ++i) deep = {{"$and", json::array({deep})}};
  expect_invalid_filter(deep, "deeper than");
  json deep_field = 1;
  for (int i = 0; i < 200; ++i) deep_field = {{"k", deep_field}};
  expect_invalid_filter({{"m", deep_field}}, "deeper than");
}

TEST(DqlMatch, Equality) {
  EXPECT_TRUE(match({{"dir", "/cars/sub"}}, kDoc));
  EXPECT_FALSE(match({{"dir", "/cars"}}, kDoc));
  EXPECT_TRUE(match({{"hidden", false}}, kDoc));
  EXPECT_FALSE(match({{"hidden", true}}, kDoc));
  EXPECT_FALSE(match({{"hidden", 0}}, kDoc));  // no bool/number mixing
  EXPECT_TRUE(match({{"annotationsCount", 3}}, kDoc));
  EXPECT_TRUE(match({{"annotationsCount", 3.0}}, kDoc));  // 3 == 3.0
  EXPECT_TRUE(match({{"metadata.system.width", 640}}, kDoc));
  EXPECT_FALSE(match({{"annotationsCount", "3"}}, kDoc));
  EXPECT_FALSE(match({{"nope", "x"}}, kDoc));
  // null: a missing field or a null value.
  EXPECT_TRUE(match({{"description", nullptr}}, kDoc));
  EXPECT_TRUE(match({{"nope", nullptr}}, kDoc));
  EXPECT_FALSE(match({{"dir", nullptr}}, kDoc));
  // Objects compare as values.
  EXPECT_TRUE(match({{"metadata.system.exif", {{"$eq", {{"Orientation", 1}}}}}}, kDoc));
  EXPECT_FALSE(match({{"metadata.system.exif", {{"$eq", {{"Orientation", 2}}}}}}, kDoc));
  EXPECT_FALSE(match({{"metadata.system.exif", json::object()}}, kDoc));  // {} is equality, not "any"
  EXPECT_TRUE(match({{"x", json::object()}}, {{"x", json::object()}}));
  // $eq is the explicit form of the same.
  EXPECT_TRUE(match({{"dir", {{"$eq", "/cars/sub"}}}}, kDoc));
  EXPECT_FALSE(match({{"dir", {{"$eq", "/cars"}}}}, kDoc));
  EXPECT_TRUE(match({{"nope", {{"$eq", nullptr}}}}, kDoc));
  // Several top-level keys are ANDed.
  EXPECT_TRUE(match({{"dir", "/cars/sub"}, {"name", "a.jpg"}}, kDoc));
  EXPECT_FALSE(match({{"dir", "/cars/sub"}, {"name", "b.jpg"}}, kDoc));
}

TEST(DqlMatch, NotEqual) {
  EXPECT_TRUE(match({{"dir", {{"$ne", "/cars"}}}}, kDoc));
  EXPECT_FALSE(match({{"dir", {{"$ne", "/cars/sub"}}}}, kDoc));
  EXPECT_TRUE(match({{"nope", {{"$ne", "x"}}}}, kDoc));  // missing satisfies $ne
  EXPECT_FALSE(match({{"nope", {{"$ne", nullptr}}}}, kDoc));
  EXPECT_FALSE(match({{"description", {{"$ne", nullptr}}}}, kDoc));
  EXPECT_TRUE(match({{"dir", {{"$ne", nullptr}}}}, kDoc));
  EXPECT_FALSE(match({{"annotationsCount", {{"$ne", 3.0}}}}, kDoc));
  EXPECT_FALSE(match({{"metadata.system.mimetype", {{"$ne", "image/*"}}}}, kDoc));
  EXPECT_TRUE(match({{"metadata.system.mimetype", {{"$ne", "video/*"}}}}, kDoc));
}

TEST(DqlMatch, Ranges) {
  const json size = "metadata.system.size";
  EXPECT_TRUE(match({{size, {{"$gt", 48212}}}}, kDoc));
  EXPECT_FALSE(match({{size, {{"$gt", 48213}}}}, kDoc));
  EXPECT_TRUE(match({{size, {{"$gte", 48213}}}}, kDoc));
  EXPECT_FALSE(match({{size, {{"$gte", 48213.5}}}}, kDoc));
  EXPECT_TRUE(match({{size, {{"$lt", 48213.5}}}}, kDoc));
  EXPECT_FALSE(match({{size, {{"$lt", 48213}}}}, kDoc));
  EXPECT_TRUE(match({{size, {{"$lte", 48213}}}}, kDoc));
  EXPECT_FALSE(match({{size, {{"$lte", 48212}}}}, kDoc));
  EXPECT_TRUE(match({{size, {{"$gt", -1}}}}, kDoc));  // signed vs unsigned
  EXPECT_TRUE(match({{"n", {{"$lt", 0}}}}, {{"n", -5}}));
  EXPECT_FALSE(match({{"n", {{"$gt", uint64_t(1) << 63}}}}, {{"n", -5}}));
  EXPECT_TRUE(match({{"n", {{"$gt", 0.25}}}}, {{"n", 0.5}}));
  // Several operators on one field: a range.
  EXPECT_TRUE(match({{size, {{"$gt", 1000}, {"$lt", 50000}}}}, kDoc));
  EXPECT_FALSE(match({{size, {{"$gt", 1000}, {"$lt", 2000}}}}, kDoc));
  // Strings compare bytewise: ISO times order correctly.
  EXPECT_TRUE(match({{"createdAt", {{"$gt", "2024-01-01T00:00:00.000Z"}}}}, kDoc));
  EXPECT_FALSE(match({{"createdAt", {{"$gt", "2024-01-02T00:00:00.000Z"}}}}, kDoc));
  EXPECT_TRUE(match({{"createdAt", {{"$gte", "2024-01-02T00:00:00.000Z"}}}}, kDoc));
  EXPECT_TRUE(match({{"createdAt", {{"$lt", "2024-01-02T00:00:00.001Z"}}}}, kDoc));
  EXPECT_TRUE(match({{"s", {{"$gt", "z"}}}}, {{"s", "\xc3\xa9"}}));  // bytes as unsigned: é > z
  // Booleans: false < true.
  EXPECT_TRUE(match({{"hidden", {{"$lt", true}}}}, kDoc));
  EXPECT_FALSE(match({{"hidden", {{"$gt", false}}}}, kDoc));
  // Mixed types and missing fields never match.
  EXPECT_FALSE(match({{size, {{"$gt", "1"}}}}, kDoc));
  EXPECT_FALSE(match({{size, {{"$lt", "99999999"}}}}, kDoc));
  EXPECT_FALSE(match({{"dir", {{"$gt", 0}}}}, kDoc));
  EXPECT_FALSE(match({{"hidden", {{"$lt", 1}}}}, kDoc));
  EXPECT_FALSE(match({{"description", {{"$lt", "z"}}}}, kDoc));
  EXPECT_FALSE(match({{"nope", {{"$gte", 0}}}}, kDoc));
  // Ranges never treat '*' as a wildcard.
  EXPECT_TRUE(match({{"dir", {{"$gt", "/*"}}}}, kDoc));  // '/' '*' < '/' 'c'
}

TEST(DqlMatch, InAndNin) {
  EXPECT_TRUE(match({{"type", {{"$in", {"dir", "file"}}}}}, kDoc));
  EXPECT_FALSE(match({{"type", {{"$in", {"dir", "link"}}}}}, kDoc));
  EXPECT_FALSE(match({{"type", {{"$in", json::array()}}}}, kDoc));
  EXPECT_TRUE(match({{"annotationsCount", {{"$in", {1, 3.0}}}}}, kDoc));
  EXPECT_TRUE(match({{"metadata.system.mimetype", {{"$in", {"video/*", "image/*"}}}}}, kDoc));
  EXPECT_TRUE(match({{"nope", {{"$in", {"a", nullptr}}}}}, kDoc));  // null in $in matches missing
  EXPECT_FALSE(match({{"nope", {{"$in", {"a"}}}}}, kDoc));
  EXPECT_FALSE(match({{"type", {{"$nin", {"dir", "file"}}}}}, kDoc));
  EXPECT_TRUE(match({{"type", {{"$nin", {"dir", "link"}}}}}, kDoc));
  EXPECT_TRUE(match({{"type", {{"$nin", json::array()}}}}, kDoc));
  EXPECT_TRUE(match({{"nope", {{"$nin", {"a"}}}}}, kDoc));
  EXPECT_FALSE(match({{"metadata.system.mimetype", {{"$nin", {"image/*"}}}}}, kDoc));
}

TEST(DqlMatch, Exists) {
  EXPECT_TRUE(match({{"dir", {{"$exists", true}}}}, kDoc));
  EXPECT_FALSE(match({{"dir", {{"$exists", false}}}}, kDoc));
  EXPECT_TRUE(match({{"description", {{"$exists", true}}}}, kDoc));  // present though null
  EXPECT_FALSE(match({{"nope", {{"$exists", true}}}}, kDoc));
  EXPECT_TRUE(match({{"nope", {{"$exists", false}}}}, kDoc));
  EXPECT_TRUE(match({{"metadata.system.exif.Orientation", {{"$exists", true}}}}, kDoc));
  EXPECT_FALSE(match({{"metadata.system.thumbnailId", {{"$exists", true}}}}, kDoc));
  EXPECT_FALSE(match({{"dir.x", {{"$exists", true}}}}, kDoc));  // through a non-object
}

TEST(DqlMatch, DottedAndNestedForms) {
  EXPECT_TRUE(match({{"metadata.user.camera", "cam-7"}}, kDoc));
  EXPECT_FALSE(match({{"metadata.user.camera", "cam-8"}}, kDoc));
  EXPECT_TRUE(match({{"metadata", {{"user", {{"camera", "cam-7"}}}}}}, kDoc));
  EXPECT_FALSE(match({{"metadata", {{"user", {{"camera", "cam-8"}}}}}}, kDoc));
  // The nested form is per field, not whole-object equality: other keys don't matter.
  EXPECT_TRUE(match({{"metadata", {{"system", {{"mimetype", "image/jpeg"}}}}}}, kDoc));
  // Mixed: a dotted key inside the nested form, operators at the leaf, several leaves ANDed.
  EXPECT_TRUE(match({{"metadata", {{"user.camera", "cam-7"}, {"system", {{"size", {{"$gt", 100}}}}}}}}, kDoc));
  EXPECT_FALSE(match({{"metadata", {{"user.camera", "cam-7"}, {"system", {{"size", {{"$gt", 1e6}}}}}}}}, kDoc));
  EXPECT_TRUE(match({{"metadata", {{"user", {{"camera", {{"$in", {"cam-1", "cam-7"}}}}}}}}}, kDoc));
  EXPECT_TRUE(match({{"metadata", {{"user", {{"lens", {{"$exists", false}}}}}}}}, kDoc));
  EXPECT_FALSE(match({{"metadata.user.camera.x", "cam-7"}}, kDoc));
  auto q = filter({{"metadata", {{"user", {{"camera", "cam-7"}}}}}});
  EXPECT_EQ(q.pinned_string("metadata.user.camera"), "cam-7");
}

TEST(DqlMatch, Wildcards) {
  EXPECT_TRUE(match({{"metadata.system.mimetype", "image/*"}}, kDoc));
  EXPECT_FALSE(match({{"metadata.system.mimetype", "video/*"}}, kDoc));
  EXPECT_TRUE(match({{"filename", "/cars/*"}}, kDoc));  // '*' crosses '/'
  EXPECT_TRUE(match({{"filename", "/cars/**"}}, kDoc));  // what the SDK sends for recursive listings
  EXPECT_TRUE(match({{"filename", "*.jpg"}}, kDoc));
  EXPECT_TRUE(match({{"filename", "*sub*"}}, kDoc));
  EXPECT_TRUE(match({{"filename", "/c*/*/a*"}}, kDoc));
  EXPECT_FALSE(match({{"filename", "/trucks/*"}}, kDoc));
  EXPECT_FALSE(match({{"filename", "*.png"}}, kDoc));
  EXPECT_FALSE(match({{"annotationsCount", "*"}}, kDoc));  // wildcards only match strings
  EXPECT_TRUE(match({{"dir", "*"}}, kDoc));
  EXPECT_TRUE(match({{"dir", {{"$eq", "/cars*"}}}}, kDoc));
  EXPECT_TRUE(match({{"metadata.user.tags", "r*"}}, kDoc));  // any array element

  EXPECT_TRUE(dql_wildcard_match("", ""));
  EXPECT_TRUE(dql_wildcard_match("", "*"));
  EXPECT_TRUE(dql_wildcard_match("", "**"));
  EXPECT_FALSE(dql_wildcard_match("", "a"));
  EXPECT_FALSE(dql_wildcard_match("a", ""));
  EXPECT_TRUE(dql_wildcard_match("abc", "abc"));
  EXPECT_FALSE(dql_wildcard_match("abc", "ab"));
  EXPECT_FALSE(dql_wildcard_match("ab", "abc"));
  EXPECT_TRUE(dql_wildcard_match("a/b/c", "a*c"));
  EXPECT_TRUE(dql_wildcard_match("abcbcd", "a*bcd"));  // needs backtracking
  EXPECT_TRUE(dql_wildcard_match("aXbYc", "a*b*c"));
  EXPECT_FALSE(dql_wildcard_match("aXbYd", "a*b*c"));
  EXPECT_TRUE(dql_wildcard_match("mississippi", "m*iss*ppi"));
  EXPECT_FALSE(dql_wildcard_match("mississippi", "m*iss*ppa"));
  EXPECT_TRUE(dql_wildcard_match("x*y", "x*y"));
  EXPECT_FALSE(dql_wildcard_match(std::string(5000, 'a'), std::string(50, '*') + "b"));
}

TEST(DqlMatch, ArraysInDocs) {
  const json tags = "metadata.user.tags";
  EXPECT_TRUE(match({{tags, "red"}}, kDoc));
  EXPECT_TRUE(match({{tags, "blue"}}, kDoc));
  EXPECT_FALSE(match({{tags, "green"}}, kDoc));
  EXPECT_TRUE(match({{tags, {"red", "blue"}}}, kDoc));   // whole-array equality
  EXPECT_FALSE(match({{tags, {"blue", "red"}}}, kDoc));  // order matters for that
  EXPECT_TRUE(match({{tags, {{"$in", {"green", "blue"}}}}}, kDoc));
  EXPECT_FALSE(match({{tags, {{"$in", {"green"}}}}}, kDoc));
  EXPECT_FALSE(match({{tags, {{"$ne", "red"}}}}, kDoc));  // contains it
  EXPECT_TRUE(match({{tags, {{"$ne", "green"}}}}, kDoc));
  EXPECT_FALSE(match({{tags, {{"$nin", {"green", "red"}}}}}, kDoc));
  const json flags = "metadata.user.flags";
  EXPECT_TRUE(match({{flags, 2}}, kDoc));
  EXPECT_TRUE(match({{flags, {{"$gt", 2}}}}, kDoc));  // some element
  EXPECT_FALSE(match({{flags, {{"$gt", 3}}}}, kDoc));
  EXPECT_TRUE(match({{flags, {{"$lte", 1}}}}, kDoc));
  EXPECT_TRUE(match({{"a", nullptr}}, {{"a", {1, nullptr}}}));
  EXPECT_FALSE(match({{"a", nullptr}}, {{"a", json::array()}}));
}

TEST(DqlMatch, AndOrNesting) {
  json in_cars_jpg = json::parse(R"({"$and":[{"dir":"/cars/*"},{"name":"*.jpg"}]})");
  EXPECT_TRUE(match(in_cars_jpg, kDoc));
  EXPECT_FALSE(match(json::parse(R"({"$and":[{"dir":"/cars/*"},{"name":"*.png"}]})"), kDoc));
  EXPECT_TRUE(match(json::parse(R"({"$or":[{"name":"*.png"},{"name":"*.jpg"}]})"), kDoc));
  EXPECT_FALSE(match(json::parse(R"({"$or":[{"name":"*.png"},{"name":"*.gif"}]})"), kDoc));
  EXPECT_TRUE(match(json::parse(R"({"$or":[{"name":"x","dir":"/cars/sub"},{"hidden":false,"type":"file"}]})"), kDoc));
  EXPECT_FALSE(match(json::parse(R"({"$or":[{"name":"x","dir":"/cars/sub"},{"hidden":true,"type":"file"}]})"), kDoc));
  // $and and $or side by side at one level are ANDed, and nest both ways.
  EXPECT_TRUE(match(json::parse(R"({"$and":[{"type":"file"}],"$or":[{"hidden":true},{"dir":"/cars/sub"}]})"), kDoc));
  EXPECT_FALSE(match(json::parse(R"({"$and":[{"type":"dir"}],"$or":[{"hidden":true},{"dir":"/cars/sub"}]})"), kDoc));
  EXPECT_TRUE(match(json::parse(R"({"$or":[{"$and":[{"type":"dir"},{"hidden":false}]},
                                           {"$and":[{"type":"file"},{"$or":[{"annotationsCount":{"$gt":5}},
                                                                           {"metadata.user.score":{"$lt":1}}]}]}]})"),
                    kDoc));
  EXPECT_FALSE(match(json::parse(R"({"$or":[{"$and":[{"type":"dir"},{"hidden":false}]},
                                            {"$and":[{"type":"file"},{"$or":[{"annotationsCount":{"$gt":5}},
                                                                            {"metadata.user.score":{"$gt":1}}]}]}]})"),
                     kDoc));
  EXPECT_TRUE(match(json::parse(R"({"$or":[{}]})"), kDoc));  // an empty element matches all
}

TEST(DqlMatch, RealItemJson) {
  Item item;
  item.id = "65f1c0ffee0000000000a001";
  item.dataset_id = "65f0c0ffee0000000000abcd";
  item.set_path("/f/b.png");
  item.metadata["system"]["mimetype"] = "image/png";
  item.metadata["user"] = {{"camera", "cam-1"}};
  json doc = item_to_json(item, "http://h/api/v1");
  EXPECT_TRUE(match(json::parse(R"({"$and":[{"dir":"/f"},{"hidden":false}]})"), doc));
  EXPECT_TRUE(match(json::parse(R"({"$and":[{"filename":"/f/b.png"}]})"), doc));
  EXPECT_TRUE(match({{"metadata", {{"user", {{"camera", "cam-1"}}}}}, {"type", "file"}}, doc));
  EXPECT_TRUE(match({{"metadata.system.mimetype", "image/*"}}, doc));
  EXPECT_FALSE(match({{"dir", "/"}}, doc));
}

TEST(DqlSort, CompareByKeysThenId) {
  json a = {{"id", "a1"}, {"name", "b"}, {"size", 10}};
  json b = {{"id", "a2"}, {"name", "a"}, {"size", 2}};
  json c = {{"id", "a0"}, {"name", "b"}};  // no size
  auto by_id = query(json::object());
  EXPECT_LT(by_id.compare(a, b), 0);
  EXPECT_GT(by_id.compare(a, c), 0);
  EXPECT_EQ(by_id.compare(a, a), 0);

  auto by_name = query({{"sort", {{"name", "ascending"}}}});
  EXPECT_GT(by_name.compare(a, b), 0);
  EXPECT_GT(by_name.compare(a, c), 0);  // same name: id breaks the tie, ascending
  auto by_name_desc = query({{"sort", {{"name", "descending"}}}});
  EXPECT_LT(by_name_desc.compare(a, b), 0);
  EXPECT_GT(by_name_desc.compare(a, c), 0);  // the id tie-break stays ascending

  auto by_size = query({{"sort", {{"size", 1}}}});
  EXPECT_GT(by_size.compare(a, b), 0);  // numerically, 10 > 2
  EXPECT_LT(by_size.compare(c, b), 0);  // missing first when ascending
  auto by_size_desc = query({{"sort", {{"size", -1}}}});
  EXPECT_LT(by_size_desc.compare(a, b), 0);
  EXPECT_GT(by_size_desc.compare(c, b), 0);  // ... and last when descending

  // Multi-key in key order ("name" < "size"): name ascending, then size descending.
  auto multi = query({{"sort", {{"size", "desc"}, {"name", "asc"}}}});
  json d = {{"id", "a3"}, {"name", "b"}, {"size", 50}};
  std::vector<json> docs = {a, b, c, d};
  std::sort(docs.begin(), docs.end(), [&](const json& x, const json& y) { return multi.less(x, y); });
  std::vector<std::string> ids;
  for (const auto& doc : docs) ids.push_back(doc["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"a2", "a3", "a1", "a0"}));

  // Dotted sort fields, and types: null/missing < numbers < strings < objects < arrays < booleans.
  auto by_v = query({{"sort", {{"m.v", "asc"}}}});
  std::vector<json> mixed;
  const json values[] = {true, json::array({1}), json::object({{"k", 1}}), "s", 2.5, 1, nullptr};
  int i = 0;
  for (const auto& v : values) mixed.push_back({{"id", "x" + std::to_string(i++)}, {"m", {{"v", v}}}});
  mixed.push_back({{"id", "x9"}});
  std::sort(mixed.begin(), mixed.end(), [&](const json& x, const json& y) { return by_v.less(x, y); });
  ids.clear();
  for (const auto& doc : mixed) ids.push_back(doc["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"x6", "x9", "x5", "x4", "x3", "x2", "x1", "x0"}));
}

TEST(DqlHints, PinnedStringsAndIdAfter) {
  auto q = filter(json::parse(R"({"datasetId":"ds1","$and":[{"dir":"/cars"},{"hidden":false},
      {"id":{"$gt":"65f1c0ffee0000000000a001"}},{"$and":[{"name":{"$eq":"a.jpg"}}]},
      {"id":{"$gt":"65f1c0ffee0000000000a00f"}},{"id":{"$gt":"65f1c0ffee0000000000a002"}}]})"));
  EXPECT_EQ(q.pinned_string("datasetId"), "ds1");
  EXPECT_EQ(q.pinned_string("dir"), "/cars");
  EXPECT_EQ(q.pinned_string("name"), "a.jpg");
  EXPECT_EQ(q.pinned_string("hidden"), std::nullopt);  // not a string
  EXPECT_EQ(q.pinned_string("filename"), std::nullopt);
  EXPECT_EQ(q.id_after(), "65f1c0ffee0000000000a00f");  // the largest

  auto top = filter(json::parse(R"({"filename":"/a/b.jpg","id":{"$gt":"x1","$lt":"x9"}})"));
  EXPECT_EQ(top.pinned_string("filename"), "/a/b.jpg");
  EXPECT_EQ(top.id_after(), "x1");
  EXPECT_EQ(top.pinned_string("id"), std::nullopt);

  // Not under $or, not with wildcards, not from other operators.
  auto no = filter(json::parse(R"({"$or":[{"dir":"/cars"},{"dir":"/trucks"}],"filename":"/cars/*",
      "$and":[{"$or":[{"id":{"$gt":"x"}}]},{"name":{"$ne":"a"}},{"type":{"$in":["file"]}},
              {"datasetId":{"$gte":"d"}},{"id":{"$gte":"y"}}]})"));
  EXPECT_EQ(no.pinned_string("dir"), std::nullopt);
  EXPECT_EQ(no.pinned_string("filename"), std::nullopt);
  EXPECT_EQ(no.pinned_string("name"), std::nullopt);
  EXPECT_EQ(no.pinned_string("type"), std::nullopt);
  EXPECT_EQ(no.pinned_string("datasetId"), std::nullopt);
  EXPECT_EQ(no.id_after(), std::nullopt);
  EXPECT_EQ(query(json::object()).id_after(), std::nullopt);
  EXPECT_EQ(filter({{"id", {{"$gt", 5}}}}).id_after(), std::nullopt);
}

TEST(DqlHints, FolderListingShape) {
  auto l = query(json::parse(R"({"filter":{"$and":[{"dir":"/f"},{"hidden":false},{"id":{"$gt":"a2"}},
      {"id":{"$gt":"a9"}}]},"sort":{"id":"ascending"},"page":2,"pageSize":10})")).listing();
  ASSERT_TRUE(l);
  EXPECT_EQ(l->dir, "/f");
  EXPECT_EQ(l->hidden, false);
  EXPECT_EQ(l->after, "a9");  // the largest cursor
  auto bare = filter({{"dir", {{"$eq", "/"}}}}).listing();  // the default sort is by id
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->dir, "/");
  EXPECT_EQ(bare->hidden, std::nullopt);
  EXPECT_EQ(bare->after, std::nullopt);
  EXPECT_EQ(filter({{"dir", "/f"}, {"hidden", true}}).listing()->hidden, true);
  EXPECT_EQ(bare->until, std::nullopt);
  // A range of one of several walks: {"id": {"$lte": X}}, the smallest X its end.
  auto range = query(json::parse(R"({"filter":{"$and":[{"dir":"/f"},{"id":{"$gt":"a2"}},{"id":{"$lte":"c7"}},
      {"id":{"$lte":"b5"}}]}})")).listing();
  ASSERT_TRUE(range);
  EXPECT_EQ(range->after, "a2");
  EXPECT_EQ(range->until, "b5");

  // Anything more, or other than that, is not a listing.
  for (const char* f : {R"({})", R"({"hidden":false})", R"({"dir":"/f*"})", R"({"dir":"/f","type":"file"})",
                        R"({"dir":"/f","hidden":"false"})", R"({"dir":"/f","id":{"$gt":5}})",
                        R"({"dir":"/f","id":{"$gte":"a"}})", R"({"dir":"/f","id":{"$lte":5}})", R"({"dir":{"$eq":"/f","$ne":"/g"}})",
                        R"({"$and":[{"dir":"/f"},{"dir":"/g"}]})", R"({"dir":"/f","name":{"$exists":true}})",
                        R"({"$and":[{"dir":"/f"},{"hidden":true},{"hidden":false}]})",
                        R"({"dir":"/f","$or":[{"hidden":false}]})"})
    EXPECT_FALSE(filter(json::parse(f)).listing()) << f;
  json listing = {{"filter", {{"dir", "/f"}}}};
  for (const json& extra : {json{{"sort", {{"id", "descending"}}}}, json{{"sort", {{"name", "ascending"}}}},
                            json{{"sort", {{"id", "asc"}, {"name", "asc"}}}}, json{{"update", json::object()}},
                            json{{"delete", true}}}) {
    json body = listing;
    body.update(extra);
    EXPECT_FALSE(query(body).listing()) << body.dump();
  }
}

// matches() against a straightforward reference on generated docs with two fields, each
// missing, a number (integer or float), or a string.
TEST(DqlMatch, RandomizedAgainstReference) {
  struct V {
    int kind = 0;  // 0 missing, 1 number, 2 string
    double num = 0;
    std::string str;
  };
  std::mt19937 rng(12345);
  auto pick = [&](int n) { return int(rng() % unsigned(n)); };
  const char* strs[] = {"", "a", "ab", "b", "ba", "c", "/x/y"};
  auto gen = [&](bool allow_missing) {
    V v;
    v.kind = allow_missing ? pick(3) : 1 + pick(2);
    if (v.kind == 1) v.num = pick(6) + (pick(3) == 0 ? 0.5 : 0.0);
    if (v.kind == 2) v.str = strs[pick(7)];
    return v;
  };
  auto to_json = [&](const V& v) -> json {
    if (v.kind == 2) return v.str;
    if (v.num == double(int64_t(v.num)) && pick(2) == 0) return int64_t(v.num);  // 3 or 3.0
    return v.num;
  };
  auto eq = [](const V& d, const V& c) {
    return d.kind == c.kind && (d.kind == 1 ? d.num == c.num : d.str == c.str);
  };
  auto cmp = [](const V& d, const V& c) -> std::optional<int> {
    if (d.kind != c.kind || d.kind == 0) return std::nullopt;
    if (d.kind == 1) return (d.num > c.num) - (d.num < c.num);
    return (d.str > c.str) - (d.str < c.str);
  };
  const char* ops[] = {"eq", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"};
  struct Cond {
    std::string field, op;
    std::vector<V> vals;
    bool exists = false;
  };
  auto gen_cond = [&] {
    Cond c{pick(2) ? "a" : "m.b", ops[pick(10)], {}, pick(2) == 0};
    int n = (c.op == "$in" || c.op == "$nin") ? pick(4) : 1;
    for (int i = 0; i < n; ++i) c.vals.push_back(gen(false));
    return c;
  };
  auto cond_json = [&](const Cond& c) -> json {
    json v;
    if (c.op == "eq") return {{c.field, to_json(c.vals[0])}};
    if (c.op == "$exists") return {{c.field, {{c.op, c.exists}}}};
    if (c.op == "$in" || c.op == "$nin") {
      v = json::array();
      for (const auto& x : c.vals) v.push_back(to_json(x));
    } else {
      v = to_json(c.vals[0]);
    }
    return {{c.field, {{c.op, v}}}};
  };
  auto ref = [&](const Cond& c, const V& a, const V& b) {
    const V& d = c.field == "a" ? a : b;
    bool in = false;
    for (const auto& x : c.vals) in = in || eq(d, x);
    auto k = cmp(d, c.vals.empty() ? V{} : c.vals[0]);
    if (c.op == "eq" || c.op == "$eq") return eq(d, c.vals[0]);
    if (c.op == "$ne") return !eq(d, c.vals[0]);
    if (c.op == "$in") return in;
    if (c.op == "$nin") return !in;
    if (c.op == "$exists") return (d.kind != 0) == c.exists;
    if (!k) return false;
    if (c.op == "$gt") return *k > 0;
    if (c.op == "$gte") return *k >= 0;
    if (c.op == "$lt") return *k < 0;
    return *k <= 0;
  };

  std::vector<std::pair<V, V>> docs;
  std::vector<json> doc_json;
  for (int i = 0; i < 150; ++i) {
    V a = gen(true), b = gen(true);
    json d = {{"id", "i" + std::to_string(i)}, {"m", json::object()}};
    if (a.kind) d["a"] = to_json(a);
    if (b.kind) d["m"]["b"] = to_json(b);
    docs.emplace_back(a, b);
    doc_json.push_back(std::move(d));
  }
  int matched = 0, total = 0;
  for (int round = 0; round < 400; ++round) {
    Cond c1 = gen_cond(), c2 = gen_cond();
    int shape = pick(3);  // 0: one condition, 1: $and of two, 2: $or of two
    json f = shape == 0   ? cond_json(c1)
             : shape == 1 ? json{{"$and", {cond_json(c1), cond_json(c2)}}}
                          : json{{"$or", {cond_json(c1), cond_json(c2)}}};
    auto q = filter(f);
    for (size_t i = 0; i < docs.size(); ++i) {
      const auto& [a, b] = docs[i];
      bool r1 = ref(c1, a, b), r2 = ref(c2, a, b);
      bool want = shape == 0 ? r1 : shape == 1 ? (r1 && r2) : (r1 || r2);
      ASSERT_EQ(q.matches(doc_json[i]), want) << f.dump() << " on " << doc_json[i].dump();
      matched += want;
      ++total;
    }
  }
  // The generator exercises both outcomes substantially.
  EXPECT_GT(matched, total / 10);
  EXPECT_LT(matched, total * 9 / 10);
}

TEST(DqlMatch, CompiledFilterIsFastOver100kDocs) {
  std::vector<json> docs;
  docs.reserve(100000);
  size_t want = 0;
  for (int i = 0; i < 100000; ++i) {
    bool png = i % 3 == 0;
    json d = {{"id", std::to_string(1000000 + i)},
              {"dir", "/d" + std::to_string(i % 10)},
              {"hidden", i % 7 == 0},
              {"type", "file"},
              {"metadata", {{"system", {{"mimetype", png ? "image/png" : "text/plain"}, {"size", i % 1000}}},
                            {"user", {{"camera", "cam-" + std::to_string(i % 5)}}}}}};
    if (i % 10 == 7 && i % 7 != 0 && png && i % 1000 >= 500) ++want;
    docs.push_back(std::move(d));
  }
  auto q = filter(json::parse(R"({"$and":[{"dir":"/d7"},{"hidden":false},{"metadata.system.mimetype":"image/*"},
      {"metadata":{"system":{"size":{"$gte":500}}}},{"$or":[{"type":"file"},{"type":"dir"}]}]})"));
  auto start = std::chrono::steady_clock::now();
  size_t got = 0;
  for (const auto& d : docs) got += q.matches(d);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(got, want);
  EXPECT_LT(secs, 1.0);
  RecordProperty("seconds", std::to_string(secs));
}
