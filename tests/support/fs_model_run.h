// The reference-model runner's insides (fs_model.h is the interface): one run of a program
// against a fresh core, platform and model. fs_model_run.cpp holds the set-up, the checks and the
// rounds; fs_model.cpp the steps, the generator and the shrinker.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cache/metadata_cache.h"
#include "cache/upload_spool.h"
#include "core/clock.h"
#include "fs/filesystem.h"
#include "remote/fake_remote.h"
#include "remote/local_remote.h"
#include "support/fs_model.h"
#include "support/temp_dir.h"

namespace dlfs::test {

class ModelRun {
 public:
  explicit ModelRun(const ModelOptions& o)
      : o_(o), no_open_(o.no_open >= 0 ? o.no_open != 0 : o.seed % 4 != 0), closes_seen_(!no_open_ || o.seed % 8 < 4) {}
  ModelOutcome run(const ModelProgram& program);
  void forget_all(std::vector<Ino>& inos);

  // Lookups the harness holds, as the kernel holds its entries: given back at the end of a step.
  struct HeldLookups {
    ModelRun& run;
    std::vector<Ino> inos;
    ~HeldLookups() { run.forget_all(inos); }
  };

 private:
  struct Handle {
    uint64_t fh;  // 0: opened by the kernel without asking the core (no_open)
    Ino ino;
    FileRef file;
    std::string path;
    // (fh 0) its file was unlinked or renamed over before it wrote, and a write was refused:
    // the core cannot write it any more (ESTALE), and it is only closed.
    bool dead = false;
  };
  struct Worker {
    int index;
    std::string root;
    std::vector<Handle> handles;
  };

  Status setup();
  Status make_core(const std::string& cache_name);
  void fail(const std::string& why);
  bool failed() const { return failed_.load(); }
  void note(const Worker& w, const std::string& line);
  // Looks `path` up from the root; answers the entry or the errno. The lookups are counted in
  // `held`.
  Result<Entry> resolve(const std::string& path, HeldLookups& held);
  Result<std::string> read_all(Ino ino, uint64_t fh);
  // A close(2): its FLUSH, where the kernel still sends them.
  Status close_flush(Ino ino, uint64_t fh) { return closes_seen_ ? fs_->flush(ino, fh) : Status(); }
  void step(Worker& w, const ModelStep& s, int round, int index);
  void check(const std::string& root, bool bytes, const std::string& after);
  Status list_fs(Ino ino, const std::string& path, std::map<std::string, bool>& out, HeldLookups& held);
  void check_platform();
  void drop_handles(bool release);

  ModelOptions o_;
  bool no_open_ = false;  // (o_.no_open resolved by the seed)
  // False: the kernel was told ENOSYS to a flush (no_open: Filesystem::closes_needed), and sends
  // none at a close; writers are let go when idle, at a sync, at the remount (on half the seeds:
  // the first flush of a mount may come before that, and closes were seen until then).
  bool closes_seen_ = true;
  TempDir dir_{"dlfs-model"};
  FakeClock clock_;
  std::unique_ptr<FakeRemote> fake_;
  std::unique_ptr<LocalConnection> conn_;
  std::unique_ptr<Remote> platform_remote_;
  Remote* inner_ = nullptr;
  std::unique_ptr<ChaosRemote> chaos_;
  std::unique_ptr<UploadSpool> spool_;
  std::unique_ptr<MetadataCache> cache_;
  std::unique_ptr<Filesystem> fs_;
  std::vector<Worker> workers_;

  std::mutex model_mu_;   // the model (each thread's steps touch only their own folder, or /s under shared_mu_)
  std::mutex shared_mu_;  // held for a whole step (and its check) in /s
  ModelTree model_;
  std::atomic<bool> failed_{false};
  std::mutex out_mu_;
  ModelOutcome out_;
};

// The errno's name ("ok" for 0), for traces.
std::string err_name(int e);

}  // namespace dlfs::test
