// dlfsd serving https itself (--tls-cert, --tls-key), reached by the client mount.dlfs and dlfs
// use (remote/connect.h): trusted with the CA file, refused without it, and a bad key pair is a
// start-up error with a clear message.
#include <gtest/gtest.h>

#include "remote/connect.h"
#include "support/dlfsd_process.h"
#include "support/temp_dir.h"
#include "support/tls_server.h"

namespace dlfs::test {

TEST(DlfsdTls, ServesHttpsToClientsThatTrustItsCertificate) {
  TempDir work("dlfs-dlfsd-tls");
  std::string error;
  SelfSigned files = make_self_signed(work.path(), &error);
  ASSERT_FALSE(files.cert.empty()) << error;
  DlfsdOptions options;
  options.extra_args = {"--tls-cert", files.cert, "--tls-key", files.key};
  DlfsdProcess server(options);
  ASSERT_TRUE(server.ok()) << server.error();
  std::string url = "https://" + server.host_port() + "/api/v1";

  ConnectOptions co;
  co.token = server.token();
  co.http.ca_file = files.cert;
  co.http.max_attempts = 1;
  auto conn = connect(url, co);
  ASSERT_TRUE(conn) << conn.status().to_string();
  ASSERT_TRUE((*conn)->create_dataset("over-tls"));
  auto remote = (*conn)->open("over-tls");
  ASSERT_TRUE(remote) << remote.status().to_string();
  write_file(work.sub("a.txt"), "secret bytes");
  auto up = (*remote)->upload(work.sub("a.txt"), "/a.txt", UploadOptions{});
  ASSERT_TRUE(up) << up.status().to_string();
  auto listed = (*conn)->list_datasets();
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 1u);

  // Without the CA file the certificate is not trusted: EACCES at once, with why.
  ConnectOptions untrusted = co;
  untrusted.http.ca_file.clear();
  auto refused = connect(url, untrusted);
  Status s = refused ? (*refused)->list_datasets().status() : refused.status();
  EXPECT_EQ(s.err(), EACCES) << s.to_string();
  // Plain http to the https port gets no answer it can use.
  ConnectOptions plain = co;
  plain.http.ca_file.clear();
  auto wrong = connect("http://" + server.host_port() + "/api/v1", plain);
  EXPECT_FALSE(wrong && (*wrong)->list_datasets()) << "plain http was answered by the https server";
}

TEST(DlfsdTls, AKeyThatIsNotTheCertificatesFailsAtStart) {
  TempDir work("dlfs-dlfsd-tls-bad");
  TempDir other("dlfs-dlfsd-tls-other");
  std::string error;
  SelfSigned files = make_self_signed(work.path(), &error);
  SelfSigned another = make_self_signed(other.path(), &error);
  ASSERT_FALSE(another.key.empty()) << error;
  DlfsdOptions options;
  options.extra_args = {"--tls-cert", files.cert, "--tls-key", another.key};
  options.start_timeout = std::chrono::seconds(15);
  DlfsdProcess server(options);
  EXPECT_FALSE(server.ok());
  EXPECT_NE(server.error().find("cannot serve https"), std::string::npos) << server.error();

  DlfsdOptions half;
  half.extra_args = {"--tls-cert", files.cert};
  DlfsdProcess no_key(half);
  EXPECT_FALSE(no_key.ok());
  EXPECT_NE(no_key.error().find("both --tls-cert and --tls-key"), std::string::npos) << no_key.error();
}

}  // namespace dlfs::test
