// CSV bulk import (Platform::import_csv): the file is read in chunks through CsvRecordReader;
// link rows are committed in batches (one catalogue commit per batch; every check of a row comes
// before its first write, so a refused row has written nothing), which makes 100,000 link rows a
// matter of seconds; rows holding bytes (image_bytes, or fetched from their URL) are uploads of
// their own. Every item is committed whole: an interrupted import leaves rows done or not done,
// and a re-run finds the done ones unchanged.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/file_io.h"
#include "core/json_util.h"
#include "core/lmdb.h"
#include "core/paths.h"
#include "platform/catalog.h"
#include "platform/commands.h"
#include "platform/csv_rows.h"
#include "platform/group_commit.h"
#include "platform/platform.h"
#include "platform/preprocess.h"
#include "platform/storage.h"

namespace dlfs {

// What a row did: made its item, changed the metadata of the one already there (a re-run with
// new item_metadata or item_description), or nothing (the same item is there). (These two are outside
// the anonymous namespace: CsvImporter, a friend of Platform, holds them.)
enum class CsvRowOutcome { kCreated, kUpdated, kUnchanged };

// Closes a descriptor, and removes a scratch file, when leaving.
struct CsvScratchFile {
  int fd = -1;
  std::string path;
  ~CsvScratchFile() {
    if (fd >= 0) ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
  }
};

namespace {

constexpr size_t kLinkBatch = 1000;        // link rows per catalogue commit
constexpr size_t kReadChunk = 64 * 1024;   // bytes of the file fed to the parser at a time
// A catalogue write failing inside a batch of link rows (the batch is undone, the import stops).
constexpr int kWriteFailed = EIO;

Status os_error(const std::string& what) {
  int err = errno;
  return Status(err, what, strerror(err));
}

}  // namespace

void CsvImportReport::fail(uint64_t line, std::string why) {
  ++failed;
  if (errors.size() < kMaxErrors) errors.emplace_back(line, std::move(why));
}

json CsvImportReport::to_json() const {
  json errs = json::array();
  for (const auto& [line, why] : errors) errs.push_back({{"line", line}, {"reason", why}});
  return {{"folder", folder},   {"rows", rows},     {"created", created},   {"updated", updated},  {"unchanged", unchanged},
          {"failed", failed},   {"errors", errs},   {"warnings", warnings}};
}

// Turns records into items (Platform::import_csv). A friend of Platform.
class CsvImporter {
 public:
  CsvImporter(Platform& p, std::string dataset_id, std::string folder, std::string user, CsvImportReport& report)
      : p_(p), dataset_id_(std::move(dataset_id)), folder_(std::move(folder)), user_(std::move(user)),
        report_(report) {}

  // Makes the folder if no row did (a file of no rows, or of bad ones, still makes it).
  Status make_folder() {
    return p_.commits_->run(*p_.catalog_, [&](LmdbTxn& txn) -> Status {
      DLFS_ASSIGN(auto ds, p_.catalog_->dataset(txn, dataset_id_));
      if (!ds) return Status(ENOENT, "no dataset '" + dataset_id_ + "'");
      return p_.ensure_dir(txn, *ds, folder_, user_, p_.options_.clock->now_ms()).status();
    });
  }

  // One record; an error answered stops the import (the catalogue failed), a bad row does not.
  Status add(const CsvRecord& record) {
    ++report_.rows;
    auto row = check_csv_record(record);
    if (!row) {
      report_.fail(record.line, row.status().message());
      return {};
    }
    if (row->kind == CsvRowKind::kLink) {
      if (Status s = check_link_target(row->url); !s) {
        report_.fail(row->line, s.message());
        return {};
      }
      links_.push_back(std::move(*row));
      return links_.size() >= kLinkBatch ? flush() : Status();
    }
    // In file order with the links before it (two rows of one name meet as in the file).
    DLFS_TRY(flush());
    auto done = row->kind == CsvRowKind::kBytes ? import_bytes(*row) : import_fetched(*row);
    count(row->line, done);
    return {};
  }

  // Commits the link rows pending.
  Status flush() {
    if (links_.empty()) return {};
    std::vector<Result<CsvRowOutcome>> outcomes(links_.size(), Status(EIO, "not committed"));
    Status group = p_.commits_->run(*p_.catalog_, [&](LmdbTxn& txn) -> Status {
      for (size_t i = 0; i < links_.size(); ++i) {
        outcomes[i] = link_in_txn(txn, links_[i]);
        // A row is refused before it writes anything; a failed write is the catalogue's, and
        // undoes the batch.
        if (!outcomes[i] && outcomes[i].err() == kWriteFailed) return outcomes[i].status();
      }
      return {};
    });
    if (!group) return group.wrap("the catalogue refused a batch of link rows");
    for (size_t i = 0; i < links_.size(); ++i) count(links_[i].line, outcomes[i]);
    links_.clear();
    p_.preprocessor_->notify();
    return {};
  }

 private:
  std::string path_of(const CsvRow& row) const { return join_path(folder_, row.name); }

  UploadOptions upload_options(const CsvRow& row) const {
    UploadOptions options;
    options.mode = UploadMode::kSkip;
    options.user = user_;
    if (row.user_metadata.is_object()) options.metadata = {{"user", row.user_metadata}};
    options.description = row.description;
    return options;
  }

  void count(uint64_t line, const Result<CsvRowOutcome>& outcome) {
    if (!outcome) report_.fail(line, outcome.status().to_string());
    else if (*outcome == CsvRowOutcome::kCreated) ++report_.created;
    else if (*outcome == CsvRowOutcome::kUpdated) ++report_.updated;
    else ++report_.unchanged;
  }

  // The row's item_metadata and item_description as a patch of its item (null: none).
  static json row_patch(const CsvRow& row) {
    json patch = json::object();
    if (row.user_metadata.is_object() && !row.user_metadata.empty()) patch["metadata"] = {{"user", row.user_metadata}};
    if (row.description) patch["description"] = *row.description;
    return patch.empty() ? json() : patch;
  }
  // Whether the row's patch would change an item already there (a re-run with new metadata).
  static bool patch_changes(const Item& item, const json& patch) {
    if (patch.is_null()) return false;
    Item after = item;
    if (auto m = patch.find("metadata"); m != patch.end()) merge_patch(after.metadata, *m);
    if (auto d = patch.find("description"); d != patch.end()) after.description = d->get<std::string>();
    return after.metadata != item.metadata || after.description != item.description;
  }

  static Status collision(const std::string& path, const Item& there) {
    return Status(EEXIST, path + " exists and is another " + (there.is_dir() ? "folder" : "item") +
                              " (a different link or different bytes): rename the row or remove it");
  }

  // Every check comes before the first write (a nested transaction per row would cost more than
  // the row: LMDB allocates megabytes for each): a refused row has written nothing; a write that
  // fails fails the batch (kWriteFailed).
  Result<CsvRowOutcome> link_in_txn(LmdbTxn& txn, const CsvRow& row) {
    std::string path = path_of(row);
    DLFS_ASSIGN(auto there, p_.catalog_->item_at(txn, dataset_id_, path));
    if (there) {
      if (!there->is_file() || !there->is_link() || there->link_url() != row.url) return collision(path, *there);
      json patch = row_patch(row);
      if (!patch_changes(*there, patch)) return CsvRowOutcome::kUnchanged;
      std::vector<std::string> no_blobs;  // (a metadata patch removes no binary)
      auto patched = p_.apply_patch(txn, *there, patch, false, user_, {}, no_blobs);
      if (!patched) return Status(kWriteFailed, "updating the row's item: " + patched.status().to_string());
      return CsvRowOutcome::kUpdated;
    }
    DLFS_ASSIGN(auto ds, p_.catalog_->dataset(txn, dataset_id_));
    if (!ds) return Status(ENOENT, "no dataset '" + dataset_id_ + "' (deleted during the import)");
    DLFS_TRY(p_.check_room(txn, *ds, 1));
    json link = make_link_json(row.url, row.mimetype);
    std::string bytes = link.dump();
    StoredBlob blob{inline_blob_key(bytes), bytes.size()};
    std::string old_key;
    std::vector<std::string> replaced;
    auto up = p_.put_upload_in_txn(txn, dataset_id_, path, upload_options(row), blob, link["metadata"], nullptr,
                                   old_key, replaced);
    if (!up) return Status(kWriteFailed, "writing the row's item: " + up.status().to_string());
    return up->op == UploadOp::kCreated ? CsvRowOutcome::kCreated : CsvRowOutcome::kUnchanged;
  }

  // An item already at the row's path: unchanged (or its metadata updated) when `same` says
  // so, else a collision; nullopt when there is none.
  Result<std::optional<CsvRowOutcome>> existing(const CsvRow& row, const std::function<Result<bool>(const Item&)>& same) {
    auto there = p_.get_item_by_path(dataset_id_, path_of(row));
    if (!there) {
      if (there.err() == ENOENT) return std::optional<CsvRowOutcome>();
      return there.status();
    }
    if (there->is_file()) {
      DLFS_ASSIGN(bool is_same, same(*there));
      if (is_same) {
        json patch = row_patch(row);
        if (!patch_changes(*there, patch)) return std::optional(CsvRowOutcome::kUnchanged);
        DLFS_TRY(p_.patch_item(there->id, patch, false, user_).status());
        return std::optional(CsvRowOutcome::kUpdated);
      }
    }
    return collision(path_of(row), *there);
  }

  Result<CsvRowOutcome> upload(const CsvRow& row, const std::function<Result<StoredBlob>(const Dataset&, const std::string&)>& put,
                      const json& system) {
    DLFS_ASSIGN(UploadResult up, p_.upload(dataset_id_, path_of(row), upload_options(row), put, &system));
    if (up.op == UploadOp::kSkipped) return Status(EEXIST, path_of(row) + " was made meanwhile by someone else");
    return CsvRowOutcome::kCreated;
  }

  json system_of(const CsvRow& row) const {
    json system = json::object();
    if (!row.mimetype.empty()) system["mimetype"] = row.mimetype;
    if (!row.url.empty()) system["sourceUrl"] = row.url;  // what a re-run compares
    return system;
  }

  Result<CsvRowOutcome> import_bytes(const CsvRow& row) {
    DLFS_ASSIGN(auto there, existing(row, [&](const Item& item) -> Result<bool> {
                  if (item.is_link() || item.size() != row.bytes.size()) return false;
                  std::string stored(row.bytes.size(), '\0');
                  DLFS_ASSIGN(size_t n, p_.read(item, 0, std::span<char>(stored.data(), stored.size())));
                  stored.resize(n);
                  return stored == row.bytes;
                }));
    if (there) return *there;
    return upload(row, [&](const Dataset& ds, const std::string& path) {
      return p_.put_blob(ds, path, nullptr, row.bytes);
    }, system_of(row));
  }

  // action upload: the URL's bytes, fetched through the platform's link guard.
  Result<CsvRowOutcome> import_fetched(const CsvRow& row) {
    DLFS_ASSIGN(auto there, existing(row, [&](const Item& item) -> Result<bool> {
                  return !item.is_link() && string_field(item.system(), "sourceUrl") == row.url;
                }));
    if (there) return *there;
    DLFS_TRY(check_scheme(p_.link_policy(), row.url));
    std::error_code ec;
    std::string dir = std::filesystem::temp_directory_path(ec).string();
    CsvScratchFile scratch{-1, (ec ? std::string("/tmp") : dir) + "/dlfs-csv-fetch-XXXXXX"};
    scratch.fd = ::mkstemp(scratch.path.data());
    if (scratch.fd < 0) {
      scratch.path.clear();
      return os_error("cannot make a scratch file for a fetched URL");
    }
    // One request for the whole body, whatever the server does with Range; bounded by the
    // link policy's max_bytes.
    DLFS_TRY(p_.link_fetcher().fetch_all(row.url, [&](std::string_view bytes) {
      return write_all(scratch.fd, bytes.data(), bytes.size());
    }));
    return upload(row, [&](const Dataset& ds, const std::string& path) {
      return p_.put_blob(ds, path, &scratch.path, {});
    }, system_of(row));
  }

  Platform& p_;
  std::string dataset_id_, folder_, user_;
  CsvImportReport& report_;
  std::vector<CsvRow> links_;  // pending, at most kLinkBatch
};

Result<CsvImportReport> Platform::import_csv(std::string_view dataset_id, const std::string& csv_file,
                                             std::string_view folder,
                                             std::string_view user,
                                             const std::function<bool(const CsvImportReport&, int)>& progress) {
  DLFS_ASSIGN(Dataset ds, get_dataset(dataset_id));
  CsvImportReport report;
  DLFS_ASSIGN(report.folder, normalize_path(folder));
  CsvScratchFile in{::open(csv_file.c_str(), O_RDONLY | O_CLOEXEC), {}};
  if (in.fd < 0) return os_error("cannot open " + csv_file);
  struct stat st {};
  if (::fstat(in.fd, &st) != 0) return os_error("cannot stat " + csv_file);

  CsvImporter importer(*this, ds.id, report.folder, std::string(user), report);
  Status stopped;  // the catalogue's failure, which stops the import
  CsvRecordReader reader([&](CsvRecord&& record) {
    stopped = importer.add(record);
    return stopped.is_ok();
  });
  std::string chunk(kReadChunk, '\0');
  uint64_t done = 0;
  Status parsed;
  for (;;) {
    ssize_t n = ::read(in.fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("cannot read " + csv_file);
    if (n == 0) {
      parsed = reader.finish();
      break;
    }
    done += uint64_t(n);
    parsed = reader.feed(std::string_view(chunk.data(), size_t(n)));
    if (!parsed) break;
    int percent = st.st_size > 0 ? int(std::min<uint64_t>(99, 100 * done / uint64_t(st.st_size))) : 99;
    if (progress && !progress(report, percent)) return Status(ECANCELED, "the CSV import was stopped");
  }
  DLFS_TRY(stopped);
  if (!parsed && !reader.header_done()) return parsed;  // not a file of rows at all
  // A file that is not CSV from some line on: the rows before it are imported, the rest is not.
  if (!parsed) report.fail(reader.line(), parsed.message() + "; the rest of the file is not imported");
  DLFS_TRY(importer.flush());
  DLFS_TRY(importer.make_folder());  // (made with the first row's item, or now for a file without rows)
  report.warnings.insert(report.warnings.begin(), reader.warnings().begin(), reader.warnings().end());
  if (report.failed > report.errors.size())
    report.warnings.push_back("only the first " + std::to_string(report.errors.size()) + " of the " +
                              std::to_string(report.failed) + " failed rows are listed");
  spdlog::info("CSV import of {} into {}:{}: {} rows, {} created, {} updated, {} unchanged, {} failed", csv_file,
               ds.name, report.folder, report.rows, report.created, report.updated, report.unchanged, report.failed);
  if (progress) progress(report, 100);
  return report;
}

Result<Command> Platform::start_csv_import(std::string_view dataset_id, std::string csv_file, std::string folder,
                                           std::string_view user, bool remove_file) {
  CsvScratchFile owned{-1, remove_file ? csv_file : std::string()};  // until the command has it
  DLFS_ASSIGN(Dataset ds, get_dataset(dataset_id));
  json spec = {{"datasetId", ds.id}, {"folder", folder}};
  owned.path.clear();
  return commands_->start("csv-import", spec,
                          [this, id = ds.id, file = std::move(csv_file), folder = std::move(folder),
                           who = std::string(user), remove_file](CommandContext& ctx) -> Result<json> {
                            CsvScratchFile done_with{-1, remove_file ? file : std::string()};
                            DLFS_ASSIGN(CsvImportReport r,
                                        import_csv(id, file, folder, who, [&](const CsvImportReport& so_far, int pct) {
                                          ctx.progress(pct, so_far.to_json());
                                          return !ctx.stopping();
                                        }));
                            return r.to_json();
                          });
}

}  // namespace dlfs
