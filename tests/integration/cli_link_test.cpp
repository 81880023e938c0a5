// `dlfs link DATASET:/path URL [--mimetype M]` as a user runs it, against the embedded store and
// against dlfsd: the item is a link item (stat shows its linkInfo, ls marks it 'l'), under the
// name given; a URL that is not http or https, an existing name and bad usage fail with one line.
#include <gtest/gtest.h>

#include <algorithm>

#include "support/mounted_dataset.h"

namespace dlfs::test {
namespace {

using namespace std::chrono_literals;

class CliLink : public MountedDatasetTest {
 protected:
  std::string ok(std::vector<std::string> args) {
    auto r = dlfs(std::move(args));
    EXPECT_TRUE(r.ok()) << r.out << r.err;
    return r.out;
  }
  // Fails with exit status `code` and one line on stderr; answers it.
  std::string fails(std::vector<std::string> args, int code = 1) {
    auto r = dlfs(std::move(args));
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    return r.err;
  }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, CliLink, kBackends, backend_name);

TEST_P(CliLink, MakesALinkItemUnderTheNameGiven) {
  const std::string url = "https://images.example.com/cats/cat.jpg";
  EXPECT_EQ(ok({"link", dataset + ":/cats/cat.jpg", url, "--mimetype", "image/jpeg"}),
            dataset + ":/cats/cat.jpg -> " + url + "\n");
  EXPECT_EQ(ok({"link", "--mimetype=video/mp4", dataset + ":/v.mp4", "https://example.com/v.mp4"}),
            dataset + ":/v.mp4 -> https://example.com/v.mp4\n");
  json item = json::parse(ok({"stat", dataset + ":/cats/cat.jpg"}));
  const json& info = item["metadata"]["system"]["shebang"]["linkInfo"];
  EXPECT_EQ(info["ref"], url) << item.dump(2);
  EXPECT_EQ(info["type"], "url");
  EXPECT_EQ(info["mimetype"], "image/jpeg");
  EXPECT_EQ(item["name"], "cat.jpg");
  EXPECT_EQ(json::parse(ok({"stat", dataset + ":/v.mp4"}))["metadata"]["system"]["shebang"]["linkInfo"]["mimetype"],
            "video/mp4");
  std::string listed = ok({"ls", "-l", dataset + ":/cats"});
  EXPECT_EQ(listed.rfind("l ", 0), 0u) << listed;  // a link item
  // Its stored bytes are the link JSON users upload (API.md).
  json body = json::parse(ok({"cat", dataset + ":/cats/cat.jpg"}));
  EXPECT_EQ(body["type"], "link");
  EXPECT_EQ(body["shebang"], "dataloop");
}

TEST_P(CliLink, RefusesOtherUrlsExistingNamesAndBadUsage) {
  std::string err = fails({"link", dataset + ":/secret", "file:///etc/passwd"});
  EXPECT_NE(err.find("a link item's target must be an http:// or https:// URL, not 'file:///etc/passwd'"),
            std::string::npos)
      << err;
  fails({"link", dataset + ":/local", "/etc/passwd"});
  fails({"link", dataset + ":/ftp", "ftp://example.com/a"});
  EXPECT_EQ(dlfs({"stat", dataset + ":/secret"}).exit_code, 1);  // nothing made

  ok({"link", dataset + ":/a.jpg", "https://example.com/a.jpg"});
  err = fails({"link", dataset + ":/a.jpg", "https://example.com/b.jpg"});
  EXPECT_NE(err.find("/a.jpg exists"), std::string::npos) << err;
  EXPECT_EQ(json::parse(ok({"stat", dataset + ":/a.jpg"}))["metadata"]["system"]["shebang"]["linkInfo"]["ref"],
            "https://example.com/a.jpg");  // untouched
  ok({"mkdir", dataset + ":/folder"});
  EXPECT_NE(fails({"link", dataset + ":/folder", "https://example.com/b.jpg"}).find("/folder exists"),
            std::string::npos);

  err = fails({"link", dataset + ":/x.jpg"}, 2);
  EXPECT_NE(err.find("usage: dlfs link"), std::string::npos) << err;
  EXPECT_EQ(err.find("usage: usage"), std::string::npos) << err;  // said once
  EXPECT_NE(fails({"link", dataset + ":/x.jpg", "https://example.com/x", "--bogus"}, 2).find("--bogus"),
            std::string::npos);
  fails({"link", "nosuchdataset:/x.jpg", "https://example.com/x"});
}

}  // namespace dlfs::test
