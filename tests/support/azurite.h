// Azurite (tests/emulators, `npm ci` there) started by a test on 127.0.0.1 on a free port, its
// data in a temp folder, the container "test" created; killed by its PID when the object goes.
#pragma once

#include <string>

#include "platform/object_store_azure.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace dlfs::test {

// Azurite's well-known development account.
inline const std::string kAzureAccount = "devstoreaccount1";
inline const std::string kAzureKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

// An account SAS of Azurite's account for the blob service, with `permissions` ("rwdlac": read,
// write, delete, list, add, create), as the query string without its '?'.
std::string azurite_account_sas(const std::string& permissions);

class Azurite {
 public:
  Azurite();
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void stop() { child_.kill_now(); }
  // SIGSTOP/SIGCONT: its port still takes connections (the kernel's backlog), nothing answers.
  void pause(bool paused);
  std::string endpoint() const;  // http://127.0.0.1:PORT/devstoreaccount1
  AzureStoreConfig config(const std::string& container = "test") const;

 private:
  TempDir dir_;
  int port_ = -1;
  Child child_;
  std::string error_;
};

}  // namespace dlfs::test
