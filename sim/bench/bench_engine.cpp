// Microbenchmarks of the engine's hot paths on the benchmark scenario
// (scenarios/bench/frontier_25k.yaml, or TALENTSIM_BENCH_SCENARIO):
//
//   population draw, per researcher
//   market entry for one step over the whole population, per researcher,
//     against the design it replaced (one counter-based Bernoulli draw per
//     researcher per step) and the cost of starting one entry clock
//   one logit choice
//   one whole step, per researcher
//   setting a replicate up (population, followers, first clocks)
//   one whole replicate, per researcher-step, and its time by phase
//
// The steps are timed from a state reached by running the replicate to
// mid-run (step 78 of 157), restored before each iteration.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "model/replicate.hpp"
#include "talentsim/model.hpp"
#include "talentsim/rng.hpp"
#include "talentsim/scenario_loader.hpp"

namespace talentsim {
namespace {

const Model& bench_model() {
  static const std::unique_ptr<Model> model = [] {
    const char* env = std::getenv("TALENTSIM_BENCH_SCENARIO");
    const std::string path =
        env ? env : std::string(TALENTSIM_SCENARIOS) + "/bench/frontier_25k.yaml";
    return std::make_unique<Model>(load_scenario_file(path));
  }();
  return *model;
}

constexpr std::uint64_t kSeed = 4;

// A replicate run up to the start of step t (events and aggregates of t
// applied).
detail::Replicate replicate_at(int t) {
  detail::Replicate r(bench_model(), kSeed, 0, nullptr);
  for (int s = 0; s < t; ++s) r.step(s);
  r.begin_step(t);
  return r;
}

int mid_step() { return bench_model().scenario().steps / 2; }

// Seconds per item (shown with an SI prefix: "2.1n" is 2.1 ns), where an
// iteration processes `items`.
void per_item(benchmark::State& state, double items, const char* name) {
  state.counters[name] =
      benchmark::Counter(double(state.iterations()) * items,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_PopulationDraw(benchmark::State& state) {
  const Model& model = bench_model();
  std::int64_t replicate = 0;
  Population pop;
  for (auto _ : state) {
    model.draw_population(kSeed, replicate++, pop);
    benchmark::DoNotOptimize(pop.reputation.data());
  }
  per_item(state, double(model.identities().size()), "per_researcher");
}

// The design this engine replaced: a counter-based Bernoulli draw (one
// Philox4x32-10 call and a compare) for every researcher at every step.
void BM_EntryBernoulliPerResearcher(benchmark::State& state) {
  const Model& model = bench_model();
  const auto& ids = model.identities();
  const Streams streams(kSeed, 0);
  std::uint32_t t = 0;
  for (auto _ : state) {
    std::int64_t entered = 0;
    for (const auto& id : ids) {
      const auto w = streams.bits(id.who, Purpose::Entry, t);
      entered += uniform01(w[0], w[1]) < 0.0077;
    }
    benchmark::DoNotOptimize(entered);
    ++t;
  }
  per_item(state, double(ids.size()), "per_researcher");
}

// Starting one entry clock as the engine does: Philox words 16 counters at
// a time, Exp(1) thresholds and the steps they fire four at a time (half
// the clocks start before a vesting cliff).
void BM_EntryClockStart(benchmark::State& state) {
  const Model& model = bench_model();
  const auto& ids = model.identities();
  const std::size_t n = ids.size();
  const Streams streams(kSeed, 0);
  std::vector<std::uint64_t> who(n), words(2 * n);
  std::vector<std::uint32_t> index(n);
  std::vector<double> thresholds(n), before(n, 0.0023), after(n, 0.0077), cliff(n);
  std::vector<std::int32_t> at(n);
  for (std::size_t i = 0; i < n; ++i) who[i] = ids[i].who;
  std::int32_t t = 0;
  for (auto _ : state) {
    std::fill(index.begin(), index.end(), static_cast<std::uint32_t>(t));
    bits_lanes(streams, who.data(), Purpose::Entry, index.data(), n, words.data());
    for (std::size_t i = 0; i < n; ++i) {
      thresholds[i] = open_unit_interval(words[2 * i]);
      cliff[i] = t + static_cast<double>(i % 2 ? 20 : -5);
    }
    detail::exponentials_in_place(thresholds.data(), n);
    detail::first_entry_steps(t, thresholds.data(), before.data(), after.data(), cliff.data(), 157,
                              n, at.data());
    benchmark::DoNotOptimize(at.data());
    ++t;
  }
  per_item(state, double(n), "per_researcher");
}

// Step 3 of one step over the whole population, per researcher.
void BM_MarketEntryStep(benchmark::State& state) {
  const int t = mid_step();
  const detail::Replicate start = replicate_at(t);
  std::int64_t entered = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto r = std::make_unique<detail::Replicate>(start);
    state.ResumeTiming();
    r->market_entry(t);
    entered += std::int64_t(r->on_market().size());
    state.PauseTiming();
    r.reset();
    state.ResumeTiming();
  }
  per_item(state, double(start.population()), "per_researcher");
  state.counters["on_market"] = double(entered) / double(state.iterations());
}

// One researcher's logit choice among the open labs.
void BM_LogitChoice(benchmark::State& state) {
  const int t = mid_step();
  detail::Replicate r = replicate_at(t);
  r.market_entry(t);
  auto chooser = r.on_market();
  std::size_t c = 0;
  double u = 0.5;
  for (auto _ : state) {
    benchmark::DoNotOptimize(r.pick_lab(chooser[c], u));
    if (++c == chooser.size()) c = 0;
    u = u * 0.618 + 0.2;
    if (u >= 1) u -= 1;
  }
  per_item(state, 1, "per_choice");
}

// One whole step (events, entry, choices, moves, new clocks, record).
void BM_WholeStep(benchmark::State& state) {
  const int t = mid_step();
  detail::Replicate start(bench_model(), kSeed, 0, nullptr);
  for (int s = 0; s < t; ++s) start.step(s);
  for (auto _ : state) {
    state.PauseTiming();
    auto r = std::make_unique<detail::Replicate>(start);
    state.ResumeTiming();
    r->step(t);
    state.PauseTiming();
    r.reset();
    state.ResumeTiming();
  }
  per_item(state, double(start.population()), "per_researcher");
}

// Setting a replicate up: its population drawn, the follower lists built
// and everyone's first entry clock started, per researcher.
void BM_ReplicateStart(benchmark::State& state) {
  const Model& model = bench_model();
  detail::Replicate r(model);
  std::int64_t replicate = 0;
  for (auto _ : state) {
    r.restart(kSeed, replicate++, nullptr);
    benchmark::DoNotOptimize(r.drawn().reputation.data());
  }
  per_item(state, double(model.identities().size()), "per_researcher");
}

// One whole replicate, population draw included.
void BM_Replicate(benchmark::State& state) {
  const Model& model = bench_model();
  const double researcher_steps =
      double(model.identities().size()) * double(model.scenario().steps);
  std::int64_t replicate = 0, decisions = 0;
  Workspace workspace;
  for (auto _ : state) {
    const auto result = model.run(kSeed, replicate++, nullptr, &workspace);
    decisions += result.market_decisions;
  }
  per_item(state, researcher_steps, "per_researcher_step");
  state.counters["decisions_per_replicate"] = double(decisions) / double(state.iterations());
}

// Where a replicate's time goes: BM_Replicate's work, phase by phase, each
// phase's wall time reported in ms per replicate (set-up; then, summed over
// the steps, events and aggregates, market entry, choices and capacity,
// moves with new clocks and the record). Unlike BM_Replicate it runs no
// forecast questions; each of the 630 clock readings adds about 25 ns.
void BM_ReplicatePhases(benchmark::State& state) {
  using Clock = std::chrono::steady_clock;
  const Model& model = bench_model();
  detail::Replicate r(model);
  const int steps = model.scenario().steps;
  std::int64_t replicate = 0;
  enum { kSetUp, kEvents, kEntry, kChoice, kMoves, kPhases };
  Clock::duration spent[kPhases] = {};
  for (auto _ : state) {
    auto before = Clock::now();
    const auto lap = [&](int phase) {
      const auto now = Clock::now();
      spent[phase] += now - before;
      before = now;
    };
    r.restart(kSeed, replicate++, nullptr);
    lap(kSetUp);
    for (int t = 0; t < steps; ++t) {
      r.begin_step(t);
      lap(kEvents);
      r.market_entry(t);
      lap(kEntry);
      r.choose_all(t);
      lap(kChoice);
      r.finish_step(t);
      lap(kMoves);
    }
  }
  const char* names[kPhases] = {"set_up_ms", "events_ms", "entry_ms", "choice_ms", "moves_ms"};
  for (int p = 0; p < kPhases; ++p)
    state.counters[names[p]] =
        std::chrono::duration<double, std::milli>(spent[p]).count() / double(state.iterations());
}

BENCHMARK(BM_PopulationDraw)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EntryBernoulliPerResearcher)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EntryClockStart)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MarketEntryStep)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LogitChoice)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_WholeStep)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ReplicateStart)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Replicate)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReplicatePhases)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace talentsim

BENCHMARK_MAIN();
