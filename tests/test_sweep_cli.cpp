// `talentsim sweep` as a user runs it: sweep-file errors located in the
// file, designs end to end, common random numbers across points, resuming
// after SIGINT and kill -9 to a file identical to an uninterrupted sweep.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "talentsim/ensemble.hpp"
#include "talentsim/model.hpp"
#include "talentsim/sweep_file.hpp"
#include "talentsim/sweep_loader.hpp"
#include "test_util.hpp"

namespace talentsim::test {
namespace {

namespace fs = std::filesystem;

// Two labs and an outside pool, with questions; `people` sets its size.
std::string market_scenario(int people = 60, const std::string& extra = "") {
  return fmt::format(R"(name: market
start: 2026-01-01
end: 2027-01-01
step_days: 14
replicates: 6
seed: 11
tiers:
  - {{name: junior, search_rate: 0.6, reputation: {{median: 1, sigma: 0.5}}}}
  - {{name: star, search_rate: 0.4, reputation: {{median: 20, sigma: 0.5}}}}
tastes:
  comp: {{mean: 1.0, sd: 0.3}}
  prestige: {{mean: 1.0, sd: 0.4}}
  magnet: {{mean: 1.0, sd: 0.4}}
market: {{star_magnet: 0.5, switching_cost: 1.5, follow_prob: 0.05, peer_magnet: 0.5}}
network: {{degree: 4, within_lab: 0.7}}
labs:
  - name: A
    headcount: {{junior: {0}, star: {1}}}
    comp: {{junior: 300K, star: 2M}}
    prestige: 0.8
  - name: B
    headcount: {{junior: {0}, star: {1}}}
    comp: {{junior: 250K, star: 1.5M}}
    prestige: 0.5
  - name: Outside
    headcount: {{junior: {0}, star: {1}}}
    comp: {{junior: 150K, star: 400K}}
questions:
  - id: a_hires
    metric: hires
    lab: A
    window: [2026-01-01, 2026-12-31]
    at_least: {2}
  - id: b_star_net
    metric: net_flow
    lab: B
    tiers: [star]
    window: [2026-01-01, 2026-12-31]
    at_most: -1
)",
                     people, std::max(1, people / 10), std::max(1, people / 5)) +
         extra;
}

class Sweep : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_test_dir("talentsim-sweep");
    std::ofstream(dir_ / "market.yaml") << market_scenario();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  fs::path dir_;
};

const char* kGrid = R"(base: market.yaml
design: grid
replicates: 6
seed: 5
parameters:
  - {path: market.star_magnet, values: [0.0, 1.0, 2.0]}
  - {path: market.switching_cost, min: 0.5, max: 4.0, scale: log, levels: 2}
)";

// ---- the sweep file is validated like a scenario ---------------------------

struct BadSweep {
  const char* name;
  std::string text;
  std::vector<std::string> fragments;  // each must appear in stderr
};

// Test names in ctest show the case's name, not its bytes.
void PrintTo(const BadSweep& b, std::ostream* os) { *os << b.name; }

class SweepErrors : public Sweep, public ::testing::WithParamInterface<BadSweep> {};

TEST_P(SweepErrors, AreLocatedExplainedAndRunNothing) {
  const BadSweep& b = GetParam();
  write("bad.yaml", b.text);
  const auto o = talentsim("sweep bad.yaml --quiet", dir_);
  EXPECT_EQ(o.exit_code, 2) << o.err;
  for (const auto& f : b.fragments)
    EXPECT_NE(o.err.find(f), std::string::npos) << f << "\n" << o.err;
  EXPECT_FALSE(fs::exists(dir_ / "results")) << "nothing may be written for a bad sweep";
}

const std::string kHead = "base: market.yaml\ndesign: random\nsamples: 4\n";

INSTANTIATE_TEST_SUITE_P(
    Table, SweepErrors,
    ::testing::Values(
        BadSweep{
            "unknown_key",
            kHead + "replicate: 3\nparameters:\n  - {path: market.star_magnet, min: 0, max: 1}\n",
            {"bad.yaml:4:1: error: replicate: unknown key \"replicate\"",
             "did you mean \"replicates\"?"}},
        BadSweep{"missing_base",
                 "design: grid\nparameters:\n  - {path: market.star_magnet, values: [1]}\n",
                 {"missing required key \"base\""}},
        BadSweep{
            "base_not_found",
            "base: nowhere.yaml\ndesign: grid\nparameters:\n  - {path: market.star_magnet, "
            "values: [1]}\n",
            {"bad.yaml:1:7: error: base: no such scenario file", "relative to the sweep file"}},
        BadSweep{"bad_design",
                 "base: market.yaml\ndesign: sobbol\nsamples: 4\nparameters:\n  - {path: "
                 "market.star_magnet, min: 0, max: 1}\n",
                 {"bad.yaml:2:9: error: design: expected grid, random, lhs or sobol"}},
        BadSweep{"grid_with_samples",
                 "base: market.yaml\ndesign: grid\nsamples: 4\nparameters:\n  - {path: "
                 "market.star_magnet, values: [1, 2]}\n",
                 {"bad.yaml:3:10: error: samples: a grid takes no samples"}},
        BadSweep{"random_without_samples",
                 "base: market.yaml\ndesign: lhs\nparameters:\n  - {path: market.star_magnet, min: "
                 "0, max: 1}\n",
                 {"missing required key \"samples\""}},
        BadSweep{"not_a_number",
                 kHead + "parameters:\n  - {path: labs.A.name, min: 0, max: 1}\n",
                 {"bad.yaml:5:12: error: parameters[0].path: labs.A.name is \"A\" in the "
                  "base scenario, not a number"}},
        BadSweep{"a_mapping",
                 kHead + "parameters:\n  - {path: market, min: 0, max: 1}\n",
                 {"parameters[0].path: market is a mapping in the base scenario, not a single "
                  "number"}},
        BadSweep{"misspelt_path",
                 kHead + "parameters:\n  - {path: market.star_magnit, min: 0, max: 1}\n",
                 {"bad.yaml:5:5: error: parameters[0]: market.star_magnit = ",
                  "unknown key \"star_magnit\"", "did you mean \"star_magnet\"?"}},
        BadSweep{"out_of_range_for_the_scenario",
                 kHead + "parameters:\n  - {path: market.follow_prob, min: 0.5, max: 2}\n",
                 {"bad.yaml:5:5: error: parameters[0]: market.follow_prob = ",
                  "expected a number in [0, 1]", "narrow min and max"}},
        BadSweep{"max_not_above_min",
                 kHead + "parameters:\n  - {path: market.star_magnet, min: 2, max: 1}\n",
                 {"parameters[0].max: expected max > min (2), found 1"}},
        BadSweep{
            "log_needs_positive",
            kHead + "parameters:\n  - {path: market.star_magnet, min: 0, max: 1, scale: log}\n",
            {"parameters[0].min: a log scale needs min > 0, found 0"}},
        BadSweep{"bad_scale",
                 kHead + "parameters:\n  - {path: market.star_magnet, min: 1, max: 2, scale: ln}\n",
                 {"parameters[0].scale: expected linear or log, found \"ln\""}},
        BadSweep{
            "values_and_range",
            kHead + "parameters:\n  - {path: market.star_magnet, min: 1, max: 2, values: [1]}\n",
            {"\"min\" does not go with listed values"}},
        BadSweep{"duplicate_parameter",
                 kHead + "parameters:\n  - {path: market.star_magnet, min: 0, max: 1}\n  - {path: "
                         "market.star_magnet, min: 0, max: 2}\n",
                 {"parameters[1].path: market.star_magnet is swept twice"}},
        BadSweep{"sweeping_replicates",
                 kHead + "parameters:\n  - {path: replicates, min: 1, max: 10}\n",
                 {"replicates is set by the sweep itself", "at the top of the sweep file"}},
        BadSweep{"grid_without_levels",
                 "base: market.yaml\ndesign: grid\nparameters:\n  - {path: market.star_magnet, "
                 "min: 0, max: 1}\n",
                 {"a grid needs the levels of each parameter", "levels: 5"}},
        BadSweep{"levels_on_random",
                 kHead + "parameters:\n  - {path: market.star_magnet, min: 0, max: 1, levels: 3}\n",
                 {"levels apply to a grid, not to a random design"}},
        BadSweep{"nan_value",
                 "base: market.yaml\ndesign: grid\nparameters:\n  - {path: market.star_magnet, "
                 "values: [1, .nan]}\n",
                 {"parameters[0].values[1]: expected a finite number"}},
        BadSweep{"whole_number_parameter",
                 kHead + "parameters:\n  - {path: network.degree, min: 1, max: 6}\n",
                 {"parameters[0]: network.degree = ", "expected a whole number",
                  "add `integer: true` to the parameter"}},
        BadSweep{"whole_number_bounds",
                 kHead + "parameters:\n  - {path: network.degree, min: 1, max: 6.5, integer: "
                         "true}\n",
                 {"parameters[0].max: expected a whole number for a whole-number parameter, "
                  "found 6.5"}},
        BadSweep{"cross_field_rule",
                 kHead + "parameters:\n  - {path: questions.a_hires.at_most, min: 1, max: 40}\n",
                 {"parameters[0]: questions.a_hires.at_most = ", "expected at_most >= at_least"}},
        BadSweep{"changes_the_shape",
                 "base: market.yaml\ndesign: grid\nparameters:\n  - {path: step_days, values: [7, "
                 "14]}\n",
                 {"changes the scenario's shape", "do not sweep step_days"}},
        BadSweep{"empty_parameters",
                 kHead + "parameters: []\n",
                 {"parameters: expected a non-empty list of parameters"}},
        BadSweep{"flow_path_with_brackets",
                 kHead + "parameters:\n  - {path: events[0].amount, min: 1, max: 2}\n",
                 {"bad.yaml:5:18: error: this is not valid YAML",
                  "quote text that holds brackets or commas, e.g. {path: \"events[3].amount\""}},
        BadSweep{"not_yaml", "base: [market.yaml\n", {"bad.yaml:2:1: error:", "not valid YAML"}}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- designs end to end --------------------------------------------------------

TEST_F(Sweep, GridRunsEveryCombinationAndEachPointEqualsARunOfIt) {
  write("g.yaml", kGrid);
  const auto o = talentsim("sweep g.yaml --quiet --threads 2", dir_);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("sweep g: grid design over 2 parameters, 6 points x 6 replicates, seed 5"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("P(a_hires) by market.star_magnet (rows) and market.switching_cost"),
            std::string::npos)
      << o.out;
  const SweepFile f = read_sweep(dir_ / "results" / "g.h5");
  ASSERT_EQ(f.meta.points, 6);
  EXPECT_EQ(f.meta.parameter_paths,
            (std::vector<std::string>{"market.star_magnet", "market.switching_cost"}));
  // Last parameter fastest; log levels exact at both ends.
  const std::vector<double> expected = {0, 0.5, 0, 4, 1, 0.5, 1, 4, 2, 0.5, 2, 4};
  EXPECT_EQ(f.meta.parameter_values, expected);

  // Point 3 (star_magnet 1, switching_cost 4) equals a run of the scenario
  // with those values: same seed, same replicate streams.
  const LoadedSweep s = load_sweep_file(dir_ / "g.yaml");
  const Scenario point3 = load_point(s.spec, s.design, 3);
  EXPECT_EQ(point3.market.star_magnet, 1.0);
  EXPECT_EQ(point3.market.switching_cost, 4.0);
  const Model model(point3);
  const std::size_t Q = 2, L = 3, K = 2;
  for (std::int64_t r = 0; r < 6; ++r) {
    const ReplicateResult x = model.run(5, r);
    for (std::size_t q = 0; q < Q; ++q)
      EXPECT_EQ(f.question_value[(3 * 6 + r) * Q + q], x.question_value[q]);
    for (std::size_t i = 0; i < L * K; ++i)
      EXPECT_EQ(f.headcount[(3 * 6 + r) * L * K + i],
                x.headcount[x.tlk(x.shape.steps - 1, 0, 0) + i]);
  }
  // summarize prints the same report from the file.
  const auto again = talentsim("summarize results/g.h5", dir_);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(o.out.substr(0, o.out.find("\nresults: ")), again.out);
  const auto json = talentsim("summarize --json results/g.h5", dir_);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(
      json.out.rfind("{\"kind\":\"sweep\",\"name\":\"g\",\"design\":\"grid\",\"points\":6,", 0), 0u)
      << json.out;
}

// A ratio question's per-point summary (question_mean) is its pooled
// estimate over the point's replicates: sum of numerators / sum of
// denominators; a count's is its mean.
TEST_F(Sweep, RatioQuestionsArePooledAtEachPoint) {
  write("market.yaml",
        market_scenario(60,
                        "  - {id: a_retention, metric: retention, lab: A, window: [2026-01-01, "
                        "2026-06-30], after: 0.25, at_least: 0.5}\n"
                        "  - {id: a_from_b, metric: flow_ratio, lab: A, from: [B], window: "
                        "[2026-01-01, 2026-12-31], at_least: 1}\n"));
  write("r.yaml",
        "base: market.yaml\ndesign: grid\nreplicates: 6\nseed: 5\nparameters:\n"
        "  - {path: market.switching_cost, values: [0.5, 3.0]}\n");
  const auto o = talentsim("sweep r.yaml --quiet --threads 2", dir_);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const SweepFile f = read_sweep(dir_ / "results" / "r.h5");
  const LoadedSweep s = load_sweep_file(dir_ / "r.yaml");
  ASSERT_EQ(f.meta.points, 2);
  for (std::int64_t p = 0; p < 2; ++p) {
    const Model model(load_point(s.spec, s.design, p));
    std::vector<double> numerator(4, 0), denominator(4, 0), sum(4, 0);
    for (std::int64_t r = 0; r < 6; ++r) {
      const ReplicateResult x = model.run(5, r);
      for (std::size_t q = 0; q < 4; ++q) {
        numerator[q] += x.question_numerator[q];
        denominator[q] += x.question_denominator[q];
        sum[q] += x.question_value[q];
      }
    }
    const auto& mean = f.summaries[static_cast<std::size_t>(p)].question_mean;
    EXPECT_DOUBLE_EQ(mean[0], sum[0] / 6);  // a_hires, a count
    for (std::size_t q = 2; q < 4; ++q) {
      ASSERT_GT(denominator[q], 0) << "point " << p << ", question " << q;
      EXPECT_DOUBLE_EQ(mean[q], numerator[q] / denominator[q]) << "point " << p << ", " << q;
    }
  }
}

TEST_F(Sweep, ReplicateRUsesTheSameStreamsAtEveryPoint) {
  // A question's threshold changes only the outcome, never the simulation:
  // with common random numbers every point's values are the same.
  write("crn.yaml", R"(base: market.yaml
design: lhs
samples: 5
replicates: 8
seed: 3
parameters:
  - {path: questions.a_hires.at_least, min: 1, max: 9}
)");
  const auto o = talentsim("sweep crn.yaml --quiet -o crn.h5", dir_);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const SweepFile f = read_sweep(dir_ / "crn.h5");
  const std::size_t per_point = 8 * 2;
  for (std::size_t p = 1; p < 5; ++p)
    for (std::size_t i = 0; i < per_point; ++i)
      ASSERT_EQ(f.question_value[p * per_point + i], f.question_value[i]) << "point " << p;
  // ... while different replicates differ.
  bool differs = false;
  for (std::size_t r = 1; r < 8; ++r) differs |= f.question_value[r * 2] != f.question_value[0];
  EXPECT_TRUE(differs);
}

TEST_F(Sweep, SobolStoresAndPrintsIndicesWithIntervals) {
  write("s.yaml", R"(base: market.yaml
design: sobol
samples: 16
replicates: 4
seed: 2
bootstrap: 200
parameters:
  - {path: market.star_magnet, min: 0, max: 2}
  - {path: labs.A.comp.junior, values: [200K, 300K, 450K]}
  - {path: questions.a_hires.at_least, min: 1, max: 60}
)");
  const auto o = talentsim("sweep s.yaml --quiet -o s.h5", dir_);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("Sobol' indices of each output across points (16 base samples; 95% "
                       "intervals from 200 bootstrap resamples)"),
            std::string::npos)
      << o.out;
  const SweepFile f = read_sweep(dir_ / "s.h5");
  EXPECT_EQ(f.meta.points, 16 * 5);
  ASSERT_TRUE(f.has_sensitivity);
  EXPECT_EQ(f.sensitivity.outputs,
            (std::vector<std::string>{"a_hires", "b_star_net", "headcount[A]", "headcount[B]",
                                      "headcount[Outside]"}));
  const std::size_t O = 5;
  // The threshold of a_hires moves its probability but no headcount.
  for (std::size_t o2 = 2; o2 < O; ++o2) EXPECT_EQ(f.sensitivity.total[2 * O + o2], 0.0);
  EXPECT_GT(f.sensitivity.total[2 * O + 0], 0.1);
  // The split-half noise estimate is finite and non-negative.
  ASSERT_EQ(f.sensitivity.output_noise_variance.size(), O);
  for (double v : f.sensitivity.output_noise_variance) {
    EXPECT_TRUE(std::isfinite(v));
    EXPECT_GE(v, 0.0);
  }
  for (std::size_t i = 0; i < f.sensitivity.first.size(); ++i) {
    EXPECT_LE(f.sensitivity.first_low[i], f.sensitivity.first[i] + 1e-12);
    EXPECT_GE(f.sensitivity.first_high[i], f.sensitivity.first[i] - 1e-12);
  }
}

TEST_F(Sweep, NoiseIsWhatCommonRandomNumbersLeaveBetweenPoints) {
  // Only a question's threshold varies: every point runs the same
  // histories, so the headcounts neither vary nor carry noise between
  // points, while the question's probability varies and its estimate from
  // the two halves of the replicates differs from point to point.
  write("n.yaml", R"(base: market.yaml
design: sobol
samples: 8
replicates: 10
seed: 4
parameters:
  - {path: questions.a_hires.at_least, min: 1, max: 40}
)");
  const auto o = talentsim("sweep n.yaml --quiet -o n.h5", dir_);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const SweepFile f = read_sweep(dir_ / "n.h5");
  const auto& t = f.sensitivity;
  for (std::size_t out = 2; out < 5; ++out) {
    EXPECT_EQ(t.output_variance[out], 0.0) << t.outputs[out];
    EXPECT_EQ(t.output_noise_variance[out], 0.0) << t.outputs[out];
  }
  EXPECT_GT(t.output_variance[0], 0.0);
  EXPECT_GT(t.output_noise_variance[0], 0.0);
  EXPECT_LT(t.output_noise_variance[0], t.output_variance[0]);
}

TEST_F(Sweep, WholeNumberParametersAndQuotedMoneyInTheBase) {
  std::string base = market_scenario();
  base.replace(base.find("junior: 300K"), 12, "junior: \"$300K\"");
  std::ofstream(dir_ / "market.yaml") << base;
  write("w.yaml", R"(base: market.yaml
design: lhs
samples: 12
replicates: 2
parameters:
  - {path: network.degree, min: 1, max: 6, integer: true}
  - {path: labs.A.comp.junior, values: [200K, "$450K"]}
)");
  const auto o = talentsim("sweep w.yaml --quiet -o w.h5", dir_);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const SweepFile f = read_sweep(dir_ / "w.h5", false);
  std::set<double> degrees;
  for (std::size_t p = 0; p < 12; ++p) {
    const double d = f.meta.parameter_values[p * 2];
    EXPECT_EQ(d, std::floor(d));
    degrees.insert(d);
    const double pay = f.meta.parameter_values[p * 2 + 1];
    EXPECT_TRUE(pay == 200e3 || pay == 450e3) << pay;
  }
  // 12 strata over 6 whole numbers: each twice.
  EXPECT_EQ(degrees, (std::set<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(f.question_value.empty()) << "read without the replicates";
}

// A key the base carries but MODEL.md ignores is said once, located in the
// base, however many points load that base.
TEST_F(Sweep, TheBasesWarningsAreSaidOnce) {
  std::string base = market_scenario();
  const std::string at = "    metric: net_flow\n    lab: B\n";
  base.replace(base.find(at), at.size(), at + "    from: [A]\n");
  std::ofstream(dir_ / "market.yaml") << base;
  write("g.yaml", kGrid);
  const auto o = talentsim("sweep g.yaml --quiet -o g.h5", dir_);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const auto line = 1 + std::count(base.begin(), base.begin() + base.find("    from: [A]"), '\n');
  const std::string warning = "market.yaml:" + std::to_string(line) +
                              ":11: warning: questions[1].from: from selects the source labs of "
                              "hires (MODEL.md section 8); metric net_flow ignores it";
  EXPECT_NE(o.err.find(warning), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find("warning:"), o.err.rfind("warning:")) << o.err;  // once, for 6 points
}

TEST_F(Sweep, JournalIsLockedValidatedAndStaleFilesCleaned) {
  write("g.yaml", kGrid);
  // Another process holding the journal's lock.
  fs::create_directories(dir_ / "g.h5.partial");
  std::ofstream(dir_ / "g.h5.partial" / "manifest.txt") << "not a manifest\n";
  const int fd = ::open((dir_ / "g.h5.partial" / "lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  auto o = talentsim("sweep g.yaml --quiet --resume -o g.h5", dir_);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("another talentsim process is running this sweep"), std::string::npos)
      << o.err;
  ::close(fd);
  // A damaged manifest is not trusted silently.
  o = talentsim("sweep g.yaml --quiet --resume -o g.h5", dir_);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("manifest is missing or damaged"), std::string::npos) << o.err;
  // A temporary file of a process that no longer runs is removed.
  std::ofstream(dir_ / "g.h5.tmp.2147483646") << "left by kill -9";
  o = talentsim("sweep g.yaml --quiet --resume --force -o g.h5", dir_);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_FALSE(fs::exists(dir_ / "g.h5.tmp.2147483646"));
  EXPECT_FALSE(fs::exists(dir_ / "g.h5.partial"));
}

TEST_F(Sweep, FullOutputKeepsEveryStep) {
  write("full.yaml", std::string(kGrid) + "output: full\n");
  const auto o = talentsim("sweep full.yaml --quiet -o full.h5", dir_);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const auto py = std::string(TALENTSIM_PYTHON) + " -c \"import xarray as x; d = x.open_dataset('" +
                  (dir_ / "full.h5").string() +
                  "'); assert d.step_headcount.dims == ('point', 'replicate', 'time', 'lab', "
                  "'tier'), d.step_headcount.dims; assert (d.step_headcount.isel(time=-1) == "
                  "d.headcount).all()\"";
  EXPECT_EQ(std::system(py.c_str()), 0);
}

TEST_F(Sweep, RefusesToOverwriteAndExplainsAKeptJournal) {
  write("g.yaml", kGrid);
  ASSERT_EQ(talentsim("sweep g.yaml --quiet -o g.h5", dir_).exit_code, 0);
  auto o = talentsim("sweep g.yaml --quiet -o g.h5", dir_);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("g.h5: error: the results file already exists"), std::string::npos) << o.err;
  fs::create_directories(dir_ / "h.h5.partial");
  o = talentsim("sweep g.yaml --quiet -o h.h5", dir_);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("pass --resume to finish it, or --force to discard it"), std::string::npos)
      << o.err;
}

// ---- interrupted sweeps ----------------------------------------------------------

class Interrupted : public Sweep, public ::testing::WithParamInterface<int> {};

TEST_P(Interrupted, ResumeEndsIdenticalToAnUninterruptedSweep) {
  const int sig = GetParam();
  // Big enough that a point takes a visible moment.
  std::ofstream(dir_ / "market.yaml") << market_scenario(900);
  write("k.yaml", R"(base: market.yaml
design: lhs
samples: 24
replicates: 6
seed: 9
output: full
parameters:
  - {path: market.star_magnet, min: 0, max: 2}
  - {path: market.switching_cost, min: 0.5, max: 4, scale: log}
)");
  const auto whole = talentsim("sweep k.yaml --quiet --threads 2 -o whole.h5", dir_);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  const pid_t pid = spawn_talentsim("sweep k.yaml --quiet --threads 2 -o cut.h5", dir_);
  ASSERT_TRUE(wait_for_records(dir_ / "cut.h5.partial", 3, pid)) << "the sweep ended too soon";
  ASSERT_EQ(::kill(pid, sig), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  const std::string err = read_text(dir_ / "stderr.txt");
  if (sig == SIGKILL) {
    EXPECT_TRUE(WIFSIGNALED(status));
  } else {
    // Stopped within the point in progress, keeping the finished ones.
    ASSERT_TRUE(WIFEXITED(status)) << err;
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig) << err;
    EXPECT_NE(err.find("points are kept in cut.h5.partial"), std::string::npos) << err;
    EXPECT_NE(err.find("run the same command with --resume"), std::string::npos) << err;
  }
  EXPECT_FALSE(fs::exists(dir_ / "cut.h5")) << "the destination must not exist yet";
  const std::size_t kept = journal_records(dir_ / "cut.h5.partial");
  EXPECT_GE(kept, 3u);
  EXPECT_LT(kept, 24u) << "the sweep finished before it could be stopped";

  const auto resumed = talentsim("sweep k.yaml --threads 2 --resume -o cut.h5", dir_);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find(fmt::format("{} points already done", kept)), std::string::npos)
      << resumed.err;
  EXPECT_FALSE(fs::exists(dir_ / "cut.h5.partial"));
  EXPECT_TRUE(same_results(dir_ / "whole.h5", dir_ / "cut.h5"));
}

INSTANTIATE_TEST_SUITE_P(Signals, Interrupted, ::testing::Values(SIGINT, SIGTERM, SIGKILL),
                         signal_test_name);

TEST_F(Sweep, ResumeRefusesAJournalOfAnotherSweep) {
  write("g.yaml", kGrid);
  fs::create_directories(dir_ / "g.h5.partial");
  std::ofstream(dir_ / "g.h5.partial" / "manifest.txt")
      << "talentsim journal 1\nfingerprint 0123456789abcdef\ncreated x\ncommand y\n";
  const auto o = talentsim("sweep g.yaml --quiet --resume -o g.h5", dir_);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("was started with a different sweep file, base scenario or talentsim build"),
            std::string::npos)
      << o.err;
  const auto forced = talentsim("sweep g.yaml --quiet --force -o g.h5", dir_);
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
}

}  // namespace
}  // namespace talentsim::test
