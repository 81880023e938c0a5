#include "platform/commands.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/clock.h"
#include "core/ids.h"

namespace dlfs {
namespace {

int64_t now_ms() { return SystemClock::instance().now_ms(); }

constexpr int64_t kKeepFinishedMs = 24 * 3600 * 1000;

bool process_alive(int64_t pid) { return pid > 0 && (kill(pid_t(pid), 0) == 0 || errno == EPERM); }

}  // namespace

json command_record(const Command& c) {
  json doc = command_to_json(c);
  doc["ownerPid"] = c.owner_pid;
  return doc;
}

Result<Command> command_from_record(const json& doc) {
  if (!doc.is_object()) return Status(EIO, "a command's record is not an object");
  Command c;
  c.id = string_field(doc, "id");
  c.type = string_field(doc, "type");
  c.status = string_field(doc, "status");
  if (c.id.empty() || c.type.empty() || c.status.empty()) return Status(EIO, "a command's record lacks its id, type or status");
  if (auto it = doc.find("progress"); it != doc.end() && it->is_number_integer()) c.progress = it->get<int>();
  if (auto it = doc.find("spec"); it != doc.end()) c.spec = *it;
  if (auto it = doc.find("report"); it != doc.end()) c.report = *it;
  c.error = string_field(doc, "error");
  auto created = parse_iso8601(string_field(doc, "createdAt"));
  auto updated = parse_iso8601(string_field(doc, "updatedAt"));
  c.created_ms = created ? *created : 0;
  c.updated_ms = updated ? *updated : c.created_ms;
  if (auto it = doc.find("ownerPid"); it != doc.end() && it->is_number_integer()) c.owner_pid = it->get<int64_t>();
  return c;
}

json command_to_json(const Command& c, std::string_view base_url) {
  json doc = {{"id", c.id},
              {"type", c.type},
              {"status", c.status},
              {"progress", c.progress},
              {"spec", c.spec},
              {"report", c.report},
              {"createdAt", format_iso8601(c.created_ms)},
              {"updatedAt", format_iso8601(c.updated_ms)}};
  doc["error"] = c.error.empty() ? json(nullptr) : json(c.error);
  if (!base_url.empty()) doc["url"] = std::string(base_url) + "/commands/" + c.id;
  return doc;
}

class Commands::Context : public CommandContext {
 public:
  Context(Commands& commands, std::string id) : commands_(commands), id_(std::move(id)) {}
  void progress(int percent, const json& report) override {
    commands_.update(id_, [&](Command& c) {
      c.progress = std::clamp(percent, 0, 100);
      c.report = report;
    });
  }
  bool stopping() const override {
    std::lock_guard lock(commands_.mu_);
    return commands_.stopping_;
  }

 private:
  Commands& commands_;
  std::string id_;
};

Commands::~Commands() {
  std::map<std::string, std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  for (auto& [id, t] : threads) t.join();
}

std::vector<std::thread> Commands::reap_locked(int64_t now) {
  std::vector<std::thread> done;
  for (auto it = commands_.begin(); it != commands_.end();) {
    if (!it->second.finished()) {
      ++it;
      continue;
    }
    if (auto t = threads_.find(it->first); t != threads_.end()) {
      done.push_back(std::move(t->second));  // finished: its join does not wait (long)
      threads_.erase(t);
    }
    if (now - it->second.updated_ms > kKeepFinishedMs) {
      if (log_.erase) (void)log_.erase(it->first);  // (a small write; the caller's lock is ours alone)
      persisted_ms_.erase(it->first);
      it = commands_.erase(it);
    } else {
      ++it;
    }
  }
  return done;
}

Command Commands::start(std::string type, json spec, std::function<Result<json>(CommandContext&)> job) {
  Command c;
  c.id = new_id();
  c.type = std::move(type);
  c.spec = std::move(spec);
  c.created_ms = c.updated_ms = now_ms();
  c.owner_pid = getpid();
  persist(c);
  std::vector<std::thread> finished;
  std::unique_lock lock(mu_);
  finished = reap_locked(c.created_ms);
  commands_[c.id] = c;
  launch_locked(c.id, c.type, std::move(job));
  lock.unlock();
  for (auto& t : finished) t.join();
  return c;
}

void Commands::launch_locked(const std::string& command_id, const std::string& command_type, Job job) {
  ++tally_[command_type].running;
  threads_[command_id] = std::thread([this, id = command_id, type = command_type, job = std::move(job)] {
    update(id, [](Command& cmd) { cmd.status = "in-progress"; });
    Context context(*this, id);
    Result<json> done = Status(EIO, "the command did not run");
    try {
      done = job(context);
    } catch (const std::exception& e) {  // a job's bug must not take the server down
      done = Status(EIO, std::string("the command failed: ") + e.what());
    }
    update(id, [&](Command& cmd) {
      CommandTally& t = tally_[type];  // (update() holds mu_)
      --t.running;
      ++(done ? t.succeeded : t.failed);
      if (done) {
        cmd.status = "success";
        cmd.progress = 100;
        cmd.report = std::move(*done);
      } else {
        cmd.status = "failed";
        cmd.error = done.status().to_string();
      }
    });
    if (!done) spdlog::warn("command {} ({}) failed: {}", id, type, done.status().to_string());
  });
}

Status Commands::recover(const std::function<Job(const Command&)>& resume) {
  if (!log_.load) return {};
  DLFS_ASSIGN(std::vector<Command> known, log_.load());
  int64_t now = now_ms();
  std::lock_guard lock(mu_);
  for (Command& c : known) {
    if (commands_.count(c.id)) continue;
    if (c.finished()) {
      if (now - c.updated_ms > kKeepFinishedMs) {
        if (log_.erase) (void)log_.erase(c.id);
      } else {
        commands_[c.id] = std::move(c);
      }
      continue;
    }
    if (c.owner_pid != getpid() && process_alive(c.owner_pid)) continue;  // another live process's
    Job job = resume ? resume(c) : Job();
    int64_t was = c.owner_pid;
    c.owner_pid = getpid();
    c.updated_ms = now;
    if (job) {
      c.status = "in-progress";
      spdlog::info("command {} ({}) left unfinished by process {}: running it again", c.id, c.type, was);
    } else {
      c.status = "failed";
      c.error = "interrupted: the process running it (pid " + std::to_string(was) +
                ") stopped before it ended; start it again";
      spdlog::warn("command {} ({}): {}", c.id, c.type, c.error);
    }
    if (log_.put) (void)log_.put(c);
    persisted_ms_[c.id] = now;
    std::string id = c.id, type = c.type;
    commands_[id] = std::move(c);
    if (job) launch_locked(id, type, std::move(job));
  }
  return {};
}

void Commands::persist(const Command& c) {
  if (!log_.put) return;
  Status s = log_.put(c);
  if (!s) spdlog::warn("command {}: cannot keep it in the catalogue: {}", c.id, s.to_string());
}

std::map<std::string, CommandTally> Commands::tally() const {
  std::lock_guard lock(mu_);
  return tally_;
}

std::optional<Command> Commands::get(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = commands_.find(id);
  if (it == commands_.end()) return std::nullopt;
  return it->second;
}

std::optional<Command> Commands::wait(const std::string& id, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] {
    auto it = commands_.find(id);
    return it == commands_.end() || it->second.finished();
  });
  auto it = commands_.find(id);
  if (it == commands_.end()) return std::nullopt;
  return it->second;
}

void Commands::update(const std::string& id, const std::function<void(Command&)>& change) {
  std::optional<Command> to_persist;
  {
    std::lock_guard lock(mu_);
    auto it = commands_.find(id);
    if (it == commands_.end()) return;
    std::string was = it->second.status;
    change(it->second);
    it->second.updated_ms = now_ms();
    // Every change of status is kept; progress at most once a second.
    int64_t& last = persisted_ms_[id];
    if (log_.put && (it->second.status != was || it->second.updated_ms - last >= 1000)) {
      last = it->second.updated_ms;
      to_persist = it->second;
    }
  }
  // Written outside the lock (a catalogue transaction may wait for another writer). A later
  // status is never overwritten by an earlier one: a command's updates come from its own thread.
  if (to_persist) persist(*to_persist);
  changed_.notify_all();
}

}  // namespace dlfs
