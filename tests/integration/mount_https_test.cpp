// A mount of an https:// SOURCE: dlfsd behind an in-test TLS front (tests/support/tls_server.h,
// forwarding to dlfsd), trusted with
// -o ca_file= given as a relative path. The front closes every connection after one request, so
// each request is a new TLS handshake, made after the daemon has left its starting folder.
#include <gtest/gtest.h>

#include <httplib.h>

#include <chrono>
#include <filesystem>

#include "remote/connect.h"
#include "support/dlfsd_process.h"
#include "support/mount_guard.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/tls_server.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

const std::string kMountBin = std::string(DLFS_BIN_DIR) + "/mount.dlfs";

// Forwards GET and POST on `front` to the plain HTTP server at `backend` ("HOST:PORT") as they
// are (bodies buffered: the test reads small items only), closing every connection after one
// request.
void forward_all(TlsServer& front, const std::string& backend) {
  auto& svr = front.svr();
  svr.set_keep_alive_max_count(1);  // a handshake per request
  // httplib slices every answer by the request's Range itself; the answer forwarded is the
  // range already (as in server/api_server.cpp).
  svr.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    const_cast<httplib::Request&>(req).ranges.clear();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto forward = [backend](const httplib::Request& req, httplib::Response& res) {
    httplib::Client to(backend);
    httplib::Headers headers;
    for (const char* name : {"Authorization", "Range", "Content-Type"})
      if (req.has_header(name)) headers.emplace(name, req.get_header_value(name));
    auto r = req.method == "GET" ? to.Get(req.target, headers)
                                 : to.Post(req.target, headers, req.body, req.get_header_value("Content-Type"));
    if (!r) {
      res.status = 502;
      return;
    }
    res.status = r->status;
    for (const char* name : {"Content-Range", "x-item-op"})
      if (r->has_header(name)) res.set_header(name, r->get_header_value(name));
    res.set_content(r->body, r->get_header_value("Content-Type"));
  };
  svr.Get(".*", forward);
  svr.Post(".*", forward);
}

}  // namespace

TEST(MountHttps, ARelativeCaFileStillVouchesAfterTheDaemonStarts) {
  TempDir work("dlfs-https");
  std::string error;
  SelfSigned files = make_self_signed(work.path(), &error);
  ASSERT_FALSE(files.cert.empty()) << error;
  DlfsdProcess server;
  ASSERT_TRUE(server.ok()) << server.error();
  ConnectOptions co;
  co.token = server.token();
  auto conn = connect(server.base_url(), co);
  ASSERT_TRUE(conn) << conn.status().to_string();
  ASSERT_TRUE((*conn)->create_dataset("tls"));
  auto remote = (*conn)->open("tls");
  ASSERT_TRUE(remote);
  std::string bytes = random_bytes(20000, 9);
  write_file(work.sub("a.bin"), bytes);
  ASSERT_TRUE((*remote)->upload(work.sub("a.bin"), "/d/a.bin", UploadOptions{}));
  TlsServer front(files);
  forward_all(front, server.host_port());
  ASSERT_TRUE(front.start());

  write_file(work.sub("token"), server.token());
  std::string mnt = work.sub("mnt");
  std::filesystem::create_directories(mnt);
  // From the work folder, with the CA file named relative to it.
  auto r = sh("cd '" + work.path() + "' && '" + kMountBin + "' '" + front.base_url() + "/datasets/tls' mnt -o " +
                  "ca_file=cert.pem,token_file=token,cache=cache,log=mount.log",
              60s);
  MountGuard guard(mnt, find_process("mount.dlfs", mnt));
  ASSERT_TRUE(r.ok()) << r.err << read_file(work.sub("mount.log"));
  // Requests after start-up: each a new connection, so a new handshake needing the CA file.
  EXPECT_EQ(run({"ls", mnt + "/d"}, 30s).out, "a.bin\n");
  auto tail = run({"dd", "if=" + mnt + "/d/a.bin", "bs=1000", "skip=7", "count=3", "status=none"}, 30s);
  EXPECT_TRUE(tail.ok()) << tail.err;
  EXPECT_TRUE(tail.out == bytes.substr(7000, 3000));
  auto cat = run({"cat", mnt + "/d/a.bin"}, 30s);
  EXPECT_TRUE(cat.ok()) << cat.err << read_file(work.sub("mount.log"));
  EXPECT_TRUE(cat.out == bytes) << cat.out.size();
  EXPECT_TRUE(guard.unmount());
}
