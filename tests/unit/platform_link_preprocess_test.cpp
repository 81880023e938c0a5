// Preprocessing of link items on the embedded platform, with a fake LinkFetcher injected through
// PlatformOptions::link_fetcher: the target's size, ETag, Last-Modified, mimetype and (for an
// image) width/height and a thumbnail are recorded; refused, unreachable and file:// targets end
// failed with the reason, and file:// is never handed to the fetcher.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "platform/platform.h"
#include "platform/preprocess.h"
#include "support/fs_fixture.h"
#include "support/read_item.h"
#include "support/temp_dir.h"
#include "preprocess_fixtures.h"

namespace dlfs::test {
namespace {

// FakeLinkFetcher, whose HEAD also tells an ETag and a Last-Modified.
class HeadersFetcher : public FakeLinkFetcher {
 public:
  std::vector<std::string> asked;
  Result<LinkStat> stat(std::string_view url) override {
    asked.emplace_back(url);
    DLFS_ASSIGN(uint64_t n, size(url));
    LinkStat st;
    st.size = n;
    st.etag = "\"v1\"";
    st.last_modified = "Fri, 04 Dec 2026 10:00:00 GMT";
    return st;
  }
  Result<size_t> read(std::string_view url, uint64_t offset, std::span<char> out) override {
    asked.emplace_back(url);
    return FakeLinkFetcher::read(url, offset, out);
  }
};

class LinkPreprocessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fetcher_ = std::make_shared<HeadersFetcher>();
    PlatformOptions options{dir_.sub("store"), &clock_};
    options.link_fetcher = fetcher_;
    auto p = Platform::open(options);
    ASSERT_TRUE(p) << p.status().to_string();
    platform_ = std::move(*p);
    auto ds = platform_->create_dataset("links", "dev@local");
    ASSERT_TRUE(ds) << ds.status().to_string();
    ds_ = *ds;
  }
  Item link(const std::string& path, const std::string& url, const std::string& mime = "") {
    auto r = platform_->upload_bytes(ds_.id, make_link_json(url, mime).dump(), path, {});
    EXPECT_TRUE(r) << r.status().to_string();
    return r ? r->item : Item{};
  }
  Item preprocessed(const Item& item) {
    auto r = platform_->preprocess_now(item.id);
    EXPECT_TRUE(r) << r.status().to_string();
    return r ? *r : Item{};
  }
  static std::string sys(const Item& item, const char* dotted) {
    const json* v = find_dotted(item.system(), dotted);
    return v ? (v->is_string() ? v->get<std::string>() : v->dump()) : std::string("<none>");
  }

  TempDir dir_{"dlfs-linkpre"};
  FakeClock clock_;
  std::shared_ptr<HeadersFetcher> fetcher_;
  std::unique_ptr<Platform> platform_;
  Dataset ds_;
};

TEST_F(LinkPreprocessTest, RecordsSizeMimetypeAndValidators) {
  fetcher_->targets["https://example.com/a.txt"] = "hello, linked world\n";
  Item item = preprocessed(link("/a.txt", "https://example.com/a.txt"));
  EXPECT_EQ(sys(item, "preprocessPhase"), "done");
  EXPECT_EQ(sys(item, "shebang.linkInfo.size"), "20");
  EXPECT_EQ(sys(item, "shebang.linkInfo.etag"), "\"v1\"");
  EXPECT_EQ(sys(item, "shebang.linkInfo.lastModified"), "Fri, 04 Dec 2026 10:00:00 GMT");
  EXPECT_EQ(sys(item, "shebang.linkInfo.ref"), "https://example.com/a.txt");  // kept
  EXPECT_EQ(sys(item, "mimetype"), "text/plain");
  // Read back from the catalogue: a listing sees it without asking the target.
  size_t asked = fetcher_->asked.size();
  auto again = platform_->get_item(item.id);
  ASSERT_TRUE(again);
  EXPECT_EQ(sys(*again, "shebang.linkInfo.size"), "20");
  EXPECT_EQ(fetcher_->asked.size(), asked);
}

TEST_F(LinkPreprocessTest, ImageTargetGetsSizeAndThumbnail) {
  TempDir pics{"dlfs-linkpre-pics"};
  std::string jpeg = slurp(make_picture(pics, "cat.jpg", 320, 200));
  fetcher_->targets["https://example.com/cat.jpg"] = jpeg;
  Item item = preprocessed(link("/cat.jpg", "https://example.com/cat.jpg"));
  EXPECT_EQ(sys(item, "preprocessPhase"), "done") << sys(item, "preprocessError");
  EXPECT_EQ(sys(item, "mimetype"), "image/jpeg");
  EXPECT_EQ(sys(item, "width"), "320");
  EXPECT_EQ(sys(item, "height"), "200");
  EXPECT_EQ(sys(item, "shebang.linkInfo.size"), std::to_string(jpeg.size()));
  auto thumb = platform_->get_item(sys(item, "thumbnailId"));
  ASSERT_TRUE(thumb) << thumb.status().to_string();
  EXPECT_TRUE(thumb->hidden);
  EXPECT_EQ(detect_mimetype(read_item(*platform_, *thumb)), "image/jpeg");
}

TEST_F(LinkPreprocessTest, RefusedAndUnreachableTargetsFailWithTheReason) {
  fetcher_->failures["http://127.0.0.1:9/x.jpg"] =
      Status(EACCES, "127.0.0.1 is a loopback address; allow it with --link-allow-private");
  fetcher_->failures["https://gone.example/x.jpg"] = Status(EIO, "cannot reach https://gone.example/x.jpg");
  Item refused = preprocessed(link("/refused.jpg", "http://127.0.0.1:9/x.jpg"));
  EXPECT_EQ(sys(refused, "preprocessPhase"), "failed");
  EXPECT_NE(sys(refused, "preprocessError").find("--link-allow-private"), std::string::npos)
      << sys(refused, "preprocessError");
  EXPECT_EQ(sys(refused, "shebang.linkInfo.size"), "<none>");
  Item gone = preprocessed(link("/gone.jpg", "https://gone.example/x.jpg"));
  EXPECT_EQ(sys(gone, "preprocessPhase"), "failed");
  EXPECT_NE(sys(gone, "preprocessError").find("cannot reach"), std::string::npos);
}

TEST_F(LinkPreprocessTest, FileUrlIsNeverFetched) {
  fetcher_->targets["file:///etc/passwd"] = "root:x:0:0";
  Item item = preprocessed(link("/secret.txt", "file:///etc/passwd"));
  EXPECT_EQ(sys(item, "preprocessPhase"), "failed");
  EXPECT_NE(sys(item, "preprocessError").find("never fetches"), std::string::npos) << sys(item, "preprocessError");
  for (const auto& url : fetcher_->asked) EXPECT_NE(url, "file:///etc/passwd");
}

}  // namespace
}  // namespace dlfs::test
