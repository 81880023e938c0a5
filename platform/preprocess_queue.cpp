#include "platform/preprocess_queue.h"

#include <signal.h>
#include <unistd.h>

#include <mutex>
#include <set>

#include "core/json_util.h"
#include "platform/catalog.h"

namespace dlfs {
namespace {

std::mutex tokens_mu;
// Never destroyed: a Platform held by a static (a test's shared fixture) stops its workers
// during exit, after function statics built later than it would already be gone.
std::set<std::string>& live_tokens() {
  static auto* tokens = new std::set<std::string>;
  return *tokens;
}

bool pid_alive(int64_t pid) {
  if (pid <= 0 || pid > INT32_MAX) return false;
  // EPERM: it runs, as another user.
  return ::kill(pid_t(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

std::string encode_job(const PreprocessJob& job) {
  json doc = {{"ds", job.dataset_id},        {"key", job.blob_key},  {"gen", job.gen},
              {"queued", job.queued_ms},     {"pid", job.owner_pid}, {"token", job.owner_token},
              {"lease", job.lease_until_ms}, {"tries", job.tries}};
  return doc.dump();
}

Result<PreprocessJob> decode_job(std::string_view item_id, std::string_view bytes) {
  json doc = json::parse(bytes, nullptr, false);
  if (!doc.is_object()) return Status(EIO, "corrupt preprocessing job for item " + std::string(item_id));
  PreprocessJob job;
  job.item_id = std::string(item_id);
  try {
    job.dataset_id = doc.value("ds", "");
    job.blob_key = doc.value("key", "");
    job.gen = doc.value("gen", "");
    job.queued_ms = doc.value("queued", int64_t(0));
    job.owner_pid = doc.value("pid", int64_t(0));
    job.owner_token = doc.value("token", "");
    job.lease_until_ms = doc.value("lease", int64_t(0));
    job.tries = doc.value("tries", 0);
  } catch (const json::exception& e) {
    return Status(EIO, "corrupt preprocessing job for item " + std::string(item_id), e.what());
  }
  return job;
}

Result<std::optional<PreprocessJob>> get_job(const LmdbTxn& txn, const Catalog& catalog, std::string_view item_id) {
  DLFS_ASSIGN(auto bytes, txn.get(catalog.jobs_dbi(), item_id));
  if (!bytes) return std::optional<PreprocessJob>();
  DLFS_ASSIGN(PreprocessJob job, decode_job(item_id, *bytes));
  return std::optional<PreprocessJob>(std::move(job));
}

Result<uint64_t> count_jobs(const LmdbTxn& txn, const Catalog& catalog) {
  MDB_stat st;
  if (int rc = mdb_stat(txn.raw(), catalog.jobs_dbi(), &st); rc != 0) return lmdb_status(rc, "counting preprocessing jobs");
  return uint64_t(st.ms_entries);
}

Status put_job(LmdbTxn& txn, const Catalog& catalog, const PreprocessJob& job) {
  return txn.put(catalog.jobs_dbi(), job.item_id, encode_job(job));
}

Status erase_job(LmdbTxn& txn, const Catalog& catalog, std::string_view item_id) {
  DLFS_TRY(txn.del(catalog.jobs_dbi(), item_id));
  return {};
}

void register_owner_token(const std::string& token) {
  std::lock_guard lock(tokens_mu);
  live_tokens().insert(token);
}

void unregister_owner_token(const std::string& token) {
  std::lock_guard lock(tokens_mu);
  live_tokens().erase(token);
}

bool job_claimable(const PreprocessJob& job, int64_t now_ms) {
  if (!job.claimed()) return true;
  if (job.lease_until_ms <= now_ms) return true;
  if (job.owner_pid == getpid()) {
    std::lock_guard lock(tokens_mu);
    return live_tokens().count(job.owner_token) == 0;
  }
  return !pid_alive(job.owner_pid);
}

}  // namespace dlfs
