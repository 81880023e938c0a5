// The Azure Blob Storage object store (platform/object_store.h): a container of a storage account
// as a bucket, spoken to over the Blob REST API with the project's HttpClient (retries, timeouts),
// authorized by the account key (SharedKey, platform/azure_shared_key.h) or a SAS token.
#pragma once

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
};

Result<std::unique_ptr<ObjectStore>> open_azure_store(const AzureStoreConfig& config);

// Creates the config's container (Create Container); one that already exists is fine.
Status create_azure_container(const AzureStoreConfig& config);

}  // namespace dlfs
