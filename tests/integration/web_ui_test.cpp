// dlfsd's web browser (/ui, server/web_ui.h): its session and CSRF rules over HTTP, and a real
// headless Chromium driven by tests/integration/web_ui_browser.py (Selenium) logging in,
// browsing, editing metadata and uploading; the results are then checked through the API.
// Screenshots land in <build>/tests/artifacts/web_ui/.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "core/item.h"
#include "core/json_util.h"
#include "server/web_session.h"
#include "support/dlfsd_process.h"
#include "support/process.h"
#include "support/static_http_server.h"
#include "support/temp_dir.h"

namespace dlfs::test {
namespace {

using namespace std::chrono_literals;

const std::string kEvilName = "web <script>alert(1)&";  // (no '/' in a dataset name)

std::unique_ptr<httplib::Client> client_for(const DlfsdProcess& server, bool auth) {
  signal(SIGPIPE, SIG_IGN);
  auto c = std::make_unique<httplib::Client>(server.host_port());
  c->set_connection_timeout(10, 0);
  c->set_read_timeout(60, 0);
  c->set_write_timeout(60, 0);
  if (auth) c->set_default_headers(server.auth_headers());
  return c;
}

json body_of(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

class WebUi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server.ok()) << server.error();
    api = client_for(server, true);
    web = client_for(server, false);
    auto r = api->Post(DlfsdProcess::path("/datasets"),
                       json{{"name", kEvilName}, {"projects", {"000000000000000000000001"}}}.dump(), "application/json");
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    ds = body_of(r)["id"];
  }

  json upload(const std::string& path, const std::string& bytes) {
    httplib::MultipartFormDataItems items = {{"type", "file", "", ""}, {"path", path, "", ""},
                                             {"file", bytes, "f.bin", "application/octet-stream"}};
    auto r = api->Post(DlfsdProcess::path("/datasets/" + ds + "/items"), items);
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return body_of(r);
  }

  // The item at `path` (null when none), by a DQL query.
  json find(const std::string& path) {
    auto r = api->Post(DlfsdProcess::path("/datasets/" + ds + "/query"), json{{"filter", {{"filename", path}}}}.dump(),
                       "application/json");
    json items = body_of(r)["items"];
    return items.is_array() && !items.empty() ? items[0] : json();
  }

  json item(const std::string& id) { return body_of(api->Get(DlfsdProcess::path("/items/" + id))); }

  httplib::Headers session() const { return {{"Cookie", std::string(kSessionCookie) + "=" + server.token()}}; }

  // The CSRF token the pages of this session carry (as a form on the datasets page shows it).
  std::string csrf_of_page() {
    auto r = web->Get("/ui", session());
    if (!r || r->status != 200) return "";
    auto at = r->body.find("name=csrf value=\"");
    if (at == std::string::npos) return "";
    at += 17;
    return r->body.substr(at, r->body.find('"', at) - at);
  }

  static DlfsdOptions local_drivers_under(const TempDir& dir) {
    DlfsdOptions o;
    o.extra_args = {"--local-drivers", dir.path(), "--link-allow-private"};  // (links to 127.0.0.1: the test's)
    return o;
  }
  TempDir buckets;  // (before the server: its folders may back local drivers)
  DlfsdProcess server{local_drivers_under(buckets)};
  std::unique_ptr<httplib::Client> api, web;
  std::string ds;
};

TEST_F(WebUi, PagesNeedASessionAndTheRootRedirects) {
  auto root = web->Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 303);
  EXPECT_EQ(root->get_header_value("Location"), "/ui");
  for (std::string path : {std::string("/ui"), "/ui/datasets/" + ds, std::string("/ui/items/ffffffffffffffffffffffff")}) {
    auto r = web->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 303) << path;
    EXPECT_EQ(r->get_header_value("Location"), "/ui/login") << path;
  }
  // A cookie that is no token, or a token of another secret: the login page too.
  auto forged = web->Get("/ui", {{"Cookie", std::string(kSessionCookie) + "=abc.def.ghi"}});
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 303);
  // The Bearer header is for the API, not for the pages.
  auto bearer = web->Get("/ui", server.auth_headers());
  ASSERT_TRUE(bearer);
  EXPECT_EQ(bearer->status, 303);
  // The API is as it was: no cookie makes a call.
  auto api_call = web->Get(DlfsdProcess::path("/datasets"), session());
  ASSERT_TRUE(api_call);
  EXPECT_EQ(api_call->status, 401);
}

TEST_F(WebUi, LoginSetsAStrictHttpOnlyCookieAndChecksTheToken) {
  auto bad = web->Post("/ui/login", "token=not-a-token", "application/x-www-form-urlencoded");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  EXPECT_FALSE(bad->has_header("Set-Cookie"));
  auto good = web->Post("/ui/login", "token=" + server.token(), "application/x-www-form-urlencoded");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 303);
  EXPECT_EQ(good->get_header_value("Location"), "/ui");
  EXPECT_EQ(good->get_header_value("Set-Cookie"),
            std::string(kSessionCookie) + "=" + server.token() + "; HttpOnly; SameSite=Strict; Path=/");
}

TEST_F(WebUi, NamesAreEscaped) {
  auto r = web->Get("/ui", session());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body.find("<script>"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("web &lt;script&gt;alert(1)&amp;"), std::string::npos) << r->body;
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  std::string id = upload("/<img src=x onerror=alert(1)>.txt", "hi")["id"];
  auto folder = web->Get("/ui/datasets/" + ds + "?dir=%2F&view=table", session());
  ASSERT_TRUE(folder);
  ASSERT_EQ(folder->status, 200);
  EXPECT_EQ(folder->body.find("<img src=x"), std::string::npos);
  EXPECT_NE(folder->body.find("&lt;img src=x onerror=alert(1)&gt;.txt"), std::string::npos) << folder->body;
}

TEST_F(WebUi, ChangesNeedTheSessionsCsrfToken) {
  std::string id = upload("/a.txt", "hello")["id"];
  std::string csrf = csrf_of_page();
  ASSERT_EQ(csrf.size(), 64u);
  auto post = [&](const std::string& body) {
    return web->Post("/ui/items/" + id, session(), body, "application/x-www-form-urlencoded");
  };
  std::string change = "metadata=%7B%22x%22%3A1%7D&description=d";
  for (std::string bad : {std::string(), std::string("&csrf="), "&csrf=" + std::string(64, '0'),
                          "&csrf=" + csrf_token("another secret", server.token())}) {
    auto r = post(change + bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << bad;
  }
  json after = item(id);
  EXPECT_FALSE(after["metadata"].contains("user") && after["metadata"]["user"].contains("x")) << after.dump();
  // An upload without it makes nothing either.
  httplib::MultipartFormDataItems parts = {{"dir", "/", "", ""}, {"files", "x", "evil.txt", "text/plain"}};
  auto up = web->Post("/ui/datasets/" + ds + "/upload", session(), parts);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 403);
  EXPECT_TRUE(find("/evil.txt").is_null());
  // Without the cookie, even with the token: 401, nothing changed.
  auto anon = web->Post("/ui/items/" + id, change + "&csrf=" + csrf, "application/x-www-form-urlencoded");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401);
  // With it: saved, as the API shows.
  auto ok = post(change + "&csrf=" + csrf);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 303) << ok->body;
  after = item(id);
  EXPECT_EQ(after["metadata"]["user"]["x"], 1) << after.dump();
  EXPECT_EQ(after["description"], "d");
  // An upload with it: files, and a folder's files under their relative paths (never above).
  httplib::MultipartFormDataItems form = {{"csrf", csrf, "", ""},
                                          {"dir", "/up", "", ""},
                                          {"files", "one", "one.txt", "text/plain"},
                                          {"files", "deep", "album/day 1/two.txt", "text/plain"}};
  auto done = web->Post("/ui/datasets/" + ds + "/upload", session(), form);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200) << done->body;
  EXPECT_TRUE(find("/up/one.txt").is_object());
  EXPECT_TRUE(find("/up/album/day 1/two.txt").is_object());
  httplib::MultipartFormDataItems escape = {{"csrf", csrf, "", ""}, {"dir", "/up", "", ""},
                                            {"files", "x", "../escaped.txt", "text/plain"}};
  auto refused = web->Post("/ui/datasets/" + ds + "/upload", session(), escape);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400) << refused->body;
  EXPECT_TRUE(find("/escaped.txt").is_null());
  // Logging out needs it too.
  auto out = web->Post("/ui/logout", session(), "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 403);
}

TEST_F(WebUi, MakesLinkItems) {
  std::string csrf = csrf_of_page();
  auto post = [&](const std::string& body) {
    return web->Post("/ui/datasets/" + ds + "/link", session(), body, "application/x-www-form-urlencoded");
  };
  std::string form = "dir=%2Fv&name=clip.mp4&url=https%3A%2F%2Fexample.invalid%2Fc.mp4&mimetype=video%2Fmp4";
  auto no_csrf = post(form);
  ASSERT_TRUE(no_csrf);
  EXPECT_EQ(no_csrf->status, 403);
  EXPECT_TRUE(find("/v/clip.mp4").is_null());
  auto made = post(form + "&csrf=" + csrf);
  ASSERT_TRUE(made);
  EXPECT_EQ(made->status, 303) << made->body;
  json link = find("/v/clip.mp4");
  ASSERT_TRUE(link.is_object());
  EXPECT_EQ(link["metadata"]["system"]["shebang"]["linkInfo"]["ref"], "https://example.invalid/c.mp4") << link.dump(2);
  EXPECT_EQ(link["metadata"]["system"]["shebang"]["linkInfo"]["mimetype"], "video/mp4");
  auto local = post("dir=%2Fv&name=p&url=file%3A%2F%2F%2Fetc%2Fpasswd&csrf=" + csrf);
  ASSERT_TRUE(local);
  EXPECT_EQ(local->status, 403) << local->body;
  EXPECT_NE(local->body.find("must be an http:// or https:// URL"), std::string::npos) << local->body;
  EXPECT_TRUE(find("/v/p").is_null());
}

// The page's script calls the API with the session cookie: only with the page's CSRF token in
// X-CSRF-Token (a cookie alone is what another site's form would send).
TEST_F(WebUi, TheApiTakesTheSessionCookieOnlyWithItsCsrfHeader) {
  std::string csrf = csrf_of_page();
  ASSERT_FALSE(csrf.empty());
  auto cookie_only = web->Get(DlfsdProcess::path("/datasets/" + ds), session());
  ASSERT_TRUE(cookie_only);
  EXPECT_EQ(cookie_only->status, 401) << cookie_only->body;
  EXPECT_NE(cookie_only->body.find("X-CSRF-Token"), std::string::npos) << cookie_only->body;
  httplib::Headers wrong = session();
  wrong.emplace("X-CSRF-Token", std::string(csrf.size(), '0'));
  auto forged = web->Post(DlfsdProcess::path("/datasets/" + ds + "/uploads"), wrong,
                          json{{"path", "/forged.txt"}, {"size", 1}, {"partSize", 65536}}.dump(), "application/json");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401);
  httplib::Headers good = session();
  good.emplace("X-CSRF-Token", csrf);
  auto opened = web->Post(DlfsdProcess::path("/datasets/" + ds + "/uploads"), good,
                          json{{"path", "/by-script.txt"}, {"size", 2}, {"partSize", 65536}}.dump(), "application/json");
  ASSERT_TRUE(opened);
  ASSERT_EQ(opened->status, 200) << opened->body;
  std::string uid = body_of(opened)["id"];
  auto part = web->Put(DlfsdProcess::path("/uploads/" + uid + "/parts/0"), good, "hi", "application/octet-stream");
  ASSERT_TRUE(part && part->status == 200) << (part ? part->body : "no answer");
  auto done = web->Post(DlfsdProcess::path("/uploads/" + uid + "/complete"), good, "", "application/json");
  ASSERT_TRUE(done && done->status == 200) << (done ? done->body : "no answer");
  EXPECT_EQ(body_of(done)["creator"], "dev@local");
  EXPECT_TRUE(find("/forged.txt").is_null());
  // The script itself: served by dlfsd, and the pages allow no other.
  auto js = web->Get("/ui/static/dlfs.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_NE(js->body.find("X-CSRF-Token"), std::string::npos);
  auto page = web->Get("/ui/datasets/" + ds, session());
  ASSERT_TRUE(page);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_NE(page->body.find("<script src=\"/ui/static/dlfs.js\" defer>"), std::string::npos);
}

TEST_F(WebUi, InABrowser) {
  if (access("/usr/bin/chromium", X_OK) != 0 || access("/usr/bin/chromedriver", X_OK) != 0)
    GTEST_SKIP() << "chromium and chromium-driver are not installed (scripts/install-deps.sh --test)";
  TempDir dir;
  auto made = sh("convert -size 640x480 xc:orange " + dir.sub("photo.jpg") + " && echo 'from a browser' > " +
                 dir.sub("note.txt"));
  ASSERT_TRUE(made.ok()) << made.err;
  // A folder to pick, a file of 3 parts (8 MiB each, the page's) whose part 0 the server has
  // already under the page's key (its mtime a whole second: File.lastModified is exact), a CSV
  // (rows with bytes: nothing fetched), and a storage driver's dataset with two objects.
  write_file(dir.sub("tree/a.txt"), "tree a\n");
  write_file(dir.sub("tree/sub/b.txt"), "tree b\n");
  write_file(dir.sub("tree/empty.txt"), "");  // (one part of no bytes)
  const size_t kPart = 8 << 20;
  std::string big = random_bytes(2 * kPart + 12345, 18);
  write_file(dir.sub("big.bin"), big);
  ASSERT_TRUE(sh("touch -d @1700000000 " + dir.sub("big.bin")).ok());
  std::string key = "web:/pics/big.bin:" + std::to_string(big.size()) + ":1700000000000";
  auto opened = api->Post(DlfsdProcess::path("/datasets/" + ds + "/uploads"),
                          json{{"path", "/pics/big.bin"}, {"size", big.size()}, {"partSize", kPart}, {"key", key}}.dump(),
                          "application/json");
  ASSERT_TRUE(opened && opened->status == 200) << (opened ? opened->body : "no answer");
  auto part0 = api->Put(DlfsdProcess::path("/uploads/" + body_of(opened)["id"].get<std::string>() + "/parts/0"),
                        big.substr(0, kPart), "application/octet-stream");
  ASSERT_TRUE(part0 && part0->status == 200) << (part0 ? part0->body : "no answer");
  write_file(dir.sub("cams.csv"), "ID,image_bytes,name,mimetype,item_metadata\n1,aGVsbG8K,one.txt,text/plain,\"{\"\"cam\"\": 7}\"\n"
                                  "2,d29ybGQK,two.txt,text/plain,\n");
  write_file(buckets.sub("nfs/raw.txt"), "an object\n");
  write_file(buckets.sub("nfs/deep/er.txt"), "another\n");
  auto driver = api->Post(DlfsdProcess::path("/drivers"),
                          json{{"name", "nfs"}, {"type", "local"}, {"bucketName", buckets.sub("nfs")}}.dump(), "application/json");
  ASSERT_TRUE(driver && driver->status == 200) << (driver ? driver->body : "no answer");
  auto synced_ds = api->Post(DlfsdProcess::path("/datasets"),
                             json{{"name", "bucket"}, {"driver", body_of(driver)["id"]}, {"projects", {"000000000000000000000001"}}}.dump(),
                             "application/json");
  ASSERT_TRUE(synced_ds && synced_ds->status == 200) << (synced_ds ? synced_ds->body : "no answer");
  std::string photo = upload("/pics/photo.jpg", read_file(dir.sub("photo.jpg")))["id"];
  upload("/pics/clip.mp4", make_link_json("https://example.invalid/clip.mp4", "video/mp4").dump());
  // A link to an image on a local web server: the platform fetches it and makes its thumbnail.
  write_file(dir.sub("www/remote.jpg"), read_file(dir.sub("photo.jpg")));
  StaticHttpServer www(dir.sub("www"));
  ASSERT_TRUE(www.ok()) << www.error();
  std::string image_link = upload("/pics/remote.jpg", make_link_json(www.origin() + "/remote.jpg", "image/jpeg").dump())["id"];
  upload("/pics/other.txt", "other");
  upload("/pics/sub/deeper.txt", "deeper");
  // Their thumbnails are made by preprocessing: wait (bounded) until there are.
  for (const std::string& id : {photo, image_link}) {
    for (int i = 0; i < 200; ++i) {
      auto thumb = api->Get(DlfsdProcess::path("/items/" + id + "/thumbnail"));
      if (thumb && thumb->status == 200) break;
      std::this_thread::sleep_for(50ms);
    }
  }

  std::string shots = std::string(DLFS_BIN_DIR) + "/../tests/artifacts/web_ui";
  std::filesystem::remove_all(shots);
  auto r = run({"/usr/bin/python3", std::string(DLFS_SOURCE_DIR) + "/tests/integration/web_ui_browser.py", "--url",
                "http://" + server.host_port(), "--token", server.token(), "--dataset", kEvilName, "--folder", "pics",
                "--photo", "photo.jpg", "--link", "clip.mp4", "--image-link", "remote.jpg", "--upload", dir.sub("note.txt"), "--upload-dir",
                dir.sub("tree"), "--upload-dir-files", "3", "--big", dir.sub("big.bin"), "--csv", dir.sub("cams.csv"),
                "--sync-dataset", "bucket", "--sync-object", "raw.txt", "--screenshots", shots},
               std::chrono::seconds(240));
  EXPECT_TRUE(r.ok()) << "exit " << r.exit_code << (r.timed_out ? " (timed out)" : "") << "\n" << r.out << r.err;
  EXPECT_TRUE(std::filesystem::exists(shots + "/01-login.png"));

  // What the browser did, through the API.
  json edited = item(photo);
  EXPECT_EQ(edited["metadata"]["user"], (json{{"tag", "web"}, {"score", 3}})) << edited.dump(2);
  EXPECT_EQ(edited["description"], "edited in a browser");
  // The bytes of the item at `path`, through the API.
  auto content = [&](const std::string& path) -> std::string {
    json it = find(path);
    if (!it.is_object()) return "<missing>";
    auto got = api->Get(DlfsdProcess::path("/items/" + it["id"].get<std::string>() + "/stream"));
    return got ? got->body : "<no answer>";
  };
  json uploaded = find("/pics/note.txt");
  ASSERT_TRUE(uploaded.is_object()) << "no /pics/note.txt";
  EXPECT_EQ(uploaded["creator"], "dev@local");
  EXPECT_EQ(content("/pics/note.txt"), "from a browser\n");
  EXPECT_EQ(content("/pics/tree/a.txt"), "tree a\n");
  EXPECT_EQ(content("/pics/tree/sub/b.txt"), "tree b\n");
  EXPECT_EQ(content("/pics/tree/empty.txt"), "");
  EXPECT_EQ(content("/pics/dropped.txt"), "dropped in a browser\n");
  EXPECT_TRUE(content("/pics/big.bin") == big) << "the resumed upload's bytes differ";
  EXPECT_EQ(content("/pics/cams/one.txt"), "hello\n");
  EXPECT_EQ(find("/pics/cams/one.txt")["metadata"]["user"]["cam"], 7);
  EXPECT_EQ(content("/pics/cams/two.txt"), "world\n");
  // The driver's dataset, synced from the page: its objects are items.
  auto q = api->Post(DlfsdProcess::path("/datasets/" + body_of(synced_ds)["id"].get<std::string>() + "/query"),
                     json{{"filter", {{"type", "file"}}}}.dump(), "application/json");
  std::set<std::string> names;
  json listed = body_of(q)["items"];
  ASSERT_TRUE(listed.is_array()) << listed.dump();
  for (const json& i : listed) names.insert(i["filename"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"/deep/er.txt", "/raw.txt"}));
}

}  // namespace
}  // namespace dlfs::test
