// The filesystem core's late metadata patches: user.meta.* and user.dl.description set on a
// file before its first upload are sent right after it lands (fs/filesystem_upload.cpp). A patch
// that fails then is kept with the file and in the journal, sent again from the upload queue (or
// by the next mount), and leaves the journal only once the platform has it.
#include <spdlog/spdlog.h>

#include "core/json_util.h"
#include "fs/filesystem.h"

namespace dlfs {

void Filesystem::keep_late_patch(const std::shared_ptr<PendingFile>& p, json patch, const Status& failure) {
  bool transient = is_transient_remote_error(failure.err());
  std::unique_lock lock(write_mu_);
  if (!transient) {  // the item is gone, or refuses it: nothing to try again
    spdlog::error("metadata set on {} before its upload could not be applied: {}", p->path, failure.to_string());
    settle_after_patch_locked(p);
    return;
  }
  // Kept with the file, and in the journal: the next try (or the next mount) sends it.
  if (p->late_patch.is_object()) merge_patch(patch, p->late_patch);  // (anything set since is newer)
  p->late_patch = patch;
  bool give_up = !stopping_ && p->attempts >= options_.max_attempts;
  if (give_up) {
    p->state = UploadState::kFailed;
    p->error = "metadata set before its upload could not be applied: " + failure.to_string();
  } else {
    if (p->state == UploadState::kUploaded || p->state == UploadState::kUploading) p->state = UploadState::kPending;
    if (!stopping_ && !p->queued) enqueue_locked(p, std::chrono::milliseconds(retry_delay_ms(p->attempts)));
  }
  std::string error = p->error;
  write_cv_.notify_all();
  lock.unlock();
  spdlog::warn("metadata set on {} before its upload could not be applied ({}); {}", p->path, failure.to_string(),
               give_up ? "given up (`dlfs status --retry` tries again)" : "kept, to be sent again");
  if (auto rec = options_.spool->get(p->spool_id)) {
    rec->state = give_up ? UploadState::kFailed : UploadState::kPending;
    rec->item_id = p->base_id;
    if (give_up) rec->last_error = error;
    if (rec->patch.is_object()) merge_patch(rec->patch, patch);
    else rec->patch = patch;
    (void)options_.spool->update(*rec);
  }
}

void Filesystem::settle_after_patch_locked(const std::shared_ptr<PendingFile>& p) {
  // As landed() leaves a file: more to upload, still being written, or done (and released).
  if (p->state == UploadState::kFailed) return;
  if (p->flushed > p->uploaded) {
    p->state = UploadState::kPending;
    if (!p->queued) enqueue_locked(p, std::chrono::milliseconds(0));
  } else if (p->generation > p->uploaded) {
    p->state = UploadState::kWriting;
  } else {
    p->state = UploadState::kUploaded;
  }
  release_pending_locked(p);
  write_cv_.notify_all();
}

void Filesystem::send_late_patch(const std::shared_ptr<PendingFile>& p, json patch) {
  std::string id;
  {
    std::lock_guard lock(write_mu_);
    id = p->base_id;
  }
  auto patched = remote_patch(id, patch);
  if (!patched) return keep_late_patch(p, std::move(patch), patched.status());
  learned(*patched);
  std::lock_guard lock(write_mu_);
  p->item.metadata = patched->metadata;
  p->item.description = patched->description;
  if (p->late_patch.is_object()) merge_patch(p->item.metadata, p->late_patch.value("metadata", json::object()));
  p->attempts = 0;
  journal_patch_sent_locked(p);
  settle_after_patch_locked(p);
}

void Filesystem::journal_patch_sent_locked(const std::shared_ptr<PendingFile>& p) {
  // What is left to send is what was set since (nothing, mostly).
  if (auto rec = options_.spool->get(p->spool_id)) {
    rec->patch = p->late_patch.is_object() && !p->late_patch.empty() ? p->late_patch : json();
    (void)options_.spool->update(*rec);
  }
}

}  // namespace dlfs
