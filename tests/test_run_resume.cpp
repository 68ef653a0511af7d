// Interrupted runs and comparisons (issue 7): real processes are stopped
// by SIGINT, SIGTERM and kill -9; the destination must be untouched, the
// finished replicates kept, and --resume must end with the same file as an
// uninterrupted run.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "test_util.hpp"

namespace talentsim::test {
namespace {

namespace fs = std::filesystem;

const std::string kScenario = std::string(TALENTSIM_SCENARIOS) + "/bench/frontier_25k.yaml";
const std::string kWhatif = std::string(TALENTSIM_SCENARIOS) + "/whatif/meta_raid.yaml";
const std::string kBrief = std::string(TALENTSIM_SCENARIOS) + "/brief_2026.yaml";
// Five rows of 32 replicates: a row reaches the journal as its last
// replicate is stored.
constexpr int kReplicates = 160;

std::string run_args(const std::string& output, const std::string& more = "") {
  return fmt::format("run {} -r {} --threads 2 --quiet -o {} {}", shell_quote(kScenario),
                     kReplicates, output, more);
}

// The report without its last line, which gives the time taken.
std::string report_body(const std::string& out) {
  const auto end = out.rfind("\nresults: ");
  return out.substr(0, end);
}

class RunResume : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reference_ = new fs::path(fs::temp_directory_path() /
                              fmt::format("talentsim-resume-ref-{}", ::getpid()));
    fs::create_directories(*reference_);
    const auto o = talentsim(run_args("whole.h5"), *reference_);
    ASSERT_EQ(o.exit_code, 0) << o.err;
    whole_report_ = new std::string(report_body(o.out));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*reference_);
    delete reference_;
    delete whole_report_;
  }
  void SetUp() override { dir_ = fresh_test_dir("talentsim-resume"); }
  void TearDown() override { fs::remove_all(dir_); }

  static fs::path* reference_;
  static std::string* whole_report_;
  fs::path dir_;
};
fs::path* RunResume::reference_ = nullptr;
std::string* RunResume::whole_report_ = nullptr;

// Stops `pid` with `sig` once its journal holds a row; returns the wait
// status and how long the process took to end after the signal.
std::pair<int, double> stop_after_first_row(pid_t pid, const fs::path& journal, int sig) {
  if (!wait_for_records(journal, 1, pid)) {
    ADD_FAILURE() << "the run ended before a row was kept";
    return {0, 0};
  }
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(::kill(pid, sig), 0);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return {status, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
}

class RunInterrupted : public RunResume, public ::testing::WithParamInterface<int> {};

TEST_P(RunInterrupted, DestinationUntouchedAndResumeIdentical) {
  const int sig = GetParam();
  // A results file from before: --force replaces it only when the run is done.
  std::ofstream(dir_ / "cut.h5") << "an older results file";
  const pid_t pid = spawn_talentsim(run_args("cut.h5", "--force"), dir_);
  const auto [status, seconds] = stop_after_first_row(pid, dir_ / "cut.h5.partial", sig);
  const std::string err = read_text(dir_ / "stderr.txt");
  if (sig == SIGKILL) {
    EXPECT_TRUE(WIFSIGNALED(status));
  } else {
    ASSERT_TRUE(WIFEXITED(status)) << err;
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig) << err;
    EXPECT_LT(seconds, 2.0) << "the run took too long to stop";
    EXPECT_NE(err.find("replicates are kept in cut.h5.partial"), std::string::npos) << err;
    EXPECT_NE(err.find("run the same command with --resume"), std::string::npos) << err;
    // No temporary results file is left behind.
    for (const auto& e : fs::directory_iterator(dir_))
      EXPECT_EQ(e.path().filename().string().find("cut.h5.tmp"), std::string::npos) << e.path();
  }
  EXPECT_EQ(read_text(dir_ / "cut.h5"), "an older results file");
  const std::size_t rows = journal_records(dir_ / "cut.h5.partial");
  EXPECT_GE(rows, 1u);

  // Without --resume, the kept work is neither lost nor silently reused.
  const auto refused = talentsim(run_args("cut.h5"), dir_);
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("run the same command with --resume --force"), std::string::npos)
      << refused.err;
  EXPECT_EQ(journal_records(dir_ / "cut.h5.partial"), rows);

  const auto resumed = talentsim(run_args("cut.h5", "--force --resume"), dir_);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("replicates already done"), std::string::npos) << resumed.err;
  EXPECT_EQ(resumed.err.find("resuming: 0 of"), std::string::npos) << resumed.err;
  EXPECT_FALSE(fs::exists(dir_ / "cut.h5.partial"));
  EXPECT_TRUE(same_results(*reference_ / "whole.h5", dir_ / "cut.h5"));
  EXPECT_EQ(report_body(resumed.out), *whole_report_);
}

INSTANTIATE_TEST_SUITE_P(Signals, RunInterrupted, ::testing::Values(SIGINT, SIGTERM, SIGKILL),
                         signal_test_name);

TEST_F(RunResume, DamagedRowIsComputedAgain) {
  const pid_t pid = spawn_talentsim(run_args("cut.h5"), dir_);
  stop_after_first_row(pid, dir_ / "cut.h5.partial", SIGINT);
  fs::path row;
  for (const auto& e : fs::directory_iterator(dir_ / "cut.h5.partial"))
    if (e.path().extension() == ".bin") row = e.path();
  ASSERT_FALSE(row.empty());
  {
    std::fstream f(row, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x5a');
  }
  const auto resumed = talentsim(run_args("cut.h5", "--resume"), dir_);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("is damaged"), std::string::npos) << resumed.err;
  EXPECT_TRUE(same_results(*reference_ / "whole.h5", dir_ / "cut.h5"));
}

TEST_F(RunResume, RefusesTheJournalOfADifferentRun) {
  const pid_t pid = spawn_talentsim(run_args("cut.h5"), dir_);
  stop_after_first_row(pid, dir_ / "cut.h5.partial", SIGTERM);
  auto o = talentsim(run_args("cut.h5"), dir_);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("pass --resume to finish it, or --force to discard it"), std::string::npos)
      << o.err;
  o = talentsim(run_args("cut.h5", "--resume --seed 99"), dir_);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("was started with a different scenario, --set value, seed, replicate count "
                       "or talentsim build"),
            std::string::npos)
      << o.err;
  o = talentsim(run_args("cut.h5", "--resume --set market.star_magnet=0.1"), dir_);
  EXPECT_EQ(o.exit_code, 2) << o.err;
  // --force discards it and starts again.
  o = talentsim(run_args("cut.h5", "--force"), dir_);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(same_results(*reference_ / "whole.h5", dir_ / "cut.h5"));
}

TEST_F(RunResume, ResumeWithNothingKeptStartsAfresh) {
  const auto o = talentsim(run_args("fresh.h5", "--resume"), dir_);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.err.find("no interrupted run at fresh.h5.partial"), std::string::npos) << o.err;
  EXPECT_TRUE(same_results(*reference_ / "whole.h5", dir_ / "fresh.h5"));
}

TEST_F(RunResume, InterruptedComparisonResumesIdentical) {
  const std::string args = fmt::format("compare {} {} -r 96 --threads 2 --quiet -o {{}} {{}}",
                                       shell_quote(kBrief), shell_quote(kWhatif));
  const auto whole = talentsim(fmt::format(fmt::runtime(args), "whole.h5", ""), dir_);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const pid_t pid = spawn_talentsim(fmt::format(fmt::runtime(args), "cut.h5", ""), dir_);
  const auto [status, seconds] = stop_after_first_row(pid, dir_ / "cut.h5.partial", SIGINT);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << read_text(dir_ / "stderr.txt");
  EXPECT_FALSE(fs::exists(dir_ / "cut.h5"));
  const auto resumed = talentsim(fmt::format(fmt::runtime(args), "cut.h5", "--resume"), dir_);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(same_results(dir_ / "whole.h5", dir_ / "cut.h5"));
  EXPECT_EQ(report_body(resumed.out), report_body(whole.out));
}

}  // namespace
}  // namespace talentsim::test
