// Commands: the platform's asynchronous jobs (API.md's Command), such as a dataset's sync with
// its storage driver. Each runs on a thread of its own; its status and progress are kept in
// memory and, given a CommandLog, in the catalogue: a server that restarts (recover()) knows the
// commands it had, runs again those its stopped process left unfinished (every job here is
// idempotent) or fails them saying why, so a client polling GET /commands/{id} across the restart
// sees the job end.
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
  int64_t owner_pid = 0;  // the process running it (not in the API's answer)

  bool finished() const { return status == "success" || status == "failed"; }
};

json command_to_json(const Command& command, std::string_view base_url = {});
// The catalogue's record of a command (the API's fields and its owner), and back.
json command_record(const Command& command);
Result<Command> command_from_record(const json& record);

// Where commands are kept across restarts: written at every change of status, and of progress
// at most once a second; erased when forgotten.
struct CommandLog {
  std::function<Status(const Command&)> put;
  std::function<Status(const std::string& id)> erase;
  std::function<Result<std::vector<Command>>()> load;
};

// What a running command may tell: its progress and report so far, and whether to stop.
class CommandContext {
 public:
  virtual ~CommandContext() = default;
  virtual void progress(int percent, const json& report) = 0;
  virtual bool stopping() const = 0;
};

// What the commands of one type did in this process (metrics): running now, and finished by
// outcome since it started.
struct CommandTally {
  uint64_t running = 0, succeeded = 0, failed = 0;
};

class Commands {
 public:
  explicit Commands(CommandLog log = {}) : log_(std::move(log)) {}
  ~Commands();  // asks running commands to stop and joins them
  Commands(const Commands&) = delete;
  Commands& operator=(const Commands&) = delete;

  // Starts `job` on its own thread; what it answers ends the command (success, or failed with
  // the status's text). Answers the command as created.
  Command start(std::string type, json spec, std::function<Result<json>(CommandContext&)> job);
  std::optional<Command> get(const std::string& id) const;
  // Waits until the command has finished or `timeout` passes; answers it as it then is.
  std::optional<Command> wait(const std::string& id, std::chrono::milliseconds timeout) const;

  // The commands the log has from before: finished ones are known again (for a day); unfinished
  // ones whose process is gone run again as `resume` says (the job, under the same id) or, when it
  // answers none, are failed saying so. Unfinished ones of a process still running are left to it.
  using Job = std::function<Result<json>(CommandContext&)>;
  Status recover(const std::function<Job(const Command&)>& resume);

  // By command type (those run by this process only).
  std::map<std::string, CommandTally> tally() const;

 private:
  class Context;
  void update(const std::string& id, const std::function<void(Command&)>& change);
  // Runs `job` as command `id` (in memory already) on a thread of its own. Called with mu_ held.
  void launch_locked(const std::string& id, const std::string& type, Job job);
  void persist(const Command& command);

  // Joins the threads of finished commands and forgets commands finished over a day ago, so that
  // a long-running server does not keep them all. Called with mu_ held; answers the threads to
  // join once it is released.
  std::vector<std::thread> reap_locked(int64_t now_ms);

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<std::string, Command> commands_;
  std::map<std::string, std::thread> threads_;  // by command id, until reaped
  std::map<std::string, int64_t> persisted_ms_;  // when each command was last written to the log
  std::map<std::string, CommandTally> tally_;    // by type
  bool stopping_ = false;
  CommandLog log_;
};

}  // namespace dlfs
