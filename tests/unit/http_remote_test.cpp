// HttpRemote and HttpConnection against in-test servers that check what API.md says a client
// sends: the multipart upload (field order, metadata JSON, bytes), the size check, folder
// listings (one request per page), lookups by path, patches and moves; then SOURCE parsing and
// token resolution.
#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>

#include "remote/connect.h"
#include "remote/http_remote.h"
#include "support/temp_dir.h"
#include "http_test_server.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

const std::string kItems = std::string("/api/v1/datasets/") + kDatasetId + "/items";
const std::string kQuery = std::string("/api/v1/datasets/") + kDatasetId + "/query";

struct Part {
  std::string name, filename, content_type, content;
};

// Collects the parts of a multipart upload in the order they arrived.
std::vector<Part> read_parts(const httplib::ContentReader& reader) {
  std::vector<Part> parts;
  reader(
      [&](const httplib::MultipartFormData& f) {
        parts.push_back({f.name, f.filename, f.content_type, ""});
        return true;
      },
      [&](const char* data, size_t n) {
        parts.back().content.append(data, n);
        return true;
      });
  return parts;
}

class HttpRemoteTest : public ::testing::Test {
 protected:
  void open() {
    server.start();
    conn = std::make_unique<HttpConnection>(fast_options(server.base(), 2));
    auto r = conn->open(kDatasetId);
    ASSERT_TRUE(r) << r.status().to_string();
    remote = std::move(r).value();
  }
  TestServer server;
  std::unique_ptr<HttpConnection> conn;
  std::unique_ptr<Remote> remote;
  TempDir dir{"dlfs-http"};
  std::mutex mu;
};

}  // namespace

TEST_F(HttpRemoteTest, UploadSendsTheFieldsInOrderAndReadsTheOp) {
  serve_dataset(server);
  std::vector<Part> parts;
  std::string mode;
  server.svr().Post(kItems, [&](const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& reader) {
    std::lock_guard lock(mu);
    mode = req.get_param_value("mode");
    parts = read_parts(reader);
    Item item = make_item("65f1c0ffee0000000000a001", parts.at(1).content, parts.back().content.size());
    res.set_header("x-item-op", "overwrite");
    res.set_content(item_to_json(item).dump(), "application/json");
  });
  open();
  std::string bytes = random_bytes(300000, 7);
  write_file(dir.sub("a.jpg"), bytes);
  UploadOptions o;
  o.mode = UploadMode::kOverwrite;
  o.metadata = {{"user", {{"camera", "cam-7"}}}};
  o.description = "a car";
  auto r = remote->upload(dir.sub("a.jpg"), "/cars/a.jpg", o);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->op, UploadOp::kOverwritten);
  EXPECT_EQ(r->item.filename, "/cars/a.jpg");
  EXPECT_EQ(mode, "overwrite");
  ASSERT_EQ(parts.size(), 5u);
  std::vector<std::string> names;
  for (const auto& p : parts) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"type", "path", "metadata", "description", "file"}));
  EXPECT_EQ(parts[0].content, "file");
  EXPECT_EQ(parts[1].content, "/cars/a.jpg");
  EXPECT_EQ(json::parse(parts[2].content), o.metadata);
  EXPECT_EQ(parts[2].content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(parts[3].content, "a car");
  EXPECT_EQ(parts[4].filename, "a.jpg");
  EXPECT_EQ(parts[4].content_type, "image/jpeg");
  EXPECT_TRUE(parts[4].content == bytes);
}

TEST_F(HttpRemoteTest, UploadWithoutMetadataSendsTypePathFile) {
  serve_dataset(server);
  std::vector<std::string> names;
  std::string mode;
  server.svr().Post(kItems, [&](const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& reader) {
    mode = req.get_param_value("mode");
    auto parts = read_parts(reader);
    for (const auto& p : parts) names.push_back(p.name);
    res.set_header("x-item-op", "skipped");
    // Skipped: the existing item (of another size) is no corruption.
    res.set_content(item_to_json(make_item("65f1c0ffee0000000000a001", "/e", 999)).dump(), "application/json");
  });
  open();
  write_file(dir.sub("empty"), "");
  auto r = remote->upload(dir.sub("empty"), "/e", UploadOptions{});
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->op, UploadOp::kSkipped);
  EXPECT_EQ(mode, "skip");
  EXPECT_EQ(names, (std::vector<std::string>{"type", "path", "file"}));
}

TEST_F(HttpRemoteTest, SizeMismatchDeletesAndRetriesOnceThenEio) {
  serve_dataset(server);
  int uploads = 0, deletes = 0, lie_times = 1;
  server.svr().Post(kItems, [&](const httplib::Request&, httplib::Response& res, const httplib::ContentReader& reader) {
    std::lock_guard lock(mu);
    auto parts = read_parts(reader);
    ++uploads;
    uint64_t size = parts.back().content.size() - (uploads <= lie_times ? 1 : 0);
    res.set_header("x-item-op", "created");
    res.set_content(item_to_json(make_item("65f1c0ffee00000000000" + std::to_string(100 + uploads), "/f", size)).dump(),
                    "application/json");
  });
  server.svr().Delete(R"(/api/v1/items/([0-9a-f]{24}))", [&](const httplib::Request&, httplib::Response&) {
    std::lock_guard lock(mu);
    ++deletes;
  });
  open();
  write_file(dir.sub("f"), random_bytes(5000, 3));
  auto r = remote->upload(dir.sub("f"), "/f", UploadOptions{});
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->item.size(), 5000u);
  EXPECT_EQ(uploads, 2);
  EXPECT_EQ(deletes, 1);

  uploads = deletes = 0;
  lie_times = 100;
  auto bad = remote->upload(dir.sub("f"), "/f", UploadOptions{});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.err(), EIO);
  EXPECT_NE(bad.status().message().find("4999 bytes of 5000"), std::string::npos) << bad.status().message();
  EXPECT_EQ(uploads, 2);
  EXPECT_EQ(deletes, 2);
}

// dlfsd's batch route (server/routes_upload_batch.cpp): per file path, mode, replace, metadata,
// description, file; one answer entry per file, an error entry where that file was refused, and
// the size check of a single upload per file.
TEST_F(HttpRemoteTest, ABatchSendsEachFilesFieldsAndReadsEachOutcome) {
  serve_dataset(server);
  std::vector<Part> parts;
  int deletes = 0;
  server.svr().Post(kItems + "/batch", [&](const httplib::Request&, httplib::Response& res,
                                          const httplib::ContentReader& reader) {
    std::lock_guard lock(mu);
    parts = read_parts(reader);
    std::vector<uint64_t> sizes;
    for (const auto& p : parts)
      if (p.name == "file") sizes.push_back(p.content.size());
    json answer = json::array();
    answer.push_back({{"op", "created"}, {"item", item_to_json(make_item("65f1c0ffee0000000000b001", "/a", sizes[0]))}});
    answer.push_back({{"status", 409}, {"error", {{"message", "'/b' is taken"}}}});
    answer.push_back({{"op", "created"}, {"item", item_to_json(make_item("65f1c0ffee0000000000b003", "/c", sizes[2] - 1))}});
    answer.push_back({{"status", 403}, {"error", {{"message", "quota of items is full"}, {"reason", "quota"}}}});
    res.set_content(answer.dump(), "application/json");
  });
  server.svr().Delete(R"(/api/v1/items/([0-9a-f]{24}))", [&](const httplib::Request& req, httplib::Response&) {
    std::lock_guard lock(mu);
    EXPECT_EQ(req.matches[1].str(), "65f1c0ffee0000000000b003");
    ++deletes;
  });
  open();
  for (const char* n : {"a", "b", "c", "d"}) write_file(dir.sub(n), std::string(100, n[0]));
  UploadOptions meta;
  meta.metadata = {{"user", {{"k", 1}}}};
  meta.description = "about a";
  UploadOptions over;
  over.mode = UploadMode::kOverwrite;
  UploadOptions replacing;
  replacing.replace_id = "65f1c0ffee0000000000c000";
  std::vector<FileUpload> files{{dir.sub("a"), "/a", meta, false},
                                {dir.sub("b"), "/b", {}, false},
                                {dir.sub("c"), "/c", over, false},
                                {dir.sub("d"), "/d", replacing, false}};
  auto r = remote->upload_files(files);
  ASSERT_EQ(r.size(), 4u);
  ASSERT_TRUE(r[0]) << r[0].status().to_string();
  EXPECT_EQ(r[0]->op, UploadOp::kCreated);
  EXPECT_EQ(r[1].err(), EEXIST);
  EXPECT_NE(r[1].status().message().find("is taken"), std::string::npos);
  EXPECT_EQ(r[2].err(), EIO) << "a size other than what was sent is corruption";
  EXPECT_EQ(deletes, 1);
  EXPECT_EQ(r[3].err(), EDQUOT);
  std::vector<std::string> names, values;
  for (const auto& p : parts) {
    names.push_back(p.name);
    values.push_back(p.name == "file" ? p.filename : p.content);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"path", "mode", "metadata", "description", "file",  //
                                             "path", "mode", "file",                             //
                                             "path", "mode", "file",                             //
                                             "path", "mode", "replace", "file"}));
  EXPECT_EQ(values, (std::vector<std::string>{"/a", "skip", R"({"user":{"k":1}})", "about a", "a",  //
                                              "/b", "skip", "b",                                    //
                                              "/c", "overwrite", "c",                               //
                                              "/d", "skip", "65f1c0ffee0000000000c000", "d"}));
}

TEST_F(HttpRemoteTest, ABatchToAServerWithoutTheRouteIsSentOneFilePerRequest) {
  serve_dataset(server);
  int batches = 0, singles = 0;
  server.svr().Post(kItems + "/batch", [&](const httplib::Request&, httplib::Response& res,
                                          const httplib::ContentReader& reader) {
    std::lock_guard lock(mu);
    (void)read_parts(reader);
    ++batches;
    res.status = 404;  // what a server without the route answers
  });
  server.svr().Post(kItems, [&](const httplib::Request&, httplib::Response& res, const httplib::ContentReader& reader) {
    std::lock_guard lock(mu);
    auto parts = read_parts(reader);
    ++singles;
    res.set_header("x-item-op", "created");
    res.set_content(item_to_json(make_item("65f1c0ffee0000000000a00" + std::to_string(singles), parts.at(1).content,
                                           parts.back().content.size()))
                        .dump(),
                    "application/json");
  });
  open();
  write_file(dir.sub("x"), "xx");
  std::vector<FileUpload> files{{dir.sub("x"), "/x1", {}, false}, {dir.sub("x"), "/x2", {}, false}};
  for (int round = 0; round < 2; ++round) {
    auto r = remote->upload_files(files);
    ASSERT_EQ(r.size(), 2u);
    for (auto& one : r) ASSERT_TRUE(one) << one.status().to_string();
    EXPECT_EQ(r[1]->item.filename, "/x2");
  }
  EXPECT_EQ(batches, 1) << "the batch route is not tried again once the server said it has none";
  EXPECT_EQ(singles, 4);
}

TEST_F(HttpRemoteTest, UploadOfAMissingFileIsAClearError) {
  serve_dataset(server);
  open();
  auto r = remote->upload(dir.sub("nope"), "/x", UploadOptions{});
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().to_string().find("nope"), std::string::npos) << r.status().to_string();
}

TEST_F(HttpRemoteTest, ListIsOneQueryPerPageWithTheApiShape) {
  serve_dataset(server);
  std::vector<json> bodies;
  std::vector<std::string> user_query;
  std::vector<Item> all;
  for (int i = 0; i < 5; ++i) {
    char id[25];
    snprintf(id, sizeof id, "65f1c0ffee0000000000%04d", i);
    all.push_back(make_item(id, "/d/f" + std::to_string(i), 1));
  }
  server.svr().Post(kQuery, [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    json dql = json::parse(req.body);
    bodies.push_back(dql);
    user_query.push_back(req.get_header_value("user_query"));
    std::string after;
    for (const auto& c : dql["filter"]["$and"])
      if (c.contains("id")) after = c["id"]["$gt"];
    size_t size = dql["pageSize"];
    std::vector<Item> page;
    size_t i = 0;
    while (i < all.size() && all[i].id <= after) ++i;
    for (; i < all.size() && page.size() < size; ++i) page.push_back(all[i]);
    res.set_content(page_json(page, i < all.size(), all.size()), "application/json");
  });
  open();
  auto p1 = remote->list("/d", "", 2);
  ASSERT_TRUE(p1) << p1.status().to_string();
  ASSERT_EQ(p1->items.size(), 2u);
  EXPECT_EQ(p1->total, 5u);
  EXPECT_EQ(p1->next_after, all[1].id);
  auto p3 = remote->list("/d", all[3].id, 2);
  ASSERT_TRUE(p3);
  ASSERT_EQ(p3->items.size(), 1u);
  EXPECT_FALSE(p3->has_next());
  ASSERT_EQ(bodies.size(), 2u);  // no extra round trip when the page has items
  json expected = {{"filter", {{"$and", {{{"dir", "/d"}}, {{"hidden", false}}}}}},
                   {"sort", {{"id", "ascending"}}},
                   {"page", 0},
                   {"pageSize", 2},
                   {"resource", "items"},
                   {"urls", false}};  // (the items' links: not kept, not asked for)
  EXPECT_EQ(bodies[0], expected);
  EXPECT_EQ(bodies[1]["filter"]["$and"][2], json({{"id", {{"$gt", all[3].id}}}}));
  EXPECT_EQ(user_query[0], "true");
}

TEST_F(HttpRemoteTest, ListOfAMissingFolderOrAFileAnswersEnoentOrEnotdir) {
  serve_dataset(server);
  server.svr().Post(kQuery, [&](const httplib::Request& req, httplib::Response& res) {
    json dql = json::parse(req.body);
    std::vector<Item> page;
    // The only item: a file /f. Folder listings are empty; a lookup by filename finds /f.
    if (dql["filter"]["$and"][0].contains("filename") && dql["filter"]["$and"][0]["filename"] == "/f")
      page.push_back(make_item("65f1c0ffee0000000000a001", "/f", 3));
    res.set_content(page_json(page, false, page.size()), "application/json");
  });
  open();
  auto missing = remote->list("/nope", "", 100);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.err(), ENOENT);
  auto file = remote->list("/f", "", 100);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.err(), ENOTDIR);
  auto root = remote->list("/", "", 100);
  ASSERT_TRUE(root) << root.status().to_string();
  EXPECT_TRUE(root->items.empty());
  auto got = remote->get("/f");
  ASSERT_TRUE(got) << got.status().to_string();
  EXPECT_EQ(got->size(), 3u);
  EXPECT_EQ(remote->get("/g").err(), ENOENT);
}

TEST_F(HttpRemoteTest, PatchMoveRemoveSendWhatTheApiSays) {
  serve_dataset(server);
  std::vector<std::string> seen;
  const std::string id = "65f1c0ffee0000000000a001";
  server.svr().Patch("/api/v1/items/" + id, [&](const httplib::Request& req, httplib::Response& res) {
    seen.push_back("PATCH " + req.get_param_value("system") + " " + req.body);
    Item item = make_item(id, "/a", 1);
    json body = json::parse(req.body);
    if (body.contains("filename")) item.set_path(body["filename"].get<std::string>());
    res.set_content(item_to_json(item).dump(), "application/json");
  });
  server.svr().Delete("/api/v1/items/" + id, [&](const httplib::Request&, httplib::Response&) {
    seen.push_back("DELETE");
  });
  open();
  auto p = remote->patch(id, {{"metadata", {{"user", {{"k", nullptr}}}}}});
  ASSERT_TRUE(p) << p.status().to_string();
  auto m = remote->move(id, "/b/c");
  ASSERT_TRUE(m) << m.status().to_string();
  EXPECT_EQ(m->filename, "/b/c");
  EXPECT_EQ(m->dir, "/b");
  EXPECT_TRUE(remote->remove(id));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], R"(PATCH  {"metadata":{"user":{"k":null}}})");
  EXPECT_EQ(seen[1], R"(PATCH true {"filename":"/b/c"})");
  EXPECT_EQ(seen[2], "DELETE");
}

TEST_F(HttpRemoteTest, FindsADatasetByNameAndAsksWhoAmIOnce) {
  int me = 0;
  server.svr().Post("/api/v1/datasets/query", [&](const httplib::Request& req, httplib::Response& res) {
    json dql = json::parse(req.body);
    EXPECT_EQ(dql["resource"], "datasets");
    Dataset a, b;
    a.id = "65f0c0ffee0000000000aaaa";
    a.name = "cars*";  // a name the wildcard also matches
    b.id = kDatasetId;
    b.name = "cars";
    json doc = {{"totalItemsCount", 2}, {"hasNextPage", false},
                {"items", {dataset_to_json(a), dataset_to_json(b)}}};
    res.set_content(doc.dump(), "application/json");
  });
  server.svr().Get("/api/v1/users/me", [&](const httplib::Request&, httplib::Response& res) {
    ++me;
    res.set_content(R"({"id":"u1","email":"dev@example.com"})", "application/json");
  });
  server.start();
  HttpConnection c(fast_options(server.base(), 2));
  auto ds = c.find_dataset("cars");
  ASSERT_TRUE(ds) << ds.status().to_string();
  EXPECT_EQ(ds->id, kDatasetId);
  EXPECT_EQ(c.find_dataset("boats").err(), ENOENT);
  EXPECT_EQ(c.user(), "dev@example.com");
  EXPECT_EQ(c.user(), "dev@example.com");
  EXPECT_EQ(me, 1);
}

TEST(Source, ParsesUrlsAndEmbeddedNames) {
  auto s = parse_source("http://127.0.0.1:8080/api/v1/datasets/cars:/photos/2024");
  ASSERT_TRUE(s) << s.status().to_string();
  EXPECT_TRUE(s->http);
  EXPECT_EQ(s->base_url, "http://127.0.0.1:8080/api/v1");
  EXPECT_EQ(s->dataset, "cars");
  EXPECT_EQ(s->folder, "/photos/2024");

  s = parse_source("https://gate.example.com/api/v1/datasets/65f0c0ffee0000000000abcd/");
  ASSERT_TRUE(s) << s.status().to_string();
  EXPECT_EQ(s->base_url, "https://gate.example.com/api/v1");
  EXPECT_EQ(s->dataset, "65f0c0ffee0000000000abcd");
  EXPECT_EQ(s->folder, "/");

  s = parse_source("http://h/api/v1/datasets/my%20set");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->dataset, "my set");

  s = parse_source("cars:/a");
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->http);
  EXPECT_EQ(s->dataset, "cars");
  EXPECT_EQ(s->folder, "/a");

  EXPECT_EQ(parse_source("http://h:1/datasets/cars").err(), EINVAL);
  EXPECT_EQ(parse_source("http://h:1/api/v1/datasets/").err(), EINVAL);
  EXPECT_EQ(parse_source("http://h:1/api/v1/datasets/a/b").err(), EINVAL);
  EXPECT_EQ(parse_source("http://h:1/api/v1/datasets/cars:/../x").err(), EINVAL);
  EXPECT_EQ(parse_source(":/x").err(), EINVAL);

  auto u = normalize_server_url("http://localhost:9000/");
  ASSERT_TRUE(u);
  EXPECT_EQ(*u, "http://localhost:9000/api/v1");
  u = normalize_server_url("https://g/api/v1");
  ASSERT_TRUE(u);
  EXPECT_EQ(*u, "https://g/api/v1");
  EXPECT_EQ(normalize_server_url("ftp://x").err(), EINVAL);
}

TEST(Source, TokenFromValueFileOrEnvironment) {
  TempDir dir("dlfs-token");
  unsetenv("DLFS_TOKEN");
  ConnectOptions o;
  auto none = resolve_token(o);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.err(), EACCES);
  EXPECT_NE(none.status().message().find("DLFS_TOKEN"), std::string::npos);

  setenv("DLFS_TOKEN", "  env-token\n", 1);
  EXPECT_EQ(*resolve_token(o), "env-token");

  write_file(dir.sub("tok"), "\n file-token \n");
  o.token_file = dir.sub("tok");
  EXPECT_EQ(*resolve_token(o), "file-token");  // the file wins over the environment

  o.token_file = dir.sub("missing");
  auto missing = resolve_token(o);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.err(), ENOENT);
  EXPECT_NE(missing.status().message().find(dir.sub("missing")), std::string::npos);

  write_file(dir.sub("blank"), " \n\t");
  o.token_file = dir.sub("blank");
  EXPECT_EQ(resolve_token(o).err(), EINVAL);

  o.token = "explicit";
  EXPECT_EQ(*resolve_token(o), "explicit");
  unsetenv("DLFS_TOKEN");

  ConnectOptions no_token;
  auto c = connect("http://127.0.0.1:1", no_token);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.err(), EACCES);
}
