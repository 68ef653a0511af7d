// Issue 7: runs that cannot fit are refused before they start, with the
// estimate and what to change; I/O faults (an unwritable folder, a file
// size limit reached mid-run, a truncated results file) end with a clear
// message and exit code, nothing at the destination, and the finished
// work kept for --resume.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "test_util.hpp"

namespace talentsim::test {
namespace {

namespace fs = std::filesystem;

const std::string kFrontier = std::string(TALENTSIM_SCENARIOS) + "/bench/frontier_25k.yaml";
const std::string kBrief = std::string(TALENTSIM_SCENARIOS) + "/brief_2026.yaml";

class Robustness : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_test_dir("talentsim-robust"); }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  // Only the files the test itself wrote are there.
  void expect_only(std::initializer_list<std::string> names) {
    std::set<std::string> expected(names), found;
    for (const auto& e : fs::directory_iterator(dir_)) found.insert(e.path().filename().string());
    EXPECT_EQ(found, expected);
  }
  fs::path dir_;
};

// A file size limit for the command that follows, in 512-byte blocks as
// /bin/sh (dash) counts them.
std::string file_limit_kb(int kb) { return fmt::format("ulimit -f {};", 2 * kb); }

TEST_F(Robustness, RefusesAPopulationThatCannotFitInMemory) {
  // 1.6 billion researchers: hundreds of GB per thread, on any machine.
  std::string labs;
  for (int l = 0; l < 8; ++l)
    labs += fmt::format(
        "  - {{name: L{}, headcount: {{junior: 100000000, star: 100000000}}, comp: {{junior: "
        "300K, star: 2M}}}}\n",
        l);
  write("huge.yaml", R"(name: huge
start: 2026-01-01
end: 2027-01-01
replicates: 10
tiers:
  - {name: junior, search_rate: 0.5, reputation: {median: 1, sigma: 0.5}}
  - {name: star, search_rate: 0.3, reputation: {median: 20, sigma: 0.5}}
labs:
)" + labs);
  const auto o = talentsim("run huge.yaml --quiet -o huge.h5", dir_);
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_NE(o.err.find("huge.yaml: error: this needs about"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("of memory with"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("hint: even one replicate does not fit; fewer researchers"),
            std::string::npos)
      << o.err;
  EXPECT_NE(o.err.find("--no-resource-check"), std::string::npos) << o.err;
  expect_only({"huge.yaml"});
}

TEST_F(Robustness, RefusesAResultsFileOverTheFileSizeLimit) {
  const auto o = talentsim(fmt::format("run {} -r 5000 --quiet -o big.h5", shell_quote(kBrief)),
                           dir_, file_limit_kb(1000));
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_NE(o.err.find("big.h5: error: the results file would take about"), std::string::npos)
      << o.err;
  EXPECT_NE(o.err.find("file size limit of 1.0 MB (ulimit -f)"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("hint: at most about"), std::string::npos) << o.err;
  expect_only({});
}

TEST_F(Robustness, RefusesAFullSweepOverTheFileSizeLimitAndSuggestsSummaries) {
  write("base.yaml", tiny_scenario());
  write("s.yaml", R"(base: base.yaml
design: random
samples: 400
replicates: 200
seed: 3
output: full
parameters:
  - {path: labs.A.prestige, min: 0, max: 1}
)");
  const auto o = talentsim("sweep s.yaml --quiet -o s.h5", dir_, file_limit_kb(1000));
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_NE(o.err.find("file size limit"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("`output: summary` keeps only the summaries"), std::string::npos) << o.err;
  expect_only({"base.yaml", "s.yaml"});
}

TEST_F(Robustness, FileSizeLimitReachedMidRunKeepsTheFinishedReplicates) {
  const std::string args =
      fmt::format("run {} -r 192 --threads 2 --quiet -o {{}} {{}}", shell_quote(kFrontier));
  // The estimate allows for poorer compression than this scenario has, so
  // only --no-resource-check lets the run start and meet the limit.
  const auto cut = talentsim(fmt::format(fmt::runtime(args), "cut.h5", "--no-resource-check"), dir_,
                             file_limit_kb(2500));
  EXPECT_EQ(cut.exit_code, 1) << cut.err;
  EXPECT_NE(cut.err.find("File too large"), std::string::npos) << cut.err;
  EXPECT_NE(cut.err.find("replicates are kept in cut.h5.partial; once the problem is fixed, run "
                         "the same command with --resume"),
            std::string::npos)
      << cut.err;
  expect_only({"cut.h5.partial"});
  ASSERT_GE(journal_records(dir_ / "cut.h5.partial"), 1u);

  const auto resumed = talentsim(fmt::format(fmt::runtime(args), "cut.h5", "--resume"), dir_);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto whole = talentsim(fmt::format(fmt::runtime(args), "whole.h5", ""), dir_);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_TRUE(same_results(dir_ / "whole.h5", dir_ / "cut.h5"));
}

TEST_F(Robustness, UnwritableDestinationIsReportedAndNothingIsLeft) {
  write("base.yaml", tiny_scenario());
  // A folder that cannot be made: its parent is a file (this holds for
  // root too, who may write anywhere else).
  write("not_a_folder", "x");
  auto o = talentsim("run base.yaml --quiet -o not_a_folder/out.h5", dir_);
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_NE(o.err.find("cannot create not_a_folder/out.h5.partial"), std::string::npos) << o.err;
  expect_only({"base.yaml", "not_a_folder"});
  if (::geteuid() != 0) {
    fs::create_directories(dir_ / "locked");
    fs::permissions(dir_ / "locked", fs::perms::owner_read | fs::perms::owner_exec);
    o = talentsim("run base.yaml --quiet -o locked/out.h5", dir_);
    EXPECT_EQ(o.exit_code, 1) << o.err;
    EXPECT_NE(o.err.find("locked/out.h5"), std::string::npos) << o.err;
    EXPECT_NE(o.err.find("Permission denied"), std::string::npos) << o.err;
    fs::permissions(dir_ / "locked", fs::perms::owner_all);
    EXPECT_TRUE(fs::is_empty(dir_ / "locked"));
  }
}

TEST_F(Robustness, TruncatedOrCorruptResultsFilesAreRefusedBySummarize) {
  write("base.yaml", tiny_scenario());
  ASSERT_EQ(talentsim("run base.yaml --quiet -o good.h5", dir_).exit_code, 0);
  const auto size = fs::file_size(dir_ / "good.h5");
  const std::string bytes = read_text(dir_ / "good.h5");
  std::ofstream(dir_ / "half.h5", std::ios::binary) << bytes.substr(0, size / 2);
  std::string flipped = bytes;
  for (std::size_t i = size / 3; i < size / 3 + 4096 && i < size; ++i) flipped[i] ^= 0x5a;
  std::ofstream(dir_ / "flipped.h5", std::ios::binary) << flipped;
  for (const std::string name : {"half.h5", "flipped.h5"}) {
    for (const std::string json : {"", " --json"}) {
      const auto o = talentsim("summarize " + name + json, dir_);
      EXPECT_EQ(o.exit_code, 2) << name << ": " << o.err;
      EXPECT_NE(o.err.find(name + ": error:"), std::string::npos) << o.err;
      EXPECT_NE(o.err.find("hint: summarize reads results files"), std::string::npos) << o.err;
      EXPECT_EQ(o.err.find("internal error"), std::string::npos) << o.err;
      EXPECT_TRUE(o.out.empty()) << o.out;
    }
  }
}

}  // namespace
}  // namespace talentsim::test
