// Large files to dlfsd in parts (server/routes_upload_session.cpp, remote/http_parted_upload.h)
// against a real dlfsd on loopback: the parts go several at once and the bytes read back; an
// upload named by a resume key sends only the parts the server lacks, and never completes a
// changed file with parts of its older bytes; the session API's errors.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "remote/http_remote.h"
#include "server/upload_sessions.h"
#include "support/dlfsd_process.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

constexpr uint64_t kPart = 256 << 10;

class HttpPartedUpload : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server.ok()) << server.error();
    HttpOptions o = options();
    o.parted_upload_min = 1 << 20;
    o.upload_part_size = kPart;
    o.upload_parallel = 4;
    // (the signer hook sees every request: the parts sent are counted, by part number)
    o.signer = [this](const HttpRequest& req, const std::string&, uint64_t) {
      if (req.method == "PUT" && req.path.find("/parts/") != std::string::npos) {
        std::lock_guard lock(mu);
        parts_sent.push_back(std::stoull(req.path.substr(req.path.rfind('/') + 1)));
      }
      return std::vector<std::string>{};
    };
    conn = std::make_unique<HttpConnection>(o);
    ASSERT_TRUE(conn->create_dataset("big"));
    remote = std::move(conn->open("big")).value();
    raw = std::make_unique<HttpClient>(options());
  }
  HttpOptions options() {
    HttpOptions o;
    o.base_url = server.base_url();
    o.token = server.token();
    o.connect_timeout_ms = 2000;
    return o;
  }
  std::vector<uint64_t> take_parts_sent() {
    std::lock_guard lock(mu);
    auto out = std::move(parts_sent);
    parts_sent.clear();
    std::sort(out.begin(), out.end());
    return out;
  }
  // What a second client reads at `path`.
  std::string bytes_at(const std::string& path) {
    HttpConnection other(options());
    auto r = other.open("big");
    if (!r) return "<" + r.status().to_string() + ">";
    auto item = (*r)->get(path);
    if (!item) return "<" + item.status().to_string() + ">";
    std::string out(item->size(), '\0');
    auto n = (*r)->read(*item, 0, std::span<char>(out));
    if (!n) return "<" + n.status().to_string() + ">";
    out.resize(*n);
    return out;
  }
  // The key the client sends for `file` under resume key `key`: the key, the size, the mtime.
  static std::string session_key(const std::string& key, const std::string& file) {
    struct stat st {};
    EXPECT_EQ(::stat(file.c_str(), &st), 0);
    return key + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec);
  }
  Result<json> open_session(const json& body) {
    HttpRequest req;
    req.method = "POST";
    req.path = "/datasets/" + remote->dataset().id + "/uploads";
    req.body = body.dump();
    req.content_type = "application/json";
    return raw->send_json(req);
  }
  Result<HttpResponse> put_part(const std::string& id, uint64_t n, std::string bytes) {
    HttpRequest req;
    req.method = "PUT";
    req.path = "/uploads/" + id + "/parts/" + std::to_string(n);
    req.body = std::move(bytes);
    req.content_type = "application/octet-stream";
    return raw->send(req);
  }

  DlfsdProcess server;
  TempDir work{"dlfs-http-parts"};
  std::unique_ptr<HttpConnection> conn;
  std::unique_ptr<Remote> remote;
  std::unique_ptr<HttpClient> raw;
  std::mutex mu;
  std::vector<uint64_t> parts_sent;
};

std::vector<uint64_t> all_parts(uint64_t n) {
  std::vector<uint64_t> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

}  // namespace

TEST_F(HttpPartedUpload, ALargeFileGoesInPartsAndReadsBack) {
  std::string bytes = random_bytes(3 * (1 << 20) + 123, 7);  // 13 parts, the last one 123 bytes
  write_file(work.sub("big.bin"), bytes);
  auto up = remote->upload(work.sub("big.bin"), "/d/big.bin", UploadOptions{});
  ASSERT_TRUE(up) << up.status().to_string();
  EXPECT_EQ(up->op, UploadOp::kCreated);
  EXPECT_EQ(up->item.size(), bytes.size());
  EXPECT_EQ(take_parts_sent(), all_parts(13));
  EXPECT_TRUE(bytes_at("/d/big.bin") == bytes);
  // Below the threshold: one request, no parts.
  write_file(work.sub("small.bin"), "small");
  ASSERT_TRUE(remote->upload(work.sub("small.bin"), "/d/small.bin", UploadOptions{}));
  EXPECT_TRUE(take_parts_sent().empty());
  // Overwrite and skip as a single upload's.
  std::string second = random_bytes(2 * (1 << 20), 8);
  write_file(work.sub("big.bin"), second);
  UploadOptions over;
  over.mode = UploadMode::kOverwrite;
  auto again = remote->upload(work.sub("big.bin"), "/d/big.bin", over);
  ASSERT_TRUE(again) << again.status().to_string();
  EXPECT_EQ(again->op, UploadOp::kOverwritten);
  EXPECT_TRUE(bytes_at("/d/big.bin") == second);
  auto skipped = remote->upload(work.sub("big.bin"), "/d/big.bin", UploadOptions{});
  ASSERT_TRUE(skipped) << skipped.status().to_string();
  EXPECT_EQ(skipped->op, UploadOp::kSkipped);
}

// A client that stopped mid-upload (the mount killed, the network gone) tries again with the
// same resume key: the session it had is taken up, and only the parts the server lacks go.
TEST_F(HttpPartedUpload, AnUploadWithAResumeKeySendsOnlyThePartsTheServerLacks) {
  std::string bytes = random_bytes(2 * (1 << 20) + 5, 9);  // 9 parts
  std::string file = work.sub("resumed.bin");
  write_file(file, bytes);
  auto session = open_session({{"path", "/r.bin"},
                               {"size", bytes.size()},
                               {"partSize", kPart},
                               {"key", session_key("spool-7", file)}});
  ASSERT_TRUE(session) << session.status().to_string();
  std::string id = (*session)["id"];
  EXPECT_EQ((*session)["parts"], 9);
  ASSERT_TRUE(put_part(id, 0, bytes.substr(0, kPart)));
  ASSERT_TRUE(put_part(id, 5, bytes.substr(5 * kPart, kPart)));

  UploadOptions o;
  o.resume_key = "spool-7";
  auto up = remote->upload(file, "/r.bin", o);
  ASSERT_TRUE(up) << up.status().to_string();
  EXPECT_EQ(take_parts_sent(), (std::vector<uint64_t>{1, 2, 3, 4, 6, 7, 8}));
  EXPECT_TRUE(bytes_at("/r.bin") == bytes);

  // The file written since (another mtime): a new session, every part sent again.
  auto stale = open_session({{"path", "/r2.bin"},
                             {"size", bytes.size()},
                             {"partSize", kPart},
                             {"key", session_key("spool-8", file)}});
  ASSERT_TRUE(stale);
  ASSERT_TRUE(put_part((*stale)["id"], 0, bytes.substr(0, kPart)));
  std::string changed = bytes;
  changed[10] ^= 0x55;
  struct timespec later[2] = {{0, UTIME_OMIT}, {time(nullptr) + 5, 0}};
  write_file(file, changed);
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), later, 0), 0);
  o.resume_key = "spool-8";
  auto fresh = remote->upload(file, "/r2.bin", o);
  ASSERT_TRUE(fresh) << fresh.status().to_string();
  EXPECT_EQ(take_parts_sent(), all_parts(9));
  EXPECT_TRUE(bytes_at("/r2.bin") == changed);
}

TEST_F(HttpPartedUpload, TheSessionApiAnswersClearErrors) {
  auto tiny = open_session({{"path", "/x"}, {"size", 10}, {"partSize", 100}});
  EXPECT_EQ(tiny.err(), EINVAL) << tiny.status().to_string();
  auto no_path = open_session({{"size", 10}, {"partSize", kPart}});
  EXPECT_EQ(no_path.err(), EINVAL);
  auto session = open_session({{"path", "/e.bin"}, {"size", kPart + 10}, {"partSize", kPart}});
  ASSERT_TRUE(session) << session.status().to_string();
  std::string id = (*session)["id"];
  EXPECT_EQ(put_part(id, 1, std::string(11, 'x')).err(), EINVAL);  // the last part has 10 bytes
  EXPECT_EQ(put_part(id, 2, "x").err(), EINVAL);                   // past the last part
  ASSERT_TRUE(put_part(id, 1, std::string(10, 'y')));
  HttpRequest complete;
  complete.method = "POST";
  complete.path = "/uploads/" + id + "/complete";
  complete.accept_codes = {409};
  auto early = raw->send(complete);
  ASSERT_TRUE(early) << early.status().to_string();
  EXPECT_EQ(early->code, 409);
  EXPECT_EQ(json::parse(early->body)["missing"], json::array({0}));
  HttpRequest get;
  get.path = "/uploads/" + id;
  auto state = raw->send_json(get);
  ASSERT_TRUE(state);
  EXPECT_EQ((*state)["received"], json::array({1}));
  HttpRequest del;
  del.method = "DELETE";
  del.path = "/uploads/" + id;
  ASSERT_TRUE(raw->send(del));
  EXPECT_EQ(raw->send_json(get).err(), ENOENT);
}

// A complete may take minutes (a big file into a bucket) and a client that gave up waiting asks
// again: that answers the item the first one made, never 409 or a second item.
TEST_F(HttpPartedUpload, ACompleteAskedAgainAnswersTheItemTheFirstMade) {
  auto session = open_session({{"path", "/again.bin"}, {"size", 10}, {"partSize", kPart}});
  ASSERT_TRUE(session) << session.status().to_string();
  std::string id = (*session)["id"];
  ASSERT_TRUE(put_part(id, 0, "0123456789"));
  HttpRequest complete;
  complete.method = "POST";
  complete.path = "/uploads/" + id + "/complete";
  auto first = raw->send(complete);
  ASSERT_TRUE(first) << first.status().to_string();
  auto again = raw->send(complete);
  ASSERT_TRUE(again) << again.status().to_string();
  EXPECT_EQ(again->code, 200);
  EXPECT_EQ(json::parse(again->body)["id"], json::parse(first->body)["id"]);
  EXPECT_EQ(again->header("x-item-op"), "created");
  EXPECT_EQ(bytes_at("/again.bin"), "0123456789");
  EXPECT_FALSE(put_part(id, 0, "0123456789")) << "a completed session took a part";
}

// The same on the sessions themselves: a complete asked while one is under way waits for its end
// and answers its item; after a failed one kept for a retry, it completes; it waits only so long.
TEST(UploadSessionsComplete, AskedWhileUnderWayItWaitsForTheFirstsEnd) {
  TempDir tmp{"dlfs-sessions"};
  UploadSessions sessions(tmp.path());
  UploadSessionRequest request;
  request.dataset_id = "ds";
  request.path = "/a.bin";
  request.size = 3;
  request.part_size = kMinPartSize;
  request.options.user = "u@x";
  auto opened = sessions.open(request);
  ASSERT_TRUE(opened) << opened.status().to_string();
  ASSERT_TRUE(sessions.put_part(opened->id, "u@x", 0, [](int fd, uint64_t offset, uint64_t) -> Result<uint64_t> {
    return ::pwrite(fd, "abc", 3, off_t(offset)) == 3 ? Result<uint64_t>(3) : Status(EIO, "pwrite");
  }));
  auto first = sessions.begin_complete(opened->id, "u@x", nullptr);
  ASSERT_TRUE(first) << first.status().to_string();
  EXPECT_FALSE(first->file.empty());
  EXPECT_EQ(sessions.begin_complete(opened->id, "u@x", nullptr, std::chrono::milliseconds(50)).err(), EBUSY)
      << "a complete under way did not hold the second";

  // Failed, kept: the next complete takes the file again.
  sessions.finish(opened->id, /*keep=*/true);
  auto retry = sessions.begin_complete(opened->id, "u@x", nullptr);
  ASSERT_TRUE(retry) << retry.status().to_string();
  EXPECT_EQ(retry->file, first->file);
  EXPECT_TRUE(retry->completed_item.empty());

  std::atomic<bool> answered{false};
  Result<UploadSessions::CompleteTicket> waited = Status(EIO, "not answered");
  std::thread asker([&] {
    waited = sessions.begin_complete(opened->id, "u@x", nullptr, std::chrono::seconds(20));
    answered = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(answered) << "answered before the first complete ended";
  sessions.finish(opened->id, false, "item-1", "created");
  asker.join();
  ASSERT_TRUE(waited) << waited.status().to_string();
  EXPECT_EQ(waited->completed_item, "item-1");
  EXPECT_EQ(waited->completed_op, "created");
  EXPECT_EQ(::access(first->file.c_str(), F_OK), -1) << "a completed session kept its file";
  EXPECT_EQ(sessions.begin_complete(opened->id, "another@x", nullptr).err(), ENOENT) << "another caller's session";
}
