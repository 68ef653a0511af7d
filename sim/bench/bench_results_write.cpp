// What the results writer costs per replicate (issue 4): ResultsWriter::write
// and its share of commit() (which computes the exact percentile summaries
// by reading the data back), for the shape of the performance scenario
// (scenarios/bench/frontier_25k.yaml: T = 157 steps, L = 13 labs, K = 3
// tiers, 10 named researchers, 6 questions) filled with synthetic data shaped
// like a real run's: headcounts that drift, hires and departures that are
// small counts, star power as full-precision doubles that drift, named
// researchers who rarely move.
//
// Replicates reach the writer in the order run_ensemble finishes them: with
// several threads, TBB's parallel_for splits the range in halves, so each
// thread walks its own stretch in increasing order (several "fronts"), and a
// thread that runs dry steals the second half of what is left of another's.
// The benchmark replays such an order.
//
// Counters, per replicate (ms: wall time; cpu_ms: the writer thread's CPU):
//   write_ms, write_cpu_ms    ResultsWriter::write
//   commit_ms, commit_cpu_ms  commit() / replicates (summaries, flush, fsync)
//   total_cpu_ms              the two CPU times together: what the single
//                             writer thread must keep well under ~0.4 ms
//   raw_MBps                  raw bytes of a replicate / write wall time
//   file_bytes                size of the committed file / replicates
//
//   build/release/sim/bench/bench_results_write --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
// The machine is shared and noisy: compare medians (or minima) of several
// repetitions. TALENTSIM_BENCH_SWEEP=1 adds other chunkings and run sizes
// (see arguments() below).
#include <benchmark/benchmark.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "io/results_layout.hpp"  // the chunking knobs
#include "talentsim/result.hpp"
#include "talentsim/results_file.hpp"

namespace fs = std::filesystem;
using talentsim::ReplicateResult;
using talentsim::ResultShape;
using talentsim::ResultsWriter;
using talentsim::RunMetadata;

namespace {

constexpr ResultShape kShape{.steps = 157, .labs = 13, .tiers = 3, .named = 10, .questions = 6};

// splitmix64: small, fast and good enough for test data.
struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  double normal() {
    const double u = std::max(uniform(), 1e-300), v = uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
  // Poisson by inversion for small means, a rounded normal above.
  std::int32_t poisson(double mean) {
    if (mean <= 0) return 0;
    if (mean > 30) return std::max(0, std::int32_t(std::lround(mean + std::sqrt(mean) * normal())));
    const double limit = std::exp(-mean);
    std::int32_t k = 0;
    for (double p = uniform(); p > limit; p *= uniform()) ++k;
    return k;
  }
};

// One replicate shaped like the performance scenario's output: 12 labs and
// an outside pool, one lab founded a third of the way in.
ReplicateResult synthetic_replicate(std::int64_t replicate) {
  const ResultShape& s = kShape;
  ReplicateResult out(s);
  out.replicate = replicate;
  Random rng{std::uint64_t(replicate) * 7919 + 17};
  static constexpr double kLabSize[13] = {1530, 1090, 2320, 1150, 470, 360, 400,
                                          270,  40,   17,   200,  0,   9880};
  static constexpr double kTierShare[3] = {0.62, 0.30, 0.08};
  static constexpr double kReputation[3] = {1.0, 3.0, 12.0};
  constexpr int kFounded = 52, kFoundedLab = 11;
  std::vector<double> size(size_t(s.labs) * s.tiers), power(size_t(s.labs));
  for (int l = 0; l < s.labs; ++l) {
    for (int k = 0; k < s.tiers; ++k) {
      size[size_t(l) * s.tiers + k] = kLabSize[l] * kTierShare[k] * (1 + 0.03 * rng.normal());
    }
  }
  for (int t = 0; t < s.steps; ++t) {
    for (int l = 0; l < s.labs; ++l) {
      const bool open = l != kFoundedLab || t >= kFounded;
      double reputation = 0;
      for (int k = 0; k < s.tiers; ++k) {
        double& n = size[size_t(l) * s.tiers + k];
        if (l == kFoundedLab && t == kFounded) n = 30 * kTierShare[k];
        const double rate = l == 12 ? 0.003 : 0.008;
        const std::int32_t hires = open ? rng.poisson(rate * n + 0.3) : 0;
        const std::int32_t departures = open ? rng.poisson(rate * n * 0.97) : 0;
        n = std::max(0.0, n + hires - departures);
        const size_t i = out.tlk(t, l, k);
        out.headcount[i] = std::int32_t(std::lround(n));
        out.hires[i] = hires;
        out.departures[i] = departures;
        reputation += n * kReputation[k];
      }
      // Reputations drift a little each step, so the sum takes every bit.
      double& p = power[size_t(l)];
      p = t == 0 ? reputation * (1 + 0.05 * rng.normal())
                 : 0.8 * p + 0.2 * reputation + 2.0 * rng.normal();
      out.star_power[out.tl(t, l)] = std::max(0.0, p);
    }
    for (int n = 0; n < s.named; ++n) {
      std::int32_t& lab = out.named_lab[out.tn(t, n)];
      lab = t == 0 ? std::int32_t(n % 12) : out.named_lab[out.tn(t - 1, n)];
      if (rng.uniform() < 0.006) lab = rng.uniform() < 0.1 ? -1 : std::int32_t(rng.next() % 12);
    }
  }
  for (int from = 0; from < s.labs; ++from) {
    for (int to = 0; to < s.labs; ++to) {
      for (int k = 0; k < s.tiers; ++k) {
        out.flows[out.flk(from, to, k)] =
            from == to ? 0
                       : rng.poisson(0.025 * kLabSize[from] * kLabSize[to] / 100 * kTierShare[k]);
      }
    }
  }
  for (int q = 0; q < s.questions; ++q) {
    out.question_value[size_t(q)] = q % 2 == 0 ? double(rng.poisson(80)) : rng.uniform();
  }
  return out;
}

size_t raw_bytes(const ReplicateResult& r) {
  return sizeof(std::int32_t) * (r.headcount.size() + r.hires.size() + r.departures.size() +
                                 r.named_lab.size() + r.flows.size()) +
         sizeof(double) * (r.star_power.size() + r.question_value.size() +
                           r.question_numerator.size() + r.question_denominator.size());
}

// The order in which `threads` TBB threads finish replicates 0..n-1 (see the
// top of the file): each works through its own range in increasing order,
// they take turns at random, and one that runs dry steals the back half of
// the largest range left.
std::vector<std::int64_t> completion_order(std::int64_t n, int threads) {
  struct Range {
    std::int64_t next, end;
  };
  std::vector<Range> ranges;
  for (int i = 0; i < threads; ++i) ranges.push_back({n * i / threads, n * (i + 1) / threads});
  Random rng{12345};
  std::vector<std::int64_t> order;
  order.reserve(size_t(n));
  while (std::int64_t(order.size()) < n) {
    Range& mine = ranges[rng.next() % ranges.size()];
    if (mine.next == mine.end) {
      Range* victim = &ranges.front();
      for (Range& r : ranges) {
        if (r.end - r.next > victim->end - victim->next) victim = &r;
      }
      const std::int64_t middle = victim->next + (victim->end - victim->next + 1) / 2;
      mine = {middle, victim->end};
      victim->end = middle;
      if (mine.next == mine.end) continue;
    }
    order.push_back(mine.next++);
  }
  return order;
}

// "prefix i", built so that GCC 12 sees no overlapping copy (-Wrestrict).
std::string label(const char* prefix, int i) {
  std::string out = prefix;
  out += std::to_string(i);
  return out;
}

RunMetadata bench_meta(std::int64_t replicates) {
  RunMetadata m;
  m.scenario_name = "bench_results_write";
  m.start_date = "2026-01-05";
  m.step_days = 7;
  for (int l = 0; l < kShape.labs; ++l) m.lab_names.push_back(label("lab ", l));
  m.tier_names = {"junior", "senior", "star"};
  for (int n = 0; n < kShape.named; ++n) m.named_names.push_back(label("person ", n));
  for (int q = 0; q < kShape.questions; ++q) {
    m.questions.push_back({.id = label("q", q),
                           .text = "question",
                           .metric = "hires",
                           .lab = "lab 0",
                           .at_least = 1,
                           .at_most = std::nan("")});
  }
  m.replicates = replicates;
  m.seed = 42;
  m.scenario_text = "name: bench_results_write\n";
  m.command_line = "bench_results_write";
  return m;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Args: replicates, threads whose completion order is replayed, and the
// chunk extent along replicates and time (0: the file format's default; the
// writer takes fewer steps than asked for runs of many replicates).
void BM_ResultsWrite(benchmark::State& state) {
  const std::int64_t replicates = state.range(0);
  const int threads = int(state.range(1));
  namespace layout = talentsim::layout;
  layout::replicate_chunk = state.range(2) > 0 ? state.range(2) : layout::kReplicateChunk;
  layout::time_chunk_steps = state.range(3) > 0 ? state.range(3) : layout::kTimeChunkSteps;
  const fs::path dir =
      fs::temp_directory_path() / ("talentsim_bench_results_write_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path dest = dir / "bench.h5";
  const std::vector<std::int64_t> order = completion_order(replicates, threads);
  const RunMetadata meta = bench_meta(replicates);
  // Each replicate is made just before it is written, outside the timed
  // calls: a small pool made ahead and reused would not do, as chunks of
  // several replicates would compress the repeats.
  double write_wall = 0, write_cpu = 0, commit_wall = 0, commit_cpu = 0, bytes = 0, raw = 0;
  for (auto _ : state) {
    fs::remove(dest);
    double iteration = 0;
    {
      ResultsWriter writer(dest, meta, kShape, /*overwrite=*/true);
      for (const std::int64_t r : order) {
        const ReplicateResult result = synthetic_replicate(r);
        raw += double(raw_bytes(result));
        const double w0 = wall_seconds(), c0 = thread_cpu_seconds();
        writer.write(result);
        const double dw = wall_seconds() - w0;
        write_wall += dw;
        write_cpu += thread_cpu_seconds() - c0;
        iteration += dw;
      }
      const double w0 = wall_seconds(), c0 = thread_cpu_seconds();
      writer.commit();
      const double dw = wall_seconds() - w0;
      commit_wall += dw;
      commit_cpu += thread_cpu_seconds() - c0;
      iteration += dw;
    }
    bytes += double(fs::file_size(dest));
    state.SetIterationTime(iteration);
  }
  fs::remove_all(dir);
  layout::replicate_chunk = layout::kReplicateChunk;
  layout::time_chunk_steps = layout::kTimeChunkSteps;
  const double n = double(state.iterations()) * double(replicates);
  state.counters["write_ms"] = 1e3 * write_wall / n;
  state.counters["write_cpu_ms"] = 1e3 * write_cpu / n;
  state.counters["commit_ms"] = 1e3 * commit_wall / n;
  state.counters["commit_cpu_ms"] = 1e3 * commit_cpu / n;
  state.counters["total_cpu_ms"] = 1e3 * (write_cpu + commit_cpu) / n;
  state.counters["raw_MBps"] = raw / write_wall / 1e6;
  state.counters["file_bytes"] = bytes / double(state.iterations()) / double(replicates);
}

// The file format's chunking, for 2 threads (the target machine) and 1.
// With TALENTSIM_BENCH_SWEEP set, other run sizes and chunkings too, to
// compare layouts and to check that memory stays flat (peak RSS of the
// process with --benchmark_filter picking one run size).
void arguments(benchmark::internal::Benchmark* b) {
  b->ArgNames({"replicates", "threads", "rc", "tc"});
  b->Args({1000, 2, 0, 0});
  b->Args({1000, 1, 0, 0});
  if (std::getenv("TALENTSIM_BENCH_SWEEP") != nullptr) {
    b->Args({100, 2, 0, 0});
    b->Args({10'000, 2, 0, 0});
    for (const std::int64_t rc : {1, 4, 8, 16, 32, 64}) {
      for (const std::int64_t tc : {8, 16, 32, 157}) b->Args({1000, 2, rc, tc});
    }
  }
}

BENCHMARK(BM_ResultsWrite)->Apply(arguments)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
