// ABC-SMC on problems whose posterior is known exactly. With a
// deterministic simulator and the uniform ABC kernel, the ABC posterior at
// tolerance eps is the prior restricted to {theta : distance <= eps}; the
// importance weights must turn the kernel's proposals back into it.
// Tolerances: 4 standard errors, with Kish's effective sample size.
#include <gtest/gtest.h>

#include <cmath>

#include "talentsim/calibrate.hpp"

namespace talentsim {
namespace {

CalibrationParameter param(const char* path, double low, double high,
                           PriorKind prior = PriorKind::Uniform) {
  CalibrationParameter p;
  p.path = path;
  p.low = low;
  p.high = high;
  p.prior = prior;
  return p;
}

// The simulator "the target's value is the parameter".
std::vector<double> identity(const std::vector<double>& thetas, std::size_t) { return thetas; }

AbcSmc run_to_end(AbcSmc abc, const BatchSimulator& sim) {
  while (!abc.finished()) abc.run_generation(sim);
  return abc;
}

double weighted_mean(const AbcGeneration& g, std::size_t d, std::size_t p) {
  double m = 0;
  for (std::size_t i = 0; i < g.weight.size(); ++i) m += g.weight[i] * g.theta[i * d + p];
  return m;
}

AbcSettings settings(std::size_t particles, std::uint64_t seed) {
  AbcSettings s;
  s.particles = particles;
  s.seed = seed;
  s.max_generations = 20;
  return s;
}

TEST(AbcSmc, UniformPriorGivesUniformPosteriorOnTheToleranceBand) {
  // theta ~ U(0, 10), target 4 +- 0.5: the posterior is U(3.5, 4.5).
  const AbcSmc abc =
      run_to_end(AbcSmc({param("x", 0, 10)}, {4.0}, {0.5}, settings(2000, 11)), identity);
  ASSERT_TRUE(abc.converged()) << abc.stop_reason();
  const AbcGeneration& g = abc.generations().back();
  for (double t : g.theta) {
    EXPECT_GE(t, 3.5);
    EXPECT_LE(t, 4.5);
  }
  const double ess = effective_sample_size(g);
  EXPECT_GT(ess, 500);
  const double sd = 1 / std::sqrt(12.0);
  EXPECT_NEAR(weighted_mean(g, 1, 0), 4.0, 4 * sd / std::sqrt(ess));
  const auto post = summarize_posterior(g, abc.parameters());
  // SE of a sample sd of a uniform: sd sqrt((kurtosis - 1) / (4 n)), kurtosis 1.8.
  EXPECT_NEAR(post[0].sd, sd, 4 * sd * std::sqrt(0.8 / (4 * ess)));
  EXPECT_NEAR(post[0].low, 3.525, 0.05);
  EXPECT_NEAR(post[0].high, 4.475, 0.05);
}

TEST(AbcSmc, LogUniformPriorIsProposedInLogSpaceAndReweighted) {
  // Density prop. to 1/theta on [3.5, 4.5]: mean (b - a) / ln(b / a).
  const AbcSmc abc = run_to_end(
      AbcSmc({param("x", 0.1, 100, PriorKind::LogUniform)}, {4.0}, {0.5}, settings(2000, 12)),
      identity);
  ASSERT_TRUE(abc.converged()) << abc.stop_reason();
  const AbcGeneration& g = abc.generations().back();
  const double a = 3.5, b = 4.5, mean = (b - a) / std::log(b / a);
  const double second = (b * b - a * a) / 2 / std::log(b / a);
  const double sd = std::sqrt(second - mean * mean);
  EXPECT_NEAR(weighted_mean(g, 1, 0), mean, 4 * sd / std::sqrt(effective_sample_size(g)));
  // The point estimate is the geometric mean: exp(E[ln theta]).
  const auto post = summarize_posterior(g, abc.parameters());
  EXPECT_LT(post[0].estimate, post[0].mean);
}

TEST(AbcSmc, TruncatedNormalPriorSurvivesAnUninformativeTarget) {
  // A tolerance so wide that every proposal is accepted: the posterior is
  // the prior, Normal(2, 1) truncated to [0, 10], mean 2 + phi(2) / Phi(2).
  CalibrationParameter p = param("x", 0, 10, PriorKind::Normal);
  p.mean = 2;
  p.sd = 1;
  AbcSettings s = settings(4000, 13);
  s.max_generations = 2;
  const AbcSmc abc = run_to_end(AbcSmc({p}, {5.0}, {1000.0}, s), identity);
  ASSERT_EQ(abc.generations().size(), 2u);
  const AbcGeneration& g = abc.generations().back();
  const double phi2 = std::exp(-2.0) / std::sqrt(2 * M_PI),
               big_phi2 = 0.5 * std::erfc(-2 / std::sqrt(2.0));
  const double mean = 2 + phi2 / big_phi2;
  EXPECT_NEAR(weighted_mean(g, 1, 0), mean, 4 * 1.0 / std::sqrt(effective_sample_size(g)));
}

TEST(AbcSmc, TwoParametersRecoverTheCentreOfTheirRegion) {
  // Targets theta1 + theta2 = 1 and theta1 - theta2 = 0.2, +- 0.05.
  const BatchSimulator sim = [](const std::vector<double>& th, std::size_t n) {
    std::vector<double> out(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
      out[2 * i] = th[2 * i] + th[2 * i + 1];
      out[2 * i + 1] = th[2 * i] - th[2 * i + 1];
    }
    return out;
  };
  const AbcSmc abc = run_to_end(
      AbcSmc({param("a", -2, 2), param("b", -2, 2)}, {1.0, 0.2}, {0.05, 0.05}, settings(1000, 14)),
      sim);
  ASSERT_TRUE(abc.converged()) << abc.stop_reason();
  const AbcGeneration& g = abc.generations().back();
  const double ess = effective_sample_size(g);
  // The region is a disk of radius 0.05 sqrt(2) in (sum, difference), so
  // each parameter's sd is at most 0.05.
  EXPECT_NEAR(weighted_mean(g, 2, 0), 0.6, 4 * 0.05 / std::sqrt(ess));
  EXPECT_NEAR(weighted_mean(g, 2, 1), 0.4, 4 * 0.05 / std::sqrt(ess));
  for (double dist : g.distance) EXPECT_LE(dist, 1.0);
  // The point estimate is the particle nearest the targets.
  const std::size_t best = best_particle(g);
  for (double dist : g.distance) EXPECT_LE(g.distance[best], dist);
}

TEST(AbcSmc, ResumingFromSavedGenerationsGivesTheSameResult) {
  const auto make = [] {
    return AbcSmc({param("a", 0, 10), param("b", 0.1, 10, PriorKind::LogUniform)}, {4.0, 2.0},
                  {0.2, 0.2}, settings(300, 15));
  };
  const AbcSmc whole = run_to_end(make(), identity);
  AbcSmc part = make();
  part.run_generation(identity);
  part.run_generation(identity);
  AbcSmc resumed = make();
  resumed.restore(part.generations());
  EXPECT_EQ(resumed.next_epsilon(), part.next_epsilon());
  resumed = run_to_end(std::move(resumed), identity);
  ASSERT_EQ(resumed.generations().size(), whole.generations().size());
  for (std::size_t i = 0; i < whole.generations().size(); ++i) {
    EXPECT_EQ(resumed.generations()[i].theta, whole.generations()[i].theta) << i;
    EXPECT_EQ(resumed.generations()[i].weight, whole.generations()[i].weight) << i;
    EXPECT_EQ(resumed.generations()[i].epsilon, whole.generations()[i].epsilon) << i;
  }
  EXPECT_EQ(resumed.stop_reason(), whole.stop_reason());
}

TEST(AbcSmc, UnreachableTargetsStopWithAReason) {
  // theta in [0, 1] cannot reach 5 +- 0.1.
  const AbcSmc abc =
      run_to_end(AbcSmc({param("x", 0, 1)}, {5.0}, {0.1}, settings(200, 16)), identity);
  EXPECT_FALSE(abc.converged());
  EXPECT_NE(abc.stop_reason().find("stopped"), std::string::npos) << abc.stop_reason();
}

TEST(AbcSmc, NonFiniteSimulationsAreNeverAccepted) {
  const BatchSimulator sim = [](const std::vector<double>& th, std::size_t n) {
    std::vector<double> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = th[i] < 5 ? std::nan("") : th[i];
    return out;
  };
  const AbcSmc abc = run_to_end(AbcSmc({param("x", 0, 10)}, {7.0}, {0.5}, settings(300, 17)), sim);
  ASSERT_TRUE(abc.converged()) << abc.stop_reason();
  for (double t : abc.generations().back().theta) EXPECT_GE(t, 6.5);
}

TEST(AbcSmc, RejectsImpossibleSettings) {
  EXPECT_THROW(AbcSmc({}, {1.0}, {1.0}, settings(10, 1)), std::invalid_argument);
  EXPECT_THROW(AbcSmc({param("x", 1, 0)}, {1.0}, {1.0}, settings(10, 1)), std::invalid_argument);
  EXPECT_THROW(AbcSmc({param("x", 0, 1, PriorKind::LogUniform)}, {1.0}, {1.0}, settings(10, 1)),
               std::invalid_argument);
  EXPECT_THROW(AbcSmc({param("x", 0, 1)}, {1.0}, {0.0}, settings(10, 1)), std::invalid_argument);
}

}  // namespace
}  // namespace talentsim
