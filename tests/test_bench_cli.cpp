// `talentsim bench` as a user runs it: the JSON it writes has every field,
// with sane numbers, and bad input exits with 2. No timing assertions: the
// figures depend on the machine and its load.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace talentsim::test {
namespace {

namespace fs = std::filesystem;

class BenchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_test_dir("talentsim-bench-cli");
    fs::copy_file(data_path("every_key.yaml"), dir_ / "every_key.yaml");
    // The bench's temporary results files go to $TMPDIR: a directory of our own.
    tmp_ = dir_ / "tmp";
    fs::create_directories(tmp_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs the bench in dir_ with TMPDIR=tmp_.
  Outcome bench(const std::string& args) const {
    return talentsim("bench " + args, dir_, "TMPDIR='" + tmp_.string() + "'");
  }

  // Files left in tmp_.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(tmp_)) out.push_back(e.path().filename());
    return out;
  }

  fs::path dir_;
  fs::path tmp_;
};

// A number in the JSON (parsed as YAML, of which JSON is a subset) that must
// be positive and finite.
void expect_positive(const YAML::Node& n, const std::string& what) {
  ASSERT_TRUE(n.IsDefined() && n.IsScalar()) << what << " is missing";
  const double v = n.as<double>();
  EXPECT_TRUE(std::isfinite(v) && v > 0) << what << " = " << v;
}

void expect_finite(const YAML::Node& n, const std::string& what) {
  ASSERT_TRUE(n.IsDefined() && n.IsScalar()) << what << " is missing";
  EXPECT_TRUE(std::isfinite(n.as<double>())) << what << " = " << n.as<std::string>();
}

// {median, min, max} with min <= median <= max.
void expect_spread(const YAML::Node& n, const std::string& what, bool positive = true) {
  ASSERT_TRUE(n.IsMap()) << what << " is missing";
  for (const char* k : {"median", "min", "max"}) {
    if (positive)
      expect_positive(n[k], what + "." + k);
    else
      expect_finite(n[k], what + "." + k);
  }
  EXPECT_LE(n["min"].as<double>(), n["median"].as<double>()) << what;
  EXPECT_LE(n["median"].as<double>(), n["max"].as<double>()) << what;
}

void expect_text(const YAML::Node& n, const std::string& what) {
  ASSERT_TRUE(n.IsDefined() && n.IsScalar()) << what << " is missing";
  EXPECT_FALSE(n.as<std::string>().empty()) << what;
}

TEST_F(BenchCli, QuickRunWritesEveryFieldToJson) {
  const auto o = bench(
      "every_key.yaml --quick -r 3 --repeat 2 --threads-list 1,2 --rss-replicates 4,8 --json "
      "bench.json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
  for (const char* line :
       {"talentsim bench: every-key (every_key.yaml)", "compute only", "speed-up 1 -> 2 threads",
        "HDF5 output", "writer busy / wall", "writer CPU / wall",
        "peak RSS of `talentsim run every_key.yaml -r N", "growth from 4 to 8 replicates"})
    EXPECT_NE(o.out.find(line), std::string::npos) << line << "\n" << o.out;
  EXPECT_TRUE(o.err.empty()) << "no progress when not on a terminal: " << o.err;

  // Strict JSON: Python's parser, refusing NaN and Infinity.
  const std::string check = std::string(TALENTSIM_PYTHON) + " -c \"import json; json.load(open('" +
                            (dir_ / "bench.json").string() + "'), parse_constant=lambda c: 1/0)\"";
  EXPECT_EQ(std::system(check.c_str()), 0) << read_text(dir_ / "bench.json");

  const YAML::Node j = YAML::LoadFile((dir_ / "bench.json").string());
  EXPECT_EQ(j["kind"].as<std::string>(), "talentsim-bench");
  EXPECT_EQ(j["format_version"].as<int>(), 2);
  expect_text(j["created"], "created");
  EXPECT_NE(j["command_line"].as<std::string>().find("bench every_key.yaml --quick"),
            std::string::npos);

  const YAML::Node m = j["machine"];
  for (const char* k :
       {"cpu_model", "kernel", "compiler", "build", "talentsim_version", "git_commit"})
    expect_text(m[k], std::string("machine.") + k);
  for (const char* k : {"logical_cpus", "available_cpus", "memory_bytes"})
    expect_positive(m[k], std::string("machine.") + k);
  expect_finite(m["load_average"], "machine.load_average");

  const YAML::Node s = j["scenario"];
  EXPECT_EQ(s["path"].as<std::string>(), "every_key.yaml");
  EXPECT_EQ(s["name"].as<std::string>(), "every-key");
  EXPECT_EQ(s["population"].as<int>(), 553);  // 550 synthetic + 3 named
  EXPECT_EQ(s["synthetic"].as<int>(), 550);
  EXPECT_EQ(s["named"].as<int>(), 3);
  EXPECT_EQ(s["steps"].as<int>(), 53);
  EXPECT_EQ(s["step_days"].as<int>(), 7);
  EXPECT_EQ(s["labs"].as<int>(), 4);
  EXPECT_EQ(s["tiers"].as<int>(), 3);
  EXPECT_EQ(s["events"].as<int>(), 9);
  EXPECT_EQ(s["questions"].as<int>(), 7);
  EXPECT_EQ(s["seed"].as<int>(), 42);

  const YAML::Node set = j["settings"];
  EXPECT_EQ(set["replicates"].as<int>(), 3);
  EXPECT_EQ(set["repeat"].as<int>(), 2);
  EXPECT_EQ(set["threads"].as<std::vector<int>>(), (std::vector<int>{1, 2}));
  EXPECT_EQ(set["rss_replicates"].as<std::vector<int>>(), (std::vector<int>{4, 8}));
  EXPECT_EQ(set["rss_threads"].as<int>(), 2);
  expect_positive(set["warmup_replicates"], "settings.warmup_replicates");
  EXPECT_TRUE(set["quick"].as<bool>());

  const YAML::Node compute = j["compute"];
  ASSERT_TRUE(compute.IsSequence());
  ASSERT_EQ(compute.size(), 2u);
  for (std::size_t i = 0; i < compute.size(); ++i) {
    const YAML::Node c = compute[i];
    const std::string at = "compute[" + std::to_string(i) + "]";
    EXPECT_EQ(c["threads"].as<int>(), static_cast<int>(i) + 1);
    for (const char* k : {"wall_seconds", "seconds_per_replicate", "researcher_steps_per_second",
                          "market_decisions_per_second", "speedup"})
      expect_spread(c[k], at + "." + k);
    expect_positive(c["market_decisions_per_replicate"], at + ".market_decisions_per_replicate");
  }
  // The work is the same at every thread count: replicates are pure functions.
  EXPECT_EQ(compute[0]["market_decisions_per_replicate"].as<double>(),
            compute[1]["market_decisions_per_replicate"].as<double>());
  // A thread count against itself, round by round: exactly 1.
  for (const char* k : {"median", "min", "max"})
    EXPECT_EQ(compute[0]["speedup"][k].as<double>(), 1.0);
  EXPECT_EQ(j["speedup"]["from_threads"].as<int>(), 1);
  EXPECT_EQ(j["speedup"]["to_threads"].as<int>(), 2);
  expect_positive(j["speedup"]["ratio"], "speedup.ratio");
  // The summary is the last row's spread: the median of the rounds' ratios.
  EXPECT_EQ(j["speedup"]["ratio"].as<double>(), compute[1]["speedup"]["median"].as<double>());
  EXPECT_EQ(j["speedup"]["min"].as<double>(), compute[1]["speedup"]["min"].as<double>());
  EXPECT_EQ(j["speedup"]["max"].as<double>(), compute[1]["speedup"]["max"].as<double>());

  const YAML::Node out = j["output"];
  EXPECT_EQ(out["threads"].as<int>(), 2);
  expect_text(out["directory"], "output.directory");
  expect_text(out["filesystem"], "output.filesystem");
  expect_spread(out["wall_seconds"], "output.wall_seconds");
  expect_spread(out["compute_only_wall_seconds"], "output.compute_only_wall_seconds");
  expect_spread(out["writer_busy_share"], "output.writer_busy_share");
  EXPECT_LE(out["writer_busy_share"]["max"].as<double>(), 1.0);
  expect_spread(out["writer_cpu_share"], "output.writer_cpu_share");
  // A thread's CPU time within an interval cannot exceed the interval
  // (1 ms of slack for the clocks' granularity over a short run).
  EXPECT_LE(out["writer_cpu_share"]["min"].as<double>(),
            out["writer_busy_share"]["max"].as<double>() +
                1e-3 / out["wall_seconds"]["min"].as<double>());
  // May be negative when the machine's load changes between the two runs.
  expect_spread(out["overhead_share"], "output.overhead_share", /*positive=*/false);
  EXPECT_LE(out["overhead_share"]["max"].as<double>(), 1.0);
  expect_positive(out["file_bytes"], "output.file_bytes");

  const YAML::Node rss = j["rss"];
  EXPECT_EQ(rss["threads"].as<int>(), 2);
  EXPECT_NE(rss["command"].as<std::string>().find("talentsim run every_key.yaml -r N --threads 2"),
            std::string::npos);
  expect_positive(rss["parent_rss_bytes"], "rss.parent_rss_bytes");
  ASSERT_TRUE(rss["runs"].IsSequence());
  ASSERT_EQ(rss["runs"].size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const YAML::Node r = rss["runs"][i];
    const std::string at = "rss.runs[" + std::to_string(i) + "]";
    EXPECT_EQ(r["replicates"].as<int>(), i == 0 ? 4 : 8);
    expect_positive(r["peak_rss_bytes"], at + ".peak_rss_bytes");
    expect_positive(r["wall_seconds"], at + ".wall_seconds");
    expect_positive(r["cpu_seconds"], at + ".cpu_seconds");
    expect_positive(r["file_bytes"], at + ".file_bytes");
  }
  expect_finite(rss["growth_percent"], "rss.growth_percent");
}

TEST_F(BenchCli, OneThreadCountAndNoJson) {
  const auto o = bench("every_key.yaml -r 2 --repeat 1 --threads-list 2 --rss-replicates 3");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out.find("speed-up 1 ->"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("HDF5 output: the same 2 replicates on 2 thread(s)"), std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("growth from 3 to 3 replicates"), std::string::npos) << o.out;
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
}

TEST_F(BenchCli, MissingScenarioExitsWithTwoAndNamesIt) {
  const auto o = bench("nope.yaml --quick");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("nope.yaml: error: no such scenario file"), std::string::npos) << o.err;
  EXPECT_TRUE(o.out.empty()) << o.out;
  // The default scenario is looked up relative to the current directory.
  const auto d = bench("--quick");
  EXPECT_EQ(d.exit_code, 2);
  EXPECT_NE(d.err.find("scenarios/bench/frontier_25k.yaml: error: no such scenario file"),
            std::string::npos)
      << d.err;
  EXPECT_NE(d.err.find("repository root"), std::string::npos) << d.err;
}

TEST_F(BenchCli, BadNumbersExitWithTwoAndAreAllReported) {
  const auto o =
      bench("every_key.yaml -r 0 --repeat x --threads-list 1,,2 --rss-replicates 10,abc");
  EXPECT_EQ(o.exit_code, 2);
  for (const char* what :
       {"-r/--replicates: error: expected a whole number from 1 to 2147483647, found \"0\"",
        "--repeat: error: expected a whole number", "--threads-list: error: expected whole numbers",
        "\"1,,2\"", "--rss-replicates: error:", "4 problems found; nothing was run."})
    EXPECT_NE(o.err.find(what), std::string::npos) << what << "\n" << o.err;
  const auto threads = bench("every_key.yaml --threads-list 0");
  EXPECT_EQ(threads.exit_code, 2);
  EXPECT_NE(threads.err.find("--threads-list"), std::string::npos) << threads.err;
  const auto json = bench("every_key.yaml --quick --json no/such/dir/b.json");
  EXPECT_EQ(json.exit_code, 2);
  EXPECT_NE(json.err.find("no/such/dir/b.json"), std::string::npos) << json.err;
  // A scenario with mistakes is reported like `validate` does.
  std::ofstream(dir_ / "bad.yaml") << tiny_scenario("market: {follow_prob: 3}\n");
  const auto bad = bench("bad.yaml --quick");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad.yaml:15:23: error: market.follow_prob"), std::string::npos)
      << bad.err;
}

TEST_F(BenchCli, TheBenchmarkScenarioIsValid) {
  const auto o = talentsim(
      "validate '" + std::string(TALENTSIM_SCENARIOS) + "/bench/frontier_25k.yaml'", dir_);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("valid: 13 labs, 3 tiers, 24990 synthetic and 10 named researchers, 157 "
                       "steps"),
            std::string::npos)
      << o.out;
}

}  // namespace
}  // namespace talentsim::test
