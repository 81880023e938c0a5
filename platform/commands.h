// Commands: the platform's asynchronous jobs (API.md's Command), such as a dataset's sync with
// its storage driver. Each runs on a thread of its own; its status and progress are kept in
// memory, so a command is known until the process ends (a client polling GET /commands/{id}
// across a dlfsd restart gets 404, and starts the job again: every job here is idempotent).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/json_util.h"
#include "core/result.h"

namespace dlfs {

struct Command {
  std::string id;
  std::string type;                // e.g. "sync"
  std::string status = "created";  // created, in-progress, success, failed
  int progress = 0;                // 0-100
  json spec = json::object();      // what it was asked to do
  json report = json::object();    // what it did (counts), as it goes
  std::string error;               // why it failed
  int64_t created_ms = 0;
  int64_t updated_ms = 0;

  bool finished() const { return status == "success" || status == "failed"; }
};

json command_to_json(const Command& command, std::string_view base_url = {});

// What a running command may tell: its progress and report so far, and whether to stop.
class CommandContext {
 public:
  virtual ~CommandContext() = default;
  virtual void progress(int percent, const json& report) = 0;
  virtual bool stopping() const = 0;
};

class Commands {
 public:
  Commands() = default;
  ~Commands();  // asks running commands to stop and joins them
  Commands(const Commands&) = delete;
  Commands& operator=(const Commands&) = delete;

  // Starts `job` on its own thread; what it answers ends the command (success, or failed with
  // the status's text). Answers the command as created.
  Command start(std::string type, json spec, std::function<Result<json>(CommandContext&)> job);
  std::optional<Command> get(const std::string& id) const;
  // Waits until the command has finished or `timeout` passes; answers it as it then is.
  std::optional<Command> wait(const std::string& id, std::chrono::milliseconds timeout) const;

 private:
  class Context;
  void update(const std::string& id, const std::function<void(Command&)>& change);

  // Joins the threads of finished commands and forgets commands finished over a day ago, so that
  // a long-running server does not keep them all. Called with mu_ held; answers the threads to
  // join once it is released.
  std::vector<std::thread> reap_locked(int64_t now_ms);

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<std::string, Command> commands_;
  std::map<std::string, std::thread> threads_;  // by command id, until reaped
  bool stopping_ = false;
};

}  // namespace dlfs
