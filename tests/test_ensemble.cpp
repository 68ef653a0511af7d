// The threaded runner (run_ensemble, run_ensembles): results independent of
// threads and of which replicates run, errors and cancellation cleanly
// passed on. CI runs these under ThreadSanitizer as well (the tsan preset).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "talentsim/errors.hpp"
#include "test_util.hpp"

namespace talentsim::test {
namespace {

const Model& model() {
  static const Model m(load_scenario_file(data_path("every_key.yaml")));
  return m;
}

TEST(Ensemble, SameResultsWithOneTwoAndFourThreads) {
  const auto one = run_all(model(), 16, 7, 1);
  for (const int threads : {2, 4}) {
    const auto many = run_all(model(), 16, 7, threads);
    for (std::size_t r = 0; r < one.size(); ++r) expect_identical(one[r], many[r]);
  }
}

TEST(Ensemble, OnlyRunsTheListedReplicatesAndTheyAreTheSame) {
  const auto all = run_all(model(), 12, 7, 2);
  EnsembleOptions options{.seed = 7, .threads = 2};
  options.only = {11, 0, 5, 6};
  std::set<std::int64_t> seen;
  run_ensemble(model(), options, [&](ReplicateResult&& r) {
    EXPECT_TRUE(seen.insert(r.replicate).second) << "replicate " << r.replicate << " twice";
    expect_identical(r, all[static_cast<std::size_t>(r.replicate)]);
  });
  EXPECT_EQ(seen, (std::set<std::int64_t>{0, 5, 6, 11}));
}

TEST(Ensemble, SeveralModelsShareOnePoolAndKeepTheirResults) {
  const Model other(load_scenario_text(tiny_scenario(), "tiny.yaml"));
  const auto a = run_all(model(), 8, 3, 1);
  const auto b = run_all(other, 8, 3, 1);
  std::int64_t last_done = 0, calls = 0;
  run_ensembles(
      {&model(), &other}, EnsembleOptions{.first = 0, .count = 8, .seed = 3, .threads = 2},
      [&](std::size_t m, ReplicateResult&& r) {
        ++calls;
        expect_identical(r, (m == 0 ? a : b)[static_cast<std::size_t>(r.replicate)]);
      },
      [&](std::int64_t done, std::int64_t total) {
        EXPECT_EQ(total, 16);
        EXPECT_EQ(done, last_done + 1);
        last_done = done;
      });
  EXPECT_EQ(calls, 16);
}

// What an MPI worker does: blocks of an explicit task list, one after the
// other, with one pool of scratch memory kept across them and shared by
// two models. Every task once, each result the same bits as a plain run.
TEST(Ensemble, TaskBlocksWithAKeptWorkspacePoolGiveTheSameResults) {
  const Model other(load_scenario_text(tiny_scenario(), "tiny.yaml"));
  const auto a = run_all(model(), 10, 3, 1);
  const auto b = run_all(other, 10, 3, 1);
  const std::vector<const Model*> models{&model(), &other};
  const EnsembleOptions all{.first = 0, .count = 10, .seed = 3};
  const std::vector<ReplicateTask> tasks = ensemble_tasks(models.size(), all);
  ASSERT_EQ(tasks.size(), 20u);
  EXPECT_EQ(tasks[13].model, 1u);
  EXPECT_EQ(tasks[13].replicate, 3);
  WorkspacePool pool;
  std::set<std::pair<std::size_t, std::int64_t>> seen;
  for (std::size_t begin = 0; begin < tasks.size(); begin += 3) {  // blocks mixing the models
    const std::vector<ReplicateTask> block(
        tasks.begin() + static_cast<std::ptrdiff_t>(begin),
        tasks.begin() + static_cast<std::ptrdiff_t>(std::min(tasks.size(), begin + 3)));
    run_tasks(models, block, EnsembleOptions{.seed = 3, .threads = 2, .workspaces = &pool},
              [&](std::size_t m, ReplicateResult&& r) {
                EXPECT_TRUE(seen.insert({m, r.replicate}).second);
                expect_identical(r, (m == 0 ? a : b)[static_cast<std::size_t>(r.replicate)]);
              });
  }
  EXPECT_EQ(seen.size(), 20u);
  EXPECT_THROW(run_tasks(models, {{2, 0}}, all, [](std::size_t, ReplicateResult&&) {}),
               InternalError);
}

TEST(Ensemble, ConsumerExceptionStopsTheRunAndPropagates) {
  std::atomic<int> consumed{0};
  EXPECT_THROW(
      run_ensemble(model(), EnsembleOptions{.first = 0, .count = 400, .seed = 1, .threads = 2},
                   [&](ReplicateResult&&) {
                     if (++consumed == 3) throw std::runtime_error("stop");
                   }),
      std::runtime_error);
  EXPECT_EQ(consumed.load(), 3) << "nothing is consumed after the exception";
  // The runner is usable again at once.
  EXPECT_EQ(run_all(model(), 2, 1, 2).size(), 2u);
}

// Named Ensemble.* so that the tsan preset runs it too.
TEST(Ensemble, BuildModelsKeepsTheOrderAndReportsTheFirstFailureInThatOrder) {
  const Scenario& base = model().scenario();
  const auto with_seed = [&](std::size_t i) {
    Scenario s = base;
    s.seed = 100 + i;
    return s;
  };
  for (const int threads : {1, 2, 4}) {
    std::mutex mutex;
    std::set<std::thread::id> used;
    const auto models = build_models(9, threads, [&](std::size_t i) {
      const std::lock_guard lock(mutex);
      used.insert(std::this_thread::get_id());
      return with_seed(i);
    });
    ASSERT_EQ(models.size(), 9u);
    for (std::size_t i = 0; i < models.size(); ++i)
      EXPECT_EQ(models[i]->scenario().seed, 100 + i)
          << "model " << i << ", " << threads << " threads";
    EXPECT_LE(used.size(), static_cast<std::size_t>(threads)) << "more threads than asked for";
  }
  // Scenarios 3 and 6 fail. With more than one thread, 3 waits (up to 5 s)
  // until 6 has failed, so a version reporting the first failure in time
  // would report 6; 3 must be reported.
  for (const int threads : {1, 2, 4}) {
    std::atomic<bool> six_failed{false};
    try {
      build_models(9, threads, [&](std::size_t i) {
        if (i == 6) {
          six_failed = true;
          throw std::runtime_error("scenario 6");
        }
        if (i == 3) {
          const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
          while (threads > 1 && !six_failed && std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          throw std::runtime_error("scenario 3");
        }
        return with_seed(i);
      });
      ADD_FAILURE() << "no exception with " << threads << " threads";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "scenario 3") << threads << " threads";
    }
  }
  EXPECT_TRUE(build_models(0, 2, with_seed).empty());
}

}  // namespace
}  // namespace talentsim::test
