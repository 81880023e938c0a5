// `dlfs upload` waiting for preprocessing, `dlfs preprocess`, and the phase in `dlfs stat`: the
// built binary, a temp store, real images.
#include <gtest/gtest.h>

#include "core/json_util.h"
#include "preprocess_fixtures.h"
#include "support/dlfs_cli.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

class PreprocessCliTest : public DlfsCliTest {
 protected:
  PreprocessCliTest() : DlfsCliTest("dlfs-ppcli") {}
  json stat(const std::string& target) {
    auto doc = parse_json(ok({"stat", target}));
    EXPECT_TRUE(doc) << doc.status().to_string();
    return doc ? *doc : json::object();
  }
};

}  // namespace

TEST_F(PreprocessCliTest, UploadWaitsForThePreprocessingOfWhatItSent) {
  ok({"dataset", "create", "ds"});
  make_picture(dir_, "photos/a.jpg", 320, 240);
  make_picture(dir_, "photos/b.png", 90, 60);
  write_file(dir_.sub("photos/readme.txt"), "some text\n");
  write_file(dir_.sub("photos/broken.gif"), "GIF89a\x10\x00\x10\x00 and then nothing");
  std::string out = ok({"upload", "--dataset", "ds", dir_.sub("photos")});
  EXPECT_NE(out.find("uploaded 4 files"), std::string::npos) << out;
  EXPECT_NE(out.find("preprocessed 4 of 4 items: 3 done, 1 failed"), std::string::npos) << out;
  EXPECT_NE(out.find("failed: /photos/broken.gif: "), std::string::npos) << out;

  json a = stat("ds:/photos/a.jpg");
  EXPECT_EQ(a["metadata"]["system"]["preprocessPhase"], "done");
  EXPECT_EQ(a["metadata"]["system"]["width"], 320);
  EXPECT_EQ(a["metadata"]["system"]["height"], 240);
  EXPECT_TRUE(a["metadata"]["system"].contains("thumbnailId"));
  json broken = stat("ds:/photos/broken.gif");
  EXPECT_EQ(broken["metadata"]["system"]["preprocessPhase"], "failed");
  EXPECT_FALSE(broken["metadata"]["system"]["preprocessError"].get<std::string>().empty());
  // The thumbnails are hidden: a listing shows only what was uploaded.
  EXPECT_EQ(ok({"ls", "ds:/"}), "photos/\n");
}

TEST_F(PreprocessCliTest, NoWaitLeavesItPendingAndPreprocessRunsIt) {
  ok({"dataset", "create", "ds"});
  make_picture(dir_, "in/a.jpg", 64, 48);
  make_picture(dir_, "in/sub/b.webp", 30, 20);
  std::string out = ok({"upload", "--dataset", "ds", "--no-wait", dir_.sub("in")});
  EXPECT_EQ(out.find("preprocessed"), std::string::npos) << out;
  EXPECT_EQ(stat("ds:/in/a.jpg")["metadata"]["system"]["preprocessPhase"], "pending");
  EXPECT_FALSE(stat("ds:/in/a.jpg")["metadata"]["system"].contains("width"));

  // One file, then the whole folder.
  out = ok({"preprocess", "ds:/in/a.jpg"});
  EXPECT_NE(out.find("preprocessed 1 of 1 items: 1 done, 0 failed"), std::string::npos) << out;
  EXPECT_EQ(stat("ds:/in/a.jpg")["metadata"]["system"]["width"], 64);
  out = ok({"preprocess", "--workers", "2", "ds:/in"});
  EXPECT_NE(out.find("preprocessed 2 of 2 items: 2 done, 0 failed"), std::string::npos) << out;
  json b = stat("ds:/in/sub/b.webp");
  EXPECT_EQ(b["metadata"]["system"]["preprocessPhase"], "done");
  EXPECT_EQ(b["metadata"]["system"]["mimetype"], "image/webp");
  EXPECT_EQ(b["metadata"]["system"]["width"], 30);
  // The whole dataset.
  EXPECT_NE(ok({"preprocess", "ds"}).find("preprocessed 2 of 2 items"), std::string::npos);
}

TEST_F(PreprocessCliTest, BadArgumentsAreOneLineErrors) {
  ok({"dataset", "create", "ds"});
  for (auto args : std::vector<std::vector<std::string>>{{"preprocess"},
                                                         {"preprocess", "ds:/missing"},
                                                         {"preprocess", "nods"},
                                                         {"preprocess", "--workers", "0", "ds"},
                                                         {"preprocess", "--frob", "ds"},
                                                         {"upload", "--dataset", "ds", "--wait-timeout", "x", "f"}}) {
    auto r = dlfs(args);
    EXPECT_FALSE(r.ok()) << ::testing::PrintToString(args);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}
