// The reference-model test of the filesystem core (issue 12): random sequences of create,
// write, truncate, rename (over files and folders, across folders), unlink, mkdir, rmdir,
// symlink, setxattr, fsync, close and read, run from several threads against the `Filesystem` core with
// its real upload workers and spool, over a platform (FakeRemote or the embedded platform)
// behind a ChaosRemote that delays, refuses and loses answers. After every step the thread's
// part of the tree, as the core shows it, must equal an in-memory POSIX model: same names and
// types, same bytes, same user metadata, every errno as POSIX says. Between rounds the core is
// dropped and made again over the same spool (a remount that resumes the journal); at the end,
// after a sync, the platform itself must hold the model, and so must a fresh core over it.
//
// Each thread works in its own folder /tN and, holding a test lock (so that the model's order is
// the core's), in the shared folder /s. A program is generated from a seed; a failing program is
// shrunk (whole steps dropped while it still fails) and printed as the steps that ran.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/chaos_remote.h"

namespace dlfs::test {

// A POSIX tree in memory: files are shared objects (an open descriptor keeps one after unlink).
struct ModelFile {
  std::string bytes;
  std::map<std::string, std::string> meta;  // user.meta.<key> -> value
  bool symlink = false;  // a symbolic link: `bytes` is its target
};
using FileRef = std::shared_ptr<ModelFile>;

class ModelTree {
 public:
  bool is_dir(const std::string& path) const;
  FileRef file(const std::string& path) const;
  bool exists(const std::string& path) const { return is_dir(path) || file(path); }
  bool empty_dir(const std::string& path) const;
  // The errno of looking `path` up (0 if it exists).
  int lookup_err(const std::string& path) const;
  // Each answers the errno POSIX gives (0 for success) and applies the change if 0.
  int mkdir(const std::string& path);
  int rmdir(const std::string& path);
  int unlink(const std::string& path);
  int rename(const std::string& from, const std::string& to);
  int symlink(const std::string& path, const std::string& target);
  // open(O_CREAT [| O_TRUNC]) of a file: the file, or null with `err`.
  FileRef open_create(const std::string& path, bool truncate, int& err);
  // Everything strictly below `root`: path -> is a folder.
  std::map<std::string, bool> below(const std::string& root) const;
  // Whether some path still names the file (not unlinked or renamed over).
  bool reachable(const FileRef& f) const;

 private:
  std::map<std::string, FileRef> files_;
  std::set<std::string> dirs_{"/"};
};

enum class ModelBackend { kFake, kPlatform };

struct ModelOptions {
  uint64_t seed = 1;
  int threads = 3;
  int steps = 60;  // per thread per round
  int rounds = 2;  // the core is made again (the journal resumed) between rounds
  ModelBackend backend = ModelBackend::kFake;
  ChaosOptions chaos;
  int check_bytes_every = 1;  // steps between full byte checks of a thread's folder
  // The kernel skips opens of existing files (FsOptions::no_open): their descriptors are fh 0,
  // written and truncated through the core's implicit writers, closed by a flush alone. -1: on
  // three seeds of four (the mount's default), off on the fourth.
  int no_open = -1;
};

// One step of a program: a kind and random numbers that pick its targets from the model's state
// when it runs (so a shrunk program is still a valid one).
struct ModelStep {
  uint8_t kind = 0;
  uint32_t a = 0, b = 0, c = 0;
};
// Per round, per thread.
using ModelProgram = std::vector<std::vector<std::vector<ModelStep>>>;

struct ModelOutcome {
  std::string failure;                // empty: the run matched the model
  std::vector<std::string> trace;     // the steps that ran, with the errnos seen, in order
  uint64_t steps = 0;                 // steps run
  uint64_t remote_calls = 0, refused = 0, lost = 0;
  bool ok() const { return failure.empty(); }
};

ModelProgram generate_program(const ModelOptions& options);
ModelOutcome run_program(const ModelProgram& program, const ModelOptions& options);
// Drops steps while the program still fails (each candidate tried up to `tries` times), within
// `budget_runs` runs; answers the smallest failing program and its outcome.
std::pair<ModelProgram, ModelOutcome> shrink_program(ModelProgram program, const ModelOptions& options,
                                                     int budget_runs = 150, int tries = 2);
size_t program_size(const ModelProgram& program);
// A program as text ("round.thread:kind,a,b,c ..."), to run it again exactly (DLFS_MODEL_PROGRAM).
std::string encode_program(const ModelProgram& program);
ModelProgram decode_program(const std::string& text, const ModelOptions& options);

}  // namespace dlfs::test
