#include "support/azurite.h"
#include "support/loopback_port.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "platform/azure_shared_key.h"

namespace dlfs::test {

std::string azurite_account_sas(const std::string& permissions) {
  auto key = AzureSharedKey::make(kAzureAccount, kAzureKey);
  if (!key) return {};
  const std::string version = "2021-08-06", expiry = "2099-01-01T00:00:00Z";
  std::string sig = key->signature(kAzureAccount + "\n" + permissions + "\nb\nsco\n\n" + expiry +
                                   "\n\nhttps,http\n" + version + "\n\n");
  std::string escaped;
  for (char ch : sig) escaped += ch == '+' ? "%2B" : ch == '/' ? "%2F" : ch == '=' ? "%3D" : std::string(1, ch);
  return "sv=" + version + "&ss=b&srt=sco&sp=" + permissions + "&se=" + expiry + "&spr=https,http&sig=" + escaped;
}
namespace {

using namespace std::chrono_literals;
const std::string kAzurite = std::string(DLFS_SOURCE_DIR) + "/tests/emulators/node_modules/.bin/azurite-blob";


bool listening(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(uint16_t(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Azurite::Azurite() : dir_("dlfs-azurite") {
  if (!std::filesystem::exists(kAzurite)) {
    error_ = kAzurite + " is missing: run (cd tests/emulators && npm ci)";
    return;
  }
  port_ = free_loopback_port();
  std::string log = dir_.sub("azurite.log");
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::filesystem::create_directories(dir_.sub("data"));
  child_ = Child({kAzurite, "--blobHost", "127.0.0.1", "--blobPort", std::to_string(port_), "--location",
                  dir_.sub("data"), "--silent", "--skipApiVersionCheck", "--disableTelemetry"},
                 fd, fd);
  ::close(fd);
  // Up when its port takes connections; then the container is made.
  bool up = wait_until([&] { return listening(port_) || !child_.running(); }, 30s) && child_.running();
  Status made = up ? create_azure_container(config()) : Status(ETIMEDOUT, "not listening after 30 s");
  if (!made.is_ok()) error_ = "Azurite did not come up: " + made.to_string() + "\n" + read_file(log);
}

void Azurite::pause(bool paused) {
  if (child_.pid() > 0) ::kill(-child_.pid(), paused ? SIGSTOP : SIGCONT);
}

std::string Azurite::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/" + kAzureAccount; }

AzureStoreConfig Azurite::config(const std::string& container) const {
  AzureStoreConfig c;
  c.endpoint = endpoint();
  c.account = kAzureAccount;
  c.container = container;
  c.key = kAzureKey;
  return c;
}

}  // namespace dlfs::test
