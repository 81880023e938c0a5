#include "platform/commands.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/clock.h"
#include "core/ids.h"

namespace dlfs {
namespace {

int64_t now_ms() { return SystemClock::instance().now_ms(); }

}  // namespace

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
  constexpr int64_t kKeepFinishedMs = 24 * 3600 * 1000;
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
    if (now - it->second.updated_ms > kKeepFinishedMs)
      it = commands_.erase(it);
    else
      ++it;
  }
  return done;
}

Command Commands::start(std::string type, json spec, std::function<Result<json>(CommandContext&)> job) {
  Command c;
  c.id = new_id();
  c.type = std::move(type);
  c.spec = std::move(spec);
  c.created_ms = c.updated_ms = now_ms();
  std::vector<std::thread> finished;
  std::unique_lock lock(mu_);
  finished = reap_locked(c.created_ms);
  commands_[c.id] = c;
  threads_[c.id] = std::thread([this, id = c.id, type = c.type, job = std::move(job)] {
    update(id, [](Command& cmd) { cmd.status = "in-progress"; });
    Context context(*this, id);
    Result<json> done = Status(EIO, "the command did not run");
    try {
      done = job(context);
    } catch (const std::exception& e) {  // a job's bug must not take the server down
      done = Status(EIO, std::string("the command failed: ") + e.what());
    }
    update(id, [&](Command& cmd) {
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
  lock.unlock();
  for (auto& t : finished) t.join();
  return c;
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
  {
    std::lock_guard lock(mu_);
    auto it = commands_.find(id);
    if (it == commands_.end()) return;
    change(it->second);
    it->second.updated_ms = now_ms();
  }
  changed_.notify_all();
}

}  // namespace dlfs
