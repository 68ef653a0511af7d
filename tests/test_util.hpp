// Shared helpers for the tests: paths, running replicates, and honest
// statistics (means with standard errors).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "talentsim/ensemble.hpp"
#include "talentsim/model.hpp"
#include "talentsim/scenario_loader.hpp"

namespace talentsim::test {

inline std::filesystem::path data_path(const std::string& name) {
  return std::filesystem::path(TALENTSIM_TEST_DATA) / name;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh, empty directory for the running test, to be removed by its
// TearDown: <tmp>/<prefix>-<pid>-<suite>.<test>, '/' of parameterised
// names written as '_'.
inline std::filesystem::path fresh_test_dir(const std::string& prefix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  std::replace(name.begin(), name.end(), '/', '_');
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    (prefix + "-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// `s` as one word for a POSIX shell, in single quotes.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs tests/python/<script> on `file` and `expected_json` (written to
// <dir>/expected.json) in a fresh Python process, whose exit (a crash
// included) decides the test; exit 77 (a module missing) skips it.
inline void run_python_check(const std::string& script, const std::filesystem::path& dir,
                             const std::filesystem::path& file, const std::string& expected_json) {
#if !defined(TALENTSIM_PYTHON) || !defined(TALENTSIM_TESTS_DIR)
  GTEST_SKIP() << "built without TALENTSIM_PYTHON and TALENTSIM_TESTS_DIR";
#else
  const std::string python = TALENTSIM_PYTHON;
  if (python.empty()) GTEST_SKIP() << "CMake found no python3";
  const std::filesystem::path expected = dir / "expected.json";
  const std::filesystem::path log = dir / "check.log";
  std::ofstream(expected, std::ios::binary) << expected_json;
  const std::filesystem::path path = std::filesystem::path(TALENTSIM_TESTS_DIR) / "python" / script;
  const std::string command = shell_quote(python) + " " + shell_quote(path.string()) + " " +
                              shell_quote(file.string()) + " " + shell_quote(expected.string()) +
                              " >" + shell_quote(log.string()) + " 2>&1";
  const int status = std::system(command.c_str());
  const std::string output = read_text(log);
  ASSERT_TRUE(WIFEXITED(status)) << "the Python check did not exit normally (status " << status
                                 << "):\n"
                                 << output;
  const int exit_code = WEXITSTATUS(status);
  if (exit_code == 77) GTEST_SKIP() << output;
  EXPECT_EQ(exit_code, 0) << command << "\n" << output;
#endif
}

// What running the talentsim binary gave.
struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

// Runs talentsim with `args` (already shell-quoted) in directory `cwd`, with
// the environment assignments `env` (e.g. "TMPDIR=/x") in front.
inline Outcome talentsim(const std::string& args,
                         const std::filesystem::path& cwd = std::filesystem::temp_directory_path(),
                         const std::string& env = "") {
  const std::filesystem::path out = cwd / "stdout.txt", err = cwd / "stderr.txt";
  const std::string cmd = "cd '" + cwd.string() + "' && " + env + " '" + TALENTSIM_BINARY + "' " +
                          args + " >'" + out.string() + "' 2>'" + err.string() + "' </dev/null";
  const int status = std::system(cmd.c_str());
  Outcome o;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = read_text(out);
  o.err = read_text(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return o;
}

#if defined(TALENTSIM_BINARY)
// Starts `talentsim args` (already shell-quoted) in `cwd`, its output going
// to stdout.txt and stderr.txt there; returns its pid, for signals.
inline pid_t spawn_talentsim(const std::string& args, const std::filesystem::path& cwd) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(cwd.c_str()) != 0) ::_exit(127);
    const std::string cmd = "exec '" + std::string(TALENTSIM_BINARY) + "' " + args +
                            " >stdout.txt 2>stderr.txt </dev/null";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}
#endif

// Finished records (*.bin) in a journal folder.
inline std::size_t journal_records(const std::filesystem::path& journal) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(journal, ec))
    n += e.path().extension() == ".bin";
  return n;
}

// Waits until the journal holds `n` records; false if process `pid` ended
// first (or two minutes passed).
inline bool wait_for_records(const std::filesystem::path& journal, std::size_t n, pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (journal_records(journal) >= n) return true;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

#if defined(TALENTSIM_PYTHON) && defined(TALENTSIM_TESTS_DIR)
// Whether two results files hold the same data and attributes, apart from
// those that describe the invocation (created, command_line).
inline bool same_results(const std::filesystem::path& a, const std::filesystem::path& b) {
  const std::string cmd = shell_quote(TALENTSIM_PYTHON) + " " +
                          shell_quote(std::string(TALENTSIM_TESTS_DIR) + "/python/same_h5.py") +
                          " " + shell_quote(a.string()) + " " + shell_quote(b.string()) +
                          " --ignore-attribute created --ignore-attribute command_line";
  return std::system(cmd.c_str()) == 0;
}
#endif

// Mean and standard error of the mean (Welford).
class MeanSe {
 public:
  void add(double x) {
    ++n_;
    const double d = x - mean_;
    mean_ += d / static_cast<double>(n_);
    m2_ += d * (x - mean_);
  }
  double mean() const { return mean_; }
  double sd() const { return n_ > 1 ? std::sqrt(m2_ / static_cast<double>(n_ - 1)) : 0; }
  double se() const { return n_ > 0 ? sd() / std::sqrt(static_cast<double>(n_)) : 0; }
  std::int64_t n() const { return n_; }

 private:
  std::int64_t n_ = 0;
  double mean_ = 0, m2_ = 0;
};

// Two replicates equal bit for bit.
inline void expect_identical(const ReplicateResult& a, const ReplicateResult& b) {
  EXPECT_EQ(a.replicate, b.replicate);
  EXPECT_EQ(a.headcount, b.headcount);
  EXPECT_EQ(a.hires, b.hires);
  EXPECT_EQ(a.departures, b.departures);
  EXPECT_EQ(a.named_lab, b.named_lab);
  EXPECT_EQ(a.flows, b.flows);
  ASSERT_EQ(a.star_power.size(), b.star_power.size());
  EXPECT_EQ(0, std::memcmp(a.star_power.data(), b.star_power.data(),
                           a.star_power.size() * sizeof(double)));
}

// A test name for a signal parameter: SIGINT, SIGTERM, SIGKILL.
inline std::string signal_test_name(const ::testing::TestParamInfo<int>& info) {
  return info.param == SIGINT    ? "SIGINT"
         : info.param == SIGTERM ? "SIGTERM"
         : info.param == SIGKILL ? "SIGKILL"
                                 : "signal" + std::to_string(info.param);
}

// All replicates of a scenario, in replicate order.
inline std::vector<ReplicateResult> run_all(const Model& model, std::int64_t replicates,
                                            std::uint64_t seed, int threads = 2,
                                            std::int64_t first = 0) {
  std::vector<ReplicateResult> out(static_cast<std::size_t>(replicates));
  run_ensemble(model, {.first = first, .count = replicates, .seed = seed, .threads = threads},
               [&](ReplicateResult&& r) {
                 out[static_cast<std::size_t>(r.replicate - first)] = std::move(r);
               });
  return out;
}

// A minimal valid scenario to build tests on; `extra` is appended verbatim.
inline std::string tiny_scenario(const std::string& extra = "") {
  return R"(name: tiny
start: 2026-01-01
end: 2027-01-01
replicates: 10
tiers:
  - {name: junior, search_rate: 0.5, reputation: {median: 1, sigma: 0.5}}
  - {name: star, search_rate: 0.3, reputation: {median: 20, sigma: 0.5}}
labs:
  - name: A
    headcount: {junior: 20, star: 2}
    comp: {junior: 300K, star: 2M}
  - name: B
    headcount: {junior: 10, star: 1}
    comp: {junior: 250K, star: 1.5M}
)" + extra;
}

}  // namespace talentsim::test
