// The `talentsim` command as a user runs it: exit codes, messages, files.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "talentsim/results_file.hpp"
#include "test_util.hpp"

namespace talentsim::test {
namespace {

namespace fs = std::filesystem;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_test_dir("talentsim-cli");
    scenario_ = dir_ / "tiny.yaml";
    std::ofstream(scenario_) << tiny_scenario();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Files in the directory other than the scenario, by name.
  std::vector<std::string> stray_files(const fs::path& where) const {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(where))
      if (e.is_regular_file() && e.path() != scenario_) out.push_back(e.path().filename());
    return out;
  }

  fs::path dir_, scenario_;
};

TEST_F(Cli, ValidateAcceptsAGoodScenario) {
  const auto o = talentsim("validate tiny.yaml", dir_);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("tiny.yaml: valid: 2 labs, 2 tiers"), std::string::npos) << o.out;
}

TEST_F(Cli, ValidateRejectsABadScenarioWithLocatedMessages) {
  std::ofstream(dir_ / "bad.yaml") << tiny_scenario("market: {follow_prob: 3, star_magnit: 1}\n");
  const auto o = talentsim("validate bad.yaml", dir_);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("bad.yaml:15:23: error: market.follow_prob: expected a number in [0, 1], "
                       "found 3"),
            std::string::npos)
      << o.err;
  EXPECT_NE(o.err.find("did you mean \"star_magnet\"?"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("2 problems found"), std::string::npos) << o.err;
}

// A key MODEL.md accepts but ignores (a share question's tiers) is run,
// with a located warning on stderr.
TEST_F(Cli, IgnoredKeysAreWarnedAboutNotRefused) {
  std::ofstream(dir_ / "warn.yaml") << tiny_scenario(
      "questions:\n"
      "  - {id: s, metric: share, lab: A, tiers: [star], window: [2026-01-01, 2026-06-30], "
      "at_least: 0.5}\n");
  const auto o = talentsim("validate warn.yaml", dir_);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("warn.yaml: valid:"), std::string::npos) << o.out;
  EXPECT_NE(o.err.find("warn.yaml:16:43: warning: questions[0].tiers: share always covers every "
                       "tier (MODEL.md section 8): tiers is ignored"),
            std::string::npos)
      << o.err;
  EXPECT_NE(o.err.find("hint: remove tiers"), std::string::npos) << o.err;

  // compare loads both scenarios with the same --set: a warning that the
  // override causes is said once, as is each file's own.
  const auto count = [](const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  const auto cmp =
      talentsim("compare warn.yaml warn.yaml -r 2 --quiet -o c.h5 --set questions.s.from=B", dir_);
  EXPECT_EQ(cmp.exit_code, 0) << cmp.err;
  EXPECT_EQ(count(cmp.err, "warn.yaml:16:43: warning: questions[0].tiers:"), 1u) << cmp.err;
  EXPECT_EQ(count(cmp.err,
                  "--set questions.s.from=B: warning: questions[0].from: from selects "
                  "the source labs of hires (MODEL.md section 8); metric share ignores "
                  "it"),
            1u)
      << cmp.err;
  EXPECT_EQ(count(cmp.err, "warning:"), 2u) << cmp.err;

  // A question without bounds runs: P 1, "any value", its distribution.
  std::ofstream(dir_ / "open.yaml") << tiny_scenario(
      "questions:\n  - {id: h, metric: hires, lab: A, window: [2026-01-01, 2026-06-30]}\n");
  const auto open = talentsim("run open.yaml -r 5 --quiet -o open.h5", dir_);
  EXPECT_EQ(open.exit_code, 0) << open.err;
  EXPECT_NE(open.err.find("open.yaml:16:5: warning: questions[0]: a question without at_least "
                          "or at_most has no outcome to count: its P is 1"),
            std::string::npos)
      << open.err;
  EXPECT_NE(open.out.find("h          1.000   [0.566, 1.000]"), std::string::npos) << open.out;
  EXPECT_NE(open.out.find("hires: any value"), std::string::npos) << open.out;

  // Beside an error, the warning is still said.
  std::ofstream(dir_ / "both.yaml") << tiny_scenario(
      "questions:\n"
      "  - {id: s, metric: share, lab: A, tiers: [star], window: [2026-01-01, 2026-06-30], "
      "at_least: 0.5}\n"
      "  - {id: t, metric: share, lab: Nowhere, window: [2026-01-01, 2026-06-30], "
      "at_least: 0.5}\n");
  const auto bad = talentsim("validate both.yaml", dir_);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(count(bad.err, "both.yaml:16:43: warning: questions[0].tiers:"), 1u) << bad.err;
  EXPECT_EQ(count(bad.err, "error:"), 1u) << bad.err;
  EXPECT_EQ(bad.err.find("problems found"), std::string::npos) << bad.err;  // one error
}

TEST_F(Cli, MissingFileAndBadUsageExitWithTwo) {
  EXPECT_EQ(talentsim("validate nope.yaml", dir_).exit_code, 2);
  EXPECT_EQ(talentsim("run", dir_).exit_code, 2);
  EXPECT_EQ(talentsim("frobnicate", dir_).exit_code, 2);
  EXPECT_EQ(talentsim("run tiny.yaml --no-such-option", dir_).exit_code, 2);
  const auto zero = talentsim("run tiny.yaml -r 0", dir_);
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_NE(zero.err.find("-r/--replicates"), std::string::npos) << zero.err;
  const auto set = talentsim("validate tiny.yaml --set market.follow_prob=2", dir_);
  EXPECT_EQ(set.exit_code, 2);
  EXPECT_NE(set.err.find("--set market.follow_prob=2: error: market.follow_prob"),
            std::string::npos)
      << set.err;
  EXPECT_EQ(talentsim("--help", dir_).exit_code, 0);
}

TEST_F(Cli, RunWritesTheDefaultResultsFileAndPrintsTheSummary) {
  const auto o = talentsim("run tiny.yaml -r 6 --seed 3 --threads 2 --quiet", dir_);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const fs::path file = dir_ / "results" / "tiny.h5";
  ASSERT_TRUE(fs::exists(file));
  EXPECT_NE(o.out.find("tiny: 6 replicates, seed 3"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("end 5%-95%"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("results: results/tiny.h5"), std::string::npos) << o.out;
  EXPECT_TRUE(o.err.empty()) << "no progress when not on a terminal: " << o.err;
  const ResultsFile f = read_results(file);
  EXPECT_EQ(f.meta.replicates, 6);
  EXPECT_EQ(f.meta.seed, 3u);
  EXPECT_EQ(f.replicates.size(), 6u);
  // The same run from the library gives the same numbers.
  const Model model(load_scenario_file(scenario_));
  const auto r = model.run(3, 4);
  EXPECT_EQ(f.replicates[4].headcount, r.headcount);
  EXPECT_EQ(f.replicates[4].flows, r.flows);
  EXPECT_EQ(stray_files(dir_ / "results"), std::vector<std::string>{"tiny.h5"});
}

TEST_F(Cli, ExistingResultsAreRefusedUnlessForced) {
  ASSERT_EQ(talentsim("run tiny.yaml -r 2 -o out.h5", dir_).exit_code, 0);
  const auto size = fs::file_size(dir_ / "out.h5");
  const auto again = talentsim("run tiny.yaml -r 3 -o out.h5", dir_);
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
  EXPECT_EQ(fs::file_size(dir_ / "out.h5"), size);
  ASSERT_EQ(talentsim("run tiny.yaml -r 3 -o out.h5 --force", dir_).exit_code, 0);
  EXPECT_EQ(read_results(dir_ / "out.h5").meta.replicates, 3);
}

TEST_F(Cli, SetOverridesAreRunAndRecorded) {
  ASSERT_EQ(talentsim("run tiny.yaml -r 2 -o set.h5 --set labs.B.prestige=2.5 --set "
                      "'labs[0].comp.star=$3M'",
                      dir_)
                .exit_code,
            0);
  const ResultsFile f = read_results(dir_ / "set.h5");
  EXPECT_NE(f.meta.scenario_text.find("--set labs.B.prestige=2.5"), std::string::npos);
  const Scenario s = load_scenario_text(f.meta.scenario_text, "as-run.yaml");
  EXPECT_DOUBLE_EQ(s.labs[1].prestige, 2.5);
  EXPECT_DOUBLE_EQ(s.labs[0].comp[1], 3e6);
  EXPECT_NE(f.meta.command_line.find("--set"), std::string::npos);
}

TEST_F(Cli, UnwritableDestinationFailsCleanly) {
  std::ofstream(dir_ / "plainfile") << "x";
  const auto o = talentsim("run tiny.yaml -r 2 -o plainfile/sub/out.h5", dir_);
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_NE(o.err.find("plainfile/sub/out.h5"), std::string::npos) << o.err;
  EXPECT_EQ(stray_files(dir_), std::vector<std::string>{"plainfile"});
}

// The report printed by a command, without its final "results: ..." line.
std::string report_of(const std::string& out) {
  const auto at = out.rfind("\nresults: ");
  return at == std::string::npos ? out : out.substr(0, at);
}

TEST_F(Cli, RunReportsQuestionsAndSummarizeReprintsIt) {
  // every_key.yaml's questions (its last section) and three ratio questions,
  // one of which has no joins, so no value, in any replicate.
  std::ofstream(dir_ / "every_key.yaml")
      << read_text(data_path("every_key.yaml"))
      << "  - {id: laba_retention, metric: retention, lab: LabA, window: [2026-01-01, "
         "2026-03-31], after: 0.5, at_least: 0.8}\n"
         "  - {id: laba_vs_labb, metric: flow_ratio, lab: LabA, from: [LabB], window: "
         "[2026-01-01, 2026-12-31], at_least: 2}\n"
         "  - {id: spinout_retention, metric: retention, lab: SpinOut, window: [2026-01-01, "
         "2026-02-01], after: 0.5, at_least: 0.8}\n";
  const auto run = talentsim("run every_key.yaml -r 30 -o ek.h5", dir_);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("labb_star_hires"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("95% interval"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("pooled"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("spinout_retention: no finite value in 30 of 30 replicates"),
            std::string::npos)
      << run.out;
  const auto text = talentsim("summarize ek.h5", dir_);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(report_of(run.out), text.out);
  const auto json = talentsim("summarize ek.h5 --json", dir_);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::ofstream(dir_ / "report.json") << json.out;
  // Valid JSON with the same numbers, read by Python's parser.
  const std::string check =
      std::string(TALENTSIM_PYTHON) + " -c \"import json,sys; d=json.load(open('" +
      (dir_ / "report.json").string() +
      "')); q=d['run']['questions'][0]; "
      "assert d['kind']=='run' and q['id']=='labb_star_hires' and q['n']==30, d; "
      "assert q['interval'][0] <= q['probability'] <= q['interval'][1]; "
      "r=d['run']['questions'][-1]; assert r['defined']==0 and r['pooled'] is None, r; "
      "f=d['run']['questions'][-2]; assert f['metric']=='flow_ratio' and f['pooled'] > 0, f\"";
  EXPECT_EQ(std::system(check.c_str()), 0);
}

TEST_F(Cli, CompareWritesBothRunsAndSummarizeReprintsIt) {
  std::string whatif = tiny_scenario();
  whatif.replace(whatif.find("name: tiny"), 10, "name: tiny-whatif");
  whatif += "events:\n  - {date: 2026-01-01, type: comp, lab: B, factor: 1.5}\n";
  std::ofstream(dir_ / "whatif.yaml") << whatif;
  const auto cmp = talentsim("compare tiny.yaml whatif.yaml -r 20 --seed 9 --quiet", dir_);
  ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
  ASSERT_TRUE(fs::exists(dir_ / "results" / "tiny_vs_tiny-whatif.h5"));
  EXPECT_NE(cmp.out.find("paired 95%"), std::string::npos) << cmp.out;
  EXPECT_NE(cmp.out.find("common random numbers: "), std::string::npos) << cmp.out;
  const auto again = talentsim("summarize results/tiny_vs_tiny-whatif.h5", dir_);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(report_of(cmp.out), again.out);
  // Both runs used the same seed and replicates, each in its own group.
  const auto base = read_results(dir_ / "results" / "tiny_vs_tiny-whatif.h5", kBaselineGroup);
  const auto alt = read_results(dir_ / "results" / "tiny_vs_tiny-whatif.h5", kWhatifGroup);
  EXPECT_EQ(base.meta.seed, 9u);
  EXPECT_EQ(alt.meta.seed, 9u);
  EXPECT_EQ(alt.replicates.size(), 20u);
  EXPECT_EQ(alt.meta.scenario_name, "tiny-whatif");
  // The baseline group is exactly a plain run of the baseline.
  const Model model(load_scenario_file(scenario_));
  EXPECT_EQ(base.replicates[7].headcount, model.run(9, 7).headcount);
}

TEST_F(Cli, SummarizeRejectsWhatIsNotAResultsFile) {
  std::ofstream(dir_ / "junk.h5") << "not hdf5 at all";
  const auto junk = talentsim("summarize junk.h5", dir_);
  EXPECT_EQ(junk.exit_code, 2);
  EXPECT_NE(junk.err.find("junk.h5"), std::string::npos) << junk.err;
  EXPECT_EQ(talentsim("summarize missing.h5", dir_).exit_code, 2);
}

TEST_F(Cli, ShippedScenariosAreValid) {
  int checked = 0;
  for (const auto& dir : {fs::path(TALENTSIM_SCENARIOS), fs::path(TALENTSIM_SCENARIOS) / "whatif"})
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() != ".yaml") continue;
      const auto o = talentsim("validate '" + e.path().string() + "'");
      EXPECT_EQ(o.exit_code, 0) << e.path() << "\n" << o.err;
      ++checked;
    }
  EXPECT_GE(checked, 7);  // baseline, brief, reported and four what-ifs
}

}  // namespace
}  // namespace talentsim::test
