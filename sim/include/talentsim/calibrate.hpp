// Calibration, the pure part: approximate Bayesian computation by sequential
// Monte Carlo (ABC-SMC; Beaumont, Cornuet, Marin and Robert 2009, with the
// tolerance schedule chosen adaptively as a quantile of the previous
// generation's distances, Del Moral, Doucet and Jasra 2012). No files,
// threads or YAML here: the caller supplies a function that simulates a
// batch of parameter vectors and returns each one's value of every target.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace talentsim {

enum class PriorKind { Uniform, LogUniform, Normal };

// "uniform", "log-uniform", "normal".
const char* prior_name(PriorKind kind);

// One free parameter: a scenario scalar named as in --set, its bounds and
// its prior. The prior is uniform on [low, high], uniform in log(value) on
// [low, high] (low > 0), or Normal(mean, sd) truncated to [low, high].
// Proposals are made in the internal coordinate: log(value) for the
// log-uniform prior, the value itself otherwise.
struct CalibrationParameter {
  std::string path;
  double low = 0, high = 0;
  PriorKind prior = PriorKind::Uniform;
  double mean = 0, sd = 0;   // Normal only
  int line = 0, column = 0;  // where the calibration file declares it (1-based)

  double to_internal(double value) const;
  double from_internal(double x) const;
  // Log prior density of the internal coordinate, up to a constant; -inf
  // outside the bounds.
  double log_prior(double x) const;
};

struct AbcSettings {
  std::size_t particles = 200;
  int max_generations = 12;
  // The next generation's tolerance: this quantile of the current
  // generation's distances (but never below final_epsilon).
  double quantile = 0.5;
  // Stop once a generation has been accepted within this tolerance. The
  // distance is the root mean square of (simulated - target) / tolerance
  // over the targets, so 1 means "within tolerance on average".
  double final_epsilon = 1.0;
  // Stop (not converged) when a generation accepts fewer of its simulations.
  double min_acceptance = 0.01;
  std::uint64_t seed = 1;
};

// One generation's particles, in the order they were accepted.
struct AbcGeneration {
  double epsilon = std::numeric_limits<double>::infinity();  // tolerance used
  std::int64_t proposals = 0;     // parameter vectors drawn, incl. those outside the bounds
  std::int64_t simulations = 0;   // of which simulated
  std::vector<double> theta;      // [particle][parameter]: values (not internal)
  std::vector<double> weight;     // [particle], summing to 1
  std::vector<double> distance;   // [particle]
  std::vector<double> simulated;  // [particle][target]
  double acceptance() const {
    return simulations > 0 ? static_cast<double>(weight.size()) / simulations : 0.0;
  }
};

// Root mean square of (simulated - value) / tolerance; infinity when a
// simulated value is not finite.
double abc_distance(const double* simulated, const std::vector<double>& values,
                    const std::vector<double>& tolerances);

// thetas: count parameter vectors, row-major (values, not internal). Returns
// count x targets simulated values, row-major. Must be a pure function of
// the parameter vector (common random numbers): then the calibration does
// not depend on batching, threads or resumption.
using BatchSimulator =
    std::function<std::vector<double>(const std::vector<double>& thetas, std::size_t count)>;
// Called after every batch: accepted and simulated so far in the generation.
using AbcProgress = std::function<void(std::size_t accepted, std::int64_t simulated)>;

class AbcSmc {
 public:
  AbcSmc(std::vector<CalibrationParameter> parameters, std::vector<double> target_values,
         std::vector<double> tolerances, AbcSettings settings);

  // Continues after generations already completed (a resumed calibration).
  // Throws std::invalid_argument when their shapes do not fit.
  void restore(std::vector<AbcGeneration> done);

  // Runs the next generation. Each proposal is a pure function of
  // (seed, generation, proposal number), and acceptance goes in proposal
  // order, so the result does not depend on how simulate batches its work.
  const AbcGeneration& run_generation(const BatchSimulator& simulate,
                                      const AbcProgress& progress = {});

  bool finished() const { return !stop_reason_.empty(); }
  bool converged() const { return converged_; }
  // Why the calibration stopped ("" while it goes on).
  const std::string& stop_reason() const { return stop_reason_; }
  // The tolerance the next generation will use.
  double next_epsilon() const { return next_epsilon_; }
  const std::vector<AbcGeneration>& generations() const { return generations_; }
  const std::vector<CalibrationParameter>& parameters() const { return parameters_; }
  const AbcSettings& settings() const { return settings_; }

 private:
  void propose(int generation, std::int64_t number, double* theta, std::int64_t& draws) const;
  void prepare_kernel();
  double log_kernel_mixture(const std::vector<double>& x) const;
  void after_generation();

  std::vector<CalibrationParameter> parameters_;
  std::vector<double> values_, tolerances_;
  AbcSettings settings_;
  std::vector<AbcGeneration> generations_;
  double next_epsilon_ = std::numeric_limits<double>::infinity();
  std::string stop_reason_;
  bool converged_ = false;
  // The perturbation kernel from the last generation: internal coordinates
  // of its particles, cumulative weights and the Cholesky factor of twice
  // their weighted covariance (row-major, lower triangular).
  std::vector<double> previous_x_, cumulative_, chol_;
  double log_det_chol_ = 0;
};

// What a generation says about each parameter (weighted by the particles'
// weights): mean, standard deviation, 2.5%, 50% and 97.5% quantiles, and
// the point estimate (the weighted mean in the internal coordinate, so the
// geometric mean for a log-uniform prior).
struct PosteriorSummary {
  double mean = 0, sd = 0, low = 0, median = 0, high = 0, estimate = 0;
};
std::vector<PosteriorSummary> summarize_posterior(const AbcGeneration& g,
                                                  const std::vector<CalibrationParameter>& params);
// The particle with the smallest distance (the first of equals): the point
// estimate, a draw of the posterior that fits the targets best.
std::size_t best_particle(const AbcGeneration& g);
// Kish's effective sample size, 1 / sum of squared weights.
double effective_sample_size(const AbcGeneration& g);

}  // namespace talentsim
