// ABC-SMC (see talentsim/calibrate.hpp).
#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "talentsim/calibrate.hpp"
#include "talentsim/rng.hpp"

namespace talentsim {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Proposals outside the bounds are redrawn from the proposal's own stream;
// this many draws without one inside means the kernel has left the prior.
constexpr int kMaxDraws = 10000;

double log_sum_exp(const std::vector<double>& v) {
  const double m = *std::max_element(v.begin(), v.end());
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

// Weighted quantile: the smallest value whose cumulative weight reaches q.
double weighted_quantile(std::vector<std::pair<double, double>> vw, double q) {
  std::sort(vw.begin(), vw.end());
  double cum = 0;
  for (const auto& [v, w] : vw) {
    cum += w;
    if (cum >= q * (1 - 1e-12)) return v;
  }
  return vw.back().first;
}

}  // namespace

const char* prior_name(PriorKind kind) {
  switch (kind) {
    case PriorKind::Uniform:
      return "uniform";
    case PriorKind::LogUniform:
      return "log-uniform";
    case PriorKind::Normal:
      return "normal";
  }
  return "?";
}

double CalibrationParameter::to_internal(double value) const {
  return prior == PriorKind::LogUniform ? std::log(value) : value;
}

double CalibrationParameter::from_internal(double x) const {
  return prior == PriorKind::LogUniform ? std::exp(x) : x;
}

double CalibrationParameter::log_prior(double x) const {
  const double lo = to_internal(low), hi = to_internal(high);
  if (!(x >= lo && x <= hi)) return -kInf;
  if (prior == PriorKind::Normal) {
    const double z = (x - mean) / sd;
    return -0.5 * z * z;
  }
  return 0;
}

double abc_distance(const double* simulated, const std::vector<double>& values,
                    const std::vector<double>& tolerances) {
  double s = 0;
  for (std::size_t j = 0; j < values.size(); ++j) {
    if (!std::isfinite(simulated[j])) return kInf;
    const double e = (simulated[j] - values[j]) / tolerances[j];
    s += e * e;
  }
  return values.empty() ? 0.0 : std::sqrt(s / static_cast<double>(values.size()));
}

AbcSmc::AbcSmc(std::vector<CalibrationParameter> parameters, std::vector<double> target_values,
               std::vector<double> tolerances, AbcSettings settings)
    : parameters_(std::move(parameters)),
      values_(std::move(target_values)),
      tolerances_(std::move(tolerances)),
      settings_(settings) {
  if (parameters_.empty()) throw std::invalid_argument("calibration: no parameters");
  if (values_.empty() || values_.size() != tolerances_.size())
    throw std::invalid_argument("calibration: targets and tolerances do not match");
  if (settings_.particles < 2) throw std::invalid_argument("calibration: fewer than 2 particles");
  for (double t : tolerances_)
    if (!(t > 0)) throw std::invalid_argument("calibration: a tolerance is not positive");
  for (const auto& p : parameters_) {
    if (!(p.low < p.high)) throw std::invalid_argument("calibration: " + p.path + " low >= high");
    if (p.prior == PriorKind::LogUniform && !(p.low > 0))
      throw std::invalid_argument("calibration: " + p.path + " log-uniform needs low > 0");
    if (p.prior == PriorKind::Normal && !(p.sd > 0))
      throw std::invalid_argument("calibration: " + p.path + " normal prior needs sd > 0");
  }
}

void AbcSmc::restore(std::vector<AbcGeneration> done) {
  const std::size_t d = parameters_.size(), n = settings_.particles, j = values_.size();
  for (const auto& g : done)
    if (g.theta.size() != n * d || g.weight.size() != n || g.distance.size() != n ||
        g.simulated.size() != n * j)
      throw std::invalid_argument("calibration: a saved generation does not fit the calibration");
  generations_.clear();
  stop_reason_.clear();
  converged_ = false;
  next_epsilon_ = kInf;
  for (auto& g : done) {
    generations_.push_back(std::move(g));
    after_generation();
  }
}

void AbcSmc::propose(int generation, std::int64_t number, double* theta,
                     std::int64_t& draws) const {
  const std::size_t d = parameters_.size();
  const Streams streams(settings_.seed, 0);
  WordStream words(
      streams, static_cast<std::uint64_t>(generation) << 32 | static_cast<std::uint64_t>(number),
      Purpose::Calibration);
  std::vector<double> x(d), z(d);
  for (int attempt = 0; attempt < kMaxDraws; ++attempt) {
    ++draws;
    if (generation == 0) {
      // From the prior.
      for (std::size_t p = 0; p < d; ++p) {
        const CalibrationParameter& par = parameters_[p];
        const double lo = par.to_internal(par.low), hi = par.to_internal(par.high);
        x[p] = par.prior == PriorKind::Normal ? par.mean + par.sd * standard_normal(words)
                                              : lo + unit_interval(words.next()) * (hi - lo);
      }
    } else {
      // An ancestor by weight, moved by the Gaussian kernel.
      const double u = unit_interval(words.next());
      const std::size_t a = static_cast<std::size_t>(
          std::upper_bound(cumulative_.begin(), cumulative_.end() - 1, u) - cumulative_.begin());
      for (std::size_t p = 0; p < d; ++p) z[p] = standard_normal(words);
      for (std::size_t p = 0; p < d; ++p) {
        double s = previous_x_[a * d + p];
        for (std::size_t q = 0; q <= p; ++q) s += chol_[p * d + q] * z[q];
        x[p] = s;
      }
    }
    bool inside = true;
    for (std::size_t p = 0; p < d; ++p)
      inside = inside && std::isfinite(parameters_[p].log_prior(x[p]));
    if (inside) {
      for (std::size_t p = 0; p < d; ++p) theta[p] = parameters_[p].from_internal(x[p]);
      // Values mapped back from log space stay inside the stated bounds.
      for (std::size_t p = 0; p < d; ++p)
        theta[p] = std::clamp(theta[p], parameters_[p].low, parameters_[p].high);
      return;
    }
  }
  throw std::runtime_error(
      "calibration: no proposal inside the parameter bounds after " + std::to_string(kMaxDraws) +
      " draws; the bounds exclude almost all of a normal prior, or the posterior sits on a bound");
}

void AbcSmc::prepare_kernel() {
  const AbcGeneration& g = generations_.back();
  const std::size_t d = parameters_.size(), n = g.weight.size();
  previous_x_.resize(n * d);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t p = 0; p < d; ++p)
      previous_x_[i * d + p] = parameters_[p].to_internal(g.theta[i * d + p]);
  cumulative_.resize(n);
  std::partial_sum(g.weight.begin(), g.weight.end(), cumulative_.begin());
  Eigen::VectorXd mean = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(d));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t p = 0; p < d; ++p) mean[p] += g.weight[i] * previous_x_[i * d + p];
  Eigen::MatrixXd cov =
      Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t p = 0; p < d; ++p)
      for (std::size_t q = 0; q < d; ++q)
        cov(p, q) +=
            g.weight[i] * (previous_x_[i * d + p] - mean[p]) * (previous_x_[i * d + q] - mean[q]);
  // Twice the weighted covariance (Beaumont et al. 2009), with a floor of a
  // millionth of each range so that a collapsed population still moves.
  cov *= 2;
  for (std::size_t p = 0; p < d; ++p) {
    const double range = parameters_[p].to_internal(parameters_[p].high) -
                         parameters_[p].to_internal(parameters_[p].low);
    cov(p, p) += 1e-12 * range * range;
  }
  const Eigen::LLT<Eigen::MatrixXd> llt(cov);
  Eigen::MatrixXd l = llt.matrixL();
  if (llt.info() != Eigen::Success) {
    // Not positive definite in floating point: fall back to the diagonal.
    l.setZero();
    for (std::size_t p = 0; p < d; ++p) l(p, p) = std::sqrt(std::max(cov(p, p), 1e-300));
  }
  chol_.assign(d * d, 0);
  log_det_chol_ = 0;
  for (std::size_t p = 0; p < d; ++p) {
    for (std::size_t q = 0; q <= p; ++q) chol_[p * d + q] = l(p, q);
    log_det_chol_ += std::log(l(p, p));
  }
}

// log of sum_j w_j N(x; x_j, 2 Sigma), up to the constant -d/2 log(2 pi).
double AbcSmc::log_kernel_mixture(const std::vector<double>& x) const {
  const std::size_t d = parameters_.size(), n = cumulative_.size();
  std::vector<double> terms(n), r(d);
  double previous_cum = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const double w = cumulative_[j] - previous_cum;
    previous_cum = cumulative_[j];
    // Solve L r = x - x_j.
    double q = 0;
    for (std::size_t p = 0; p < d; ++p) {
      double s = x[p] - previous_x_[j * d + p];
      for (std::size_t k = 0; k < p; ++k) s -= chol_[p * d + k] * r[k];
      r[p] = s / chol_[p * d + p];
      q += r[p] * r[p];
    }
    terms[j] = w > 0 ? std::log(w) - 0.5 * q - log_det_chol_ : -kInf;
  }
  return log_sum_exp(terms);
}

const AbcGeneration& AbcSmc::run_generation(const BatchSimulator& simulate,
                                            const AbcProgress& progress) {
  if (finished()) throw std::logic_error("calibration: run_generation after it finished");
  const int gen = static_cast<int>(generations_.size());
  const std::size_t d = parameters_.size(), n = settings_.particles, nt = values_.size();
  AbcGeneration g;
  g.epsilon = next_epsilon_;
  std::vector<double> log_weight;
  std::int64_t number = 0;
  // Acceptance expected from the previous generation, for batch sizes.
  double expected = gen == 0 ? 1.0 : std::max(0.05, generations_.back().acceptance());
  while (g.weight.size() < n) {
    const std::size_t want = n - g.weight.size();
    const double rate = g.simulations > 0
                            ? std::max(0.02, static_cast<double>(g.weight.size()) / g.simulations)
                            : expected;
    const std::size_t batch = std::clamp<std::size_t>(
        static_cast<std::size_t>(std::ceil(static_cast<double>(want) / rate)), want, 4 * n);
    std::vector<double> thetas(batch * d);
    for (std::size_t b = 0; b < batch; ++b) propose(gen, number++, &thetas[b * d], g.proposals);
    const std::vector<double> sims = simulate(thetas, batch);
    if (sims.size() != batch * nt)
      throw std::logic_error("calibration: the simulator returned the wrong number of values");
    g.simulations += static_cast<std::int64_t>(batch);
    for (std::size_t b = 0; b < batch && g.weight.size() < n; ++b) {
      const double dist = abc_distance(&sims[b * nt], values_, tolerances_);
      if (!(dist <= g.epsilon) && gen > 0) continue;
      std::vector<double> x(d);
      double lp = 0;
      for (std::size_t p = 0; p < d; ++p) {
        x[p] = parameters_[p].to_internal(thetas[b * d + p]);
        lp += parameters_[p].log_prior(x[p]);
      }
      g.theta.insert(g.theta.end(), &thetas[b * d], &thetas[b * d] + d);
      g.simulated.insert(g.simulated.end(), &sims[b * nt], &sims[b * nt] + nt);
      g.distance.push_back(dist);
      // Generation 0 comes from the prior itself: equal weights.
      log_weight.push_back(gen == 0 ? 0.0 : lp - log_kernel_mixture(x));
      g.weight.push_back(0);
    }
    if (progress) progress(g.weight.size(), g.simulations);
    if (gen > 0 && g.simulations >= 20 && g.weight.size() < n &&
        static_cast<double>(g.weight.size()) < settings_.min_acceptance * g.simulations &&
        g.simulations >= static_cast<std::int64_t>(n / settings_.min_acceptance))
      break;  // hopeless at this tolerance: stop below
  }
  if (g.weight.size() < n) {
    stop_reason_ = "stopped: generation " + std::to_string(gen) + " accepted " +
                   std::to_string(g.weight.size()) + " of " + std::to_string(g.simulations) +
                   " simulations at tolerance " + std::to_string(g.epsilon) +
                   ", below min_acceptance; the last complete generation is the result";
    return generations_.back();
  }
  const double top = log_sum_exp(log_weight);
  for (std::size_t i = 0; i < n; ++i) g.weight[i] = std::exp(log_weight[i] - top);
  const double total = std::accumulate(g.weight.begin(), g.weight.end(), 0.0);
  for (double& w : g.weight) w /= total;
  generations_.push_back(std::move(g));
  after_generation();
  return generations_.back();
}

void AbcSmc::after_generation() {
  const AbcGeneration& g = generations_.back();
  const int gen = static_cast<int>(generations_.size()) - 1;
  stop_reason_.clear();  // restore() replays every saved generation
  converged_ = false;
  std::vector<double> sorted = g.distance;
  std::sort(sorted.begin(), sorted.end());
  const auto at = static_cast<std::size_t>(
      std::floor(settings_.quantile * static_cast<double>(sorted.size() - 1)));
  double q = sorted[at];
  if (!std::isfinite(q)) {
    // Most simulations gave no value for some target: tighten to the
    // finite ones.
    const auto finite =
        std::find_if(sorted.begin(), sorted.end(), [](double v) { return !std::isfinite(v); });
    q = finite == sorted.begin() ? kInf : *(finite - 1);
  }
  next_epsilon_ = std::max(settings_.final_epsilon, q);
  if (gen > 0 && g.epsilon <= settings_.final_epsilon) {
    converged_ = true;
    stop_reason_ =
        "converged: every particle within tolerance " + std::to_string(settings_.final_epsilon);
  } else if (gen > 0 && g.acceptance() < settings_.min_acceptance) {
    stop_reason_ = "stopped: acceptance " + std::to_string(g.acceptance()) +
                   " below min_acceptance at tolerance " + std::to_string(g.epsilon);
  } else if (static_cast<int>(generations_.size()) >= settings_.max_generations) {
    stop_reason_ = "stopped: reached max_generations (" +
                   std::to_string(settings_.max_generations) + ") at tolerance " +
                   std::to_string(g.epsilon);
  } else if (gen > 0 && next_epsilon_ >= g.epsilon * 0.999) {
    stop_reason_ = "stopped: the tolerance no longer decreases (" + std::to_string(g.epsilon) +
                   "); the targets cannot all be met within final_epsilon";
  }
  if (!finished()) prepare_kernel();
}

std::vector<PosteriorSummary> summarize_posterior(const AbcGeneration& g,
                                                  const std::vector<CalibrationParameter>& params) {
  const std::size_t d = params.size(), n = g.weight.size();
  std::vector<PosteriorSummary> out(d);
  for (std::size_t p = 0; p < d; ++p) {
    double mean = 0, internal = 0;
    std::vector<std::pair<double, double>> vw(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double v = g.theta[i * d + p];
      mean += g.weight[i] * v;
      internal += g.weight[i] * params[p].to_internal(v);
      vw[i] = {v, g.weight[i]};
    }
    double var = 0;
    for (std::size_t i = 0; i < n; ++i) var += g.weight[i] * std::pow(g.theta[i * d + p] - mean, 2);
    PosteriorSummary& s = out[p];
    s.mean = mean;
    s.sd = std::sqrt(var);
    s.low = weighted_quantile(vw, 0.025);
    s.median = weighted_quantile(vw, 0.5);
    s.high = weighted_quantile(vw, 0.975);
    s.estimate = std::clamp(params[p].from_internal(internal), params[p].low, params[p].high);
  }
  return out;
}

std::size_t best_particle(const AbcGeneration& g) {
  return static_cast<std::size_t>(std::min_element(g.distance.begin(), g.distance.end()) -
                                  g.distance.begin());
}

double effective_sample_size(const AbcGeneration& g) {
  double s = 0;
  for (double w : g.weight) s += w * w;
  return s > 0 ? 1 / s : 0;
}

}  // namespace talentsim
