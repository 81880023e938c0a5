// dlfsd over real HTTP on loopback (tests/support/dlfsd_process.h), with cpp-httplib's client:
// every endpoint of API.md and its errors, streaming uploads and ranged downloads, DQL paging,
// concurrent uploads, and a graceful stop.
#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "core/json_util.h"
#include "platform/platform.h"
#include "support/dlfsd_process.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace dlfs::test {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<httplib::Client> client_for(const DlfsdProcess& server) {
  // httplib's client sends without MSG_NOSIGNAL: a server that answers (413) and closes while
  // the body is still going out would kill the test with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  auto c = std::make_unique<httplib::Client>(server.host_port());
  c->set_connection_timeout(10, 0);
  c->set_read_timeout(60, 0);
  c->set_write_timeout(60, 0);
  c->set_default_headers(server.auth_headers());
  return c;
}

json body_of(const httplib::Result& r) {
  if (!r) return json();
  return json::parse(r->body, nullptr, false);
}

// One server for the tests that need nothing special; each test makes its own datasets.
class DlfsdApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new DlfsdProcess(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->ok()) << server_->error();
    http = client_for(*server_);
  }

  DlfsdProcess& server() { return *server_; }
  static std::string P(const std::string& rel) { return DlfsdProcess::path(rel); }

  json create_dataset(const std::string& name, bool readonly = false) {
    auto r = http->Post(P("/datasets"), json{{"name", name}, {"projects", {"000000000000000000000001"}}, {"readonly", readonly}}.dump(),
                        "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return body_of(r);
  }

  httplib::Result upload(const std::string& ds, const std::string& path, const std::string& bytes,
                         const std::string& mode = "skip", const std::string& metadata = "") {
    httplib::MultipartFormDataItems items = {{"type", "file", "", "text/plain; charset=utf-8"},
                                             {"path", path, "", "text/plain; charset=utf-8"}};
    if (!metadata.empty()) items.push_back({"metadata", metadata, "", "text/plain; charset=utf-8"});
    items.push_back({"file", bytes, "f.bin", "application/octet-stream"});
    return http->Post(P("/datasets/" + ds + "/items?mode=" + mode), items);
  }

  json upload_ok(const std::string& ds, const std::string& path, const std::string& bytes) {
    auto r = upload(ds, path, bytes);
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return body_of(r);
  }

  std::string download(const std::string& id, const std::string& range = "") {
    httplib::Headers h;
    if (!range.empty()) h.emplace("Range", range);
    auto r = http->Get(P("/items/" + id + "/stream"), h);
    return r ? r->body : "<no answer>";
  }

  json query(const std::string& ds, const json& body) {
    auto r = http->Post(P("/datasets/" + ds + "/query"), {{"user_query", "true"}}, body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return body_of(r);
  }

  std::unique_ptr<httplib::Client> http;
  static DlfsdProcess* server_;
};

DlfsdProcess* DlfsdApi::server_ = nullptr;

TEST_F(DlfsdApi, TokenIsRequiredAndChecked) {
  httplib::Client bare(server().host_port());
  auto r = bare.Get(P("/users/me"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(body_of(r).contains("message"));
  r = bare.Get(P("/users/me"), {{"Authorization", "Bearer not.a.token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  // Expired: minted for -1 days.
  auto expired = run({std::string(DLFS_BIN_DIR) + "/dlfsd", "token", "--store", server().store(), "--email", "x@y", "--days", "-1"});
  ASSERT_TRUE(expired.ok()) << expired.err;
  r = bare.Get(P("/users/me"), {{"Authorization", "Bearer " + expired.out.substr(0, expired.out.find('\n'))}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("expired"), std::string::npos) << r->body;
  // Another store's token: another secret.
  TempDir other;
  auto foreign = run({std::string(DLFS_BIN_DIR) + "/dlfsd", "token", "--store", other.sub("s"), "--email", "x@y"});
  r = bare.Get(P("/users/me"), {{"Authorization", "Bearer " + foreign.out.substr(0, foreign.out.find('\n'))}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  // Header names are case-insensitive.
  r = bare.Get(P("/users/me"), {{"authorization", "Bearer " + server().token()}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_of(r)["email"], "dev@local");
  EXPECT_EQ(body_of(r)["id"].get<std::string>().size(), 24u);
  // The SDK check needs no token and arrives form-encoded.
  r = bare.Post(P("/sdk/check"), httplib::Params{{"version", "1.90.0"}, {"email", "x@y"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_of(r), (json{{"level", "debug"}, {"msg", ""}}));
}

TEST_F(DlfsdApi, Datasets) {
  json ds = create_dataset("datasets-a");
  ASSERT_TRUE(ds.contains("id"));
  EXPECT_EQ(ds["name"], "datasets-a");
  EXPECT_EQ(ds["readonly"], false);
  EXPECT_EQ(ds["url"], server().base_url() + "/datasets/" + ds["id"].get<std::string>());
  EXPECT_EQ(ds["creator"], "dev@local");
  auto r = http->Post(P("/datasets"), json{{"name", "datasets-a"}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  r = http->Post(P("/datasets"), json{{"name", "bad/name"}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);

  r = http->Get(P("/datasets/" + ds["id"].get<std::string>()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_of(r)["name"], "datasets-a");

  auto q = http->Post(P("/datasets/query"), json{{"filter", {{"name", "datasets-a"}}}, {"resource", "datasets"}}.dump(),
                      "application/json");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->status, 200) << q->body;
  json page = body_of(q);
  EXPECT_EQ(page["totalItemsCount"], 1);
  EXPECT_EQ(page["hasNextPage"], false);
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["id"], ds["id"]);

  r = http->Delete(P("/datasets/" + ds["id"].get<std::string>()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = http->Get(P("/datasets/" + ds["id"].get<std::string>()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(body_of(r).contains("message"));
}

TEST_F(DlfsdApi, SmallEndpoints) {
  auto r = http->Get(P("/projects"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  std::string pid = body_of(r)[0]["id"];
  r = http->Get(P("/projects/" + pid));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(http->Get(P("/projects/ffffffffffffffffffffffff"))->status, 404);
  EXPECT_EQ(http->Get(P("/commands/ffffffffffffffffffffffff"))->status, 404);
  EXPECT_EQ(body_of(http->Get(P("/drivers"))), json::array());
  json ds = create_dataset("small-endpoints");
  r = http->Post(P("/datasets/" + ds["id"].get<std::string>() + "/sync"), "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);  // a dataset of the platform's own storage has no bucket to sync with
  EXPECT_NE(body_of(r)["message"].get<std::string>().find("no storage driver"), std::string::npos);
  EXPECT_EQ(http->Get(P("/no/such/endpoint"))->status, 404);
}

TEST_F(DlfsdApi, UploadModesAndItemAnswers) {
  std::string ds = create_dataset("upload-modes")["id"];
  std::string bytes = random_bytes(100'000, 1);
  auto r = upload(ds, "/cars/a.bin", bytes, "skip", R"({"user":{"camera":"cam-7"}})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("x-item-op"), "created");
  json item = body_of(r);
  for (const char* key : {"id", "datasetId", "createdAt", "updatedAt", "updatedBy", "dir", "filename", "name", "type",
                          "hidden", "metadata", "annotated", "annotationsCount", "url", "stream", "thumbnail", "dataset",
                          "annotations"})
    EXPECT_TRUE(item.contains(key)) << key;
  EXPECT_EQ(item["filename"], "/cars/a.bin");
  EXPECT_EQ(item["dir"], "/cars");
  EXPECT_EQ(item["metadata"]["system"]["size"], 100'000);
  EXPECT_EQ(item["metadata"]["user"]["camera"], "cam-7");
  EXPECT_EQ(item["stream"], server().base_url() + "/items/" + item["id"].get<std::string>() + "/stream");

  // A query's items carry their links, unless asked with "urls": false (what mounts send); the
  // rest is the same fields (their values may differ: preprocessing runs meanwhile).
  json full = query(ds, {{"filter", {{"filename", "/cars/a.bin"}}}})["items"][0];
  json lean = query(ds, {{"filter", {{"filename", "/cars/a.bin"}}}, {"urls", false}})["items"][0];
  for (const char* link : {"url", "stream", "thumbnail", "dataset", "annotations"}) {
    EXPECT_TRUE(full.contains(link)) << link;
    EXPECT_FALSE(lean.contains(link)) << link;
    full.erase(link);
  }
  for (auto& [key, value] : full.items()) EXPECT_TRUE(lean.contains(key)) << key;
  EXPECT_EQ(lean.size(), full.size());
  EXPECT_EQ(lean["id"], full["id"]);
  EXPECT_EQ(lean["metadata"]["user"], full["metadata"]["user"]);
  // A client that accepts MessagePack (mounts) gets the same page in it; others get JSON.
  json lean_query = {{"filter", {{"filename", "/cars/a.bin"}}}, {"urls", false}};
  auto packed = http->Post(P("/datasets/" + ds + "/query"), {{"Accept", "application/msgpack, application/json;q=0.5"}},
                           lean_query.dump(), "application/json");
  ASSERT_TRUE(packed && packed->status == 200) << (packed ? packed->body : "no answer");
  EXPECT_EQ(packed->get_header_value("Content-Type"), "application/msgpack");
  json unpacked = json::from_msgpack(packed->body);
  json as_json = query(ds, lean_query);
  unpacked["items"][0]["metadata"]["system"].erase("preprocessPhase");  // (preprocessing may run meanwhile)
  as_json["items"][0]["metadata"]["system"].erase("preprocessPhase");
  EXPECT_EQ(unpacked["items"][0]["id"], as_json["items"][0]["id"]);
  EXPECT_EQ(unpacked["items"][0].size(), as_json["items"][0].size());
  EXPECT_EQ(unpacked["totalItemsCount"], as_json["totalItemsCount"]);
  EXPECT_EQ(unpacked["items"][0]["metadata"]["user"], as_json["items"][0]["metadata"]["user"]);
  // A folder listing in MessagePack (a mount's pages) is sent from the catalogue's records as they
  // are: the same document as the JSON answer, page by page.
  ASSERT_TRUE(upload(ds, "/cars/b.bin", "bee"));
  ASSERT_TRUE(upload(ds, "/cars/c.bin", "sea"));
  auto preprocessed = [&] {  // (it changes the items: pages compared before it ends could differ)
    json page = query(ds, {{"filter", {{"dir", "/cars"}}}});
    for (const json& item : page["items"])
      if (item["metadata"]["system"].value("preprocessPhase", "") != "done") return false;
    return true;
  };
  for (int i = 0; i < 200 && !preprocessed(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(preprocessed());
  std::string after;
  for (int page = 0; page < 4; ++page) {
    json conditions = json::array({{{"dir", "/cars"}}, {{"hidden", false}}});
    if (!after.empty()) conditions.push_back({{"id", {{"$gt", after}}}});
    json listing = {{"filter", {{"$and", conditions}}}, {"sort", {{"id", "ascending"}}}, {"page", 0},
                    {"pageSize", 2}, {"urls", false}};
    auto r = http->Post(P("/datasets/" + ds + "/query"), {{"Accept", "application/msgpack"}}, listing.dump(),
                        "application/json");
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/msgpack");
    json got = json::from_msgpack(r->body);
    json want = query(ds, listing);
    EXPECT_EQ(got, want) << "page " << page;
    if (!want["hasNextPage"].get<bool>()) {
      EXPECT_EQ(page, 1) << "3 items in pages of 2";
      break;
    }
    after = want["items"].back()["id"];
  }

  r = upload(ds, "/cars/a.bin", "other");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("x-item-op"), "skipped");
  EXPECT_EQ(body_of(r)["id"], item["id"]);
  EXPECT_EQ(download(item["id"]), bytes);
  r = upload(ds, "/cars/a.bin", "other", "overwrite");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("x-item-op"), "overwrite");
  EXPECT_EQ(body_of(r)["metadata"]["system"]["size"], 5);
  EXPECT_EQ(download(item["id"]), "other");

  r = http->Get(P("/items/" + item["id"].get<std::string>()));
  ASSERT_TRUE(r);
  EXPECT_EQ(body_of(r)["filename"], "/cars/a.bin");
  EXPECT_EQ(http->Get(P("/items/ffffffffffffffffffffffff"))->status, 404);
  EXPECT_EQ(upload(ds, "/cars/b.bin", "x", "sometimes")->status, 400);
  EXPECT_EQ(upload("ffffffffffffffffffffffff", "/b.bin", "x")->status, 404);
  EXPECT_EQ(upload(ds, "/cars/c.bin", "x", "skip", "{not json")->status, 400);
  EXPECT_EQ(upload(ds, "/cars", "x")->status, 400);  // a folder
  std::string huge_meta = R"({"user":{"big":")" + std::string(2 << 20, 'a') + R"("}})";
  EXPECT_EQ(upload(ds, "/cars/m.bin", "x", "skip", huge_meta)->status, 400);  // text fields over 1 MiB

  r = http->Delete(P("/items/" + item["id"].get<std::string>()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(http->Get(P("/items/" + item["id"].get<std::string>()))->status, 404);
}

TEST_F(DlfsdApi, FoldersMovesAndTree) {
  std::string ds = create_dataset("folders")["id"];
  auto r = http->Post(P("/datasets/" + ds + "/items"), "type=dir&path=/a/b", "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json dir = body_of(r);
  EXPECT_EQ(dir["type"], "dir");
  EXPECT_EQ(dir["filename"], "/a/b");
  r = http->Post(P("/datasets/" + ds + "/items"), "type=dir&path=/a/b", "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  // Also as multipart.
  r = http->Post(P("/datasets/" + ds + "/items"), httplib::MultipartFormDataItems{{"type", "dir", "", ""}, {"path", "/c", "", ""}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;

  json x = upload_ok(ds, "/x.bin", "xx");
  json y = upload_ok(ds, "/y.bin", "yy");
  r = http->Put(P("/datasets/" + ds + "/items/" + dir["id"].get<std::string>()), json::array({x["id"], y["id"]}).dump(),
                "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(http->Get(P("/items/" + x["id"].get<std::string>())))["filename"], "/a/b/x.bin");
  EXPECT_EQ(download(y["id"]), "yy");
  // Moving onto an existing name is a conflict.
  json x2 = upload_ok(ds, "/x.bin", "x2");
  r = http->Put(P("/datasets/" + ds + "/items/" + dir["id"].get<std::string>()), json::array({x2["id"]}).dump(),
                "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  // A move by PATCH filename needs ?system=true and makes missing folders.
  r = http->Patch(P("/items/" + x2["id"].get<std::string>()), json{{"filename", "/new/place/x.bin"}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = http->Patch(P("/items/" + x2["id"].get<std::string>() + "?system=true"), json{{"filename", "/new/place/x.bin"}}.dump(),
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["dir"], "/new/place");

  r = http->Get(P("/datasets/" + ds + "/directoryTree"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json tree = body_of(r);
  EXPECT_EQ(tree["value"]["filename"], "/");
  std::vector<std::string> top;
  for (auto& c : tree["children"]) top.push_back(c["value"]["filename"]);
  EXPECT_EQ(top, (std::vector<std::string>{"/a", "/c", "/new"}));
  EXPECT_EQ(tree["children"][0]["children"][0]["value"]["filename"], "/a/b");
  EXPECT_EQ(tree["children"][2]["children"][0]["value"]["filename"], "/new/place");

  // Deleting a folder deletes what is in it.
  r = http->Delete(P("/items/" + dir["id"].get<std::string>()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(http->Get(P("/items/" + x["id"].get<std::string>()))->status, 404);
}

TEST_F(DlfsdApi, PatchMergeRules) {
  std::string ds = create_dataset("patch")["id"];
  json item = upload_ok(ds, "/p.bin", "p");
  std::string url = P("/items/" + item["id"].get<std::string>());
  auto patch = [&](const json& body, const std::string& q = "") {
    auto r = http->Patch(url + q, body.dump(), "application/json");
    EXPECT_TRUE(r);
    return r;
  };
  auto r = patch({{"metadata", {{"user", {{"a", {{"b", 1}, {"c", 2}}}, {"list", {1, 2, 3}}, {"gone", "x"}}}}}});
  ASSERT_EQ(r->status, 200) << r->body;
  r = patch({{"metadata", {{"user", {{"a", {{"c", 3}}}, {"list", {9}}, {"gone", nullptr}}}}},
             {"description", "hello"},
             {"url", "http://elsewhere/"},
             {"createdAt", "2000-01-01T00:00:00.000Z"},
             {"dir", "/nowhere"}});
  ASSERT_EQ(r->status, 200) << r->body;
  json got = body_of(r);
  EXPECT_EQ(got["metadata"]["user"], (json{{"a", {{"b", 1}, {"c", 3}}}, {"list", {9}}}));
  EXPECT_EQ(got["description"], "hello");
  EXPECT_EQ(got["url"], server().base_url() + "/items/" + item["id"].get<std::string>());
  EXPECT_EQ(got["createdAt"], item["createdAt"]);
  EXPECT_EQ(got["dir"], "/");
  EXPECT_EQ(got["metadata"]["system"]["size"], 1);
  // metadata.system needs ?system=true.
  r = patch({{"metadata", {{"system", {{"mine", 1}}}}}});
  EXPECT_EQ(r->status, 403);
  r = patch({{"metadata", {{"system", {{"mine", 1}}}}}}, "?system=true");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["metadata"]["system"]["mine"], 1);
  r = http->Patch(url, "{not json", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(http->Patch(P("/items/ffffffffffffffffffffffff"), "{}", "application/json")->status, 404);
}

TEST_F(DlfsdApi, RangedDownloads) {
  std::string ds = create_dataset("ranges")["id"];
  std::string bytes = random_bytes(1'000'000, 2);
  std::string id = upload_ok(ds, "/r.bin", bytes)["id"];
  auto r = http->Get(P("/items/" + id + "/stream"), {{"Range", "bytes=10-19"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->get_header_value("Content-Range"), "bytes 10-19/1000000");
  EXPECT_EQ(r->body, bytes.substr(10, 10));
  r = http->Get(P("/items/" + id + "/stream"), {{"Range", "bytes=999000-"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, bytes.substr(999000));
  r = http->Get(P("/items/" + id + "/stream"), {{"Range", "bytes=-5"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, bytes.substr(bytes.size() - 5));
  r = http->Get(P("/items/" + id + "/stream"), {{"Range", "bytes=1000000-"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 416);
  EXPECT_EQ(r->get_header_value("Content-Range"), "bytes */1000000");
  r = http->Get(P("/items/" + id + "/stream"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, bytes);
  // An error answer keeps its whole body even with a Range header.
  r = http->Get(P("/items/ffffffffffffffffffffffff/stream"), {{"Range", "bytes=5-"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(body_of(r).contains("message"));
  // The bytes' version is the ETag (the item's etag); If-Match with another version answers 412
  // (a reader of ranges never gets a part of the file that replaced the one it started on).
  std::string etag = "\"" + body_of(http->Get(P("/items/" + id)))["metadata"]["system"]["etag"].get<std::string>() + "\"";
  r = http->Get(P("/items/" + id + "/stream"), {{"Range", "bytes=0-9"}, {"If-Match", etag}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->get_header_value("ETag"), etag);
  EXPECT_EQ(r->body, bytes.substr(0, 10));
  std::string replaced = random_bytes(1'000'000, 3);
  auto over = upload(ds, "/r.bin", replaced, "overwrite");
  ASSERT_TRUE(over && over->status == 200) << (over ? over->body : "no answer");
  ASSERT_EQ(body_of(over)["id"], id);  // (the same item, new bytes)
  r = http->Get(P("/items/" + id + "/stream"), {{"Range", "bytes=10-19"}, {"If-Match", etag}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 412) << r->body;
  EXPECT_TRUE(body_of(r).contains("message"));
  r = http->Get(P("/items/" + id + "/stream"), {{"Range", "bytes=10-19"}, {"If-Match", "*"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_NE(r->get_header_value("ETag"), etag);
  EXPECT_EQ(r->body, replaced.substr(10, 10));
  // An empty file read from 0 answers empty, not 416.
  std::string empty = upload_ok(ds, "/empty.bin", "")["id"];
  r = http->Get(P("/items/" + empty + "/stream"), {{"Range", "bytes=0-"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "");
}

TEST_F(DlfsdApi, ChunkedMultipartUpload) {
  std::string ds = create_dataset("chunked")["id"];
  std::string bytes = random_bytes(3'000'000, 3);
  httplib::MultipartFormDataItems fields = {{"type", "file", "", "text/plain; charset=utf-8"},
                                            {"path", "/big/c.bin", "", "text/plain; charset=utf-8"},
                                            {"metadata", R"({"user":{"k":"v"}})", "", "text/plain; charset=utf-8"}};
  httplib::MultipartFormDataProviderItems file = {
      {"file",
       [&](size_t offset, httplib::DataSink& sink) {
         size_t n = std::min<size_t>(65536, bytes.size() - offset);
         if (n) sink.write(bytes.data() + offset, n);
         if (offset + n == bytes.size()) sink.done();
         return true;
       },
       "c.bin", "application/octet-stream"}};
  auto r = http->Post(P("/datasets/" + ds + "/items?mode=overwrite"), {}, fields, file);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json item = body_of(r);
  EXPECT_EQ(item["metadata"]["system"]["size"], bytes.size());
  EXPECT_EQ(item["metadata"]["user"]["k"], "v");
  EXPECT_EQ(download(item["id"]), bytes);
}

TEST_F(DlfsdApi, ReadOnlyDatasetRefusesWrites) {
  json ro = create_dataset("readonly-new", true);
  EXPECT_EQ(ro["readonly"], true);
  std::string id = ro["id"];
  auto r = upload(id, "/a.bin", "a");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_TRUE(body_of(r).contains("message"));
  EXPECT_EQ(http->Post(P("/datasets/" + id + "/items"), "type=dir&path=/d", "application/x-www-form-urlencoded")->status, 403);
  EXPECT_EQ(http->Post(P("/datasets/" + id + "/query"), json{{"delete", true}}.dump(), "application/json")->status, 403);
  EXPECT_EQ(http->Delete(P("/datasets/" + id))->status, 403);
  EXPECT_EQ(http->Post(P("/datasets/" + id + "/query"), json{{"filter", json::object()}}.dump(), "application/json")->status, 200);

  // A dataset made read-only (through the platform, on the same store) after items arrived.
  std::string ds = create_dataset("readonly-later")["id"];
  std::string item = upload_ok(ds, "/i.bin", "i")["id"];
  {
    PlatformOptions po;
    po.store_dir = server().store();
    auto platform = Platform::open(po);
    ASSERT_TRUE(platform) << platform.status().to_string();
    ASSERT_TRUE((*platform)->set_dataset_readonly(ds, true));
  }
  EXPECT_EQ(http->Patch(P("/items/" + item), R"({"description":"d"})", "application/json")->status, 403);
  EXPECT_EQ(http->Delete(P("/items/" + item))->status, 403);
  EXPECT_EQ(download(item), "i");
}

TEST_F(DlfsdApi, ConcurrentUploadsIntoOneFolder) {
  std::string ds = create_dataset("concurrent")["id"];
  constexpr int kThreads = 8, kFiles = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto c = client_for(server());
      for (int i = 0; i < kFiles; ++i) {
        std::string name = "/shared/t" + std::to_string(t) + "-" + std::to_string(i) + ".bin";
        httplib::MultipartFormDataItems items = {{"type", "file", "", ""}, {"path", name, "", ""},
                                                 {"file", random_bytes(1000 + size_t(i), uint32_t(t * 100 + i)), "f", ""}};
        auto r = c->Post(P("/datasets/" + ds + "/items"), items);
        if (!r || r->status != 200) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, 0);
  std::set<std::string> seen;
  std::string after;
  for (;;) {
    json f = {{"$and", json::array({json{{"dir", "/shared"}}})}};
    if (!after.empty()) f["$and"].push_back(json{{"id", {{"$gt", after}}}});
    json page = query(ds, {{"filter", f}, {"sort", {{"id", "ascending"}}}, {"page", 0}, {"pageSize", 100}});
    EXPECT_EQ(page["totalItemsCount"], kThreads * kFiles - int(seen.size()));  // what is left after the cursor
    for (auto& item : page["items"]) {
      std::string name = item["name"];
      int t = std::stoi(name.substr(1, name.find('-') - 1)), i = std::stoi(name.substr(name.find('-') + 1));
      EXPECT_EQ(download(item["id"]), random_bytes(1000 + size_t(i), uint32_t(t * 100 + i))) << name;
      seen.insert(name);
      after = item["id"];
    }
    if (!page["hasNextPage"].get<bool>()) break;
  }
  EXPECT_EQ(seen.size(), size_t(kThreads * kFiles));
}

TEST_F(DlfsdApi, Thumbnail) {
  TempDir dir;
  auto made = sh("convert -size 640x480 xc:blue " + dir.sub("p.jpg"));
  ASSERT_TRUE(made.ok()) << made.err;
  std::string ds = create_dataset("thumbs")["id"];
  std::string id = upload_ok(ds, "/p.jpg", read_file(dir.sub("p.jpg")))["id"];
  auto r = http->Get(P("/items/" + id + "/thumbnail"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/jpeg");
  ASSERT_GE(r->body.size(), 3u);
  EXPECT_EQ(r->body.substr(0, 3), "\xff\xd8\xff");
  EXPECT_EQ(http->Get(P("/items/ffffffffffffffffffffffff/thumbnail"))->status, 404);
}

// A server on a store filled beforehand through the platform (fast: one process, many threads).
TEST(DlfsdStore, QueryPagingAndBulkOverThousands) {
  TempDir dir;
  std::string store = dir.sub("store");
  std::string ds;
  constexpr int kItems = 2500;
  {
    PlatformOptions po;
    po.store_dir = store;
    auto platform = Platform::open(po);
    ASSERT_TRUE(platform);
    auto created = (*platform)->create_dataset("many", "dev@local");
    ASSERT_TRUE(created);
    ds = created->id;
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        for (int i = t; i < kItems; i += 8) {
          UploadOptions o;
          o.metadata = json{{"user", {{"n", i}}}};
          if (!(*platform)->upload_bytes(ds, std::to_string(i), "/m/" + std::to_string(i) + ".txt", o)) ++failed;
        }
      });
    for (auto& th : threads) th.join();
    ASSERT_EQ(failed, 0);
  }
  DlfsdOptions options;
  options.store = store;
  DlfsdProcess server(options);
  ASSERT_TRUE(server.ok()) << server.error();
  auto http = client_for(server);
  auto q = [&](const json& body) {
    auto r = http->Post(DlfsdProcess::path("/datasets/" + ds + "/query"), {{"user_query", "true"}}, body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return body_of(r);
  };
  std::set<std::string> ids;
  std::string after;
  int pages = 0;
  for (;;) {
    json f = {{"$and", json::array({json{{"type", "file"}}, json{{"hidden", false}}})}};
    if (!after.empty()) f["$and"].push_back(json{{"id", {{"$gt", after}}}});
    json page = q({{"filter", f}, {"sort", {{"id", "ascending"}}}, {"page", 0}, {"pageSize", 1000}, {"resource", "items"}});
    if (pages == 0) {
      EXPECT_EQ(page["totalItemsCount"], kItems);
      EXPECT_EQ(page["totalPagesCount"], 3);
    }
    ++pages;
    for (auto& item : page["items"]) {
      if (!after.empty()) {
        EXPECT_GT(item["id"].get<std::string>(), after);
      }
      after = item["id"];
      ids.insert(after);
    }
    if (!page["hasNextPage"].get<bool>() || pages > 5) break;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ids.size(), size_t(kItems));
  auto too_big = http->Post(DlfsdProcess::path("/datasets/" + ds + "/query"), json{{"pageSize", 1001}}.dump(), "application/json");
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 400);

  // Bulk update of the items with n < 100, then bulk delete of them.
  json small = {{"metadata.user.n", {{"$lt", 100}}}};
  json updated = q({{"filter", small}, {"update", {{"metadata", {{"user", {{"tag", "small"}}}}}}}});
  EXPECT_EQ(updated["affected"], 100);
  json tagged = q({{"filter", {{"metadata.user.tag", "small"}}}, {"pageSize", 10}});
  EXPECT_EQ(tagged["totalItemsCount"], 100);
  EXPECT_EQ(tagged["items"].size(), 10u);
  EXPECT_EQ(tagged["hasNextPage"], true);
  json deleted = q({{"filter", {{"metadata.user.tag", "small"}}}, {"delete", true}});
  EXPECT_EQ(deleted["affected"], 100);
  json rest = q({{"filter", {{"type", "file"}}}, {"pageSize", 1}});
  EXPECT_EQ(rest["totalItemsCount"], kItems - 100);
}

TEST(DlfsdLimits, UploadOverTheLimitIs413) {
  DlfsdOptions options;
  options.extra_args = {"--max-upload", "64K"};
  DlfsdProcess server(options);
  ASSERT_TRUE(server.ok()) << server.error();
  auto http = client_for(server);
  auto r = http->Post(DlfsdProcess::path("/datasets"), R"({"name":"limits"})", "application/json");
  ASSERT_TRUE(r && r->status == 200);
  std::string ds = body_of(r)["id"];
  std::string url = DlfsdProcess::path("/datasets/" + ds + "/items");
  std::string big = random_bytes(200'000, 4);
  r = http->Post(url, httplib::MultipartFormDataItems{{"type", "file", "", ""}, {"path", "/big.bin", "", ""}, {"file", big, "b", ""}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  // Chunked, with no Content-Length: counted as it arrives.
  auto c2 = client_for(server);
  r = c2->Post(url, {}, httplib::MultipartFormDataItems{{"type", "file", "", ""}, {"path", "/big2.bin", "", ""}},
               httplib::MultipartFormDataProviderItems{{"file",
                                                        [&](size_t offset, httplib::DataSink& sink) {
                                                          size_t n = std::min<size_t>(8192, big.size() - offset);
                                                          if (n) sink.write(big.data() + offset, n);
                                                          if (offset + n == big.size()) sink.done();
                                                          return true;
                                                        },
                                                        "b2", ""}});
  if (r) {  // a client still sending may see the connection closed instead
    EXPECT_EQ(r->status, 413);
  }
  auto c3 = client_for(server);
  r = c3->Post(url, httplib::MultipartFormDataItems{{"type", "file", "", ""}, {"path", "/small.bin", "", ""}, {"file", "ok", "s", ""}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto q = c3->Post(DlfsdProcess::path("/datasets/" + ds + "/query"), json{{"filter", {{"type", "file"}}}}.dump(), "application/json");
  ASSERT_TRUE(q);
  EXPECT_EQ(body_of(q)["totalItemsCount"], 1);  // nothing of the refused uploads stayed
}

TEST(DlfsdLifecycle, SigtermLetsADownloadFinishThenRestartKeepsData) {
  DlfsdProcess server;
  ASSERT_TRUE(server.ok()) << server.error();
  auto http = client_for(server);
  auto r = http->Post(DlfsdProcess::path("/datasets"), R"({"name":"life"})", "application/json");
  ASSERT_TRUE(r && r->status == 200);
  std::string ds = body_of(r)["id"];
  std::string bytes = random_bytes(16 << 20, 5);
  r = http->Post(DlfsdProcess::path("/datasets/" + ds + "/items"),
                 httplib::MultipartFormDataItems{{"type", "file", "", ""}, {"path", "/big.bin", "", ""}, {"file", bytes, "b", ""}});
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
  std::string id = body_of(r)["id"];

  std::atomic<bool> started{false};
  int exit_code = -2;
  std::thread stopper([&] {
    wait_until([&] { return started.load(); }, 30s);
    exit_code = server.stop(60s);
  });
  std::string got;
  auto dl = http->Get(DlfsdProcess::path("/items/" + id + "/stream"), [&](const char* data, size_t n) {
    got.append(data, n);
    if (!started) {
      started = true;
      std::this_thread::sleep_for(300ms);  // SIGTERM arrives while the download is in flight
    }
    if (got.size() % (1 << 20) < n) std::this_thread::sleep_for(20ms);
    return true;
  });
  stopper.join();
  ASSERT_TRUE(dl) << httplib::to_string(dl.error());
  EXPECT_EQ(dl->status, 200);
  EXPECT_EQ(got.size(), bytes.size());
  EXPECT_TRUE(got == bytes);
  EXPECT_EQ(exit_code, 0) << server.log();
  EXPECT_NE(server.log().find("stopped"), std::string::npos);

  int port = server.port();
  ASSERT_TRUE(server.restart()) << server.error();
  EXPECT_EQ(server.port(), port);
  auto again = client_for(server);
  auto item = again->Get(DlfsdProcess::path("/items/" + id));
  ASSERT_TRUE(item);
  EXPECT_EQ(item->status, 200);
  EXPECT_EQ(body_of(item)["metadata"]["system"]["size"], bytes.size());
}

TEST(DlfsdLifecycle, SigtermRightAfterStartStopsIt) {
  for (int i = 0; i < 3; ++i) {
    DlfsdProcess server;
    ASSERT_TRUE(server.ok()) << server.error();
    EXPECT_EQ(server.stop(20s), 0) << server.log();  // the signal may land before serving begins
  }
}

// dlfsd's peak resident memory, from /proc.
long peak_rss_kb(pid_t pid) {
  std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("VmHWM:");
  return at == std::string::npos ? -1 : std::atol(status.c_str() + at + 6);
}

TEST(DlfsdLimits, LargeUploadAndDownloadStreamWithoutHoldingTheFile) {
  // A small ASan quarantine for the child, so freed buffers do not count as held memory.
  std::string asan = getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "";
  setenv("ASAN_OPTIONS", (asan.empty() ? "" : asan + ":").append("quarantine_size_mb=8").c_str(), 1);
  DlfsdProcess server;
  if (asan.empty()) unsetenv("ASAN_OPTIONS");
  else setenv("ASAN_OPTIONS", asan.c_str(), 1);
  ASSERT_TRUE(server.ok()) << server.error();
  auto http = client_for(server);
  auto r = http->Post(DlfsdProcess::path("/datasets"), R"({"name":"large"})", "application/json");
  ASSERT_TRUE(r && r->status == 200);
  std::string ds = body_of(r)["id"];
  long before = peak_rss_kb(server.pid());
  ASSERT_GT(before, 0);

  // 384 MiB made on the fly on both sides: a 1 MiB block, changed per MiB.
  constexpr size_t kSize = 384u << 20, kBlock = 1u << 20;
  const std::string block = random_bytes(kBlock, 9);
  auto byte_at = [&](size_t off) { return char(block[off % kBlock] ^ char(off / kBlock)); };
  std::string chunk(kBlock, '\0');
  httplib::MultipartFormDataProviderItems file = {
      {"file",
       [&](size_t offset, httplib::DataSink& sink) {
         size_t n = std::min(kBlock, kSize - offset);
         for (size_t i = 0; i < n; ++i) chunk[i] = byte_at(offset + i);
         if (n) sink.write(chunk.data(), n);
         if (offset + n == kSize) sink.done();
         return true;
       },
       "l.bin", "application/octet-stream"}};
  r = http->Post(DlfsdProcess::path("/datasets/" + ds + "/items"), {},
                 httplib::MultipartFormDataItems{{"type", "file", "", ""}, {"path", "/l.bin", "", ""}}, file);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["metadata"]["system"]["size"], kSize);
  std::string id = body_of(r)["id"];

  size_t got = 0, wrong = 0;
  auto dl = http->Get(DlfsdProcess::path("/items/" + id + "/stream"), [&](const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) wrong += data[i] != byte_at(got + i);
    got += n;
    return true;
  });
  ASSERT_TRUE(dl);
  EXPECT_EQ(dl->status, 200);
  EXPECT_EQ(got, kSize);
  EXPECT_EQ(wrong, 0u);
  long after = peak_rss_kb(server.pid());
  EXPECT_LT(after - before, 128 * 1024) << "peak RSS grew from " << before << " kB to " << after << " kB";
}

}  // namespace
}  // namespace dlfs::test
