// dlfs — the command line for datasets: create and list them, upload files and folders, browse,
// read and change items and their metadata.
#include <cstdio>
#include <cstring>
#include <map>

#include "core/dirs.h"
#include "core/log.h"
#include "tools/dlfs/cli.h"

using namespace dlfs;
using namespace dlfs::cli;

namespace {

const char* kUsage = R"(usage: dlfs [--store DIR | --server URL [--token-file FILE] [--ca-file FILE]] COMMAND ...
       (these global options may also follow the command: dlfs dataset list --store DIR)

  dataset create NAME [--driver ID]
                                 make a dataset (with a driver: its binaries live in that bucket)
  dataset list                   list datasets
  dataset delete NAME            delete a dataset and everything in it
  dataset sync NAME              make a driver's dataset match its bucket: new objects become
                                 items (preprocessed), changed ones are redone, gone ones go
  dataset watch NAME SECONDS|off sync it again every SECONDS (dlfsd does, while it runs)
  dataset clone NAME NEW|--into DATASET [--folder PATH] [--filter JSON] [--to DIR] [--no-metadata]
                                 clone items into a new or another dataset of the same storage
                                 (no bytes copied; a bucket's items into a clone, not synced)
  driver create --json FILE|-    make a storage driver from its JSON, e.g. {"name":"cams",
                                 "type":"s3","bucketName":"b","path":"cams","region":"eu-west-1",
                                 "credentials":{"key":"AKIA...","secret":"..."}}; "type":"azureblob"
                                 with {"account","key"|"sas"}; "type":"gcs" with {"key","secret"}
                                 (HMAC) or {"serviceAccount": key file}; "type":"local" with
                                 bucketName a folder; "endpoint" for S3-compatible stores
  driver list                    list storage drivers
  quota DATASET                  the dataset's quota of items (data points), the store's, and
                                 the room left
  quota set DATASET N|none       set a dataset's quota of items (uploads, imports, syncs and
                                 copies into a mount past it are refused with EDQUOT)
  quota set-store N|none         the store's quota of items, over all its datasets (the
                                 embedded store; dlfsd's is --items-quota)
  upload --dataset NAME [--to /folder] [--meta JSON] [--overwrite] [--jobs N] [--no-wait] FILE|DIR...
                                 upload like `cp -r` (a DIR becomes a folder under --to), then
                                 wait for the preprocessing of what was sent (--no-wait: don't)
  preprocess [--workers N] [--timeout S] DATASET[:/path]
                                 run preprocessing (mimetype, size, EXIF, thumbnail) again on a
                                 file or everything in a folder, and wait for it
  ls [-l] DATASET[:/path]        list a folder
  stat DATASET:/path             an item and its metadata, as JSON
  cat DATASET:/path              an item's bytes to standard output
  rm [-r] DATASET:/path          delete an item (-r: a folder with its contents)
  mv DATASET:/from DATASET:/to   move or rename (into /to when it is a folder)
  mkdir [-p] DATASET:/path       make a folder
  link DATASET:/path URL [--mimetype M]
                                 make a link item: its bytes are read from URL (http or https)
                                 when it is read; nothing is stored but the link
  import csv FILE --dataset NAME [--to /folder] [--link-allow-private]
                                 bulk import: each row of FILE becomes an item of the folder
                                 /folder/FILE-less-.csv (columns ID, URL, image_bytes, name,
                                 action link|upload, mimetype, item_metadata, item_description);
                                 bad rows are listed by line (exit status 1 if any); a re-run
                                 makes no duplicates; upload rows' URLs on private addresses
                                 only with --link-allow-private (embedded; dlfsd has its own)
  meta get DATASET:/path         the item's metadata, as JSON
  meta set DATASET:/path JSON    merge JSON into metadata.user (null deletes a key)
  cache stat | clear [DATASET]   the mounts' local caches (listings, items, thumbnails; data)
  cache warm DATASET[:/folder] [--jobs N] [--size SIZE]
                                 fetch every file of a server's (or a bucket's) dataset into
                                 the data cache mounts read from, with progress
  sync MOUNTPOINT                wait until every file written to a mount is uploaded; prints
                                 the uploads that failed (exit status 1 if any did)
  status MOUNTPOINT [--json] [--watch [SECONDS]] [--count N] [--retry PATH|all] [--discard PATH|all]
                                 a mount's uploads: pending, uploading, failed (with the reason),
                                 and its activity (requests, bytes, data cache hits, remote calls);
                                 --watch: refreshed every SECONDS (2) with the rates, as top does;
                                 retry failed ones, or discard them (their bytes are dropped)

The store (embedded platform) is --store, else $DLFS_STORE, else $XDG_DATA_HOME/dlfs, else
~/.local/share/dlfs. With --server URL (http[s]://HOST[:PORT][/api/v1]) every command goes to
that server instead, with the token in --token-file FILE or $DLFS_TOKEN; `preprocess` is then
the server's own business.
)";

}  // namespace

int main(int argc, char** argv) {
  LogOptions log;
  log.program = "dlfs";
  log.level = "warn";
  setup_logging(log);
  Globals g;
  g.store = default_store_dir();
  g.cache_dir = default_cache_dir();
  bool help = false;
  auto words = take_globals(Args(argv + 1, argv + argc), g, help);
  if (!words) {
    fprintf(stderr, "dlfs: %s (see dlfs --help)\n", words.status().message().c_str());
    return 2;
  }
  if (help) {
    fputs(kUsage, stdout);
    return 0;
  }
  if (words->empty()) {
    fputs(kUsage, stderr);
    return 2;
  }
  std::string command = words->front();
  if (command.size() > 1 && command[0] == '-') {  // an option before the command that is not global
    fprintf(stderr, "dlfs: unknown option '%s' (see dlfs --help)\n", command.c_str());
    return 2;
  }
  Args args(words->begin() + 1, words->end());
  static const std::map<std::string, Status (*)(const Globals&, const Args&)> commands = {
      {"dataset", cmd_dataset}, {"driver", cmd_driver}, {"upload", cmd_upload}, {"ls", cmd_ls},       {"stat", cmd_stat},
      {"cat", cmd_cat},         {"rm", cmd_rm},         {"mv", cmd_mv},       {"mkdir", cmd_mkdir},
      {"link", cmd_link},      {"meta", cmd_meta},       {"cache", cmd_cache},   {"preprocess", cmd_preprocess},
      {"sync", cmd_sync},       {"status", cmd_status}, {"quota", cmd_quota},   {"import", cmd_import},
  };
  auto it = commands.find(command);
  if (it == commands.end()) {
    fprintf(stderr, "dlfs: unknown command '%s' (see dlfs --help)\n", command.c_str());
    return 2;
  }
  Status s = it->second(g, args);
  if (!s) {
    fprintf(stderr, "dlfs %s: %s\n", command.c_str(), s.to_string().c_str());
    return s.err() == EINVAL && s.message().rfind("usage:", 0) == 0 ? 2 : 1;
  }
  return 0;
}
