// Storage drivers through dlfsd over real HTTP: POST/GET /drivers, a dataset on a driver,
// uploads landing in the bucket, POST /datasets/{id}/imports, POST /datasets/{id}/sync as a
// Command polled at /commands/{id}, and preprocessing of what a sync found — on a local-folder
// bucket, on S3 (s3rver) and on Azure Blob (Azurite), the emulators from tests/emulators.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>

#include "core/item_streams_format.h"
#include "core/json_util.h"
#include "net/http_client.h"
#include "platform/object_store_s3.h"
#include "support/azurite.h"
#include "support/dlfsd_process.h"
#include "support/process.h"
#include "support/s3_emulator.h"
#include "support/temp_dir.h"

namespace dlfs::test {
namespace {

using namespace std::chrono_literals;

json body_of(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

class DlfsdDrivers : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok()) << server_.error();
    signal(SIGPIPE, SIG_IGN);
    http_ = std::make_unique<httplib::Client>(server_.host_port());
    http_->set_read_timeout(60, 0);
    http_->set_default_headers(server_.auth_headers());
    std::filesystem::create_directories(bucket());
  }
  static std::string P(const std::string& rel) { return DlfsdProcess::path(rel); }
  std::string bucket() const { return dir_.sub("bucket"); }

  json post(const std::string& rel, const json& body, int want = 200) {
    auto r = http_->Post(P(rel), body.dump(), "application/json");
    EXPECT_TRUE(r) << rel << ": no answer";
    if (!r) return json();
    EXPECT_EQ(r->status, want) << rel << ": " << r->body;
    return body_of(r);
  }
  json get(const std::string& rel, int want = 200) {
    auto r = http_->Get(P(rel));
    EXPECT_TRUE(r) << rel << ": no answer";
    if (!r) return json();
    EXPECT_EQ(r->status, want) << rel << ": " << r->body;
    return body_of(r);
  }
  // An item's bytes as a client gets them: from dlfsd, or from where its 302 sends (a presigned
  // URL of the bucket, asked without the token), counted in redirected_. (libcurl here: httplib's
  // client undoes the %-escapes of a Location.)
  std::string stream(const std::string& item_id, const std::string& query = "") {
    HttpOptions o;
    o.base_url = server_.base_url();
    o.token = server_.token();
    o.max_attempts = 1;
    HttpClient http(o);
    HttpRequest req;
    req.path = "/items/" + item_id + "/stream" + query;
    req.follow_redirects = false;
    auto r = http.send(req);
    EXPECT_TRUE(r && (r->code == 200 || r->code == 302)) << (r ? r->body : r.status().to_string());
    if (!r || r->code != 302) return r ? r->body : "";
    ++redirected_;
    location_ = r->header("location");
    HttpOptions anonymous;
    anonymous.max_attempts = 1;
    HttpClient bucket(anonymous);
    HttpRequest get;
    get.path = location_;
    auto got = bucket.send(get);
    EXPECT_TRUE(got) << got.status().to_string();
    return got ? got->body : "";
  }
  json upload(const std::string& ds, const std::string& path, const std::string& bytes) {
    httplib::MultipartFormDataItems parts = {{"type", "file", "", "text/plain; charset=utf-8"},
                                             {"path", path, "", "text/plain; charset=utf-8"},
                                             {"file", bytes, "f.bin", "application/octet-stream"}};
    auto r = http_->Post(P("/datasets/" + ds + "/items?mode=overwrite"), parts);
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return body_of(r);
  }
  // The dataset's file items, path -> item.
  std::map<std::string, json> files(const std::string& ds) {
    json q = {{"filter", {{"$and", json::array({json{{"type", "file"}}, json{{"hidden", false}}})}}},
              {"pageSize", 1000}};
    json page = post("/datasets/" + ds + "/query", q);
    std::map<std::string, json> out;
    for (const json& item : page["items"]) out[item["filename"]] = item;
    return out;
  }
  // Starts a sync and polls its command until it ends (bounded).
  json sync(const std::string& ds) {
    json command = post("/datasets/" + ds + "/sync", json::object());
    EXPECT_EQ(command["type"], "sync");
    EXPECT_TRUE(command["status"] == "created" || command["status"] == "in-progress") << command.dump();
    std::string id = command.value("id", "");
    json now;
    bool ended = wait_until(
        [&] {
          now = get("/commands/" + id);
          return now["status"] == "success" || now["status"] == "failed";
        },
        60s);
    EXPECT_TRUE(ended) << "the sync command did not end: " << now.dump();
    EXPECT_EQ(now["status"], "success") << now.dump();
    return now;
  }

  static DlfsdOptions local_drivers_under(const TempDir& dir) {
    DlfsdOptions o;
    o.extra_args = {"--local-drivers", dir.path()};
    return o;
  }

  TempDir dir_{"dlfs-drivers-api"};
  DlfsdProcess server_{local_drivers_under(dir_)};
  std::unique_ptr<httplib::Client> http_;
  int redirected_ = 0;
  std::string location_;  // the last redirect's
};

}  // namespace

TEST_F(DlfsdDrivers, LocalFolderDriverUploadsImportsAndSyncs) {
  // Bad drivers: 400 with why; unknown ones 404.
  EXPECT_NE(post("/drivers", {{"name", "x"}, {"type", "ftp"}, {"bucketName", "b"}}, 400).value("message", ""), "");
  post("/drivers", {{"name", "x"}, {"type", "local"}, {"bucketName", bucket() + "/missing"}}, 404);
  get("/drivers/ffffffffffffffffffffffff", 404);
  get("/commands/ffffffffffffffffffffffff", 404);

  // Local folders only under --local-drivers (the server's own files are not for every token).
  TempDir elsewhere("dlfs-drivers-elsewhere");
  EXPECT_NE(post("/drivers", {{"name", "x"}, {"type", "local"}, {"bucketName", elsewhere.path()}}, 403)
                .value("message", "")
                .find("not under"),
            std::string::npos);
  std::filesystem::create_symlink(elsewhere.path(), dir_.sub("escape"));
  post("/drivers", {{"name", "x"}, {"type", "local"}, {"bucketName", dir_.sub("escape")}}, 403);
  DlfsdProcess strict;
  ASSERT_TRUE(strict.ok()) << strict.error();
  httplib::Client to_strict(strict.host_port());
  auto off = to_strict.Post(P("/drivers"), strict.auth_headers(),
                            json{{"name", "x"}, {"type", "local"}, {"bucketName", bucket()}}.dump(), "application/json");
  ASSERT_TRUE(off);
  EXPECT_EQ(off->status, 403);
  EXPECT_NE(off->body.find("--local-drivers"), std::string::npos) << off->body;

  json driver = post("/drivers", {{"name", "nfs"}, {"type", "local"}, {"bucketName", bucket()}, {"path", "ds1"},
                                  {"credentials", {{"secret", "never-shown"}}}});
  std::string driver_id = driver.value("id", "");
  ASSERT_EQ(driver_id.size(), 24u) << driver.dump();
  EXPECT_EQ(driver["type"], "local");
  EXPECT_EQ(driver.dump().find("never-shown"), std::string::npos);
  EXPECT_EQ(get("/drivers/" + driver_id)["bucketName"], bucket());
  json all = get("/drivers");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.dump().find("never-shown"), std::string::npos);
  post("/datasets", {{"name", "bad"}, {"driver", "ffffffffffffffffffffffff"}}, 400);

  json ds = post("/datasets", {{"name", "on-nfs"}, {"projects", {"000000000000000000000001"}}, {"driver", driver_id}});
  std::string id = ds.value("id", "");
  EXPECT_EQ(ds["driver"], driver_id);

  // An upload lands in the bucket, under the driver's path.
  json up = upload(id, "/cam/a.txt", "uploaded bytes");
  EXPECT_EQ(read_file(bucket() + "/ds1/cam/a.txt"), "uploaded bytes");
  EXPECT_EQ(stream(up["id"]), "uploaded bytes");

  // Objects put there by others: imported by name, then found by a sync.
  write_file(bucket() + "/ds1/raw/b.txt", "object b");
  json imported = post("/datasets/" + id + "/imports",
                       json::array({json{{"filename", "/imported/b.txt"}, {"storageId", bucket() + ":ds1/raw/b.txt"}}}));
  ASSERT_EQ(imported.size(), 1u) << imported.dump();
  EXPECT_EQ(imported[0]["metadata"]["system"]["size"], 8);
  EXPECT_EQ(stream(imported[0]["id"]), "object b");
  post("/datasets/" + id + "/imports", json::array({json{{"filename", "/x.txt"}, {"storageId", bucket() + ":ds1/nope"}}}),
       404);

  write_file(bucket() + "/ds1/raw/c.txt", "object c");
  json done = sync(id);
  EXPECT_EQ(done["progress"], 100);
  EXPECT_EQ(done["report"]["added"], 2) << done.dump();  // raw/b.txt (imported under another name) and raw/c.txt
  auto items = files(id);
  ASSERT_TRUE(items.count("/raw/c.txt")) << json(items).dump();
  EXPECT_EQ(stream(items["/raw/c.txt"]["id"]), "object c");
  EXPECT_EQ(items.size(), 4u);

  // A read-only dataset refuses both.
  json ro = post("/datasets", {{"name", "ro-nfs"}, {"driver", driver_id}, {"readonly", true}});
  post("/datasets/" + ro.value("id", "") + "/sync", json::object(), 403);
  post("/datasets/" + ro.value("id", "") + "/imports", json::array(), 403);
}

TEST_F(DlfsdDrivers, S3DriverKeepsBytesInTheBucketAndPreprocessesWhatSyncFinds) {
  S3Emulator s3;
  std::string why = s3.start();
  ASSERT_EQ(why, "");
  auto direct = open_s3_store(s3.config());
  ASSERT_TRUE(direct) << direct.status().to_string();

  // Wrong credentials are refused when the driver is made, not at the first upload.
  json refused = post("/drivers", {{"name", "s3"}, {"type", "s3"}, {"bucketName", kS3Bucket}, {"endpoint", s3.endpoint()},
                                   {"credentials", {{"key", "WRONG"}, {"secret", "WRONG"}}}},
                      403);
  EXPECT_NE(refused.value("message", ""), "");
  json driver = post("/drivers", {{"name", "s3"}, {"type", "s3"}, {"bucketName", kS3Bucket}, {"path", "team"},
                                  {"endpoint", s3.endpoint()}, {"credentials", {{"key", kS3Login}, {"secret", kS3Login}}}});
  ASSERT_TRUE(driver.contains("id")) << driver.dump();
  json ds = post("/datasets", {{"name", "on-s3"}, {"driver", driver["id"]}});
  std::string id = ds.value("id", "");

  std::string bytes = random_bytes(300'000, 3);
  json up = upload(id, "/u/blob.bin", bytes);
  std::string back(bytes.size() + 1, '\0');
  auto n = (*direct)->read("team/u/blob.bin", 0, std::span<char>(back.data(), back.size()));
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(back.substr(0, *n), bytes);
  EXPECT_EQ(stream(up["id"]), bytes);
  EXPECT_EQ(redirected_, 1) << "dlfsd carried the bytes of a bucket's item";
  // The redirect: a presigned URL of the object, the item's ETag; or the bytes, when asked.
  EXPECT_EQ(location_.rfind(s3.endpoint() + "/" + kS3Bucket + "/team/u/blob.bin?X-Amz-Algorithm=", 0), 0u) << location_;
  auto r = http_->Get(P("/items/" + up["id"].get<std::string>() + "/stream"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->get_header_value("ETag"), "\"" + up["metadata"]["system"].value("etag", "") + "\"");
  EXPECT_EQ(stream(up["id"], "?redirect=false"), bytes);
  EXPECT_EQ(redirected_, 1);
  // In one answer of many items' bytes: "read it from its bucket" (302), or with ?redirect=false
  // the bytes (core/item_streams_format.h).
  std::string asked = json{{"items", {{{"id", up["id"]}}}}}.dump();
  auto batch = http_->Post(P("/items/streams"), asked, "application/json");
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->status, 200);
  EXPECT_EQ(json::parse(batch->body.substr(0, batch->body.find('\n'))).value("status", 0), 302) << batch->body;
  batch = http_->Post(P("/items/streams?redirect=false"), asked, "application/json");
  ASSERT_TRUE(batch);
  EXPECT_TRUE(batch->body == item_stream_header(up["id"].get<std::string>(), bytes.size()) + bytes);

  // A picture put straight into the bucket: found by a sync, read through dlfsd, preprocessed.
  std::string pic = dir_.sub("p.jpg");
  ASSERT_TRUE(sh("convert -size 64x48 xc:red " + pic).ok());
  ASSERT_TRUE((*direct)->put_file("team/cam/p.jpg", pic));
  ASSERT_TRUE((*direct)->put_bytes("elsewhere/not-mine.txt", "outside the driver's path"));
  json done = sync(id);
  EXPECT_EQ(done["report"]["added"], 1) << done.dump();
  EXPECT_EQ(done["report"]["unchanged"], 1) << done.dump();
  auto items = files(id);
  ASSERT_TRUE(items.count("/cam/p.jpg")) << json(items).dump();
  EXPECT_EQ(stream(items["/cam/p.jpg"]["id"]), read_file(pic));
  json item;
  bool preprocessed = wait_until(
      [&] {
        item = get("/items/" + items["/cam/p.jpg"]["id"].get<std::string>());
        return item["metadata"]["system"].value("preprocessPhase", "") != "pending";
      },
      60s);
  ASSERT_TRUE(preprocessed) << item.dump();
  EXPECT_EQ(item["metadata"]["system"]["preprocessPhase"], "done") << item.dump();
  EXPECT_EQ(item["metadata"]["system"]["width"], 64);
  EXPECT_EQ(item["metadata"]["system"]["height"], 48);

  // Deleting the item leaves the user's object (allowExternalDelete is false).
  EXPECT_EQ(http_->Delete(P("/items/" + items["/cam/p.jpg"]["id"].get<std::string>()))->status, 200);
  EXPECT_TRUE((*direct)->head("team/cam/p.jpg"));
}

// The seed's permission test: a driver whose credentials cannot Put (a read-only SAS), or cannot
// Delete where it allows external deletes, is refused at once, saying which permission is missing.
TEST_F(DlfsdDrivers, ADriverWhoseCredentialsLackAPermissionIsRefusedSayingWhich) {
  Azurite azure;
  ASSERT_TRUE(azure.ok()) << azure.error();
  auto driver = [&](const std::string& permissions, bool external_delete, int want) {
    return post("/drivers", {{"name", "az-" + permissions}, {"type", "azureblob"}, {"containerName", "test"},
                             {"endpoint", azure.endpoint()},
                             {"credentials", {{"account", kAzureAccount}, {"sas", azurite_account_sas(permissions)}}},
                             {"allowExternalDelete", external_delete}},
                want);
  };
  json read_only = driver("rl", false, 403);
  std::string message = read_only.value("message", "");
  EXPECT_NE(message.find("lack permissions"), std::string::npos) << message;
  EXPECT_NE(message.find("Put"), std::string::npos) << message;
  EXPECT_EQ(message.find("List"), std::string::npos) << message;
  json no_delete = driver("rwlac", true, 403);
  EXPECT_NE(no_delete.value("message", "").find("Delete"), std::string::npos) << no_delete.dump();
  EXPECT_EQ(no_delete.value("message", "").find("Put"), std::string::npos) << no_delete.dump();
  // Without external deletes, Delete is not needed: accepted.
  json ok = driver("rwlac", false, 200);
  EXPECT_TRUE(ok.contains("id")) << ok.dump();
  json all = driver("rwdlac", true, 200);
  EXPECT_TRUE(all.contains("id")) << all.dump();
  // The test objects of the two that could not delete stay, under .dataloop (no sync takes it);
  // the one that could delete left nothing.
  auto direct = open_azure_store(azure.config());
  ASSERT_TRUE(direct);
  std::vector<std::string> left;
  ASSERT_TRUE((*direct)->list("", [&](const ObjectInfo& o) {
    left.push_back(o.key);
    return true;
  }));
  EXPECT_EQ(left.size(), 2u);
  for (const auto& k : left) EXPECT_EQ(k.rfind(".dataloop/permission-test-", 0), 0u) << k;
}

// dlfsd watches: a dataset given a sync interval (PUT /datasets/{id}/watch) shows an object put
// in its bucket as an item with nobody asking for a sync; the interval is in the dataset's
// metadata.system, and a bad body or a dataset without a driver is refused.
TEST_F(DlfsdDrivers, AWatchedDatasetShowsNewObjectsWithoutAnyoneSyncing) {
  json driver = post("/drivers", {{"name", "nfs"}, {"type", "local"}, {"bucketName", bucket()}, {"path", "w"}});
  std::string id = post("/datasets", {{"name", "watched"}, {"driver", driver["id"]}}).value("id", "");
  std::string plain = post("/datasets", {{"name", "plain"}}).value("id", "");
  auto put_watch = [&](const std::string& ds, const json& body, int want) {
    auto r = http_->Put(P("/datasets/" + ds + "/watch"), body.dump(), "application/json");
    EXPECT_TRUE(r) << "no answer";
    if (!r) return json();
    EXPECT_EQ(r->status, want) << r->body;
    return body_of(r);
  };
  put_watch(plain, {{"intervalSeconds", 1}}, 400);
  put_watch(id, {{"intervalSeconds", "soon"}}, 400);
  json ds = put_watch(id, {{"intervalSeconds", 1}}, 200);
  EXPECT_EQ(ds["metadata"]["system"]["syncIntervalSeconds"], 1) << ds.dump();
  write_file(bucket() + "/w/cam/1.jpg", "one");
  EXPECT_TRUE(wait_until([&] { return files(id).count("/cam/1.jpg") == 1; }, 15s)) << "no watched sync found it";
  write_file(bucket() + "/w/cam/2.jpg", "two");
  EXPECT_TRUE(wait_until([&] { return files(id).count("/cam/2.jpg") == 1; }, 15s));
  ds = put_watch(id, {{"intervalSeconds", 0}}, 200);
  EXPECT_FALSE(ds["metadata"]["system"].contains("syncIntervalSeconds")) << ds.dump();
}

TEST_F(DlfsdDrivers, AzureDriverSyncsReadsAndKeepsUploadsInTheContainer) {
  Azurite azure;
  ASSERT_TRUE(azure.ok()) << azure.error();
  auto direct = open_azure_store(azure.config());
  ASSERT_TRUE(direct) << direct.status().to_string();
  json creds = {{"account", kAzureAccount}, {"key", kAzureKey}};
  post("/drivers", {{"name", "az"}, {"type", "azureblob"}, {"containerName", "test"}, {"endpoint", azure.endpoint()},
                    {"credentials", {{"account", kAzureAccount}, {"key", "d3Jvbmc="}}}},
       403);
  json driver = post("/drivers", {{"name", "az"}, {"type", "azureblob"}, {"containerName", "test"},
                                  {"endpoint", azure.endpoint()}, {"credentials", creds}, {"allowExternalDelete", true}});
  ASSERT_TRUE(driver.contains("id")) << driver.dump();
  EXPECT_EQ(driver["containerName"], "test");
  EXPECT_EQ(driver.dump().find(kAzureKey), std::string::npos);
  std::string id = post("/datasets", {{"name", "on-azure"}, {"driver", driver["id"]}}).value("id", "");

  ASSERT_TRUE((*direct)->put_bytes("shots/1.txt", "one"));
  ASSERT_TRUE((*direct)->put_bytes("shots/2.txt", "two!"));
  EXPECT_EQ(sync(id)["report"]["added"], 2);
  auto items = files(id);
  ASSERT_EQ(items.size(), 2u) << json(items).dump();
  EXPECT_EQ(stream(items["/shots/2.txt"]["id"]), "two!");
  EXPECT_EQ(redirected_, 1) << "read through dlfsd, not from the container by a SAS";

  // An upload goes to the container; with allowExternalDelete, deleting the item deletes the blob.
  json up = upload(id, "/new/3.txt", "three");
  auto head = (*direct)->head("new/3.txt");
  ASSERT_TRUE(head) << head.status().to_string();
  EXPECT_EQ(head->size, 5u);
  EXPECT_EQ(http_->Delete(P("/items/" + up["id"].get<std::string>()))->status, 200);
  EXPECT_EQ((*direct)->head("new/3.txt").err(), ENOENT);

  // A blob removed from the container: its item goes at the next sync.
  ASSERT_TRUE((*direct)->remove("shots/1.txt"));
  json done = sync(id);
  EXPECT_EQ(done["report"]["removed"], 1) << done.dump();
  EXPECT_EQ(files(id).size(), 1u);
}

// dlfsd --presigned-reads off streams a bucket's items itself (a bucket its clients cannot reach).
TEST(DlfsdPresignedReads, OffStreamsTheBucketsBytesThroughTheServer) {
  S3Emulator s3;
  ASSERT_EQ(s3.start(), "");
  DlfsdOptions o;
  o.extra_args = {"--presigned-reads", "off"};
  DlfsdProcess server(o);
  ASSERT_TRUE(server.ok()) << server.error();
  httplib::Client http(server.host_port());
  http.set_default_headers(server.auth_headers());
  auto post = [&](const std::string& rel, const json& body) {
    auto r = http.Post(DlfsdProcess::path(rel), body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return body_of(r);
  };
  json driver = post("/drivers", {{"name", "s3"}, {"type", "s3"}, {"bucketName", kS3Bucket}, {"endpoint", s3.endpoint()},
                                  {"credentials", {{"key", kS3Login}, {"secret", kS3Login}}}});
  std::string ds = post("/datasets", {{"name", "on-s3"}, {"driver", driver["id"]}}).value("id", "");
  httplib::MultipartFormDataItems parts = {{"type", "file", "", "text/plain; charset=utf-8"},
                                           {"path", "/a.bin", "", "text/plain; charset=utf-8"},
                                           {"file", "in the bucket", "a.bin", "application/octet-stream"}};
  auto up = http.Post(DlfsdProcess::path("/datasets/" + ds + "/items"), parts);
  ASSERT_TRUE(up && up->status == 200) << (up ? up->body : "no answer");
  auto r = http.Get(DlfsdProcess::path("/items/" + body_of(up).value("id", "") + "/stream"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "in the bucket");
}

}  // namespace dlfs::test
