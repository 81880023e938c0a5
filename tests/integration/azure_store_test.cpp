// The Azure Blob object store (platform/object_store_azure.h) against a real Azurite (the
// emulator from tests/emulators, `npm ci` there), started on a free port per suite, and the
// SharedKey signer (platform/azure_shared_key.h) against a worked example.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <pugixml.hpp>

#include "net/http_client.h"
#include "platform/azure_shared_key.h"
#include "platform/object_store_azure.h"
#include "support/object_store_contract.h"
#include "support/process.h"
#include "support/azurite.h"
#include "support/temp_dir.h"

using namespace dlfs;
using namespace dlfs::test;
using namespace std::chrono_literals;

namespace {

class AzureStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { azurite_ = new Azurite(); }
  static void TearDownTestSuite() {
    delete azurite_;
    azurite_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(azurite_->ok()) << azurite_->error();
    store_ = open(azurite_->config());
  }
  static std::unique_ptr<ObjectStore> open(const AzureStoreConfig& c) {
    auto s = open_azure_store(c);
    EXPECT_TRUE(s) << s.status().to_string();
    return s ? std::move(*s) : nullptr;
  }
  std::string read_all(ObjectStore& s, const std::string& key, size_t chunk) {
    std::string out;
    std::vector<char> buf(chunk);
    for (;;) {
      auto n = s.read(key, out.size(), buf);
      EXPECT_TRUE(n) << n.status().to_string();
      if (!n || *n == 0) return out;
      out.append(buf.data(), *n);
    }
  }
  static std::vector<std::string> keys(ObjectStore& s, const std::string& prefix) {
    std::vector<std::string> out;
    Status st = s.list(prefix, [&](const ObjectInfo& o) {
      out.push_back(o.key);
      return true;
    });
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return out;
  }

  struct Block {
    std::string id;
    uint64_t size = 0;
  };
  // Get Block List of a blob of the container "test", `type` "committed" or "uncommitted",
  // asked apart from the store (with an account SAS); none when there is no blob.
  static std::vector<Block> block_list(const std::string& key, const std::string& type) {
    HttpOptions o;
    o.base_url = azurite_->endpoint();
    HttpClient http(o);
    HttpRequest req;
    req.path = "/test" + http.escape_path(key) + "?comp=blocklist&blocklisttype=" + type + "&" +
               azurite_account_sas("rwdlac");
    req.headers.push_back("x-ms-version: " + std::string(kAzureApiVersion));
    req.accept_codes = {404};
    auto r = http.send(req);
    EXPECT_TRUE(r) << r.status().to_string();
    if (!r || r->code == 404) return {};
    pugi::xml_document doc;
    EXPECT_TRUE(doc.load_buffer(r->body.data(), r->body.size())) << r->body;
    std::vector<Block> out;
    pugi::xml_node list = doc.child("BlockList").child(type == "committed" ? "CommittedBlocks" : "UncommittedBlocks");
    for (pugi::xml_node b : list.children("Block"))
      out.push_back({b.child("Name").text().as_string(), b.child("Size").text().as_ullong()});
    return out;
  }

  static Azurite* azurite_;
  std::unique_ptr<ObjectStore> store_;
};
Azurite* AzureStoreTest::azurite_ = nullptr;

// A store's Put Blocks as its test hook sees them: the block indexes sent, the threads that sent
// them; the block at fail_at (if any) fails instead of being sent.
struct BlockPuts {
  std::mutex mu;
  std::vector<uint64_t> sent;
  std::set<std::thread::id> threads;
  int64_t fail_at = -1;
  std::chrono::milliseconds delay{0};  // before each block, so that the workers overlap

  void hook(AzureStoreConfig& c) {
    c.before_put_block_for_test = [this](uint64_t index) {
      std::this_thread::sleep_for(delay);
      std::lock_guard lock(mu);
      if (int64_t(index) == fail_at) return Status(EIO, "injected failure");
      sent.push_back(index);
      threads.insert(std::this_thread::get_id());
      return Status();
    };
  }
  std::vector<uint64_t> sorted() {
    std::lock_guard lock(mu);
    std::vector<uint64_t> s = sent;
    std::sort(s.begin(), s.end());
    return s;
  }
};

// Blocks of 1 MiB for files over 1 MiB.
AzureStoreConfig small_blocks(AzureStoreConfig c, unsigned parallel, BlockPuts& puts) {
  c.block_threshold = 1 << 20;
  c.block_size = 1 << 20;
  c.upload_parallel = parallel;
  puts.hook(c);
  return c;
}

constexpr size_t kSixBlocks = 5 * 1024 * 1024 + 123;

}  // namespace

// The example of Microsoft's "Authorize with Shared Key" (Get Container Metadata on the
// emulator, whose path-style URL puts the account in the resource twice).
TEST(AzureSharedKey, StringToSignOfTheDocsExample) {
  auto key = AzureSharedKey::make("myaccount", kAzureKey);
  ASSERT_TRUE(key);
  std::string s = key->string_to_sign("GET", "http://127.0.0.1:10000/myaccount/mycontainer?restype=container&comp=metadata&timeout=20",
                                      {"x-ms-date: Sun, 11 Oct 2009 21:49:13 GMT", "x-ms-version: 2009-09-19"});
  EXPECT_EQ(s,
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Sun, 11 Oct 2009 21:49:13 GMT\nx-ms-version:2009-09-19\n"
            "/myaccount/myaccount/mycontainer\ncomp:metadata\nrestype:container\ntimeout:20");
}

// A PUT with a body: Content-Length and Content-Type in their places, x-ms-* headers lower-cased,
// trimmed and sorted, the path signed escaped and the query's values unescaped. The signature was
// computed apart (python's hmac, and `openssl dgst -mac HMAC`).
TEST(AzureSharedKey, SignatureOfAPut) {
  auto key = AzureSharedKey::make(kAzureAccount, kAzureKey);
  ASSERT_TRUE(key);
  std::string s = key->string_to_sign(
      "PUT", "http://127.0.0.1:10000/devstoreaccount1/photos/a%20b/%C3%A9.jpg?timeout=20&comp=bl%6Fck",
      {"Content-Length: 11", "Content-Type: application/octet-stream", "x-ms-version: 2021-08-06",
       "x-ms-date: Tue, 24 Nov 2026 15:52:44 GMT", "X-Ms-Meta-Name:   spaced ", "x-ms-blob-type: BlockBlob"});
  EXPECT_EQ(s,
            "PUT\n\n\n11\n\napplication/octet-stream\n\n\n\n\n\n\nx-ms-blob-type:BlockBlob\n"
            "x-ms-date:Tue, 24 Nov 2026 15:52:44 GMT\nx-ms-meta-name:spaced\nx-ms-version:2021-08-06\n"
            "/devstoreaccount1/devstoreaccount1/photos/a%20b/%C3%A9.jpg\ncomp:block\ntimeout:20");
  EXPECT_EQ(key->authorization(s), "SharedKey devstoreaccount1:1EsFm560usFMISRD2OF7G3d+0XoMtI6U7CHZ6HmB+lI=");
  // A zero Content-Length is signed as "".
  EXPECT_TRUE(key->string_to_sign("PUT", "http://h/a/c", {"Content-Length: 0"}).starts_with("PUT\n\n\n\n"));
}

TEST(AzureSharedKey, Base64AndDates) {
  EXPECT_EQ(base64_encode("ab"), "YWI=");
  EXPECT_EQ(*base64_decode("YWI="), "ab");
  EXPECT_EQ(*base64_decode("YWJj"), "abc");
  EXPECT_FALSE(base64_decode("YWI"));
  EXPECT_FALSE(AzureSharedKey::make("a", "not base64!"));
  EXPECT_EQ(http_date(1795708364), "Thu, 26 Nov 2026 15:52:44 GMT");
  EXPECT_EQ(*parse_http_date("Thu, 26 Nov 2026 15:52:44 GMT"), 1795708364000);
  EXPECT_FALSE(parse_http_date("yesterday"));
}

TEST_F(AzureStoreTest, A20MBFileIsStreamedAndReadBackInRanges) {
  TempDir tmp;
  std::string data = random_bytes(20 * 1024 * 1024 + 17, 7);
  write_file(tmp.sub("big.bin"), data);
  auto put = store_->put_file("big/one.bin", tmp.sub("big.bin"));
  ASSERT_TRUE(put) << put.status().to_string();
  EXPECT_EQ(put->size, data.size());
  EXPECT_FALSE(put->etag.empty());
  auto head = store_->head("big/one.bin");
  ASSERT_TRUE(head) << head.status().to_string();
  EXPECT_EQ(head->size, data.size());
  EXPECT_EQ(head->etag, put->etag);
  EXPECT_GT(head->modified_ms, 1'700'000'000'000);
  // Odd-sized ranges, so that the last one is short.
  std::string back = read_all(*store_, "big/one.bin", 3 * 1024 * 1024 + 5);
  EXPECT_TRUE(back == data) << "the bytes read back differ (" << back.size() << " of " << data.size() << ")";
  // A range in the middle, at the end, past the end.
  std::vector<char> buf(1000);
  auto n = store_->read("big/one.bin", 12345678, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buf.data(), *n), data.substr(12345678, 1000));
  n = store_->read("big/one.bin", data.size() - 10, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 10u);
  n = store_->read("big/one.bin", data.size(), buf);
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(*n, 0u);
  n = store_->read("big/one.bin", data.size() + 5000, buf);
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(*n, 0u);
  EXPECT_TRUE(store_->remove("big/one.bin").is_ok());
}

TEST_F(AzureStoreTest, PutBytesReplacesAnObjectAndEmptyObjectsRead0) {
  auto a = store_->put_bytes("replace/x.txt", "first");
  ASSERT_TRUE(a) << a.status().to_string();
  auto b = store_->put_bytes("replace/x.txt", "second!");
  ASSERT_TRUE(b) << b.status().to_string();
  EXPECT_NE(a->etag, b->etag);
  EXPECT_EQ(b->size, 7u);
  EXPECT_EQ(read_all(*store_, "replace/x.txt", 4), "second!");
  auto e = store_->put_bytes("replace/empty", "");
  ASSERT_TRUE(e) << e.status().to_string();
  EXPECT_EQ(store_->head("replace/empty")->size, 0u);
  std::vector<char> buf(10);
  auto n = store_->read("replace/empty", 0, buf);
  ASSERT_TRUE(n) << n.status().to_string();
  EXPECT_EQ(*n, 0u);
}

TEST_F(AzureStoreTest, ListingPagesOnNextMarkerInKeyOrder) {
  AzureStoreConfig c = azurite_->config();
  c.list_page_size = 4;
  auto store = open(c);
  std::vector<std::string> want;
  for (int i = 0; i < 23; ++i) {
    std::string key = "paged/" + std::string(i % 2 ? "b/" : "a/") + std::to_string(100 + i);
    ASSERT_TRUE(store->put_bytes(key, std::to_string(i)));
    want.push_back(key);
  }
  ASSERT_TRUE(store->put_bytes("pagedX", "outside"));
  ASSERT_TRUE(store->put_bytes("other/1", "outside"));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(keys(*store, "paged/"), want);
  // The listing's sizes and etags are head()'s.
  Status st = store->list("paged/a/100", [&](const ObjectInfo& o) {
    auto h = store->head(o.key);
    EXPECT_TRUE(h);
    EXPECT_EQ(o.size, h->size);
    EXPECT_EQ(o.etag, h->etag);
    EXPECT_EQ(o.modified_ms, h->modified_ms);
    return true;
  });
  EXPECT_TRUE(st.is_ok());
  // Stopping early stops the paging too.
  int seen = 0;
  EXPECT_TRUE(store->list("paged/", [&](const ObjectInfo&) { return ++seen < 6; }).is_ok());
  EXPECT_EQ(seen, 6);
  EXPECT_TRUE(keys(*store, "nothing-here/").empty());
}

TEST_F(AzureStoreTest, NamesWithSpacesUnicodeAndPlus) {
  std::vector<std::string> names = {"odd names/a b.txt", "odd names/ünï/çødé €.bin", "odd names/a+b/c+d.txt",
                                    "odd names/x%41y&z=1?.txt", "odd names/日本語"};
  for (const auto& k : names) {
    auto put = store_->put_bytes(k, "bytes of " + k);
    ASSERT_TRUE(put) << k << ": " << put.status().to_string();
    auto h = store_->head(k);
    ASSERT_TRUE(h) << k << ": " << h.status().to_string();
    EXPECT_EQ(h->size, ("bytes of " + k).size());
    EXPECT_EQ(read_all(*store_, k, 100), "bytes of " + k);
  }
  std::vector<std::string> want = names;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(keys(*store_, "odd names/"), want);
  EXPECT_EQ(keys(*store_, "odd names/a+b/"), std::vector<std::string>{"odd names/a+b/c+d.txt"});
  EXPECT_EQ(keys(*store_, "odd names/ünï/"), std::vector<std::string>{"odd names/ünï/çødé €.bin"});
  for (const auto& k : names) EXPECT_TRUE(store_->remove(k).is_ok()) << k;
  EXPECT_TRUE(keys(*store_, "odd names/").empty());
}

TEST_F(AzureStoreTest, MissingObjectsAreEnoentAndRemovingThemIsFine) {
  auto h = store_->head("missing/blob");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.status().err(), ENOENT);
  EXPECT_NE(h.status().message().find("missing/blob"), std::string::npos) << h.status().to_string();
  std::vector<char> buf(10);
  auto n = store_->read("missing/blob", 0, buf);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.status().err(), ENOENT);
  EXPECT_TRUE(store_->remove("missing/blob").is_ok());
  ASSERT_TRUE(store_->put_bytes("gone/x", "x"));
  EXPECT_TRUE(store_->remove("gone/x").is_ok());
  EXPECT_EQ(store_->head("gone/x").status().err(), ENOENT);
  // A container that is not there.
  auto other = open(azurite_->config("no-such-container"));
  Status st = other->list("", [](const ObjectInfo&) { return true; });
  EXPECT_EQ(st.err(), ENOENT) << st.to_string();
  EXPECT_NE(st.message().find("no-such-container"), std::string::npos) << st.to_string();
}

TEST_F(AzureStoreTest, BadKeysAreRefused) {
  for (const char* k : {"", "/abs", "a/../b", "a//b", "./a"}) {
    EXPECT_EQ(store_->head(k).status().err(), EINVAL) << k;
    EXPECT_EQ(store_->put_bytes(k, "x").status().err(), EINVAL) << k;
    EXPECT_EQ(store_->remove(k).err(), EINVAL) << k;
  }
}

TEST_F(AzureStoreTest, AWrongKeyIsEaccesWithAzuresMessage) {
  AzureStoreConfig c = azurite_->config();
  c.key = base64_encode("not the account's key at all, but base64 all right");
  auto store = open(c);
  auto h = store->head("anything");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.status().err(), EACCES) << h.status().to_string();
  EXPECT_NE(h.status().message().find("refused the credentials"), std::string::npos) << h.status().to_string();
  // A HEAD's answer has only x-ms-error-code.
  EXPECT_NE(h.status().message().find(": Auth"), std::string::npos) << h.status().to_string();
  auto p = store->put_bytes("anything", "x");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.status().err(), EACCES);
  // The body of a GET/PUT answer carries Azure's <Message>.
  EXPECT_NE(p.status().message().find("Server failed to authenticate the request"), std::string::npos)
      << p.status().to_string();
  // Azure's code is AuthenticationFailed; Azurite's AuthorizationFailure.
  EXPECT_NE(p.status().cause().find("HTTP 403 Auth"), std::string::npos) << p.status().to_string();
  std::vector<char> buf(10);
  EXPECT_EQ(store->read("anything", 0, buf).status().err(), EACCES);
  EXPECT_EQ(store->list("", [](const ObjectInfo&) { return true; }).err(), EACCES);
}

TEST_F(AzureStoreTest, ConfigWithoutCredentialsIsRefused) {
  AzureStoreConfig c = azurite_->config();
  c.key.clear();
  EXPECT_EQ(open_azure_store(c).status().err(), EINVAL);
  c = azurite_->config();
  c.container.clear();
  EXPECT_EQ(open_azure_store(c).status().err(), EINVAL);
}

// An account SAS (made here as Microsoft's "Create an account SAS" says, version 2020-12-06 and
// later) instead of the key: appended to every URL, including the listing's paged ones.
TEST_F(AzureStoreTest, ASasTokenInsteadOfTheKey) {
  AzureStoreConfig c = azurite_->config();
  c.key.clear();
  c.list_page_size = 2;
  c.sas = "?" + azurite_account_sas("rwdlac");
  auto store = open(c);
  for (const char* k : {"sas/a b", "sas/b", "sas/c+d", "sas/é"}) ASSERT_TRUE(store->put_bytes(k, k)) << k;
  EXPECT_EQ(store->head("sas/b")->size, 5u);
  EXPECT_EQ(read_all(*store, "sas/c+d", 3), "sas/c+d");
  EXPECT_EQ(keys(*store, "sas/"), (std::vector<std::string>{"sas/a b", "sas/b", "sas/c+d", "sas/é"}));
  EXPECT_TRUE(store->remove("sas/b").is_ok());
  EXPECT_EQ(store->head("sas/b").status().err(), ENOENT);
  // A copy names its source by URL: with the SAS as the credential.
  auto copied = store->copy("sas/a b", "sas/copied");
  ASSERT_TRUE(copied) << copied.status().to_string();
  EXPECT_EQ(read_all(*store, "sas/copied", 7), "sas/a b");
  // A file as blocks: Get Block List, Put Block and Put Block List with the SAS too.
  TempDir tmp;
  std::string data = random_bytes((5 << 20) / 2, 3);
  write_file(tmp.sub("f"), data);
  c.block_threshold = c.block_size = 1 << 20;
  auto blocks = open(c)->put_file("sas/blocks", tmp.sub("f"));
  ASSERT_TRUE(blocks) << blocks.status().to_string();
  EXPECT_EQ(block_list("sas/blocks", "committed").size(), 3u);
  EXPECT_TRUE(read_all(*store, "sas/blocks", 1 << 20) == data);
  // A forged signature.
  std::string sas = azurite_account_sas("rwdlac");
  size_t sig = sas.find("&sig=") + 5;
  c.sas = sas.substr(0, sig) + "AAAA" + sas.substr(sig + 4);
  auto forged = open(c);
  EXPECT_EQ(forged->head("sas/a b").status().err(), EACCES);
  EXPECT_EQ(forged->put_bytes("sas/x", "x").status().err(), EACCES);
}

// The ObjectStore contract (tests/support/object_store_contract.h), each part on a container of
// its own; the listing pages every 7 blobs.
TEST_F(AzureStoreTest, ContractBasics) {
  AzureStoreConfig c = azurite_->config("contract-basics");
  ASSERT_TRUE(create_azure_container(c));
  TempDir scratch;
  check_object_store_basics(*open(c), scratch.path());
}

TEST_F(AzureStoreTest, ContractCopy) {
  AzureStoreConfig c = azurite_->config("contract-copy");
  ASSERT_TRUE(create_azure_container(c));
  check_object_store_copy(*open(c));
}

TEST_F(AzureStoreTest, ContractListing) {
  AzureStoreConfig c = azurite_->config("contract-listing");
  c.list_page_size = 7;
  ASSERT_TRUE(create_azure_container(c));
  check_object_store_listing(*open(c), 30);
}

// A file over the threshold: its blocks go three at once, committed in order as one blob.
TEST_F(AzureStoreTest, ALargeFileIsPutAsBlocksInParallel) {
  TempDir tmp;
  std::string data = random_bytes(kSixBlocks, 11);
  write_file(tmp.sub("f"), data);
  BlockPuts puts;
  puts.delay = 30ms;
  auto store = open(small_blocks(azurite_->config(), 3, puts));
  auto put = store->put_file("blocks/six", tmp.sub("f"));
  ASSERT_TRUE(put) << put.status().to_string();
  EXPECT_EQ(put->size, data.size());
  EXPECT_FALSE(put->etag.empty());
  EXPECT_EQ(puts.sorted(), (std::vector<uint64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_GE(puts.threads.size(), 2u);
  auto head = store->head("blocks/six");
  ASSERT_TRUE(head) << head.status().to_string();
  EXPECT_EQ(head->size, data.size());
  EXPECT_EQ(head->etag, put->etag);
  EXPECT_TRUE(read_all(*store, "blocks/six", 700 * 1024 + 3) == data) << "the bytes read back differ";
  std::vector<Block> committed = block_list("blocks/six", "committed");
  ASSERT_EQ(committed.size(), 6u);
  for (size_t i = 0; i < committed.size(); ++i) {
    EXPECT_EQ(committed[i].size, i < 5 ? 1u << 20 : 123u) << i;
    EXPECT_EQ(committed[i].id.size(), committed[0].id.size()) << "Azure wants ids of one length";
  }
  EXPECT_TRUE(block_list("blocks/six", "uncommitted").empty());
  // At the threshold, one Put Blob.
  write_file(tmp.sub("g"), data.substr(0, 1 << 20));
  ASSERT_TRUE(store->put_file("blocks/one", tmp.sub("g")));
  EXPECT_EQ(puts.sorted().size(), 6u);
  EXPECT_EQ(read_all(*store, "blocks/one", 1 << 20), data.substr(0, 1 << 20));
}

// An upload that died after 3 of its 6 blocks: the next put_file of the same file sends only the
// other 3; a file written since (another mtime) has blocks of other ids, all sent.
TEST_F(AzureStoreTest, AnUploadThatDiedIsTakenUpWithoutSendingItsBlocksAgain) {
  TempDir tmp;
  std::string data = random_bytes(kSixBlocks, 12);
  write_file(tmp.sub("f"), data);
  BlockPuts first;
  first.fail_at = 3;
  auto failed = open(small_blocks(azurite_->config(), 1, first))->put_file("resume/f", tmp.sub("f"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.status().err(), EIO);
  EXPECT_EQ(first.sorted(), (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(store_->head("resume/f").status().err(), ENOENT) << "nothing is committed";
  EXPECT_EQ(block_list("resume/f", "uncommitted").size(), 3u);

  BlockPuts second;
  auto store = open(small_blocks(azurite_->config(), 3, second));
  auto put = store->put_file("resume/f", tmp.sub("f"));
  ASSERT_TRUE(put) << put.status().to_string();
  EXPECT_EQ(second.sorted(), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(put->size, data.size());
  EXPECT_TRUE(read_all(*store, "resume/f", 1 << 20) == data) << "the bytes read back differ";
  EXPECT_EQ(block_list("resume/f", "committed").size(), 6u);

  // Another version of the same size, its upload dead after 3 blocks too, then written again:
  // none of the blocks of the older bytes is taken.
  std::string v2 = random_bytes(kSixBlocks, 13);
  write_file(tmp.sub("f"), v2);
  auto failed2 = open(small_blocks(azurite_->config(), 1, first))->put_file("resume/f", tmp.sub("f"));
  ASSERT_FALSE(failed2);
  std::string v3 = random_bytes(kSixBlocks, 14);
  write_file(tmp.sub("f"), v3);
  auto when = std::filesystem::last_write_time(tmp.sub("f"));
  std::filesystem::last_write_time(tmp.sub("f"), when + 1s);  // (a clock tick may not have passed)
  BlockPuts third;
  auto again = open(small_blocks(azurite_->config(), 3, third))->put_file("resume/f", tmp.sub("f"));
  ASSERT_TRUE(again) << again.status().to_string();
  EXPECT_EQ(third.sorted(), (std::vector<uint64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_TRUE(read_all(*store, "resume/f", 1 << 20) == v3) << "the bytes read back differ";
}

// A block that fails: the error names the blob and the block, the blob keeps its bytes.
TEST_F(AzureStoreTest, AFailedBlockLeavesTheBlobAsItWas) {
  ASSERT_TRUE(store_->put_bytes("failing/x", "version 1"));
  TempDir tmp;
  write_file(tmp.sub("v2"), random_bytes(kSixBlocks, 15));
  BlockPuts puts;
  puts.fail_at = 2;
  puts.delay = 20ms;
  auto put = open(small_blocks(azurite_->config(), 3, puts))->put_file("failing/x", tmp.sub("v2"));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.status().err(), EIO);
  const std::string& message = put.status().message();
  EXPECT_NE(message.find("block 2 of 6 of 'failing/x'"), std::string::npos) << message;
  EXPECT_NE(message.find("injected failure"), std::string::npos) << message;
  EXPECT_NE(message.find("nothing was committed"), std::string::npos) << message;
  EXPECT_EQ(read_all(*store_, "failing/x", 100), "version 1");
  EXPECT_EQ(store_->head("failing/x")->size, 9u);
  // The workers stopped: block 2's failure kept the blocks after the ones under way from going.
  EXPECT_LT(puts.sorted().size(), 5u);
}

// A file written while its blocks go (its mtime moves): not committed, since the blocks may
// hold bytes of both versions.
TEST_F(AzureStoreTest, AFileWrittenDuringItsUploadIsNotCommitted) {
  TempDir tmp;
  write_file(tmp.sub("f"), random_bytes(kSixBlocks, 18));
  AzureStoreConfig c = azurite_->config();
  c.block_threshold = c.block_size = 1 << 20;
  c.before_put_block_for_test = [&](uint64_t index) {
    if (index == 4) std::filesystem::last_write_time(tmp.sub("f"), std::filesystem::file_time_type::clock::now() + 5s);
    return Status();
  };
  auto put = open(c)->put_file("changing/f", tmp.sub("f"));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.status().err(), EAGAIN) << put.status().to_string();
  EXPECT_NE(put.status().message().find("changed while"), std::string::npos) << put.status().to_string();
  EXPECT_EQ(store_->head("changing/f").status().err(), ENOENT);
}

// A blob of blocks replaced by a file under the threshold (one Put Blob), and back.
TEST_F(AzureStoreTest, ABlobOfBlocksIsReplacedByASinglePut) {
  TempDir tmp;
  std::string big = random_bytes(kSixBlocks, 16);
  write_file(tmp.sub("big"), big);
  write_file(tmp.sub("small"), "small now");
  BlockPuts puts;
  auto store = open(small_blocks(azurite_->config(), 3, puts));
  ASSERT_TRUE(store->put_file("replace-blocks/x", tmp.sub("big")));
  ASSERT_EQ(block_list("replace-blocks/x", "committed").size(), 6u);
  auto small = store->put_file("replace-blocks/x", tmp.sub("small"));
  ASSERT_TRUE(small) << small.status().to_string();
  EXPECT_EQ(small->size, 9u);
  EXPECT_EQ(puts.sorted().size(), 6u) << "no block for the small file";
  EXPECT_EQ(store->head("replace-blocks/x")->size, 9u);
  EXPECT_EQ(read_all(*store, "replace-blocks/x", 100), "small now");
  auto again = store->put_file("replace-blocks/x", tmp.sub("big"));
  ASSERT_TRUE(again) << again.status().to_string();
  EXPECT_TRUE(read_all(*store, "replace-blocks/x", 1 << 20) == big) << "the bytes read back differ";
}

// A block size that would make more than Azure's 50,000 blocks grows (to whole MiB).
TEST_F(AzureStoreTest, ABlockSizeTooSmallForTheFileGrows) {
  TempDir tmp;
  std::string data = random_bytes(100'001, 17);
  write_file(tmp.sub("f"), data);
  AzureStoreConfig c = azurite_->config();
  c.block_threshold = 0;
  c.block_size = 1;
  auto put = open(c)->put_file("grown/f", tmp.sub("f"));
  ASSERT_TRUE(put) << put.status().to_string();
  std::vector<Block> committed = block_list("grown/f", "committed");
  ASSERT_EQ(committed.size(), 1u);
  EXPECT_EQ(committed[0].size, data.size());
  EXPECT_TRUE(read_all(*store_, "grown/f", 1 << 20) == data);
  c.block_size = 0;
  EXPECT_EQ(open_azure_store(c).status().err(), EINVAL);
  c.block_size = (4000ull << 20) + 1;
  EXPECT_EQ(open_azure_store(c).status().err(), EINVAL);
}

// Each test its own Azurite, to stop or hang, and a store on it with short timeouts that has
// written one object.
class AzureStoreOutage : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(azurite_.ok()) << azurite_.error();
    AzureStoreConfig c = azurite_.config();
    c.connect_timeout_ms = 2000;
    c.stall_timeout_s = 1;
    c.max_attempts = 2;
    auto s = open_azure_store(c);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    ASSERT_TRUE(store_->put_bytes("x", "y"));
  }
  Azurite azurite_;
  std::unique_ptr<ObjectStore> store_;
};

// An emulator that went away: an error (after the bounded retries), never a hang.
TEST_F(AzureStoreOutage, AStoppedEmulatorFailsInBoundedTime) {
  azurite_.stop();
  auto start = std::chrono::steady_clock::now();
  auto h = store_->head("x");
  ASSERT_FALSE(h);
  EXPECT_TRUE(h.status().err() == EIO || h.status().err() == ETIMEDOUT) << h.status().to_string();
  std::vector<char> buf(10);
  EXPECT_FALSE(store_->read("x", 0, buf));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
}

// An emulator that hangs (SIGSTOP): the stall timeout ends each try, the retries are bounded.
TEST_F(AzureStoreOutage, AHungEmulatorFailsInBoundedTime) {
  azurite_.pause(true);
  auto start = std::chrono::steady_clock::now();
  auto h = store_->head("x");
  auto took = std::chrono::steady_clock::now() - start;
  azurite_.pause(false);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.status().err(), ETIMEDOUT) << h.status().to_string();
  EXPECT_LT(took, 15s);
}
