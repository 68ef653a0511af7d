// Sobol' sensitivity indices from a Saltelli design: first order by
// Saltelli et al. (2010), total by Jansen (1999), with bootstrap percentile
// intervals over the base rows.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "talentsim/rng.hpp"
#include "talentsim/sweep.hpp"

namespace talentsim {

namespace {

constexpr std::size_t kMaxBaseSamples = std::size_t{1} << 31;
// Draws per bootstrap WordStream: even with every draw rejected once, the
// words stay far below the 2^25 a stream holds.
constexpr std::size_t kDrawsPerStream = std::size_t{1} << 22;

struct Estimates {
  std::vector<double> first, total;
};

// The estimators over the base rows, row j counted weight[j] times (all 1
// for the point estimate, the bootstrap multiplicities for a resample).
// `y` are the outputs already shifted by the mean of f(A), f(B).
void estimate(const std::vector<double>& y, std::size_t n, std::size_t d,
              const std::vector<std::uint32_t>* weight, Estimates& out) {
  const std::size_t stride = d + 2;
  auto w = [&](std::size_t j) { return weight ? static_cast<double>((*weight)[j]) : 1.0; };
  const double rows = static_cast<double>(n);

  double sum = 0;
  for (std::size_t j = 0; j < n; ++j) {
    if (weight && (*weight)[j] == 0) continue;
    sum += w(j) * (y[j * stride] + y[j * stride + 1]);
  }
  const double mean = sum / (2 * rows);
  double squares = 0;
  for (std::size_t j = 0; j < n; ++j) {
    if (weight && (*weight)[j] == 0) continue;
    const double a = y[j * stride] - mean, b = y[j * stride + 1] - mean;
    squares += w(j) * (a * a + b * b);
  }
  const double variance = squares / (2 * rows);

  out.first.assign(d, 0.0);
  out.total.assign(d, 0.0);
  if (!(variance > 0)) return;
  for (std::size_t j = 0; j < n; ++j) {
    if (weight && (*weight)[j] == 0) continue;
    const double wj = w(j);
    const double* block = &y[j * stride];
    const double a = block[0], b = block[1] - mean;
    for (std::size_t i = 0; i < d; ++i) {
      const double ab = block[2 + i];
      out.first[i] += wj * b * (ab - a);
      out.total[i] += wj * (a - ab) * (a - ab);
    }
  }
  for (std::size_t i = 0; i < d; ++i) {
    out.first[i] /= rows * variance;
    out.total[i] /= 2 * rows * variance;
  }
}

// The p-quantile of sorted values, interpolating linearly at p (R - 1).
double percentile(const std::vector<double>& sorted, double p) {
  const double position = p * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(position));
  if (lo + 1 >= sorted.size()) return sorted.back();
  const double frac = position - static_cast<double>(lo);
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

}  // namespace

SobolIndices sobol_indices(std::span<const double> outputs, std::size_t base_samples,
                           std::size_t parameters, int resamples, std::uint64_t seed) {
  const std::size_t n = base_samples, d = parameters;
  if (n == 0) throw std::invalid_argument("sobol indices: no base samples");
  if (d == 0) throw std::invalid_argument("sobol indices: no parameters");
  if (n > kMaxBaseSamples)
    throw std::invalid_argument("sobol indices: more than 2^31 base samples");
  if (resamples < 0)
    throw std::invalid_argument("sobol indices: negative number of bootstrap resamples (" +
                                std::to_string(resamples) + ")");
  const std::size_t stride = d + 2;
  if (n > outputs.size() / stride || outputs.size() != n * stride)
    throw std::invalid_argument("sobol indices: " + std::to_string(outputs.size()) +
                                " outputs, expected N (d + 2) = " + std::to_string(n) + " x " +
                                std::to_string(stride));
  for (std::size_t k = 0; k < outputs.size(); ++k)
    if (!std::isfinite(outputs[k]))
      throw std::invalid_argument("sobol indices: output at design point " + std::to_string(k) +
                                  " is not finite");

  SobolIndices result;
  result.first.assign(d, IndexEstimate{});
  result.total.assign(d, IndexEstimate{});

  // A constant f(A), f(B): V = 0 exactly, whatever rounding the mean has.
  const double first_value = outputs[0];
  bool constant = true;
  for (std::size_t j = 0; j < n && constant; ++j)
    constant = outputs[j * stride] == first_value && outputs[j * stride + 1] == first_value;
  if (constant) return result;

  // Shift by the mean of f(A), f(B) (Neumaier-compensated sum).
  double sum = 0, compensation = 0;
  for (std::size_t j = 0; j < n; ++j)
    for (int k = 0; k < 2; ++k) {
      const double x = outputs[j * stride + k];
      const double t = sum + x;
      compensation += std::abs(sum) >= std::abs(x) ? (sum - t) + x : (x - t) + sum;
      sum = t;
    }
  const double centre = (sum + compensation) / (2 * static_cast<double>(n));
  std::vector<double> y(outputs.size());
  for (std::size_t k = 0; k < outputs.size(); ++k) y[k] = outputs[k] - centre;

  double squares = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const double a = y[j * stride], b = y[j * stride + 1];
    squares += a * a + b * b;
  }
  result.variance = squares / (2 * static_cast<double>(n));

  Estimates point;
  estimate(y, n, d, nullptr, point);
  for (std::size_t i = 0; i < d; ++i) {
    result.first[i] = {point.first[i], point.first[i], point.first[i]};
    result.total[i] = {point.total[i], point.total[i], point.total[i]};
  }
  if (resamples == 0) return result;

  const auto count = static_cast<std::size_t>(resamples);
  std::vector<std::vector<double>> first(d, std::vector<double>(count)),
      total(d, std::vector<double>(count));
  const Streams streams(seed, 0);
  std::vector<std::uint32_t> weight(n);
  Estimates draw;
  for (std::size_t r = 0; r < count; ++r) {
    std::fill(weight.begin(), weight.end(), 0u);
    for (std::size_t start = 0; start < n; start += kDrawsPerStream) {
      WordStream words(streams, r + (static_cast<std::uint64_t>(start / kDrawsPerStream) << 32),
                       Purpose::Bootstrap);
      const std::size_t end = std::min(n, start + kDrawsPerStream);
      for (std::size_t k = start; k < end; ++k)
        ++weight[uniform_below(static_cast<std::uint32_t>(n),
                               static_cast<std::uint32_t>(words.next() >> 32), words)];
    }
    estimate(y, n, d, &weight, draw);
    for (std::size_t i = 0; i < d; ++i) {
      first[i][r] = draw.first[i];
      total[i][r] = draw.total[i];
    }
  }
  for (std::size_t i = 0; i < d; ++i) {
    std::sort(first[i].begin(), first[i].end());
    std::sort(total[i].begin(), total[i].end());
    result.first[i].low = percentile(first[i], 0.025);
    result.first[i].high = percentile(first[i], 0.975);
    result.total[i].low = percentile(total[i], 0.025);
    result.total[i].high = percentile(total[i], 0.975);
  }
  return result;
}

std::vector<SobolIndices> sobol_indices_each(std::span<const double> outputs, std::size_t count,
                                             std::size_t base_samples, std::size_t parameters,
                                             int resamples, std::uint64_t seed) {
  if (count == 0 || outputs.size() % count != 0)
    throw std::invalid_argument("sobol indices: " + std::to_string(outputs.size()) +
                                " values are not a whole number of points of " +
                                std::to_string(count) + " outputs");
  const std::size_t points = outputs.size() / count;
  std::vector<SobolIndices> out;
  std::vector<double> y(points);
  for (std::size_t o = 0; o < count; ++o) {
    for (std::size_t p = 0; p < points; ++p) y[p] = outputs[p * count + o];
    out.push_back(sobol_indices(y, base_samples, parameters, resamples, seed));
  }
  return out;
}

}  // namespace talentsim
