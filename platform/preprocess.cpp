// The preprocessing workers, and the Platform operations built on them.
#include "platform/preprocess.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "core/ids.h"
#include "core/paths.h"
#include "core/posix_attrs.h"
#include "platform/catalog.h"
#include "platform/driver.h"
#include "platform/platform.h"
#include "platform/storage.h"

namespace dlfs {
namespace {

constexpr std::string_view kThumbnailDir = "/.dataloop/thumbnails";
constexpr std::string_view kPreprocessUser = "preprocess@dlfs";

// Claims are compared across processes: always the wall clock, never the platform's (a test's
// fake clock in one process must not make another process's lease look expired).
int64_t wall_ms() { return SystemClock::instance().now_ms(); }

std::string system_string(const Item& item, const char* key) {
  auto it = item.system().find(key);
  return it != item.system().end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string phase_of(const Item& item) { return system_string(item, "preprocessPhase"); }

std::string error_of(const Item& item) {
  std::string e = system_string(item, "preprocessError");
  return e.empty() ? "preprocessing failed" : e;
}

}  // namespace

std::string thumbnail_path(std::string_view item_id) {
  return std::string(kThumbnailDir) + "/" + std::string(item_id) + ".jpg";
}

Preprocessor::Preprocessor(Platform& platform) : p_(platform), token_(new_id()) { register_owner_token(token_); }

Preprocessor::~Preprocessor() {
  stop();
  unregister_owner_token(token_);
}

Status Preprocessor::start(unsigned workers) {
  std::lock_guard lock(mu_);
  if (!threads_.empty()) return Status(EBUSY, "preprocessing workers are already running");
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  DLFS_TRY(init_image_library());
  stop_ = false;
  for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { worker_loop(); });
  spdlog::debug("preprocessing: {} workers started", workers);
  return {};
}

void Preprocessor::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

bool Preprocessor::running() const {
  std::lock_guard lock(mu_);
  return !threads_.empty();
}

void Preprocessor::notify() {
  {
    std::lock_guard lock(mu_);
    ++wake_seq_;
  }
  cv_.notify_all();
}

void Preprocessor::worker_loop() {
  while (!stop_) {
    uint64_t seen;
    {
      std::lock_guard lock(mu_);
      seen = wake_seq_;
    }
    auto jobs = claim_batch(std::max<size_t>(1, settings_.batch));
    if (jobs && !jobs->empty()) {
      if (Status s = run_batch(*jobs, &stop_); !s) spdlog::warn("preprocessing: {}", s.to_string());
      continue;
    }
    if (!jobs) spdlog::warn("preprocessing: cannot take a job: {}", jobs.status().to_string());
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, settings_.idle_poll, [&] { return stop_ || wake_seq_ != seen; });
  }
  release_image_thread();
}

Status Preprocessor::enqueue(LmdbTxn& txn, const Item& item, std::string_view blob_key) {
  PreprocessJob job;
  job.item_id = item.id;
  job.dataset_id = item.dataset_id;
  job.blob_key = std::string(blob_key);
  job.gen = new_id();
  job.queued_ms = wall_ms();
  return put_job(txn, *p_.catalog_, job);
}

bool Preprocessor::anything_claimable() {
  auto txn = p_.catalog_->read();
  if (!txn) return true;  // let the write path report it
  int64_t now = wall_ms();
  bool any = false;
  (void)txn->scan(p_.catalog_->jobs_dbi(), "", [&](std::string_view key, std::string_view value) {
    auto job = decode_job(key, value);
    any = !job || job_claimable(*job, now);
    return !any;
  });
  return any;
}

Result<std::optional<PreprocessJob>> Preprocessor::claim() {
  DLFS_ASSIGN(auto jobs, claim_batch(1));
  if (jobs.empty()) return std::optional<PreprocessJob>();
  return std::optional<PreprocessJob>(std::move(jobs.front()));
}

Result<std::vector<PreprocessJob>> Preprocessor::claim_batch(size_t max) {
  std::vector<PreprocessJob> found;
  if (max == 0 || !anything_claimable()) return found;
  const Catalog& cat = *p_.catalog_;
  DLFS_ASSIGN(LmdbTxn txn, cat.write());
  int64_t now = wall_ms();
  std::vector<PreprocessJob> exhausted;
  std::vector<std::string> corrupt;
  DLFS_TRY(txn.scan(cat.jobs_dbi(), "", [&](std::string_view key, std::string_view value) {
    auto job = decode_job(key, value);
    if (!job) {
      corrupt.emplace_back(key);
      return true;
    }
    if (!job_claimable(*job, now)) return true;
    if (job->tries >= settings_.max_tries) {
      exhausted.push_back(std::move(*job));
      return true;
    }
    found.push_back(std::move(*job));
    return found.size() < max;
  }));
  std::vector<std::string> dead_keys;
  for (const auto& id : corrupt) DLFS_TRY(erase_job(txn, cat, id));
  for (const auto& job : exhausted)
    DLFS_TRY(give_up(txn, job,
                     "preprocessing was interrupted " + std::to_string(job.tries) +
                         " times (the process working on it ended); given up",
                     dead_keys));
  for (auto& job : found) {
    job.owner_pid = getpid();
    job.owner_token = token_;
    job.lease_until_ms = now + settings_.lease_ms;
    ++job.tries;
    DLFS_TRY(put_job(txn, cat, job));
  }
  if (!found.empty() || !exhausted.empty() || !corrupt.empty()) DLFS_TRY(txn.commit());
  p_.remove_blobs(dead_keys);
  return found;
}

Status Preprocessor::give_up(LmdbTxn& txn, const PreprocessJob& job, const std::string& reason,
                             std::vector<std::string>& dead_keys) {
  const Catalog& cat = *p_.catalog_;
  DLFS_TRY(erase_job(txn, cat, job.item_id));
  DLFS_ASSIGN(auto item, cat.item(txn, job.item_id));
  DLFS_ASSIGN(auto key, cat.blob_key(txn, job.item_id));
  if (!item || !key || *key != job.blob_key) return {};
  spdlog::warn("preprocessing '{}': {}", item->filename, reason);
  Item before = *item;
  json& sys = item->system();
  sys["preprocessPhase"] = "failed";
  sys["preprocessError"] = reason;
  if (auto tid = sys.find("thumbnailId"); tid != sys.end() && tid->is_string()) {
    DLFS_ASSIGN(auto thumb, cat.item(txn, tid->get<std::string>()));
    if (thumb && thumb->hidden) {
      DLFS_ASSIGN(auto thumb_key, cat.blob_key(txn, thumb->id));
      if (thumb_key) dead_keys.push_back(*thumb_key);
      DLFS_TRY(cat.erase_item(txn, *thumb));
    }
    sys.erase("thumbnailId");
  }
  item->updated_ms = p_.options_.clock->now_ms();
  return cat.put_item(txn, *item, &before);
}

Status Preprocessor::release(const PreprocessJob& job) {
  const Catalog& cat = *p_.catalog_;
  DLFS_ASSIGN(LmdbTxn txn, cat.write());
  DLFS_ASSIGN(auto cur, get_job(txn, cat, job.item_id));
  if (!cur || cur->gen != job.gen || cur->owner_token != token_) return {};
  cur->owner_pid = 0;
  cur->owner_token.clear();
  cur->lease_until_ms = 0;
  cur->tries = std::max(0, cur->tries - 1);  // given back, not failed
  DLFS_TRY(put_job(txn, cat, *cur));
  return txn.commit();
}

Result<std::string> Preprocessor::read_blob(const PreprocessJob& job, uint64_t max_bytes) {
  std::string out;
  out.resize(std::min<uint64_t>(max_bytes, 1 << 20));
  uint64_t got = 0;
  while (got < max_bytes) {
    if (out.size() - got < (1 << 16)) out.resize(std::min<uint64_t>(max_bytes, out.size() * 2));
    if (out.size() == got) break;
    DLFS_ASSIGN(size_t n, p_.read_blob(job.blob_key, got, std::span<char>(out.data() + got, out.size() - got)));
    if (n == 0) break;
    got += n;
  }
  out.resize(got);
  return out;
}

Result<Extraction> Preprocessor::extract(const PreprocessJob& job, const std::atomic<bool>* cancel) {
  std::optional<Item> item;
  {
    DLFS_ASSIGN(LmdbTxn txn, p_.catalog_->read());
    DLFS_ASSIGN(item, p_.catalog_->item(txn, job.item_id));
    DLFS_ASSIGN(auto key, p_.catalog_->blob_key(txn, job.item_id));
    if (!item || !item->is_file() || !key || *key != job.blob_key) item.reset();  // gone or overwritten
  }
  Extraction ex;
  if (!item) {
    // Nothing to learn: finish() drops the job.
  } else if (item->is_link()) {
    ex = extract_link(*item, cancel);
  } else if (symlink_target(*item)) {
    ex.system["mimetype"] = kSymlinkMimetype;  // its bytes are a path: nothing to extract
  } else {
    auto head = read_blob(job, kMimeHeadBytes);
    if (!head) {
      ex.system["mimetype"] = item->mimetype();
      ex.error = head.status().wrap("cannot read the stored binary").to_string();
    } else {
      std::string mime = detect_mimetype(*head);
      if (image_format_for_mimetype(mime) == ImageFormat::kUnknown) {
        ex.system["mimetype"] = mime;
      } else if (item->size() > settings_.max_image_bytes) {
        ex.image = true;
        ex.system["mimetype"] = mime;
        ex.error = "the image is " + std::to_string(item->size()) + " bytes, more than the " +
                   std::to_string(settings_.max_image_bytes >> 20) + " MiB that preprocessing decodes";
      } else {
        auto bytes = read_blob(job, item->size());
        if (!bytes) {
          ex.system["mimetype"] = mime;
          ex.error = bytes.status().wrap("cannot read the stored binary").to_string();
        } else {
          ex = extract_image(*bytes, mime, settings_.limits, cancel);
        }
      }
    }
  }
  return ex;
}

Status Preprocessor::run(const PreprocessJob& job, const std::atomic<bool>* cancel) { return run_batch({job}, cancel); }

Status Preprocessor::run_batch(const std::vector<PreprocessJob>& jobs, const std::atomic<bool>* cancel) {
  std::vector<Finished> done;
  Status first;
  for (size_t i = 0; i < jobs.size(); ++i) {
    auto extracted = extract(jobs[i], cancel);
    if (!extracted) {  // (its claim stays: taken again once its lease runs out)
      if (first) first = Status(extracted.err(), "item " + jobs[i].item_id + ": " + extracted.status().message(),
                                extracted.status().cause());
      continue;
    }
    Extraction ex = std::move(*extracted);
    if (ex.cancelled) {  // stopping: this job and the ones not started are given back
      for (size_t j = i; j < jobs.size(); ++j) {
        Status s = release(jobs[j]);
        if (!s && first) first = s;
      }
      break;
    }
    done.push_back(Finished{&jobs[i], std::move(ex)});
  }
  if (done.empty()) return first;
  Status s = finish(done);
  return s ? first : s;
}

Status Preprocessor::finish(const std::vector<Finished>& done) {
  const Catalog& cat = *p_.catalog_;
  // Thumbnails are stored, then synced together, first: the commit below names them.
  // A driver's dataset keeps them in its bucket, under /.dataloop (the seed's place for what the
  // platform makes), durable once put; the platform's storage syncs its own once for all.
  std::vector<std::optional<StoredBlob>> thumbs(done.size());
  std::vector<bool> kept(done.size(), false);
  Status first;
  bool internal = false;
  for (size_t i = 0; i < done.size(); ++i) {
    if (done[i].ex.thumbnail.empty()) continue;
    auto b = p_.put_generated(done[i].job->dataset_id, "/.dataloop/thumbnails/" + new_id() + ".jpg",
                              done[i].ex.thumbnail);
    if (b) thumbs[i] = std::move(*b);
    else if (first) first = b.status();
    internal = internal || (b && !parse_external_blob_key(b->key));
  }
  if (internal)
    if (Status synced = p_.storage_->sync(); !synced) {
      for (auto& t : thumbs)
        if (t && !parse_external_blob_key(t->key)) {
          p_.drop_blob(t->key);
          t.reset();  // (its job is tried again later, as when its thumbnail could not be stored)
        }
      if (first) first = synced;
    }
  std::vector<std::string> dead_keys;
  Status s = [&]() -> Status {
    DLFS_ASSIGN(LmdbTxn txn, cat.write());
    for (size_t i = 0; i < done.size(); ++i) {
      const PreprocessJob& job = *done[i].job;
      if (!done[i].ex.thumbnail.empty() && !thumbs[i]) continue;  // its thumbnail could not be stored: tried again later
      std::vector<std::string> dead;
      DLFS_ASSIGN(LmdbTxn child, LmdbTxn::begin_nested(txn));
      Status one = finish_one(child, job, done[i].ex, thumbs[i], dead);
      if (one) one = child.commit();
      if (!one) {  // (the child's writes are undone; the others go on)
        if (first) first = Status(one.err(), "item " + job.item_id + ": " + one.message(), one.cause());
        continue;
      }
      kept[i] = true;
      dead_keys.insert(dead_keys.end(), dead.begin(), dead.end());
    }
    return txn.commit();
  }();
  for (size_t i = 0; i < done.size(); ++i)
    if (thumbs[i] && (!s || !kept[i])) p_.drop_blob(thumbs[i]->key);
  if (!s) return s;
  for (size_t i = 0; i < done.size(); ++i)
    if (kept[i]) ++processed_;
  p_.remove_blobs(dead_keys);
  return first;
}

Status Preprocessor::finish_one(LmdbTxn& txn, const PreprocessJob& job, const Extraction& ex,
                                const std::optional<StoredBlob>& thumb_blob, std::vector<std::string>& dead_keys) {
  const Catalog& cat = *p_.catalog_;
  DLFS_ASSIGN(auto cur, get_job(txn, cat, job.item_id));
  DLFS_ASSIGN(auto item, cat.item(txn, job.item_id));
  DLFS_ASSIGN(auto key, cat.blob_key(txn, job.item_id));
  // The queued job is satisfied by these results when it is for the same binary.
  if (cur && (!item || cur->blob_key == job.blob_key)) DLFS_TRY(erase_job(txn, cat, job.item_id));
  if (!item || !item->is_file() || !key || *key != job.blob_key) return {};  // stale: drop

  int64_t now = p_.options_.clock->now_ms();
  Item before = *item;
  json patch = ex.system;
  DLFS_ASSIGN(auto old_thumb, cat.item_at(txn, item->dataset_id, thumbnail_path(item->id)));
  if (old_thumb && !old_thumb->hidden) old_thumb.reset();  // never touch a visible item
  if (old_thumb) {
    DLFS_ASSIGN(auto old_key, cat.blob_key(txn, old_thumb->id));
    if (old_key) dead_keys.push_back(*old_key);
  }
  if (thumb_blob) {
    Item thumb;
    if (old_thumb) {
      thumb = *old_thumb;
    } else {
      DLFS_ASSIGN(auto ds, cat.dataset(txn, item->dataset_id));
      if (!ds) return Status(ENOENT, "no dataset '" + item->dataset_id + "'");
      DLFS_TRY(p_.ensure_dir(txn, *ds, kThumbnailDir, kPreprocessUser, now).status());
      thumb.id = new_id();
      thumb.dataset_id = item->dataset_id;
      thumb.set_path(thumbnail_path(item->id));
      thumb.hidden = true;
      thumb.created_ms = now;
      thumb.creator = std::string(kPreprocessUser);
    }
    thumb.metadata["system"] = json{
        {"originalname", thumb.name}, {"size", thumb_blob->size}, {"encoding", "7bit"}, {"mimetype", "image/jpeg"}};
    thumb.updated_ms = now;
    thumb.updated_by = std::string(kPreprocessUser);
    DLFS_TRY(cat.put_item(txn, thumb, old_thumb ? &*old_thumb : nullptr));
    DLFS_TRY(cat.put_blob_key(txn, thumb.id, thumb_blob->key));
    patch["thumbnailId"] = thumb.id;
  } else {
    if (old_thumb) DLFS_TRY(cat.erase_item(txn, *old_thumb));
    patch["thumbnailId"] = nullptr;
  }
  patch["preprocessPhase"] = ex.error.empty() ? "done" : "failed";
  patch["preprocessError"] = ex.error.empty() ? json(nullptr) : json(ex.error);
  merge_patch(item->system(), patch);
  item->updated_ms = now;
  return cat.put_item(txn, *item, &before);
}

// ---- Platform --------------------------------------------------------------------------------

Status Platform::start_preprocessing(unsigned workers) { return preprocessor_->start(workers); }

void Platform::stop_preprocessing() { preprocessor_->stop(); }

Result<std::vector<std::string>> Platform::requeue_preprocessing(std::string_view dataset_id, std::string_view path) {
  DLFS_ASSIGN(std::string normal, normalize_path(path));
  std::vector<std::string> ids;
  {
    DLFS_ASSIGN(LmdbTxn txn, catalog_->write());
    DLFS_ASSIGN(auto ds, catalog_->dataset(txn, dataset_id));
    if (!ds) return Status(ENOENT, "no dataset '" + std::string(dataset_id) + "'");
    DLFS_ASSIGN(auto top, catalog_->entry_at(txn, dataset_id, normal));
    if (!top) return Status(ENOENT, "no item at '" + normal + "' in dataset '" + ds->name + "'");
    std::vector<std::string> candidates;
    if (top->type == ItemType::kDir) {
      DLFS_TRY(catalog_->descendants(txn, dataset_id, normal, [&](const PathEntry& e) {
        if (e.type == ItemType::kFile && !e.hidden) candidates.push_back(e.id);
        return true;
      }));
    } else if (!top->hidden) {
      candidates.push_back(top->id);
    }
    int64_t now = options_.clock->now_ms();
    for (const auto& id : candidates) {
      DLFS_ASSIGN(auto item, catalog_->item(txn, id));
      DLFS_ASSIGN(auto key, catalog_->blob_key(txn, id));
      if (!item || !key) continue;
      Item before = *item;
      item->system()["preprocessPhase"] = "pending";
      item->system().erase("preprocessError");
      item->updated_ms = now;
      DLFS_TRY(catalog_->put_item(txn, *item, &before));
      DLFS_TRY(preprocessor_->enqueue(txn, *item, *key));
      ids.push_back(id);
    }
    DLFS_TRY(txn.commit());
  }
  preprocessor_->notify();
  return ids;
}

Result<PreprocessTally> Platform::wait_preprocessed(const std::vector<std::string>& ids,
                                                    std::chrono::milliseconds timeout,
                                                    const std::function<void(const PreprocessTally&)>& progress) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  PreprocessTally tally;
  tally.total = ids.size();
  std::vector<std::string> pending = ids;
  for (;;) {
    {
      DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
      std::vector<std::string> still;
      for (const auto& id : pending) {
        // Queued while it has a job (a cheap lookup); then its phase tells done or failed. A
        // deleted item counts as done: nothing more is coming for it.
        DLFS_ASSIGN(auto job, txn.get(catalog_->jobs_dbi(), id));
        if (job) {
          still.push_back(id);
          continue;
        }
        DLFS_ASSIGN(auto item, catalog_->item(txn, id));
        if (item && phase_of(*item) == "failed") {
          ++tally.failed;
        } else {
          ++tally.done;
        }
      }
      pending.swap(still);
      tally.pending = pending.size();
    }
    if (progress) progress(tally);
    if (pending.empty() || std::chrono::steady_clock::now() >= deadline) return tally;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<Item> Platform::preprocess_now(std::string_view id) {
  PreprocessJob job;
  {
    DLFS_ASSIGN(LmdbTxn txn, catalog_->read());
    DLFS_ASSIGN(auto item, catalog_->item(txn, id));
    if (!item) return Status(ENOENT, "no item with id '" + std::string(id) + "'");
    if (!item->is_file()) return Status(EISDIR, "'" + item->filename + "' is a folder");
    DLFS_ASSIGN(auto key, catalog_->blob_key(txn, id));
    if (!key) return Status(ENOENT, "'" + item->filename + "' has no stored binary");
    job.item_id = item->id;
    job.dataset_id = item->dataset_id;
    job.blob_key = *key;
    job.gen = new_id();
  }
  DLFS_TRY(init_image_library());
  DLFS_TRY(preprocessor_->run(job));
  return get_item(id);
}

Result<std::string> Platform::thumbnail_on_demand(const Item& given) {
  auto none = [&](const std::string& why) {
    return Status(ENOENT, "'" + given.filename + "' has no thumbnail: " + why);
  };
  if (!given.is_file() || given.hidden) return none("only visible files have thumbnails");
  DLFS_ASSIGN(Item item, get_item(given.id));
  auto read_thumb = [&](const Item& of) -> Result<std::string> {
    auto tid = of.system().find("thumbnailId");
    if (tid == of.system().end() || !tid->is_string()) return Status(ENOENT, "");
    DLFS_ASSIGN(Item thumb, get_item(tid->get<std::string>()));
    std::string bytes(thumb.size(), '\0');
    DLFS_ASSIGN(size_t n, read(thumb, 0, std::span<char>(bytes.data(), bytes.size())));
    bytes.resize(n);
    return bytes;
  };
  if (auto bytes = read_thumb(item)) return bytes;  // made since the caller's copy
  std::string phase = phase_of(item);
  if (phase == "failed") return none(error_of(item));
  if (phase == "done" && image_format_for_mimetype(item.mimetype()) == ImageFormat::kUnknown)
    return none("it is not an image (" + item.mimetype() + ")");
  DLFS_ASSIGN(Item fresh, preprocess_now(item.id));
  if (auto bytes = read_thumb(fresh)) return bytes;
  if (phase_of(fresh) == "failed") return none(error_of(fresh));
  return none("it is not an image (" + fresh.mimetype() + ")");
}

}  // namespace dlfs
