// The reference-model runner: set-up, the checks of the core and of the platform against the
// model, and the rounds of a run (fs_model_run.h).
#include "support/fs_model_run.h"

#include <fcntl.h>

#include <sstream>
#include <thread>

#include "core/json_util.h"
#include "core/posix_attrs.h"
#include "core/paths.h"

namespace dlfs::test {

std::string err_name(int e) { return e == 0 ? "ok" : std::string(strerrorname_np(e) ? strerrorname_np(e) : "?"); }

void ModelRun::fail(const std::string& why) {
  std::lock_guard lock(out_mu_);
  if (failed_.exchange(true)) return;
  out_.failure = why;
}

void ModelRun::note(const Worker& w, const std::string& line) {
  std::lock_guard lock(out_mu_);
  out_.trace.push_back("t" + std::to_string(w.index) + " " + line);
  ++out_.steps;
}

Status ModelRun::make_core(const std::string& cache_name) {
  fs_.reset();
  cache_.reset();
  auto cache = MetadataCache::open({dir_.sub(cache_name), cache_key("model", inner_->dataset().id), 1ull << 30, &clock_});
  if (!cache) return cache.status();
  cache_ = std::move(cache).value();
  FsOptions fo;
  fo.clock = &clock_;
  fo.spool = spool_.get();
  fo.upload_workers = 3;
  fo.max_attempts = 1000;
  fo.retry_base_ms = 1;
  fo.retry_max_ms = 4;
  fo.preprocess_polls = 0;
  fo.no_open = no_open_;
  // Writers let go when idle between steps on every fifth seed (the sweeper races the steps).
  fo.implicit_idle_ms = o_.seed % 5 == 0 ? 20 : 60000;
  // Access times go as soon as a worker is free on half the seeds, held a few ms on the rest:
  // either way they race the steps (held a second, as mounts do, they would seldom be sent).
  fo.access_quiet_ms = (o_.seed / 2) % 2 ? 0 : 5;
  // Pages of one item on every third seed: folders of a few items are fetched as several range
  // walks at once (fs/listing_fetch.h), under the chaos of lost and late answers.
  if (o_.seed % 3 == 0) fo.page_size = 1;
  if (o_.seed % 2) {  // memory bounds small enough to be hit all the time: packing, evictions
    fo.hot_items = 2;
    fo.memory_items = 6;
    fo.max_pending = 8;
    fo.max_implicit_writers = 2;  // (writers let go as others are made, the oldest first)
  }
  auto made = Filesystem::create(*chaos_, cache_.get(), nullptr, fo);
  if (!made) return made.status();
  fs_ = std::move(made).value();
  fs_->start_uploads();
  return {};
}

Status ModelRun::setup() {
  if (o_.backend == ModelBackend::kFake) {
    fake_ = std::make_unique<FakeRemote>("model");
    inner_ = fake_.get();
  } else {
    DLFS_ASSIGN(conn_, LocalConnection::open(LocalOptions{dir_.sub("store")}));
    DLFS_TRY(conn_->create_dataset("model").status());
    DLFS_ASSIGN(platform_remote_, conn_->open("model"));
    inner_ = platform_remote_.get();
  }
  ChaosOptions chaos = o_.chaos;
  chaos.seed = o_.seed * 7919 + 13;
  chaos_ = std::make_unique<ChaosRemote>(*inner_, chaos);
  SpoolOptions so;
  so.dir = dir_.sub("spool");
  so.clock = &clock_;
  DLFS_ASSIGN(spool_, UploadSpool::open(so));
  DLFS_TRY(make_core("cache"));
  for (int t = 0; t < o_.threads; ++t) {
    Worker w{t, "/t" + std::to_string(t), {}};
    DLFS_TRY(fs_->mkdir(kRootIno, w.root.substr(1)).status());
    model_.mkdir(w.root);
    workers_.push_back(std::move(w));
  }
  DLFS_TRY(fs_->mkdir(kRootIno, "s").status());
  model_.mkdir("/s");
  return {};
}

Result<Entry> ModelRun::resolve(const std::string& path, HeldLookups& held) {
  Entry e;
  e.ino = kRootIno;
  e.attr.st_mode = S_IFDIR;
  for (const std::string& part : split_path(path)) {
    auto next = fs_->lookup(e.ino, part);
    if (!next) return next.status();
    held.inos.push_back(next->ino);
    e = *next;
  }
  return e;
}

void ModelRun::forget_all(std::vector<Ino>& inos) {
  for (Ino ino : inos) fs_->forget(ino, 1);
  inos.clear();
}

Result<std::string> ModelRun::read_all(Ino ino, uint64_t fh) {
  std::string out;
  std::vector<char> buf(4096);
  for (;;) {
    DLFS_ASSIGN(size_t n, fs_->read(ino, fh, out.size(), std::span<char>(buf.data(), buf.size())));
    if (n == 0) return out;
    out.append(buf.data(), n);
  }
}

Status ModelRun::list_fs(Ino ino, const std::string& path, std::map<std::string, bool>& out, HeldLookups& held) {
  DLFS_ASSIGN(uint64_t dh, fs_->opendir(ino));
  std::vector<std::string> names;
  off_t offset = 0;
  for (;;) {
    size_t before = names.size();
    Status s = fs_->readdir(ino, dh, offset, false, [&](const DirEntry& de) {
      if (de.name != "." && de.name != "..") names.emplace_back(de.name);
      offset = de.next_offset;
      return true;
    });
    if (!s) {
      fs_->releasedir(dh);
      return s;
    }
    if (names.size() == before) break;
  }
  fs_->releasedir(dh);
  for (const std::string& name : names) {
    std::string child = join_path(path, name);
    if (out.count(child)) return Status(EEXIST, "listed twice: " + child);
    auto e = fs_->lookup(ino, name);
    if (!e) return e.status().wrap("lookup of listed " + child);
    held.inos.push_back(e->ino);
    bool is_dir = S_ISDIR(e->attr.st_mode);
    out[child] = is_dir;
    if (is_dir) DLFS_TRY(list_fs(e->ino, child, out, held));
  }
  return {};
}

void ModelRun::check(const std::string& root, bool bytes, const std::string& after) {
  std::map<std::string, bool> want;
  std::map<std::string, FileRef> files;
  {
    std::lock_guard lock(model_mu_);
    want = model_.below(root);
    for (auto& [p, is_dir] : want)
      if (!is_dir) files[p] = model_.file(p);
  }
  HeldLookups held{*this, {}};
  auto top = resolve(root, held);
  if (!top) return fail("after " + after + ": " + root + ": " + top.status().to_string());
  std::map<std::string, bool> got;
  if (Status s = list_fs(top->ino, root, got, held); !s)
    return fail("after " + after + ": listing " + root + ": " + s.to_string());
  if (got != want) {
    std::ostringstream why;
    why << "after " << after << ": " << root << " shows";
    for (auto& [p, d] : got) why << " " << p << (d ? "/" : "");
    why << " where the model has";
    for (auto& [p, d] : want) why << " " << p << (d ? "/" : "");
    why << "; the platform has";
    if (auto page = inner_->list(root, "", 1000))
      for (auto& item : page->items) why << " " << item.filename << (item.is_dir() ? "/" : "");
    why << "; pending uploads " << fs_->upload_status().dump();
    return fail(why.str());
  }
  for (auto& [p, f] : files) {
    std::string model_bytes;
    std::map<std::string, std::string> model_meta;
    {
      std::lock_guard lock(model_mu_);
      model_bytes = f->bytes;
      model_meta = f->meta;
    }
    auto e = resolve(p, held);
    if (!e) return fail("after " + after + ": " + p + ": " + e.status().to_string());
    if (S_ISLNK(e->attr.st_mode) != f->symlink)
      return fail("after " + after + ": " + p + (f->symlink ? " is no symlink" : " is a symlink") + "; the model's is " +
                  (f->symlink ? "one" : "not"));
    if (f->symlink) {
      auto target = fs_->readlink(e->ino);
      if (!target || *target != model_bytes)
        return fail("after " + after + ": " + p + " links to " + (target ? *target : target.status().to_string()) +
                    ", the model to " + model_bytes);
    }
    if (uint64_t(e->attr.st_size) != model_bytes.size())
      return fail("after " + after + ": " + p + " has size " + std::to_string(e->attr.st_size) + ", the model " +
                  std::to_string(model_bytes.size()));
    if (bytes && !f->symlink) {
      uint64_t fh = 0;  // (no_open: read as the kernel reads, with no open)
      if (!no_open_) {
        auto opened = fs_->open(e->ino, O_RDONLY);
        if (!opened) return fail("after " + after + ": open " + p + ": " + opened.status().to_string());
        fh = opened->fh;
      }
      auto read = read_all(e->ino, fh);
      if (fh) fs_->release(fh);
      else (void)close_flush(e->ino, 0);  // (the close)
      if (!read) return fail("after " + after + ": read " + p + ": " + read.status().to_string());
      if (*read != model_bytes)
        return fail("after " + after + ": " + p + " reads '" + read->substr(0, 40) + "' (" + std::to_string(read->size()) +
                    " bytes), the model '" + model_bytes.substr(0, 40) + "'");
    }
    for (auto& [key, value] : model_meta) {
      auto v = fs_->getxattr(e->ino, "user.meta." + key);
      if (!v || *v != value)
        return fail("after " + after + ": " + p + " user.meta." + key + " = " + (v ? *v : v.status().to_string()) +
                    ", the model " + value);
    }
  }
}

void ModelRun::drop_handles(bool release) {
  for (Worker& w : workers_) {
    if (release)
      for (Handle& h : w.handles) {
        (void)close_flush(h.ino, h.fh);
        if (h.fh) fs_->release(h.fh);
        fs_->forget(h.ino, 1);
      }
    w.handles.clear();
  }
}

void ModelRun::check_platform() {
  // The platform itself (no chaos, no core): every folder and file of the model, byte for byte,
  // with its user metadata, and nothing else.
  std::map<std::string, bool> got;
  std::map<std::string, Item> items;
  std::vector<std::string> dirs{"/"};
  while (!dirs.empty() && !failed()) {
    std::string d = dirs.back();
    dirs.pop_back();
    std::string after;
    do {
      auto page = inner_->list(d, after, 1000);
      if (!page) return fail("platform: listing " + d + ": " + page.status().to_string());
      for (const Item& item : page->items) {
        got[item.filename] = item.is_dir();
        items[item.filename] = item;
        if (item.is_dir()) dirs.push_back(item.filename);
      }
      after = page->next_after;
    } while (!after.empty());
  }
  std::lock_guard lock(model_mu_);
  auto want = model_.below("/");
  if (got != want) {
    std::ostringstream why;
    why << "the platform has";
    for (auto& [p, d] : got) why << " " << p << (d ? "/" : "");
    why << " where the model has";
    for (auto& [p, d] : want) why << " " << p << (d ? "/" : "");
    return fail(why.str());
  }
  for (auto& [p, is_dir] : want) {
    if (is_dir) continue;
    FileRef f = model_.file(p);
    const Item& item = items[p];
    std::string bytes(item.size(), '\0');
    auto n = inner_->read(item, 0, std::span<char>(bytes.data(), bytes.size()));
    if (!n || bytes.substr(0, *n) != f->bytes) return fail("the platform's " + p + " differs from the model");
    if (symlink_target(item) != (f->symlink ? std::optional(f->bytes) : std::nullopt))
      return fail("the platform's " + p + " has system metadata " + item.system().dump() + "; the model's " +
                  (f->symlink ? "is a symlink to " + f->bytes : std::string("is a file")));
    json user = item.user();
    for (auto& [key, value] : f->meta) {
      const json* v = find_dotted(user, key);
      if (!v || !v->is_string() || v->get<std::string>() != value)
        return fail("the platform's " + p + " has metadata.user " + user.dump() + "; the model has " + key + "=" + value);
    }
  }
}

ModelOutcome ModelRun::run(const ModelProgram& program) {
  if (Status s = setup(); !s) {
    out_.failure = "setup: " + s.to_string();
    return out_;
  }
  for (size_t round = 0; round < program.size() && !failed(); ++round) {
    if (round > 0) {
      // A remount: the core goes (open descriptors with it), a new one resumes the journal.
      drop_handles(false);
      if (Status s = make_core("cache"); !s) return fail("remount: " + s.to_string()), out_;
      for (Worker& w : workers_) check(w.root, true, "the remount of round " + std::to_string(round));
      check("/s", true, "the remount of round " + std::to_string(round));
    }
    std::vector<std::thread> threads;
    for (size_t t = 0; t < workers_.size() && t < program[round].size(); ++t)
      threads.emplace_back([&, t] {
        const auto& steps = program[round][t];
        for (size_t i = 0; i < steps.size() && !failed(); ++i) step(workers_[t], steps[i], int(round), int(i));
      });
    for (auto& th : threads) th.join();
  }
  if (!failed()) {
    drop_handles(true);
    if (Status s = fs_->fsyncdir(kRootIno); !s) fail("the final sync: " + s.to_string());
    json status = fs_->upload_status();
    if (!status["failed"].empty()) fail("failed uploads after the final sync: " + status["failed"].dump());
  }
  chaos_->set_enabled(false);
  if (!failed()) {
    for (Worker& w : workers_) check(w.root, true, "the final sync");
    check("/s", true, "the final sync");
  }
  if (!failed()) check_platform();
  if (!failed()) {
    // A fresh client of the platform (new cache, the spool now empty) sees the model too.
    if (Status s = make_core("cache-fresh"); !s) fail("the fresh mount: " + s.to_string());
    for (Worker& w : workers_) check(w.root, true, "a fresh mount");
    check("/s", true, "a fresh mount");
  }
  fs_.reset();
  out_.remote_calls = chaos_->counters().calls;
  out_.refused = chaos_->counters().refused;
  out_.lost = chaos_->counters().lost;
  return out_;
}

}  // namespace dlfs::test
