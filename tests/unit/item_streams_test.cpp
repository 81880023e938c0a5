// Many items' bytes in one answer (remote/item_streams.h): the parser over every split of an
// answer, and HttpRemote::read_items against in-test servers — one request for many items, a
// server without the call (asked once, then one stream per item), an answer cut short or an
// item not answered (the items left fail at once), items answered with errors or redirected to
// their bucket.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "core/item_streams_format.h"
#include "remote/item_streams.h"
#include "support/collected_items.h"
#include "http_test_server.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

std::vector<Item> three_items() {
  return {make_item("65f1c0ffee0000000000a001", "/a.jpg", 5), make_item("65f1c0ffee0000000000a002", "/b.jpg", 0),
          make_item("65f1c0ffee0000000000a003", "/c.jpg", 3)};
}

std::string answer_of_three() {
  auto items = three_items();
  return item_stream_header(items[0].id, 5) + "hello" + item_stream_header(items[1].id, 0) +
         item_stream_header(items[2].id, 3) + "abc";
}

}  // namespace

TEST(ItemStreamsParser, AnAnswerSplitAnywhereGivesEachItemItsBytesAndEnd) {
  auto items = three_items();
  std::string answer = answer_of_three();
  for (size_t cut1 = 0; cut1 <= answer.size(); ++cut1) {
    for (size_t cut2 = cut1; cut2 <= answer.size(); cut2 += 7) {
      CollectedItems got;
      ItemStreamsParser parser(items, got);
      ASSERT_TRUE(parser.feed(std::string_view(answer).substr(0, cut1)));
      ASSERT_TRUE(parser.feed(std::string_view(answer).substr(cut1, cut2 - cut1)));
      ASSERT_TRUE(parser.feed(std::string_view(answer).substr(cut2)));
      EXPECT_EQ(got.bytes_of[0], "hello");
      EXPECT_EQ(got.bytes_of.count(1), 0u);
      EXPECT_EQ(got.bytes_of[2], "abc");
      for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(got.ends[i], 1) << i;
        EXPECT_TRUE(got.ended[i]) << i;
      }
      EXPECT_TRUE(parser.left().empty());
    }
  }
}

TEST(ItemStreamsParser, AnAnswerCutShortLeavesTheItemUnderWayAndThoseAfter) {
  auto items = three_items();
  std::string answer = answer_of_three();
  CollectedItems got;
  ItemStreamsParser parser(items, got);
  ASSERT_TRUE(parser.feed(std::string_view(answer).substr(0, answer.size() - 1)));  // "ab" of "abc"
  EXPECT_EQ(parser.left(), (std::vector<size_t>{2}));
  EXPECT_EQ(got.ends.count(2), 0u);
  EXPECT_EQ(got.ends[0], 1);
}

TEST(ItemStreamsParser, ErrorsEndTheirItemAndRedirectsAreLeftForTheCaller) {
  auto items = three_items();
  std::string answer = item_stream_error(items[0].id, 412, "changed") + item_stream_error(items[1].id, 302, "bucket") +
                       item_stream_error(items[2].id, 404, "gone");
  CollectedItems got;
  ItemStreamsParser parser(items, got);
  ASSERT_TRUE(parser.feed(answer));
  EXPECT_EQ(got.ended[0].err(), ESTALE);  // as a single read answers another version
  EXPECT_EQ(got.ended[2].err(), ENOENT);
  EXPECT_EQ(got.ends.count(1), 0u);
  EXPECT_EQ(parser.left(), (std::vector<size_t>{1}));
}

TEST(ItemStreamsParser, AnAnswerOfOtherItemsOrNotJsonIsRefused) {
  auto items = three_items();
  for (std::string bad : {item_stream_header(items[1].id, 5) + "hello", std::string("not json\n"),
                          item_stream_header(items[0].id, 5).substr(0, 10) + "\n", std::string(70000, 'x')}) {
    CollectedItems got;
    ItemStreamsParser parser(items, got);
    EXPECT_FALSE(parser.feed(bad)) << bad.substr(0, 40);
    EXPECT_EQ(parser.error().err(), EIO);
    EXPECT_EQ(parser.left(), (std::vector<size_t>{0, 1, 2}));
    EXPECT_TRUE(got.ends.empty());
  }
  // More items than asked.
  CollectedItems got;
  ItemStreamsParser parser(items, got);
  EXPECT_FALSE(parser.feed(answer_of_three() + item_stream_header(items[0].id, 0)));
  EXPECT_TRUE(parser.left().empty());
}

namespace {

const std::string kStreams = "/api/v1/items/streams";

// Serves the three items' streams one by one (GET .../stream), counting them.
void serve_single_streams(TestServer& server, std::atomic<int>& singles) {
  server.svr().Get(R"(/api/v1/items/([^/]+)/stream)", [&](const httplib::Request& req, httplib::Response& res) {
    ++singles;
    std::string id = req.matches[1];
    std::string body = id.ends_with("a001") ? "hello" : id.ends_with("a003") ? "abc" : "";
    res.status = req.has_header("Range") ? 206 : 200;
    if (req.has_header("Range"))
      res.set_header("Content-Range", "bytes 0-" + std::to_string(body.size() - 1) + "/" + std::to_string(body.size()));
    res.set_content(body, "application/octet-stream");
  });
}

}  // namespace

TEST(HttpRemoteReadItems, ManyItemsComeInOneRequest) {
  TestServer server;
  serve_dataset(server);
  std::atomic<int> posts{0}, singles{0};
  json asked;
  std::mutex mu;
  server.svr().Post(kStreams, [&](const httplib::Request& req, httplib::Response& res) {
    ++posts;
    {
      std::lock_guard lock(mu);
      asked = json::parse(req.body);
    }
    res.set_content(answer_of_three(), kItemStreamsType);
  });
  serve_single_streams(server, singles);
  server.start();
  auto remote = open_remote(server);
  ASSERT_TRUE(remote);
  auto items = three_items();
  items[0].metadata["system"]["etag"] = "v1";
  CollectedItems got;
  remote->read_items(items, got);
  EXPECT_EQ(posts.load(), 1);
  EXPECT_EQ(singles.load(), 0);
  EXPECT_EQ(got.bytes_of[0], "hello");
  EXPECT_EQ(got.bytes_of[2], "abc");
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(got.ended[i]) << i;
  std::lock_guard lock(mu);
  ASSERT_EQ(asked["items"].size(), 3u);
  EXPECT_EQ(asked["items"][0]["id"], items[0].id);
  EXPECT_EQ(asked["items"][0].value("etag", ""), items[0].etag());  // the version the client has
}

TEST(HttpRemoteReadItems, AServerWithoutTheCallIsAskedOnceThenEachItemIsReadByItself) {
  TestServer server;
  serve_dataset(server);
  std::atomic<int> singles{0};
  serve_single_streams(server, singles);  // (no POST /items/streams: 404)
  server.start();
  auto remote = open_remote(server);
  ASSERT_TRUE(remote);
  auto items = three_items();
  for (int round = 0; round < 2; ++round) {
    CollectedItems got;
    remote->read_items(items, got);
    EXPECT_EQ(got.bytes_of[0], "hello");
    EXPECT_EQ(got.bytes_of[2], "abc");
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(got.ended[i]) << round << " " << i;
  }
  EXPECT_EQ(singles.load(), 4);  // the two non-empty items, twice; the empty one needs no request
}

// A server gone or stalled mid-answer: the items it did not bring fail at once (their readers
// read them), not one by one — a reader of the last would wait out every timeout before it.
TEST(HttpRemoteReadItems, AnAnswerCutAtTheTransportFailsTheItemsLeftAtOnce) {
  TestServer server;
  serve_dataset(server);
  std::atomic<int> posts{0}, singles{0};
  server.svr().Post(kStreams, [&](const httplib::Request&, httplib::Response& res) {
    ++posts;
    std::string answer = answer_of_three();
    std::string cut = answer.substr(0, answer.size() - 2);  // "a" of "abc"
    // Announces the whole length, sends less, and ends the connection.
    res.set_content_provider(answer.size(), kItemStreamsType, [cut](size_t offset, size_t, httplib::DataSink& sink) {
      if (offset >= cut.size()) return false;
      return sink.write(cut.data() + offset, cut.size() - offset);
    });
  });
  serve_single_streams(server, singles);
  server.start();
  auto remote = open_remote(server);
  ASSERT_TRUE(remote);
  CollectedItems got;
  remote->read_items(three_items(), got);
  EXPECT_EQ(posts.load(), 1);
  EXPECT_EQ(singles.load(), 0);
  EXPECT_EQ(got.bytes_of[0], "hello");
  EXPECT_TRUE(got.ended[0]);
  EXPECT_TRUE(got.ended[1]);
  EXPECT_EQ(got.ended[2].err(), EIO);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(got.ends[i], 1) << i;
}

// Item by item (a server without the call), a remote that does not answer one item is not asked
// for the rest: they fail at once.
TEST(HttpRemoteReadItems, OneByOneAnItemNotAnsweredFailsTheRestAtOnce) {
  TestServer server;
  serve_dataset(server);
  std::atomic<int> asked_a1{0}, asked_other{0};
  server.svr().Get(R"(/api/v1/items/([^/]+)/stream)", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1].str().ends_with("a001")) {
      ++asked_a1;  // ends the connection without an answer
      res.set_content_provider(5, "application/octet-stream", [](size_t, size_t, httplib::DataSink&) { return false; });
      return;
    }
    ++asked_other;
    res.set_content("abc", "application/octet-stream");
  });
  server.start();
  auto remote = open_remote(server);
  ASSERT_TRUE(remote);
  auto items = three_items();
  std::swap(items[1], items[2]);  // a001, a003, a002 (empty)
  CollectedItems got;
  remote->read_items(items, got);
  EXPECT_GE(asked_a1.load(), 1);
  EXPECT_EQ(asked_other.load(), 0);
  EXPECT_EQ(got.ended[0].err(), EIO);
  EXPECT_EQ(got.ended[1].err(), EIO);
  EXPECT_EQ(got.ended[2].err(), EIO);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(got.ends[i], 1) << i;
}

TEST(HttpRemoteReadItems, ARedirectedItemIsReadFromItsOwnStream) {
  TestServer server;
  serve_dataset(server);
  std::atomic<int> singles{0};
  auto items = three_items();
  server.svr().Post(kStreams, [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(item_stream_header(items[0].id, 5) + "hello" + item_stream_error(items[1].id, 404, "gone") +
                        item_stream_error(items[2].id, 302, "from its bucket"),
                    kItemStreamsType);
  });
  serve_single_streams(server, singles);
  server.start();
  auto remote = open_remote(server);
  ASSERT_TRUE(remote);
  CollectedItems got;
  remote->read_items(items, got);
  EXPECT_EQ(got.bytes_of[0], "hello");
  EXPECT_EQ(got.ended[1].err(), ENOENT);
  EXPECT_EQ(got.bytes_of[2], "abc");
  EXPECT_TRUE(got.ended[2]);
  EXPECT_EQ(singles.load(), 1);
}

TEST(HttpRemoteReadItems, AGateAnsweringAPageToTheCallIsAskedOnceThenEachItemIsReadByItself) {
  TestServer server;
  serve_dataset(server);
  std::atomic<int> posts{0}, singles{0};
  server.svr().Post(kStreams, [&](const httplib::Request&, httplib::Response& res) {
    ++posts;
    res.set_content("<html>not found</html>", "text/html");
  });
  serve_single_streams(server, singles);
  server.start();
  auto remote = open_remote(server);
  ASSERT_TRUE(remote);
  for (int round = 0; round < 2; ++round) {
    CollectedItems got;
    remote->read_items(three_items(), got);
    EXPECT_EQ(got.bytes_of[0], "hello");
    EXPECT_EQ(got.bytes_of[2], "abc");
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(got.ended[i]) << round << " " << i;
  }
  EXPECT_EQ(posts.load(), 1);
  EXPECT_EQ(singles.load(), 4);
}
