// `talentsim calibrate` end to end. A synthetic problem: the targets are the
// model's own values at known parameters (computed here on replicates the
// calibration never uses), and the calibration must recover those
// parameters within its 95% posterior intervals. Then: the calibrated
// scenario carries the estimate and keeps the base's comments, and a
// calibration stopped by a signal resumes to the same file.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "talentsim/ensemble.hpp"
#include "talentsim/model.hpp"
#include "talentsim/scenario_loader.hpp"
#include "test_util.hpp"

namespace talentsim::test {
namespace {

namespace fs = std::filesystem;

// Three labs; B has the mission, A the pay. Two years, fortnightly.
std::string market(double junior_rate, double mission_mean) {
  return fmt::format(R"(# the synthetic market of test_calibrate_cli
name: synthetic
start: 2026-01-01
end: 2028-01-01
step_days: 14
replicates: 10
seed: 5
tiers:
  - name: junior
    search_rate: {}   # calibrated
    reputation: {{median: 1, sigma: 0.5}}
  - {{name: star, search_rate: 0.4, reputation: {{median: 20, sigma: 0.5}}}}
tastes:
  comp: {{mean: 1.0, sd: 0.3}}
  mission: {{mean: {}, sd: 0.5}}   # calibrated
market: {{switching_cost: 1.0}}
labs:
  - name: A
    headcount: {{junior: 300, star: 10}}
    comp: {{junior: 400K, star: 2M}}
    mission: 0.2
  - name: B
    headcount: {{junior: 300, star: 10}}
    comp: {{junior: 300K, star: 1.5M}}
    mission: 0.9
  - name: Outside
    headcount: {{junior: 300, star: 10}}
    comp: {{junior: 250K, star: 1M}}
    mission: 0.5
)",
                     junior_rate, mission_mean);
}

const char* kTargets = R"(
  - id: retention_a
    metric: retention
    lab: A
    tiers: [junior]
    window: [2026-01-01, 2026-12-31]
    after: 1
  - id: a_to_b
    metric: flow_ratio
    lab: B
    from: [A]
    window: [2026-01-01, 2027-12-31]
  - id: b_hires
    metric: hires
    lab: B
    window: [2026-01-01, 2027-12-31]
)";

constexpr double kTrueRate = 0.6, kTrueMission = 1.0;

// The targets' pooled values at the truth, over replicates 1000 .. 1299.
std::vector<double> truth_values() {
  const std::string text = market(kTrueRate, kTrueMission) + "questions:" + kTargets;
  // Questions need an outcome; the calibration's targets do not.
  std::string with_outcomes;
  for (std::size_t at = 0, next; at < text.size(); at = next + 1) {
    next = text.find('\n', at);
    if (next == std::string::npos) next = text.size();
    const std::string line = text.substr(at, next - at);
    with_outcomes += line + "\n";
    if (line.rfind("    window:", 0) == 0) with_outcomes += "    at_least: 0\n";
  }
  const Model model(load_scenario_text(with_outcomes, "truth"));
  std::vector<double> num(3, 0), den(3, 0);
  run_ensemble(model, {.first = 1000, .count = 300, .seed = 77, .threads = 2},
               [&](ReplicateResult&& r) {
                 for (int q = 0; q < 3; ++q) {
                   num[q] += r.question_numerator[q];
                   den[q] += r.question_denominator[q];
                 }
               });
  return {num[0] / den[0], num[1] / den[1], num[2] / den[2]};
}

std::vector<double> read_doubles(hid_t file, const char* name) {
  const hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  EXPECT_GE(d, 0) << name;
  const hid_t space = H5Dget_space(d);
  std::vector<double> out(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)));
  H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
  H5Sclose(space);
  H5Dclose(d);
  return out;
}

class Calibrate : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_test_dir("calibrate");
    std::ofstream(dir_ / "market.yaml") << market(0.3, 0.0);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write_calibration(const std::vector<double>& values, int particles = 150) {
    const std::string targets = kTargets;
    const char* tolerance[] = {"0.02", "", "8"};
    // Each target's value and tolerance after its first line.
    std::string out;
    int t = -1;
    for (std::size_t at = 0, next; at < targets.size(); at = next + 1) {
      next = targets.find('\n', at);
      if (next == std::string::npos) next = targets.size();
      const std::string line = targets.substr(at, next - at);
      out += line + "\n";
      if (line.rfind("  - id:", 0) == 0) {
        ++t;
        const std::string tol =
            t == 1 ? fmt::format("{}", 0.1 * values[1]) : std::string(tolerance[t]);
        out += fmt::format("    value: {}\n    tolerance: {}\n    source: synthetic\n", values[t],
                           tol);
      }
    }
    std::ofstream(dir_ / "k.yaml") << fmt::format(R"(name: synthetic
base: market.yaml
seed: 77
replicates: 6
particles: {}
generations: 8
check_replicates: 40
parameters:
  - {{path: tiers.junior.search_rate, min: 0.1, max: 2.0, prior: log-uniform}}
  - {{path: tastes.mission.mean, min: -1.0, max: 3.0}}
targets:{}predictions:
  - {{id: b_tenure, metric: tenure, lab: B, window: [2027-06-30, 2027-06-30], value: 2,
     source: made up}}
)",
                                                  particles, out);
  }
  fs::path dir_;
};

TEST_F(Calibrate, RecoversKnownParametersWithinItsPosteriorIntervals) {
  const std::vector<double> truth = truth_values();
  ASSERT_GT(truth[0], 0.3);
  ASSERT_LT(truth[0], 0.95);
  write_calibration(truth);
  const auto run = talentsim("calibrate k.yaml --threads 2 --quiet", dir_);
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  ASSERT_TRUE(fs::exists(dir_ / "results/synthetic.calibration.h5")) << run.out;
  ASSERT_TRUE(fs::exists(dir_ / "results/synthetic.calibrated.yaml")) << run.out;
  EXPECT_NE(run.out.find("fit of the calibrated scenario"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("predictions of the calibrated scenario (not fitted)"), std::string::npos)
      << run.out;

  const hid_t file =
      H5Fopen((dir_ / "results/synthetic.calibration.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const auto low = read_doubles(file, "posterior_low"), high = read_doubles(file, "posterior_high"),
             estimate = read_doubles(file, "estimate"), check = read_doubles(file, "check_value"),
             predicted = read_doubles(file, "prediction_value");
  H5Fclose(file);
  const double truths[] = {kTrueRate, kTrueMission}, widths[] = {1.9, 4.0};
  for (int p = 0; p < 2; ++p) {
    EXPECT_LE(low[p], truths[p]) << "parameter " << p << "\n" << run.out;
    EXPECT_GE(high[p], truths[p]) << "parameter " << p << "\n" << run.out;
    // Informative: the interval is a small part of the prior's range.
    EXPECT_LT(high[p] - low[p], 0.35 * widths[p]) << "parameter " << p << "\n" << run.out;
  }
  // The written scenario carries the estimate, keeps the base's comments,
  // and loads.
  const std::string written = read_text(dir_ / "results/synthetic.calibrated.yaml");
  EXPECT_NE(written.find("# the synthetic market of test_calibrate_cli"), std::string::npos);
  EXPECT_NE(written.find(fmt::format("search_rate: {}   # calibrated", estimate[0])),
            std::string::npos)
      << written;
  const Scenario s = load_scenario_text(written, "written");
  EXPECT_DOUBLE_EQ(s.tiers[0].search_rate, estimate[0]);
  EXPECT_DOUBLE_EQ(s.tastes[3].mean, estimate[1]);
  // The fit at the estimate is close to the data (within twice the tolerance).
  EXPECT_NEAR(check[0], truth[0], 0.04) << run.out;
  // A prediction is answered at the estimate: a mean tenure in years, about
  // the four years' uniform start's 2 plus 1.5 years, less turnover.
  ASSERT_EQ(predicted.size(), 1u);
  EXPECT_GT(predicted[0], 0.5);
  EXPECT_LT(predicted[0], 3.5);
}

TEST_F(Calibrate, AStoppedCalibrationResumesToTheSameResult) {
  write_calibration({0.7, 3.0, 120.0}, 60);
  const auto whole =
      talentsim("calibrate k.yaml --threads 2 --quiet -o whole.calibration.h5", dir_);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  const pid_t pid =
      spawn_talentsim("calibrate k.yaml --threads 2 --quiet -o cut.calibration.h5", dir_);
  ASSERT_TRUE(wait_for_records(dir_ / "cut.calibration.h5.partial", 2, pid))
      << "the calibration ended too soon";
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  const std::string err = read_text(dir_ / "stderr.txt");
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT) << err;
  EXPECT_NE(err.find("run the same command with --resume"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir_ / "cut.calibration.h5"));

  const auto resumed =
      talentsim("calibrate k.yaml --threads 1 --resume -o cut.calibration.h5", dir_);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("generations already done"), std::string::npos) << resumed.err;
  EXPECT_FALSE(fs::exists(dir_ / "cut.calibration.h5.partial"));
  // Same particles, weights, check and calibrated scenario; only the
  // invocation (and the file names in the report) differ.
  const std::string cmd =
      shell_quote(TALENTSIM_PYTHON) + " " +
      shell_quote(std::string(TALENTSIM_TESTS_DIR) + "/python/same_h5.py") + " " +
      shell_quote((dir_ / "whole.calibration.h5").string()) + " " +
      shell_quote((dir_ / "cut.calibration.h5").string()) +
      " --ignore-attribute created --ignore-attribute command_line --ignore-attribute report";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(read_text(dir_ / "whole.calibrated.yaml"), read_text(dir_ / "cut.calibrated.yaml"));
}

TEST_F(Calibrate, RefusesToOverwriteWithoutForce) {
  write_calibration({0.7, 3.0, 120.0}, 20);
  std::ofstream(dir_ / "x.calibrated.yaml") << "keep me\n";
  const auto run = talentsim("calibrate k.yaml --quiet -o x.calibration.h5", dir_);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("x.calibrated.yaml"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("--force"), std::string::npos) << run.err;
  EXPECT_EQ(read_text(dir_ / "x.calibrated.yaml"), "keep me\n");
  EXPECT_FALSE(fs::exists(dir_ / "x.calibration.h5"));
}

}  // namespace
}  // namespace talentsim::test
