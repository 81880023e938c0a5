// Commands (platform/commands.h): a job's end becomes the command's status, progress shows while
// it runs, finished jobs' threads are reaped as new ones start, and the registry's end stops and
// joins the running ones.
#include "platform/commands.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

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
