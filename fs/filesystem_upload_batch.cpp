// Uploads of many small files in one remote call. A copy of thousands of small files queues
// them faster than one upload per file lands (on the platform each is a store sync and a
// catalogue commit; over HTTP a request); a worker that finds several queued sends up to
// FsOptions::upload_batch of them at once (Remote::upload_files), and each lands or fails on
// its own, as a single upload would. The batch holds all its paths' locks from start to landing
// (taken in one call: PathLocks has no order to keep). Folders, large files and resumed files
// whose place is to be verified go alone (run_upload).
#include <spdlog/spdlog.h>

#include "fs/filesystem.h"

namespace dlfs {

bool Filesystem::batchable_locked(const PendingFile& p) const {
  return !p.dir && !p.verify_place && !p.removed && !p.released && p.state != UploadState::kFailed &&
         p.flushed > p.uploaded && p.size <= kBatchFileMax;
}

void Filesystem::run_upload_batch(std::vector<std::shared_ptr<PendingFile>> files) {
  std::vector<PathLock> locks;
  {
    std::lock_guard lock(write_mu_);
    for (auto& p : files) locks.push_back(PathLock{p->path, false});
  }
  PathLocks::Guard guard = path_locks_.lock(locks);
  std::vector<std::shared_ptr<PendingFile>> batch;
  std::vector<uint64_t> gens;
  std::vector<std::string> paths;  // each one's, as locked
  {
    std::lock_guard lock(write_mu_);
    for (size_t i = 0; i < files.size(); ++i) {
      auto& p = files[i];
      if (p->removed || p->released || p->state == UploadState::kFailed) {
        p->queued = false;  // (as run_upload: whoever did that knows)
        continue;
      }
      if (p->path != locks[i].path || !batchable_locked(*p)) {
        // Renamed before its lock was held, or no longer a plain upload: alone, as it is now.
        push_task_locked(Task{p, {}, {}, std::chrono::steady_clock::now(), nullptr, false});
        continue;
      }
      p->queued = false;
      p->state = UploadState::kUploading;
      ++p->attempts;
      gens.push_back(p->flushed);
      paths.push_back(locks[i].path);
      batch.push_back(p);
    }
  }
  if (batch.empty()) return;
  std::vector<UploadPlan> plans;
  std::vector<FileUpload> uploads;
  for (size_t i = 0; i < batch.size(); ++i) {
    plans.push_back(plan_upload(batch[i], paths[i]));  // (its path cannot change: its lock is held)
    uploads.push_back(FileUpload{plans.back().file, plans.back().path, plans.back().options, false});
  }
  auto answers = remote_.upload_files(uploads);
  for (size_t i = 0; i < batch.size(); ++i) {
    Result<UploadResult> answer = i < answers.size() ? std::move(answers[i]) : Status(EIO, "no answer in the batch");
    auto item = settle_upload(batch[i], plans[i], std::move(answer));
    if (item) landed(batch[i], gens[i], std::move(*item));
    else upload_failed(batch[i], gens[i], item.status());
  }
  spdlog::debug("uploaded a batch of {} files", batch.size());
}

}  // namespace dlfs
