// The Azure Blob Storage object store (platform/object_store.h): a container of a storage account
// as a bucket, spoken to over the Blob REST API with the project's HttpClient (retries, timeouts),
// authorized by the account key (SharedKey, platform/azure_shared_key.h) or a SAS token. A large
// file goes as blocks, several at once, and an upload that died is taken up again where it was.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "platform/object_store.h"

namespace dlfs {

struct AzureStoreConfig {
  std::string endpoint;   // "" = https://ACCOUNT.blob.core.windows.net; Azurite: http://127.0.0.1:PORT/ACCOUNT
  std::string account;
  std::string container;
  std::string key;        // the account key (base64), for SharedKey; or
  std::string sas;        // a SAS token ("sv=...&sig=..."), appended to every URL instead
  std::string ca_file;
  long connect_timeout_ms = 10000;
  long stall_timeout_s = 30;  // a try that moves no byte for this long fails (and is retried)
  int max_attempts = 4;
  int list_page_size = 0;  // List Blobs' maxresults; 0 = the service's default (5000)
  // put_file: a file larger than block_threshold (or than Put Blob's 5000 MiB) is put as blocks
  // of block_size (grown for a file that would need more than Azure's 50,000; at most 4000 MiB),
  // upload_parallel at once, committed when all are there; the blocks an earlier attempt left
  // (uncommitted) are not sent again.
  uint64_t block_threshold = 256ull << 20;
  uint64_t block_size = 16ull << 20;
  unsigned upload_parallel = 4;
  // Tests only: called before each Put Block with the block's index; a failed Status fails that
  // block as a refusal of the service would.
  std::function<Status(uint64_t block_index)> before_put_block_for_test;
};

Result<std::unique_ptr<ObjectStore>> open_azure_store(const AzureStoreConfig& config);

// Creates the config's container (Create Container); one that already exists is fine.
Status create_azure_container(const AzureStoreConfig& config);

}  // namespace dlfs
