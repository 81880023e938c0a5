#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "core/clock.h"
#include "core/file_io.h"
#include "core/ids.h"
#include "core/item.h"
#include "core/json_util.h"
#include "core/paths.h"
#include "support/temp_dir.h"

using namespace dlfs;

TEST(Ids, AreValidUniqueAndTimeOrderedAcrossThreads) {
  std::vector<std::vector<std::string>> per_thread(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) per_thread[t].push_back(new_id());
    });
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (auto& ids : per_thread) {
    for (size_t i = 0; i < ids.size(); ++i) {
      EXPECT_TRUE(is_valid_id(ids[i])) << ids[i];
      all.insert(ids[i]);
    }
  }
  EXPECT_EQ(all.size(), 40000u);
  uint32_t now = uint32_t(time(nullptr));
  EXPECT_NEAR(double(id_seconds(new_id())), double(now), 2.0);
}

TEST(Ids, ValidityRules) {
  EXPECT_TRUE(is_valid_id("65f1c0ffee0000000000a001"));
  EXPECT_FALSE(is_valid_id("65F1C0FFEE0000000000A001"));
  EXPECT_FALSE(is_valid_id("65f1c0ffee0000000000a00"));
  EXPECT_FALSE(is_valid_id("65f1c0ffee0000000000a0zz"));
  EXPECT_FALSE(is_valid_id(""));
}

TEST(Paths, NormalizeGoodPaths) {
  EXPECT_EQ(*normalize_path("/"), "/");
  EXPECT_EQ(*normalize_path(""), "/");
  EXPECT_EQ(*normalize_path("a/b"), "/a/b");
  EXPECT_EQ(*normalize_path("//a///b/"), "/a/b");
  EXPECT_EQ(*normalize_path("/names with spaces/ünïcode ✓.jpg"), "/names with spaces/ünïcode ✓.jpg");
}

TEST(Paths, EveryRuleHasAClearError) {
  auto dot = normalize_path("/a/./b");
  ASSERT_FALSE(dot);
  EXPECT_EQ(dot.err(), EINVAL);
  EXPECT_NE(dot.status().message().find("'.'"), std::string::npos);
  EXPECT_EQ(normalize_path("/a/../b").err(), EINVAL);
  EXPECT_EQ(normalize_path(std::string("/a\0b", 4)).err(), EINVAL);
  EXPECT_EQ(normalize_path("/" + std::string(256, 'x')).err(), ENAMETOOLONG);
  EXPECT_TRUE(normalize_path("/" + std::string(255, 'x')).is_ok());
  std::string long_path;
  while (long_path.size() <= kMaxPathBytes) long_path += "/" + std::string(200, 'y');
  EXPECT_EQ(normalize_path(long_path).err(), ENAMETOOLONG);

  EXPECT_EQ(validate_path("a/b").err(), EINVAL);        // not absolute
  EXPECT_EQ(validate_path("/a//b").err(), EINVAL);      // empty part
  EXPECT_EQ(validate_path("/a/").err(), EINVAL);        // trailing slash
  EXPECT_EQ(validate_path("/a/..").err(), EINVAL);
  EXPECT_EQ(validate_path(std::string("/a\0", 3)).err(), EINVAL);
  EXPECT_TRUE(validate_path("/").is_ok());
  EXPECT_TRUE(validate_path("/a/b.jpg").is_ok());

  EXPECT_EQ(validate_name("").err(), EINVAL);
  EXPECT_EQ(validate_name("a/b").err(), EINVAL);
  EXPECT_EQ(validate_name("..").err(), EINVAL);
  EXPECT_EQ(validate_name(std::string(256, 'n')).err(), ENAMETOOLONG);
}

TEST(Paths, Parts) {
  EXPECT_EQ(parent_path("/a/b.jpg"), "/a");
  EXPECT_EQ(parent_path("/a"), "/");
  EXPECT_EQ(parent_path("/"), "");
  EXPECT_EQ(base_name("/a/b.jpg"), "b.jpg");
  EXPECT_EQ(base_name("/"), "");
  EXPECT_EQ(join_path("/", "a"), "/a");
  EXPECT_EQ(join_path("/a", "b"), "/a/b");
  EXPECT_EQ(split_path("/a/b"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(split_path("/").empty());
  EXPECT_TRUE(is_same_or_under("/a/b", "/a"));
  EXPECT_TRUE(is_same_or_under("/a", "/a"));
  EXPECT_FALSE(is_same_or_under("/ab", "/a"));
  EXPECT_TRUE(is_same_or_under("/x", "/"));
}

TEST(Time, Iso8601RoundTrip) {
  EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601(1704067200123), "2024-01-01T00:00:00.123Z");
  EXPECT_EQ(*parse_iso8601("2024-01-01T00:00:00.123Z"), 1704067200123);
  EXPECT_EQ(*parse_iso8601("2024-01-01T00:00:00Z"), 1704067200000);
  EXPECT_EQ(parse_iso8601("2024-01-01 00:00:00").err(), EINVAL);
  EXPECT_EQ(parse_iso8601("yesterday").err(), EINVAL);
  EXPECT_EQ(*parse_iso8601("1969-12-31T23:59:59.5Z"), -500);
  EXPECT_EQ(*parse_iso8601("2024-02-29T12:34:56.789123Z"), 1709210096789);
  EXPECT_EQ(*parse_iso8601(format_iso8601(1767225600001)), 1767225600001);
  for (const char* wrong : {"2024-02-30T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z",
                            "2024-01-01T00:00:00", "2024-01-01T00:00:00Zx", "2024-1-01T00:00:00Z",
                            "-024-01-01T00:00:00Z", "2024-01-01T00:00:0Z", ""})
    EXPECT_EQ(parse_iso8601(wrong).err(), EINVAL) << wrong;
}

TEST(Json, MergePatchRules) {
  json doc = {{"a", 1}, {"b", {{"c", 2}, {"d", 3}}}, {"arr", {1, 2, 3}}};
  merge_patch(doc, json{{"b", {{"c", nullptr}, {"e", 5}}}, {"arr", {9}}, {"a", nullptr}, {"n", {{"x", 1}}}});
  EXPECT_EQ(doc, (json{{"b", {{"d", 3}, {"e", 5}}}, {"arr", {9}}, {"n", {{"x", 1}}}}));
}

TEST(Json, DottedAccess) {
  json doc = json::object();
  set_dotted(doc, "metadata.user.camera", "cam-7");
  EXPECT_EQ(doc["metadata"]["user"]["camera"], "cam-7");
  ASSERT_NE(find_dotted(doc, "metadata.user.camera"), nullptr);
  EXPECT_EQ(find_dotted(doc, "metadata.user.nope"), nullptr);
  EXPECT_EQ(find_dotted(doc, "metadata.user.camera.deeper"), nullptr);
  EXPECT_TRUE(erase_dotted(doc, "metadata.user.camera"));
  EXPECT_FALSE(erase_dotted(doc, "metadata.user.camera"));
  EXPECT_EQ(parse_json("{bad").err(), EINVAL);
  EXPECT_EQ(*parse_json("[1]"), json::array({1}));
}

TEST(Item, JsonRoundTripInTheApiShape) {
  Item item;
  item.id = "65f1c0ffee0000000000a001";
  item.dataset_id = "65f0c0ffee0000000000abcd";
  item.set_path("/cars/a.jpg");
  item.created_ms = 1704067200000;
  item.updated_ms = 1704067201000;
  item.creator = item.updated_by = "dev@local";
  item.metadata = {{"system", {{"size", 48213}, {"mimetype", "image/jpeg"}, {"originalname", "a.jpg"}}},
                   {"user", {{"camera", "cam-7"}}}};
  json doc = item_to_json(item, "http://h/api/v1");
  for (const char* key : {"id", "datasetId", "createdAt", "updatedAt", "updatedBy", "dir", "filename", "name",
                          "type", "hidden", "metadata", "annotated", "annotationsCount", "url", "stream",
                          "thumbnail", "dataset", "annotations", "creator", "description"})
    EXPECT_TRUE(doc.contains(key)) << key;
  EXPECT_EQ(doc["dir"], "/cars");
  EXPECT_EQ(doc["name"], "a.jpg");
  EXPECT_EQ(doc["createdAt"], "2024-01-01T00:00:00.000Z");
  EXPECT_EQ(doc["stream"], "http://h/api/v1/items/65f1c0ffee0000000000a001/stream");
  EXPECT_TRUE(doc["description"].is_null());
  auto back = item_from_json(doc);
  ASSERT_TRUE(back) << back.status().to_string();
  EXPECT_EQ(*back, item);
  EXPECT_EQ(back->size(), 48213u);
  EXPECT_EQ(back->mimetype(), "image/jpeg");
  EXPECT_EQ(back->user()["camera"], "cam-7");

  EXPECT_EQ(item_from_json(json{{"filename", "/a"}}).err(), EINVAL);  // no id
  EXPECT_EQ(item_from_json(json{{"id", "x"}, {"filename", "/a"}, {"type", "blob"}}).err(), EINVAL);
}

TEST(Item, LinkItems) {
  Item item;
  item.metadata["system"]["shebang"] = make_link_json("https://example.com/a.jpg", "image/jpeg")["metadata"];
  EXPECT_TRUE(item.is_link());
  EXPECT_EQ(item.link_url(), "https://example.com/a.jpg");
  EXPECT_EQ(item.link_mimetype(), "image/jpeg");
  Item plain;
  EXPECT_FALSE(plain.is_link());
}

TEST(Dataset, JsonRoundTrip) {
  Dataset ds;
  ds.id = new_id();
  ds.name = "cars";
  ds.creator = "dev@local";
  ds.created_ms = ds.updated_ms = 1704067200000;
  ds.items_count = 3;
  ds.projects = {"p1"};
  json doc = dataset_to_json(ds, "http://h/api/v1");
  EXPECT_EQ(doc["items"], "http://h/api/v1/datasets/" + ds.id + "/items");
  auto back = dataset_from_json(doc);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, ds);
}

namespace {
Result<int> failing() { return Status(ENOENT, "gone", "why"); }
Status try_status_of_temporary() {
  // A regression: DLFS_TRY on `f().status()` once kept a reference into the dead temporary.
  DLFS_TRY(failing().status());
  return {};
}
Result<std::string> assign_then_use() {
  DLFS_ASSIGN(int v, failing());
  return std::to_string(v);
}
}  // namespace

TEST(Result, TryAndAssignPropagateTheStatus) {
  Status s = try_status_of_temporary();
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_EQ(s.to_string(), "gone: why");
  EXPECT_EQ(assign_then_use().err(), ENOENT);
  EXPECT_EQ(s.wrap("opening x").to_string(), "opening x: gone: why");
  Result<int> ok = 5;
  EXPECT_TRUE(ok);
  EXPECT_EQ(*ok, 5);
  EXPECT_TRUE(ok.status().is_ok());
  Result<int> bad_ok = Status();  // an ok Status is not a value: it becomes an error
  EXPECT_FALSE(bad_ok);
}

// copy_fd copies in the kernel between files and falls back to read/write where it cannot (a
// pipe); either way every byte arrives, from the input's current offset on.
TEST(FileIo, CopyFdCopiesFilesAndPipesWhole) {
  dlfs::test::TempDir dir;
  std::string bytes;
  for (int i = 0; i < (1 << 20) + 4099; ++i) bytes.push_back(char(i * 7 + i / 251));
  auto copied = [&](int in, uint64_t expect_size) {
    std::string out_path = dir.sub("out");
    int out = ::open(out_path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    EXPECT_GE(out, 0);
    auto n = copy_fd(in, out);
    ::close(out);
    EXPECT_TRUE(n) << n.status().to_string();
    EXPECT_EQ(n ? *n : 0, expect_size);
    std::string back;
    int fd = ::open(out_path.c_str(), O_RDONLY | O_CLOEXEC);
    char buf[65536];
    for (ssize_t r; (r = ::read(fd, buf, sizeof buf)) > 0;) back.append(buf, size_t(r));
    ::close(fd);
    return back;
  };
  for (size_t size : {size_t(0), size_t(1), bytes.size()}) {
    std::string in_path = dir.sub("in");
    int w = ::open(in_path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_TRUE(write_all(w, bytes.data(), size));
    ::close(w);
    int in = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_EQ(copied(in, size), bytes.substr(0, size)) << size;
    // From the current offset on.
    if (size > 10) {
      ASSERT_EQ(::lseek(in, 10, SEEK_SET), 10);
      EXPECT_EQ(copied(in, size - 10), bytes.substr(10, size - 10));
    }
    ::close(in);
  }
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  std::thread writer([&] {
    (void)write_all(pipe_fds[1], bytes.data(), bytes.size());
    ::close(pipe_fds[1]);
  });
  EXPECT_EQ(copied(pipe_fds[0], bytes.size()), bytes);
  writer.join();
  ::close(pipe_fds[0]);
}
