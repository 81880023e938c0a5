// The reference-model test's steps (what each kind does to the core and to the model), the
// generator of programs and the shrinker (fs_model.h).
#include "support/fs_model.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
#include <random>
#include <sstream>

#include "core/paths.h"
#include "support/fs_model_run.h"

namespace dlfs::test {
namespace {

enum Kind : uint8_t { kWriteFile, kOpen, kWrite, kTruncate, kClose, kFsync, kRead, kRename, kUnlink, kMkdir, kRmdir,
                      kSetXattr, kTick, kSymlink, kKinds };
constexpr int kWeights[kKinds] = {20, 6, 10, 4, 6, 2, 4, 16, 8, 7, 4, 5, 1, 5};
constexpr const char* kParts[] = {"a", "b", "c", "d", "x"};

std::string pick_path(const std::string& root, uint32_t r) {
  std::string p = root + "/" + kParts[r % 5];
  if ((r / 5) % 3 == 0) p += std::string("/") + kParts[(r / 15) % 5];
  return p;
}

std::string bytes_of(uint32_t seed, size_t n) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = char('a' + rng() % 26);
  return s;
}


}  // namespace

void ModelRun::step(Worker& w, const ModelStep& s, int round, int index) {
  // (descriptors are opened in the thread's own folder only: a write through one is then never
  // concurrent with another thread's check of /s)
  bool shared = s.c % 5 == 0 && s.kind != kOpen && s.kind != kWrite && s.kind != kTruncate && s.kind != kClose &&
                s.kind != kFsync && s.kind != kRead;
  std::unique_lock shared_lock(shared_mu_, std::defer_lock);
  if (shared) shared_lock.lock();
  const std::string root = shared ? "/s" : w.root;
  std::string path = pick_path(root, s.a), path2 = pick_path(root, s.b);
  std::string what;
  int want = 0, got = 0;
  std::string message;  // of the last error the core answered
  auto errno_of = [&](const Status& st) {
    if (!st.is_ok()) message = st.to_string();
    return st.is_ok() ? 0 : st.err();
  };
  HeldLookups held{*this, {}};
  // The folder of a path, as path resolution finds it (a file on the way: ENOTDIR).
  auto parent = [&](const std::string& p) -> Result<Entry> {
    DLFS_ASSIGN(Entry e, resolve(parent_path(p), held));
    if (!S_ISDIR(e.attr.st_mode)) return Status(ENOTDIR, parent_path(p) + " is a file");
    return e;
  };
  if (s.kind == kWriteFile || s.kind == kOpen || s.kind == kSetXattr || (s.kind == kTruncate && w.handles.empty())) {
    // The kernel follows a symlink itself: the core never sees these by a symlink's name.
    std::lock_guard lock(model_mu_);
    if (FileRef f = model_.file(path); f && f->symlink) return;
  }
  switch (s.kind) {
    case kWriteFile:
    case kOpen: {
      bool keep = s.kind == kOpen;
      if (keep && w.handles.size() >= 3) return;
      std::string data = keep ? std::string() : bytes_of(s.b, s.b % 3000);
      FileRef f;
      bool existed;
      {
        std::lock_guard lock(model_mu_);
        existed = model_.file(path) != nullptr;
        f = model_.open_create(path, !keep, want);
      }
      what = (keep ? "open " : "write-file ") + path + " (" + std::to_string(data.size()) + " bytes)";
      if (no_open_ && existed) {
        // The kernel finds the name and opens it with no request: an O_TRUNC comes as a setattr
        // of the size, the writes and the close with fh 0.
        what += " (no open)";
        auto e = resolve(path, held);
        if (!e) {
          got = e.err();
          break;
        }
        if (!keep) {
          got = errno_of(fs_->setattr(e->ino, 0, AttrChange{.size = 0}).status());
          if (got == 0 && !data.empty()) {
            auto n = fs_->write(e->ino, 0, 0, std::span<const char>(data.data(), data.size()));
            got = n ? (*n == data.size() ? 0 : EIO) : errno_of(n.status());
          }
          if (got == 0) got = errno_of(close_flush(e->ino, 0));
          std::lock_guard lock(model_mu_);
          f->bytes = data;
        } else {
          held.inos.pop_back();  // the descriptor's node stays known while it is open
          w.handles.push_back(Handle{0, e->ino, f, path});
        }
        break;
      }
      auto dir = parent(path);
      if (!dir) {
        got = dir.err();
        break;
      }
      auto made = fs_->create(dir->ino, base_name(path), O_CREAT | (keep ? O_RDWR : O_WRONLY | O_TRUNC));
      got = errno_of(made.status());
      if (!made) break;
      held.inos.push_back(made->first.ino);
      if (!data.empty()) {
        auto n = fs_->write(made->first.ino, made->second.fh, 0, std::span<const char>(data.data(), data.size()));
        if (!n || *n != data.size()) got = n ? EIO : n.err();
        std::lock_guard lock(model_mu_);
        f->bytes = data;
      }
      if (keep) {
        held.inos.pop_back();  // the descriptor's node stays known while it is open
        w.handles.push_back(Handle{made->second.fh, made->first.ino, f, path});
      } else {
        if (Status fl = close_flush(made->first.ino, made->second.fh); !fl) got = fl.err();
        fs_->release(made->second.fh);
      }
      break;
    }
    case kWrite:
    case kTruncate:
    case kClose:
    case kFsync:
    case kRead: {
      if (w.handles.empty()) {
        if (s.kind != kTruncate) return;
        // A truncate by path.
        FileRef f;
        {
          std::lock_guard lock(model_mu_);
          f = model_.file(path);
          want = model_.lookup_err(path);
          if (!want && !f) want = EISDIR;
        }
        uint64_t size = s.b % 2000;
        what = "truncate " + path + " to " + std::to_string(size);
        auto e = resolve(path, held);
        if (!e) {
          got = errno_of(e.status());
          break;
        }
        got = errno_of(fs_->setattr(e->ino, 0, AttrChange{.size = size}).status());
        if (got == 0 && f) {
          std::lock_guard lock(model_mu_);
          f->bytes.resize(size, '\0');
        }
        break;
      }
      Handle& h = w.handles[s.a % w.handles.size()];
      // A descriptor the kernel opened without asking (fh 0) whose file was unlinked or renamed
      // over: if the core made no writer for it before, it cannot write it now (ESTALE, and the
      // model keeps the bytes as they were), nor promise what a read gives (an error, or the bytes).
      bool detached = false;
      if (h.fh == 0) {
        std::lock_guard lock(model_mu_);
        detached = !model_.reachable(h.file);
      }
      if (h.dead && (s.kind == kWrite || s.kind == kTruncate || s.kind == kFsync)) return;
      auto refused = [&] {
        if (!detached || got != ESTALE) return false;
        h.dead = true;
        want = ESTALE;
        return true;
      };
      if (s.kind == kWrite) {
        std::string data = bytes_of(s.c, 1 + s.c % 2000);
        uint64_t off;
        {
          std::lock_guard lock(model_mu_);
          off = h.file->bytes.empty() ? 0 : s.b % (h.file->bytes.size() + 1);
        }
        what = "write " + h.path + " @" + std::to_string(off) + " +" + std::to_string(data.size()) + (h.fh ? "" : " (fh 0)");
        auto n = fs_->write(h.ino, h.fh, off, std::span<const char>(data.data(), data.size()));
        got = n ? (*n == data.size() ? 0 : EIO) : errno_of(n.status());
        if (!refused()) {
          std::lock_guard lock(model_mu_);
          if (h.file->bytes.size() < off + data.size()) h.file->bytes.resize(off + data.size(), '\0');
          h.file->bytes.replace(off, data.size(), data);
        }
      } else if (s.kind == kTruncate) {
        uint64_t size = s.b % 3000;
        what = "ftruncate " + h.path + " to " + std::to_string(size) + (h.fh ? "" : " (fh 0)");
        got = errno_of(fs_->setattr(h.ino, h.fh, AttrChange{.size = size}).status());
        if (!refused()) {
          std::lock_guard lock(model_mu_);
          h.file->bytes.resize(size, '\0');
        }
      } else if (s.kind == kClose) {
        what = "close " + h.path + (h.fh ? "" : " (fh 0)");
        got = errno_of(close_flush(h.ino, h.fh));
        if (h.fh) fs_->release(h.fh);
        held.inos.push_back(h.ino);
        w.handles.erase(w.handles.begin() + std::ptrdiff_t(&h - w.handles.data()));
      } else if (s.kind == kFsync) {
        what = "fsync " + h.path + (h.fh ? "" : " (fh 0)");
        got = errno_of(fs_->fsync(h.ino, h.fh));
      } else {
        what = "read " + h.path + (h.fh ? "" : " (fh 0)");
        auto read = read_all(h.ino, h.fh);
        std::string model_bytes;
        {
          std::lock_guard lock(model_mu_);
          model_bytes = h.file->bytes;
        }
        got = errno_of(read.status());
        if (!read && (detached || h.dead)) want = got;  // (what the core cannot promise)
        if (read && *read != model_bytes) {
          size_t at = 0;
          while (at < read->size() && at < model_bytes.size() && (*read)[at] == model_bytes[at]) ++at;
          return fail(what + " through its descriptor: " + std::to_string(read->size()) + " bytes, the model " +
                      std::to_string(model_bytes.size()) + "; they differ from byte " + std::to_string(at));
        }
      }
      break;
    }
    case kRename: {
      {
        std::lock_guard lock(model_mu_);
        want = model_.rename(path, path2);
      }
      what = "rename " + path + " -> " + path2;
      auto from = parent(path);
      auto to = from ? parent(path2) : from;
      if (!from || !to) {
        got = from ? to.err() : from.err();
        break;
      }
      got = errno_of(fs_->rename(from->ino, base_name(path), to->ino, base_name(path2), 0));
      break;
    }
    case kUnlink:
    case kMkdir:
    case kRmdir: {
      {
        std::lock_guard lock(model_mu_);
        want = s.kind == kUnlink ? model_.unlink(path) : s.kind == kMkdir ? model_.mkdir(path) : model_.rmdir(path);
      }
      what = std::string(s.kind == kUnlink ? "unlink " : s.kind == kMkdir ? "mkdir " : "rmdir ") + path;
      auto dir = parent(path);
      if (!dir) {
        got = dir.err();
        break;
      }
      std::string name = base_name(path);
      got = s.kind == kUnlink ? errno_of(fs_->unlink(dir->ino, name))
            : s.kind == kMkdir ? errno_of(fs_->mkdir(dir->ino, name).status())
                               : errno_of(fs_->rmdir(dir->ino, name));
      break;
    }
    case kSetXattr: {
      std::string key = std::string("k") + kParts[s.b % 3], value = "v" + std::to_string(s.c) + "x";
      FileRef f;
      {
        std::lock_guard lock(model_mu_);
        f = model_.file(path);
      }
      if (!f) return;  // folders keep metadata too, but the model follows files only
      what = "setxattr " + path + " user.meta." + key + "=" + value;
      auto e = resolve(path, held);
      got = e ? errno_of(fs_->setxattr(e->ino, "user.meta." + key, value, 0)) : e.err();
      if (got == 0) {
        std::lock_guard lock(model_mu_);
        f->meta[key] = value;
      }
      break;
    }
    case kSymlink: {
      std::string target = (s.b % 2 ? "../" : "") + bytes_of(s.b, 1 + s.b % 40);
      {
        std::lock_guard lock(model_mu_);
        want = model_.symlink(path, target);
      }
      what = "symlink " + path + " -> " + target;
      auto dir = parent(path);
      if (!dir) {
        got = dir.err();
        break;
      }
      auto made = fs_->symlink(target, dir->ino, base_name(path));
      got = errno_of(made.status());
      if (made) held.inos.push_back(made->ino);
      break;
    }
    case kTick:
      what = "time passes (listings expire)";
      clock_.advance_ms(31000);
      break;
  }
  std::string line = "r" + std::to_string(round) + " #" + std::to_string(index) + " " + what + " = " + err_name(got);
  if (got != want) line += " (the model: " + err_name(want) + ")" + (message.empty() ? "" : ": " + message);
  note(w, line);
  if (got != want) return fail(line);
  check(root, index % o_.check_bytes_every == 0 || shared, line);
}

ModelOutcome run_program(const ModelProgram& program, const ModelOptions& options) {
  return ModelRun(options).run(program);
}

ModelProgram generate_program(const ModelOptions& options) {
  std::mt19937_64 rng(options.seed);
  int total = 0;
  for (int w : kWeights) total += w;
  ModelProgram program(size_t(options.rounds), std::vector<std::vector<ModelStep>>(size_t(options.threads)));
  for (auto& round : program)
    for (auto& steps : round)
      for (int i = 0; i < options.steps; ++i) {
        int pick = int(rng() % uint64_t(total));
        uint8_t kind = 0;
        while (pick >= kWeights[kind]) pick -= kWeights[kind++];
        steps.push_back(ModelStep{kind, uint32_t(rng()), uint32_t(rng()), uint32_t(rng())});
      }
  return program;
}

std::string encode_program(const ModelProgram& program) {
  std::ostringstream out;
  for (size_t r = 0; r < program.size(); ++r)
    for (size_t t = 0; t < program[r].size(); ++t)
      for (const ModelStep& s : program[r][t])
        out << r << "." << t << ":" << int(s.kind) << "," << s.a << "," << s.b << "," << s.c << " ";
  return out.str();
}

ModelProgram decode_program(const std::string& text, const ModelOptions& options) {
  ModelProgram program(size_t(options.rounds), std::vector<std::vector<ModelStep>>(size_t(options.threads)));
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    size_t r, t;
    int kind;
    ModelStep s;
    if (std::sscanf(word.c_str(), "%zu.%zu:%d,%u,%u,%u", &r, &t, &kind, &s.a, &s.b, &s.c) != 6) continue;
    if (r >= program.size() || t >= program[r].size()) continue;
    s.kind = uint8_t(kind);
    program[r][t].push_back(s);
  }
  return program;
}

size_t program_size(const ModelProgram& program) {
  size_t n = 0;
  for (auto& round : program)
    for (auto& steps : round) n += steps.size();
  return n;
}

std::pair<ModelProgram, ModelOutcome> shrink_program(ModelProgram program, const ModelOptions& options,
                                                     int budget_runs, int tries) {
  ModelOutcome last = run_program(program, options);
  int runs = 1;
  auto fails = [&](const ModelProgram& candidate) {
    for (int t = 0; t < tries && runs < budget_runs; ++t, ++runs) {
      ModelOutcome o = run_program(candidate, options);
      if (!o.ok()) {
        last = std::move(o);
        return true;
      }
    }
    return false;
  };
  // Drop chunks of each thread's steps, halving the chunk size (delta debugging).
  for (size_t chunk = std::max<size_t>(program_size(program) / 4, 1); runs < budget_runs; chunk /= 2) {
    bool progress = true;
    while (progress && runs < budget_runs) {
      progress = false;
      for (size_t r = 0; r < program.size(); ++r)
        for (size_t t = 0; t < program[r].size(); ++t)
          for (size_t start = 0; start < program[r][t].size() && runs < budget_runs;) {
            ModelProgram candidate = program;
            auto& mine = candidate[r][t];
            size_t end = std::min(mine.size(), start + chunk);
            mine.erase(mine.begin() + std::ptrdiff_t(start), mine.begin() + std::ptrdiff_t(end));
            if (fails(candidate)) {
              program = std::move(candidate);
              progress = true;
            } else {
              start = end;
            }
          }
    }
    if (chunk == 1) break;
  }
  return {program, last};
}

}  // namespace dlfs::test