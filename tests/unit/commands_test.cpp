// Commands (platform/commands.h): a job's end becomes the command's status, progress shows while
// it runs, finished jobs' threads are reaped as new ones start, and the registry's end stops and
// joins the running ones; a restart knows the commands of the process before (CommandLog).
#include "platform/commands.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "core/clock.h"

#include "support/process.h"

using namespace dlfs;
using namespace std::chrono_literals;

TEST(Commands, AJobsEndIsTheCommandsStatus) {
  Commands commands;
  Command ok = commands.start("t", {{"n", 1}}, [](CommandContext&) -> Result<json> { return json{{"done", true}}; });
  EXPECT_EQ(ok.status, "created");
  EXPECT_EQ(ok.spec["n"], 1);
  auto a = commands.wait(ok.id, 30s);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, "success");
  EXPECT_EQ(a->progress, 100);
  EXPECT_EQ(a->report["done"], true);

  Command bad = commands.start("t", {}, [](CommandContext&) -> Result<json> { return Status(ENOENT, "no bucket"); });
  auto b = commands.wait(bad.id, 30s);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, "failed");
  EXPECT_NE(b->error.find("no bucket"), std::string::npos);

  Command threw = commands.start("t", {}, [](CommandContext&) -> Result<json> { throw std::runtime_error("bug"); });
  auto c = commands.wait(threw.id, 30s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, "failed");
  EXPECT_NE(c->error.find("bug"), std::string::npos);
  EXPECT_FALSE(commands.get("nope"));
}

TEST(Commands, ProgressShowsWhileItRunsAndManyFinishedOnesStayKnown) {
  Commands commands;
  std::atomic<bool> go{false};
  Command slow = commands.start("t", {}, [&](CommandContext& ctx) -> Result<json> {
    ctx.progress(40, {{"seen", 4}});
    while (!go) std::this_thread::sleep_for(5ms);
    return json::object();
  });
  EXPECT_TRUE(test::wait_until([&] { return commands.get(slow.id)->progress == 40; }, 30s));
  EXPECT_EQ(commands.get(slow.id)->status, "in-progress");
  EXPECT_EQ(commands.get(slow.id)->report["seen"], 4);
  go = true;
  ASSERT_EQ(commands.wait(slow.id, 30s)->status, "success");

  // Each start reaps the threads of finished commands; the commands stay known.
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    ids.push_back(commands.start("t", {}, [i](CommandContext&) -> Result<json> { return json{{"i", i}}; }).id);
    ASSERT_TRUE(commands.wait(ids.back(), 30s));
  }
  for (int i = 0; i < 50; ++i) EXPECT_EQ(commands.get(ids[size_t(i)])->report["i"], i);
}

TEST(Commands, TheRegistrysEndStopsRunningJobs) {
  std::atomic<bool> saw_stop{false};
  {
    Commands commands;
    commands.start("t", {}, [&](CommandContext& ctx) -> Result<json> {
      while (!ctx.stopping()) std::this_thread::sleep_for(5ms);
      saw_stop = true;
      return Status(ECANCELED, "stopped");
    });
  }  // joins
  EXPECT_TRUE(saw_stop);
}

namespace {

// A catalogue's worth of command records, in memory, outliving each Commands (a process).
struct MemoryLog {
  std::mutex mu;
  std::map<std::string, Command> records;
  CommandLog log() {
    CommandLog l;
    l.put = [this](const Command& c) -> Status {
      std::lock_guard lock(mu);
      records[c.id] = c;
      return {};
    };
    l.erase = [this](const std::string& id) -> Status {
      std::lock_guard lock(mu);
      records.erase(id);
      return {};
    };
    l.load = [this]() -> Result<std::vector<Command>> {
      std::lock_guard lock(mu);
      std::vector<Command> out;
      for (auto& [id, c] : records) out.push_back(c);
      return out;
    };
    return l;
  }
};

// The pid of a process that has ended.
int64_t dead_pid() {
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  return child;
}

Command unfinished(const std::string& id, const std::string& type, int64_t owner) {
  Command c;
  c.id = id;
  c.type = type;
  c.status = "in-progress";
  c.progress = 40;
  c.created_ms = c.updated_ms = SystemClock::instance().now_ms();
  c.owner_pid = owner;
  return c;
}

}  // namespace

// A restarted process knows the commands of the one before: a finished one as it ended; an
// unfinished one of a process gone runs again under its id (or fails saying why, when there is no
// job for it); an unfinished one of a process still running is left to that process.
TEST(Commands, ARestartKnowsFinishedCommandsAndRunsAgainOrFailsUnfinishedOnes) {
  MemoryLog memory;
  std::string done_id;
  {
    Commands first(memory.log());
    done_id = first.start("sync", {{"n", 1}}, [](CommandContext&) -> Result<json> { return json{{"added", 3}}; }).id;
    ASSERT_TRUE(first.wait(done_id, 10s)->finished());
  }
  ASSERT_EQ(memory.records.at(done_id).status, "success") << "the end was not kept";
  EXPECT_EQ(memory.records.at(done_id).owner_pid, getpid());
  memory.records["a"] = unfinished("a", "sync", dead_pid());
  memory.records["b"] = unfinished("b", "import", dead_pid());
  memory.records["c"] = unfinished("c", "sync", getppid());  // its process runs on

  Commands second(memory.log());
  std::vector<std::string> resumed;
  ASSERT_TRUE(second.recover([&](const Command& c) -> Commands::Job {
    resumed.push_back(c.id);
    if (c.type != "sync") return {};
    return [](CommandContext&) -> Result<json> { return json{{"added", 7}}; };
  }));
  EXPECT_EQ(resumed, (std::vector<std::string>{"a", "b"}));
  auto done = second.get(done_id);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, "success");
  EXPECT_EQ(done->report["added"], 3);
  auto a = second.wait("a", 10s);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, "success");
  EXPECT_EQ(a->report["added"], 7);
  auto b = second.get("b");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, "failed");
  EXPECT_NE(b->error.find("interrupted"), std::string::npos) << b->error;
  EXPECT_FALSE(second.get("c")) << "another live process's command was taken over";
  EXPECT_EQ(memory.records.at("c").status, "in-progress");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(memory.records.at("a").status, "success");
  EXPECT_EQ(memory.records.at("b").status, "failed");

  // Records round-trip through the catalogue's form.
  auto back = command_from_record(command_record(*a));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, "a");
  EXPECT_EQ(back->status, "success");
  EXPECT_EQ(back->report, a->report);
  EXPECT_EQ(back->owner_pid, getpid());
  EXPECT_EQ(command_from_record(json{{"id", "x"}}).err(), EIO);
  json odd = command_record(*a);
  odd["progress"] = "half";  // a record of any shape never throws
  ASSERT_TRUE(command_from_record(odd));
  EXPECT_EQ(command_from_record(odd)->progress, 0);
}
