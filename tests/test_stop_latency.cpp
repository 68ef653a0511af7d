// SIGINT must stop a run within 2 seconds even when one replicate takes
// much longer (issue 7). Its own executable, run alone by ctest (RUN_SERIAL):
// it measures a latency, which other tests sharing the cores would distort.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "test_util.hpp"

namespace talentsim::test {
namespace {

namespace fs = std::filesystem;

// A replicate long enough (a million researchers over 20 years of weekly
// steps: seconds each) that waiting for it would break the 2-second
// promise: the replicates in progress are abandoned at their next step.
TEST(StopLatency, StopsWithinTwoSecondsInsideLongReplicates) {
  const fs::path dir_ = fresh_test_dir("talentsim-stop");
  std::ofstream(dir_ / "long.yaml") << R"(name: long
start: 2026-01-01
end: 2046-01-01
replicates: 2
tiers:
  - {name: junior, search_rate: 0.5, reputation: {median: 1, sigma: 0.5}}
  - {name: star, search_rate: 0.3, reputation: {median: 20, sigma: 0.5}}
labs:
  - {name: A, headcount: {junior: 500000, star: 1000}, comp: {junior: 300K, star: 2M}}
  - {name: B, headcount: {junior: 500000, star: 1000}, comp: {junior: 250K, star: 1.5M}}
)";
  const pid_t pid = spawn_talentsim("run long.yaml --threads 2 --quiet -o long.h5", dir_);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "the run ended before it could be stopped";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string err = read_text(dir_ / "stderr.txt");
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 130) << err;
  EXPECT_LT(seconds, 2.0);
  EXPECT_NE(err.find("0 of 2 replicates are kept in long.h5.partial"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir_ / "long.h5"));
  fs::remove_all(dir_);
}

}  // namespace
}  // namespace talentsim::test
