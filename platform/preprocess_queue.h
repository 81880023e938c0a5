// The durable preprocessing queue: one job per file item, in the catalogue's "jobs" database
// (item id -> job), written in the same transaction as the item it is for.
//
// A job names the binary it is for (the storage key): results are written only while the item
// still has that binary, so a job that outlived an overwrite never clobbers newer results.
// Workers of any process claim a job by writing their pid, a token and a lease into it. A claim is
// void once its owner is gone — a pid that no longer runs, a token of this process that no live
// worker pool holds — or its lease has run out; a void claim is taken again, so a job interrupted
// by a crash runs again after the restart. `tries` counts claims, so a job that keeps killing its
// worker (a decoder crash) is given up after a few.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/lmdb.h"
#include "core/result.h"

namespace dlfs {

class Catalog;

struct PreprocessJob {
  std::string item_id;
  std::string dataset_id;
  std::string blob_key;  // the binary this job is for
  std::string gen;       // unique per enqueue (an id)
  int64_t queued_ms = 0;
  int64_t owner_pid = 0;  // 0: not claimed
  std::string owner_token;
  int64_t lease_until_ms = 0;
  int tries = 0;  // claims so far

  bool claimed() const { return owner_pid != 0; }
};

std::string encode_job(const PreprocessJob& job);
Result<PreprocessJob> decode_job(std::string_view item_id, std::string_view bytes);

Result<std::optional<PreprocessJob>> get_job(const LmdbTxn& txn, const Catalog& catalog, std::string_view item_id);
Status put_job(LmdbTxn& txn, const Catalog& catalog, const PreprocessJob& job);
Status erase_job(LmdbTxn& txn, const Catalog& catalog, std::string_view item_id);
// How many jobs are queued (claimed ones included): LMDB's count, no scan.
Result<uint64_t> count_jobs(const LmdbTxn& txn, const Catalog& catalog);

// Worker pool tokens alive in this process (a claim by this pid with another token is void).
void register_owner_token(const std::string& token);
void unregister_owner_token(const std::string& token);

// Whether a job may be claimed now: unclaimed, or its claim is void (see above).
bool job_claimable(const PreprocessJob& job, int64_t now_ms);

}  // namespace dlfs
