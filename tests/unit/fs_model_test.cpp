// The reference-model test of the filesystem core (tests/support/fs_model.h), over an in-memory
// platform and over the embedded platform, both behind a network that delays, refuses and loses
// answers. A short run in CI; a long run on demand:
//   DLFS_MODEL_SEQUENCES=2000 DLFS_MODEL_STEPS=150 build-test/tests/fs_model_test
// and one sequence again (the seed a failure printed): DLFS_MODEL_SEED=N. DLFS_MODEL_NO_OPEN=0|1
// runs every seed with opens or without (by default three seeds of four run without);
// DLFS_MODEL_SHRINK=0 prints a failure's steps as they ran instead of shrinking the program.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include <spdlog/spdlog.h>

#include "support/fs_model.h"

using namespace dlfs;
using namespace dlfs::test;

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

class FsModel : public ::testing::TestWithParam<ModelBackend> {};

std::string backend_label(const ::testing::TestParamInfo<ModelBackend>& info) {
  return info.param == ModelBackend::kFake ? "FakePlatform" : "EmbeddedPlatform";
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Platforms, FsModel, ::testing::Values(ModelBackend::kFake, ModelBackend::kPlatform),
                         backend_label);

TEST_P(FsModel, RandomSequencesFromSeveralThreadsMatchThePosixModel) {
  if (std::getenv("DLFS_MODEL_DEBUG")) spdlog::set_level(spdlog::level::trace);
  ModelOptions options;
  options.backend = GetParam();
  options.threads = env_int("DLFS_MODEL_THREADS", 3);
  options.steps = env_int("DLFS_MODEL_STEPS", 40);
  options.rounds = env_int("DLFS_MODEL_ROUNDS", 2);
  options.no_open = env_int("DLFS_MODEL_NO_OPEN", -1);  // 0 or 1: for every seed
  int sequences = env_int("DLFS_MODEL_SEQUENCES", 10);
  uint64_t first = uint64_t(env_int("DLFS_MODEL_SEED", 0));
  if (first) sequences = 1;
  // DLFS_MODEL_FIRST_SEED: where a long run starts (to split one over several processes).
  else first = uint64_t(env_int("DLFS_MODEL_FIRST_SEED", GetParam() == ModelBackend::kFake ? 1000 : 2000));
  uint64_t steps = 0, calls = 0, refused = 0, lost = 0;
  const char* given = std::getenv("DLFS_MODEL_PROGRAM");
  if (given) sequences = 1;
  for (int i = 0; i < sequences; ++i) {
    options.seed = first + uint64_t(i);
    ModelProgram program = given ? decode_program(given, options) : generate_program(options);
    ModelOutcome outcome = run_program(program, options);
    steps += outcome.steps;
    calls += outcome.remote_calls;
    refused += outcome.refused;
    lost += outcome.lost;
    if (outcome.ok()) {
      if ((i + 1) % 100 == 0) std::cout << "[ model ] " << i + 1 << " sequences matched (seed " << options.seed << ")" << std::endl;
      continue;
    }
    if (env_int("DLFS_MODEL_SHRINK", 1) == 0) {  // (a failure's trace as it ran, e.g. with DLFS_MODEL_DEBUG)
      for (const auto& line : outcome.trace) std::cout << "  " << line << "\n";
      FAIL() << "seed " << options.seed << ": " << outcome.failure;
    }
    std::cout << "[ model ] seed " << options.seed << " failed: " << outcome.failure << "\n[ model ] shrinking "
              << program_size(program) << " steps...\n";
    auto [small, shrunk] = shrink_program(program, options);
    std::cout << "[ model ] the shortest failing program found (" << program_size(small) << " steps) ran:\n";
    for (const auto& line : shrunk.trace) std::cout << "  " << line << "\n";
    std::cout << "[ model ] run it again with DLFS_MODEL_SEED=" << options.seed << " DLFS_MODEL_THREADS=" << options.threads
              << " DLFS_MODEL_ROUNDS=" << options.rounds << " DLFS_MODEL_PROGRAM='" << encode_program(small) << "'\n";
    FAIL() << "seed " << options.seed << " (DLFS_MODEL_SEED=" << options.seed << " replays it): "
           << (shrunk.ok() ? outcome.failure : shrunk.failure);
  }
  std::cout << "[ model ] " << sequences << " sequences, " << steps << " steps, " << calls << " remote calls ("
            << refused << " refused, " << lost << " answers lost): all matched the model\n";
}
