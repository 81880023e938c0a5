#include "support/object_store_contract.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "support/temp_dir.h"

namespace dlfs::test {
namespace {

std::string read_all(ObjectStore& store, const std::string& key, size_t size) {
  std::string out(size + 16, '\0');
  auto n = store.read(key, 0, std::span<char>(out.data(), out.size()));
  EXPECT_TRUE(n) << key << ": " << n.status().to_string();
  out.resize(n ? *n : 0);
  return out;
}

std::vector<std::string> keys_under(ObjectStore& store, const std::string& prefix) {
  std::vector<std::string> keys;
  Status s = store.list(prefix, [&](const ObjectInfo& o) {
    keys.push_back(o.key);
    return true;
  });
  EXPECT_TRUE(s) << s.to_string();
  return keys;
}

}  // namespace

void check_object_store_basics(ObjectStore& store, const std::string& scratch, size_t big_bytes) {
  // Small objects: put, head, read whole and in ranges.
  auto put = store.put_bytes("basics/a.txt", "hello, bucket");
  ASSERT_TRUE(put) << put.status().to_string();
  EXPECT_EQ(put->key, "basics/a.txt");
  EXPECT_EQ(put->size, 13u);
  auto head = store.head("basics/a.txt");
  ASSERT_TRUE(head) << head.status().to_string();
  EXPECT_EQ(head->size, 13u);
  EXPECT_EQ(read_all(store, "basics/a.txt", 13), "hello, bucket");
  char part[5];
  auto n = store.read("basics/a.txt", 7, std::span<char>(part, sizeof part));
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(std::string(part, *n), "bucke");
  auto tail = store.read("basics/a.txt", 10, std::span<char>(part, sizeof part));
  ASSERT_TRUE(tail) << tail.status().to_string();
  EXPECT_EQ(std::string(part, *tail), "ket");
  for (uint64_t at : {13u, 14u, 1000u}) {
    auto past = store.read("basics/a.txt", at, std::span<char>(part, sizeof part));
    ASSERT_TRUE(past) << "a read at " << at << ": " << past.status().to_string();
    EXPECT_EQ(*past, 0u) << "a read at " << at;
  }

  // Replacing an object: new bytes, new size, a new etag where the store has them.
  auto again = store.put_bytes("basics/a.txt", "replaced");
  ASSERT_TRUE(again) << again.status().to_string();
  EXPECT_EQ(read_all(store, "basics/a.txt", 13), "replaced");
  auto head2 = store.head("basics/a.txt");
  ASSERT_TRUE(head2);
  EXPECT_EQ(head2->size, 8u);
  if (!head->etag.empty()) {
    EXPECT_NE(head2->etag, head->etag);
  }

  // An empty object.
  ASSERT_TRUE(store.put_bytes("basics/empty", ""));
  auto empty = store.head("basics/empty");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->size, 0u);
  auto none = store.read("basics/empty", 0, std::span<char>(part, sizeof part));
  ASSERT_TRUE(none) << none.status().to_string();
  EXPECT_EQ(*none, 0u);

  // A file, streamed: byte-exact, read back in uneven ranges.
  std::string big = random_bytes(big_bytes, 7);
  std::string file = scratch + "/big.bin";
  write_file(file, big);
  auto put_big = store.put_file("basics/deep/er/big.bin", file);
  ASSERT_TRUE(put_big) << put_big.status().to_string();
  EXPECT_EQ(put_big->size, big.size());
  std::string back;
  std::vector<char> buf(1 << 20 | 12345);
  while (back.size() < big.size() + 1) {
    auto got = store.read("basics/deep/er/big.bin", back.size(), std::span<char>(buf.data(), buf.size()));
    ASSERT_TRUE(got) << got.status().to_string();
    if (*got == 0) break;
    back.append(buf.data(), *got);
  }
  EXPECT_EQ(back.size(), big.size());
  EXPECT_TRUE(back == big) << "the streamed object's bytes differ";
  EXPECT_EQ(store.put_file("basics/nothing", scratch + "/no-such-file").err(), ENOENT);

  // Missing objects, removal.
  EXPECT_EQ(store.head("basics/missing").err(), ENOENT);
  EXPECT_EQ(store.read("basics/missing", 0, std::span<char>(part, sizeof part)).err(), ENOENT);
  EXPECT_TRUE(store.remove("basics/missing"));
  ASSERT_TRUE(store.remove("basics/a.txt"));
  EXPECT_EQ(store.head("basics/a.txt").err(), ENOENT);

  // Keys that are not relative paths are refused before anything is sent.
  for (const std::string& bad : std::vector<std::string>{"", "/abs", "a//b", "a/../b", "./a", std::string("a\0b", 3)})
    EXPECT_EQ(store.put_bytes(bad, "x").err(), EINVAL) << "key '" << bad << "'";
}

void check_object_store_listing(ObjectStore& store, size_t count) {
  std::vector<std::string> expected;
  for (size_t i = 0; i < count; ++i) {
    char name[64];
    snprintf(name, sizeof name, "many/f%05zu.jpg", i);
    expected.push_back(name);
  }
  for (std::string odd : {"many/with space.jpg", "many/plus+sign.jpg", "many/per%cent.jpg", "many/\xc3\xa9t\xc3\xa9.jpg",
                          "many/sub/deeper.jpg"})
    expected.push_back(odd);
  for (const std::string& k : expected) ASSERT_TRUE(store.put_bytes(k, k)) << k;
  ASSERT_TRUE(store.put_bytes("manyother/x.jpg", "x"));
  ASSERT_TRUE(store.put_bytes("elsewhere/y.jpg", "y"));
  std::sort(expected.begin(), expected.end());

  EXPECT_EQ(keys_under(store, "many/"), expected);
  // A prefix is a string prefix, not a folder.
  auto all_many = keys_under(store, "many");
  EXPECT_EQ(all_many.size(), expected.size() + 1);
  EXPECT_EQ(keys_under(store, "many/sub/"), std::vector<std::string>{"many/sub/deeper.jpg"});
  EXPECT_TRUE(keys_under(store, "nothing-here/").empty());

  // Sizes come with the listing, and every listed key reads back as written.
  Status s = store.list("many/", [&](const ObjectInfo& o) {
    EXPECT_EQ(o.size, o.key.size()) << o.key;
    return true;
  });
  EXPECT_TRUE(s) << s.to_string();
  for (const std::string& k : {expected.front(), expected.back(), std::string("many/with space.jpg")})
    EXPECT_EQ(read_all(store, k, k.size()), k);

  size_t seen = 0;
  EXPECT_TRUE(store.list("many/", [&](const ObjectInfo&) { return ++seen < 3; }));
  EXPECT_EQ(seen, 3u) << "list() went on after fn answered false";
}

void check_object_store_copy(ObjectStore& store) {
  std::string bytes = random_bytes(300 * 1024 + 7, 11);
  ASSERT_TRUE(store.put_bytes("copy/from dir/a.bin", bytes));
  auto copied = store.copy("copy/from dir/a.bin", "copy/to/b c.bin");
  ASSERT_TRUE(copied) << copied.status().to_string();
  EXPECT_EQ(copied->key, "copy/to/b c.bin");
  EXPECT_EQ(copied->size, bytes.size());
  EXPECT_TRUE(read_all(store, "copy/to/b c.bin", bytes.size()) == bytes) << "the copy's bytes differ";
  EXPECT_TRUE(read_all(store, "copy/from dir/a.bin", bytes.size()) == bytes) << "the source changed";
  auto head = store.head("copy/to/b c.bin");
  ASSERT_TRUE(head) << head.status().to_string();
  EXPECT_EQ(head->etag, copied->etag);

  // Over an object: replaced.
  ASSERT_TRUE(store.put_bytes("copy/small", "small"));
  auto over = store.copy("copy/small", "copy/to/b c.bin");
  ASSERT_TRUE(over) << over.status().to_string();
  EXPECT_EQ(over->size, 5u);
  EXPECT_EQ(read_all(store, "copy/to/b c.bin", 5), "small");

  EXPECT_EQ(store.copy("copy/missing", "copy/made").err(), ENOENT);
  EXPECT_EQ(store.head("copy/made").err(), ENOENT);
  EXPECT_EQ(store.copy("copy/small", "/abs").err(), EINVAL);
}

}  // namespace dlfs::test
