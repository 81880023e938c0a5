// Shared pieces of the `dlfs` command line: global options, the connection, DATASET:/path
// arguments, and errors as one line.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "platform/platform.h"
#include "remote/remote.h"

namespace dlfs::cli {

struct Globals {
  std::string store;      // --store DIR (embedded platform)
  std::string cache_dir;  // for `dlfs cache`
  std::string server;      // --server URL: every command goes to this API instead of the store
  std::string token_file;  // --token-file FILE (else $DLFS_TOKEN) with --server
  std::string ca_file;     // --ca-file FILE: CA certificates (PEM) for an https --server
};

// A command's arguments after the command words.
using Args = std::vector<std::string>;

// The command-line rule of every dlfs tool (dlfs, dlfsd, mount.dlfs): options stand anywhere,
// before or after the command words. Here: takes the global options (--store, --cache,
// --server, --token-file, --ca-file, each as `--name VALUE` or `--name=VALUE`; -h/--help sets
// `help`) out of `argv` wherever they are, and answers the rest in order: the command words and
// the command's own arguments. "--" ends the global options; it and what follows are passed on
// as they are (ls, rm and mkdir take it as the end of their own options too).
Result<Args> take_globals(const Args& argv, Globals& globals, bool& help);

// `link_allow_private`: the embedded platform may fetch link targets at private addresses
// (`dlfs import csv --link-allow-private`; a server decides that for itself).
Result<std::unique_ptr<Connection>> connect(const Globals& globals, bool link_allow_private = false);

// "DATASET:/path" (or "DATASET" for its root).
struct Target {
  std::string dataset;
  std::string path;
};
Result<Target> parse_target(const std::string& text);

// Opens the target's dataset and answers it with the item at the target's path.
struct Opened {
  std::unique_ptr<Remote> remote;
  Item item;
};
Result<Opened> open_target(Connection& conn, const Target& target);

// Every visible item in a folder, all pages.
Result<std::vector<Item>> list_all(Remote& remote, const std::string& dir);

std::string human_bytes(uint64_t bytes);

// Waiting for preprocessing (tools/dlfs/cmd_preprocess.cpp), with "preprocessing N/M" on a
// terminal: on the embedded platform the CLI runs workers itself while it waits; a server
// preprocesses on its own and is asked for the items' phases.
struct PreprocessWait {
  unsigned workers = 0;  // 0: one per core (embedded)
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
};
Result<PreprocessTally> run_preprocessing(Connection& conn, Remote& remote, const std::vector<std::string>& ids,
                                          const PreprocessWait& wait);
// The embedded platform's preprocessing workers, run in this process from construction to
// destruction: `dlfs upload` starts them with its uploads, so that the first items are
// preprocessed while the rest go up. Nothing for a server (it preprocesses on its own) or
// when they run already.
class PreprocessWorkers {
 public:
  PreprocessWorkers(Connection& conn, unsigned workers);
  ~PreprocessWorkers();
  PreprocessWorkers(const PreprocessWorkers&) = delete;
  PreprocessWorkers& operator=(const PreprocessWorkers&) = delete;
  Status started() const { return started_; }

 private:
  std::shared_ptr<Platform> platform_;  // set while this object runs them
  Status started_;
};
// Prints the tally and each failure; ETIMEDOUT when items are still pending.
Status report_preprocessing(Remote& remote, const std::vector<std::string>& ids, const PreprocessTally& tally,
                            std::chrono::milliseconds timeout);

// Commands. Each answers a Status; main prints a failure as one line and exits non-zero.
Status cmd_dataset(const Globals& g, const Args& args);  // tools/dlfs/cmd_datasets.cpp
Status cmd_driver(const Globals& g, const Args& args);
Status cmd_quota(const Globals& g, const Args& args);  // tools/dlfs/cmd_quota.cpp
Status cmd_upload(const Globals& g, const Args& args);
Status cmd_ls(const Globals& g, const Args& args);
Status cmd_stat(const Globals& g, const Args& args);
Status cmd_cat(const Globals& g, const Args& args);
Status cmd_rm(const Globals& g, const Args& args);
Status cmd_mv(const Globals& g, const Args& args);
Status cmd_mkdir(const Globals& g, const Args& args);
Status cmd_link(const Globals& g, const Args& args);  // tools/dlfs/cmd_link.cpp
Status cmd_import(const Globals& g, const Args& args);  // tools/dlfs/cmd_import.cpp
Status cmd_meta(const Globals& g, const Args& args);
Status cmd_cache(const Globals& g, const Args& args);
Status cmd_preprocess(const Globals& g, const Args& args);
Status cmd_sync(const Globals& g, const Args& args);    // tools/dlfs/cmd_sync.cpp
Status cmd_status(const Globals& g, const Args& args);

Status usage_error(const std::string& message);

}  // namespace dlfs::cli
