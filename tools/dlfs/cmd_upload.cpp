// dlfs upload: like `cp -r` into a dataset — files and folders, in parallel, with progress.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "core/paths.h"
#include "tools/dlfs/cli.h"
#include "tools/dlfs/progress.h"

namespace dlfs::cli {
namespace {

namespace fs = std::filesystem;

struct Job {
  std::string local;
  std::string remote;
  uint64_t size = 0;
};

struct Plan {
  std::vector<Job> files;
  std::vector<std::string> folders;  // made even when empty, as cp -r does
  uint64_t bytes = 0;
};

Status plan_source(const std::string& source, const std::string& to, Plan& plan) {
  std::error_code ec;
  fs::path src = fs::path(source).lexically_normal();
  if (src.filename().empty()) src = src.parent_path();  // "dir/" -> "dir"
  auto st = fs::status(src, ec);
  if (ec || !fs::exists(st)) return Status(ENOENT, "cannot upload '" + source + "': no such file or folder");
  std::string name = src.filename().string();
  if (name.empty() || name == "." || name == "..") name = fs::absolute(src).lexically_normal().filename().string();
  std::string base = join_path(to, name);
  DLFS_TRY(validate_path(base));
  if (fs::is_regular_file(st)) {
    uint64_t size = fs::file_size(src, ec);
    plan.files.push_back({src.string(), base, size});
    plan.bytes += size;
    return {};
  }
  if (!fs::is_directory(st)) return Status(EINVAL, "cannot upload '" + source + "': not a file or folder");
  plan.folders.push_back(base);
  for (auto it = fs::recursive_directory_iterator(src, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::string rel = fs::relative(it->path(), src, ec).generic_string();
    std::string remote = base + "/" + rel;
    if (Status s = validate_path(remote); !s) return s.wrap("cannot upload '" + it->path().string() + "'");
    if (it->is_directory()) {
      plan.folders.push_back(remote);
    } else if (it->is_regular_file()) {
      uint64_t size = it->file_size(ec);
      plan.files.push_back({it->path().string(), remote, size});
      plan.bytes += size;
    }
  }
  if (ec) return Status(ec.value(), "cannot read folder '" + source + "'", ec.message());
  return {};
}

}  // namespace

Status cmd_upload(const Globals& g, const Args& args) {
  std::string dataset, to = "/";
  UploadOptions options;
  int jobs = 8;
  bool wait_preprocessing = true;
  PreprocessWait wait;
  std::vector<std::string> sources;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= args.size()) return usage_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--dataset") {
      DLFS_ASSIGN(dataset, value());
    } else if (a == "--to") {
      DLFS_ASSIGN(std::string v, value());
      DLFS_ASSIGN(to, normalize_path(v));
    } else if (a == "--meta") {
      DLFS_ASSIGN(std::string v, value());
      auto meta = parse_json(v);
      if (!meta) return meta.status().wrap("--meta");
      if (!meta->is_object()) return Status(EINVAL, "--meta must be a JSON object, like '{\"camera\":\"cam-7\"}'");
      options.metadata = {{"user", *meta}};
    } else if (a == "--overwrite") {
      options.mode = UploadMode::kOverwrite;
    } else if (a == "--jobs") {
      DLFS_ASSIGN(std::string v, value());
      jobs = std::atoi(v.c_str());
      if (jobs < 1 || jobs > 256) return usage_error("--jobs takes a number from 1 to 256");
    } else if (a == "--no-wait") {
      wait_preprocessing = false;
    } else if (a == "--wait-timeout") {
      DLFS_ASSIGN(std::string v, value());
      int secs = std::atoi(v.c_str());
      if (secs < 1 || secs > 86400) return usage_error("--wait-timeout takes a number of seconds from 1 to 86400");
      wait.timeout = std::chrono::seconds(secs);
    } else if (a.size() > 1 && a[0] == '-') {
      return usage_error("unknown option '" + a + "'");
    } else {
      sources.push_back(a);
    }
  }
  if (dataset.empty() || sources.empty())
    return usage_error(
        "dlfs upload --dataset NAME [--to /folder] [--meta JSON] [--overwrite] [--jobs N] [--no-wait] "
        "[--wait-timeout S] FILE|DIR...");

  Plan plan;
  for (const auto& s : sources) DLFS_TRY(plan_source(s, to, plan));
  DLFS_ASSIGN(auto conn, connect(g));
  DLFS_ASSIGN(auto remote, conn->open(dataset));
  for (const auto& folder : plan.folders) {
    auto made = remote->make_dir(folder);
    if (!made && made.err() != EEXIST) return made.status();
  }

  std::optional<PreprocessWorkers> preprocessing;  // (embedded: alongside the uploads)
  if (wait_preprocessing) {
    preprocessing.emplace(*conn, wait.workers);
    DLFS_TRY(preprocessing->started());
  }
  size_t next = 0;  // (under next_mu)
  std::atomic<uint64_t> created{0}, overwritten{0}, skipped{0}, sent_bytes{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  std::vector<std::string> uploaded_ids;  // created or overwritten: queued for preprocessing
  {
    Progress progress("uploading", plan.files.size(), plan.bytes);
    std::vector<std::thread> workers;
    int n = std::min<int>(jobs, int(std::max<size_t>(1, plan.files.size())));
    std::mutex next_mu;
    // The next files for a worker: small ones in a batch (one request, and on the platform one
    // sync and one commit, for all of them), a large one alone.
    auto claim = [&](std::vector<FileUpload>& batch, std::vector<const Job*>& jobs_of) {
      batch.clear();
      jobs_of.clear();
      std::lock_guard lock(next_mu);
      uint64_t bytes = 0;
      while (next < plan.files.size() && batch.size() < kBatchFiles) {
        const Job& job = plan.files[next];
        bool small = job.size <= kBatchFileMax;
        if (!batch.empty() && (!small || bytes + job.size > kBatchBytes)) break;
        batch.push_back(FileUpload{job.local, job.remote, options, false});
        // A large file goes in parts to dlfsd: named so that `dlfs upload` run again after an
        // interruption sends only the parts the server lacks.
        if (!small) batch.back().options.resume_key = "dlfs-upload:" + std::filesystem::absolute(job.local).string() + ":" + job.remote;
        jobs_of.push_back(&job);
        bytes += job.size;
        ++next;
        if (!small) break;
      }
      return !batch.empty();
    };
    for (int w = 0; w < n; ++w)
      workers.emplace_back([&] {
        std::vector<FileUpload> batch;
        std::vector<const Job*> jobs_of;
        while (claim(batch, jobs_of)) {
          std::vector<Result<UploadResult>> results;
          if (batch.size() == 1) results.push_back(remote->upload(batch[0].local_file, batch[0].remote_path, batch[0].options));
          else results = remote->upload_files(batch);
          for (size_t k = 0; k < batch.size(); ++k) {
            const Job& job = *jobs_of[k];
            auto& r = results[k];
            if (!r) {
              std::lock_guard lock(failures_mu);
              failures.push_back(job.local + " -> " + job.remote + ": " + r.status().to_string());
            } else if (r->op == UploadOp::kSkipped) {
              ++skipped;
            } else {
              ++(r->op == UploadOp::kCreated ? created : overwritten);
              sent_bytes += r->item.size();
              std::lock_guard lock(failures_mu);
              uploaded_ids.push_back(r->item.id);
            }
            progress.add(1, job.size);
          }
        }
      });
    for (auto& w : workers) w.join();
    double secs = progress.elapsed_seconds();
    printf("uploaded %llu files (%s) in %.1f s: %llu new, %llu overwritten, %llu skipped (exist; --overwrite "
           "replaces), %zu failed\n",
           (unsigned long long)(created + overwritten), human_bytes(sent_bytes).c_str(), secs,
           (unsigned long long)created.load(), (unsigned long long)overwritten.load(),
           (unsigned long long)skipped.load(), failures.size());
  }
  if (wait_preprocessing && !uploaded_ids.empty()) {
    // Preprocessing is not part of the upload: a timeout is a warning, the items stay queued.
    auto tally = run_preprocessing(*conn, *remote, uploaded_ids, wait);
    Status s = tally ? report_preprocessing(*remote, uploaded_ids, *tally, wait.timeout) : tally.status();
    if (!s) fprintf(stderr, "dlfs upload: warning: %s\n", s.to_string().c_str());
  }
  for (const auto& f : failures) fprintf(stderr, "failed: %s\n", f.c_str());
  if (!failures.empty())
    return Status(EIO, std::to_string(failures.size()) + " of " + std::to_string(plan.files.size()) +
                           " files failed to upload");
  return {};
}

}  // namespace dlfs::cli
