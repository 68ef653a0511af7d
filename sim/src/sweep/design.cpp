// Experiment designs over swept parameters: full factorial grids, random
// and Latin hypercube samples (Philox), and Saltelli's scheme on the
// unscrambled Sobol' sequence.
#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "sobol_directions.hpp"
#include "talentsim/rng.hpp"
#include "talentsim/sweep.hpp"

namespace talentsim {

namespace {

constexpr std::size_t kMaxPoints = std::size_t{1} << 31;
constexpr std::size_t kMaxRandomSamples = std::size_t{1} << 24;

std::string number(double x) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, result.ptr);
}

[[noreturn]] void fail_parameter(const SweepParameter& p, const std::string& message) {
  std::string where = "sweep parameter '" + p.path + "'";
  if (p.line > 0) {
    where += " (line " + std::to_string(p.line);
    if (p.column > 0) where += ", column " + std::to_string(p.column);
    where += ")";
  }
  throw std::invalid_argument(where + ": " + message);
}

void validate(const SweepParameter& p, DesignKind kind) {
  if (!p.values.empty()) {
    for (std::size_t j = 0; j < p.values.size(); ++j)
      if (!std::isfinite(p.values[j]))
        fail_parameter(p, "listed value " + std::to_string(j + 1) + " is not finite");
    return;
  }
  if (!std::isfinite(p.min) || !std::isfinite(p.max))
    fail_parameter(
        p, "min and max must be finite (got " + number(p.min) + " and " + number(p.max) + ")");
  if (!(p.min < p.max))
    fail_parameter(p, "min (" + number(p.min) + ") must be below max (" + number(p.max) + ")");
  if (p.log_scale && !(p.min > 0))
    fail_parameter(p, "a log-scale range needs 0 < min (got min " + number(p.min) + ")");
  if (kind == DesignKind::Grid && p.levels < 2)
    fail_parameter(p,
                   "a grid over a range needs levels >= 2 (got " + std::to_string(p.levels) + ")");
}

// Point u of [min, max] (or of the log range); the ends are exact.
double interpolate(const SweepParameter& p, double u) {
  if (!(u > 0)) return p.min;
  if (u >= 1) return p.max;
  if (p.log_scale) {
    const double lo = std::log(p.min), hi = std::log(p.max);
    return std::clamp(std::exp(lo + u * (hi - lo)), p.min, p.max);
  }
  const double width = p.max - p.min;  // infinite only for ranges near the double limits
  const double x = std::isfinite(width) ? p.min + u * width : p.min * (1 - u) + p.max * u;
  return std::clamp(x, p.min, p.max);
}

// A design of `points` points of `d` parameters, values all 0 until set.
SweepDesign empty_design(DesignKind kind, std::size_t d, std::size_t points,
                         std::size_t base_samples) {
  SweepDesign design;
  design.kind = kind;
  design.parameters = d;
  design.points = points;
  design.base_samples = base_samples;
  design.values.assign(points * d, 0.0);
  return design;
}

SweepDesign grid_design(const std::vector<SweepParameter>& parameters) {
  const std::size_t d = parameters.size();
  std::vector<std::vector<double>> levels(d);
  std::size_t points = 1;
  for (std::size_t p = 0; p < d; ++p) {
    const std::size_t n = parameters[p].level_count();
    if (n == 0) fail_parameter(parameters[p], "has no grid levels");
    if (points > kMaxPoints / n)
      throw std::invalid_argument("grid design: more than 2^31 points (the full factorial of " +
                                  std::to_string(d) + " parameters)");
    points *= n;
    levels[p].resize(n);
    for (std::size_t j = 0; j < n; ++j) levels[p][j] = parameters[p].level(j);
  }
  SweepDesign design = empty_design(DesignKind::Grid, d, points, points);
  // Odometer over the level indices, the last parameter fastest.
  std::vector<std::size_t> index(d, 0);
  for (std::size_t i = 0; i < points; ++i) {
    for (std::size_t p = 0; p < d; ++p) design.values[i * d + p] = levels[p][index[p]];
    for (std::size_t p = d; p-- > 0;) {
      if (++index[p] < levels[p].size()) break;
      index[p] = 0;
    }
  }
  return design;
}

SweepDesign random_design(const std::vector<SweepParameter>& parameters, std::size_t samples,
                          std::uint64_t seed) {
  const std::size_t d = parameters.size();
  const Streams streams(seed, 0);
  SweepDesign design = empty_design(DesignKind::Random, d, samples, samples);
  for (std::size_t i = 0; i < samples; ++i) {
    WordStream words(streams, i, Purpose::Design);
    for (std::size_t p = 0; p < d; ++p)
      design.values[i * d + p] = parameters[p].at(unit_interval(words.next()));
  }
  return design;
}

SweepDesign latin_hypercube_design(const std::vector<SweepParameter>& parameters,
                                   std::size_t samples, std::uint64_t seed) {
  const std::size_t d = parameters.size();
  const Streams streams(seed, 0);
  constexpr std::uint64_t kPlaceStreams = std::uint64_t{1} << 32;
  constexpr std::uint64_t kPermutationStreams = std::uint64_t{1} << 33;
  // strata[p][i]: the stratum of point i along parameter p.
  std::vector<std::vector<std::uint32_t>> strata(d);
  for (std::size_t p = 0; p < d; ++p) {
    auto& perm = strata[p];
    perm.resize(samples);
    std::iota(perm.begin(), perm.end(), std::uint32_t{0});
    WordStream words(streams, kPermutationStreams + p, Purpose::Design);
    for (std::size_t k = samples; k-- > 1;) {
      const std::uint32_t j = uniform_below(static_cast<std::uint32_t>(k + 1),
                                            static_cast<std::uint32_t>(words.next() >> 32), words);
      std::swap(perm[k], perm[j]);
    }
  }
  SweepDesign design = empty_design(DesignKind::LatinHypercube, d, samples, samples);
  const double n = static_cast<double>(samples);
  for (std::size_t i = 0; i < samples; ++i) {
    WordStream words(streams, kPlaceStreams + i, Purpose::Design);
    for (std::size_t p = 0; p < d; ++p) {
      const double u = (static_cast<double>(strata[p][i]) + unit_interval(words.next())) / n;
      design.values[i * d + p] = parameters[p].at(u);
    }
  }
  return design;
}

SweepDesign sobol_design(const std::vector<SweepParameter>& parameters, std::size_t samples) {
  const std::size_t d = parameters.size();
  if (d > max_sobol_parameters())
    throw std::invalid_argument("sobol design: " + std::to_string(d) +
                                " parameters, but the Sobol' table supports at most " +
                                std::to_string(max_sobol_parameters()));
  if (samples > kMaxPoints / (d + 2))
    throw std::invalid_argument("sobol design: " + std::to_string(samples) + " samples of " +
                                std::to_string(d) + " parameters make more than 2^31 points");
  // Base rows start at point S = the least power of two >= N: points 0 and
  // 1 of the sequence (the origin and the centre) have equal halves, A = B,
  // so such a row adds nothing to the estimators' numerators and biases them
  // towards 0 by a factor 1 - 2/N; a block S..S+N-1 keeps the net property.
  const std::size_t skip = sobol_skip(samples);
  const std::vector<double> sequence = sobol_sequence(skip + samples, 2 * d);
  SweepDesign design = empty_design(DesignKind::Sobol, d, samples * (d + 2), samples);
  for (std::size_t j = 0; j < samples; ++j) {
    const double* a = &sequence[(skip + j) * 2 * d];
    const double* b = a + d;
    double* block = &design.values[j * (d + 2) * d];
    for (std::size_t p = 0; p < d; ++p) {
      const double va = parameters[p].at(a[p]), vb = parameters[p].at(b[p]);
      block[p] = va;                                                                  // A_j
      block[d + p] = vb;                                                              // B_j
      for (std::size_t i = 0; i < d; ++i) block[(2 + i) * d + p] = i == p ? vb : va;  // AB_j^i
    }
  }
  return design;
}

}  // namespace

const char* design_name(DesignKind kind) {
  switch (kind) {
    case DesignKind::Grid:
      return "grid";
    case DesignKind::Random:
      return "random";
    case DesignKind::LatinHypercube:
      return "lhs";
    case DesignKind::Sobol:
      return "sobol";
  }
  return "unknown";
}

double SweepParameter::at(double u) const {
  if (!values.empty()) {
    const std::size_t n = values.size();
    if (!(u > 0)) return values.front();
    const double scaled = std::floor(u * static_cast<double>(n));
    if (scaled >= static_cast<double>(n)) return values.back();
    return values[static_cast<std::size_t>(scaled)];
  }
  if (integer) {
    // Each whole number of min..max equally likely on the linear scale;
    // on the log scale the nearest whole number to the log-spread value.
    if (log_scale) return std::clamp(std::round(interpolate(*this, u)), min, max);
    return std::min(max, std::floor(min + std::clamp(u, 0.0, 1.0) * (max - min + 1)));
  }
  return interpolate(*this, u);
}

std::size_t SweepParameter::level_count() const {
  if (!values.empty()) return values.size();
  return levels > 0 ? static_cast<std::size_t>(levels) : 0;
}

double SweepParameter::level(std::size_t j) const {
  const std::size_t n = level_count();
  if (j >= n)
    throw std::out_of_range("sweep parameter '" + path + "': grid level " + std::to_string(j) +
                            " of " + std::to_string(n));
  if (!values.empty()) return values[j];
  if (j == 0) return min;
  if (j + 1 == n) return max;
  const double u = static_cast<double>(j) / static_cast<double>(n - 1);
  return integer ? std::round(interpolate(*this, u)) : interpolate(*this, u);
}

std::size_t sobol_skip(std::size_t samples) {
  std::size_t s = 1;
  while (s < samples) s *= 2;
  return s;
}

std::size_t max_sobol_parameters() { return sobol::kDimensions / 2; }

std::size_t sobol_dimensions() { return sobol::kDimensions; }

std::vector<double> sobol_sequence(std::size_t points, std::size_t dimensions) {
  if (dimensions == 0 || dimensions > sobol::kDimensions)
    throw std::invalid_argument("sobol sequence: " + std::to_string(dimensions) +
                                " dimensions, the table has 1.." +
                                std::to_string(sobol::kDimensions));
  if (points > (std::size_t{1} << 32))
    throw std::invalid_argument("sobol sequence: more than 2^32 points");
  constexpr int kBits = 32;
  // direction[k * dimensions + dim] = V_{k+1} of dimension dim + 1, scaled by 2^32.
  std::vector<std::uint32_t> direction(kBits * dimensions);
  for (int k = 0; k < kBits; ++k) direction[k * dimensions] = std::uint32_t{1} << (kBits - 1 - k);
  for (std::size_t dim = 1; dim < dimensions; ++dim) {
    const auto& row = sobol::kRows[dim - 1];
    const int s = static_cast<int>(row.s);
    auto v = [&](int k) -> std::uint32_t& { return direction[k * dimensions + dim]; };
    for (int k = 0; k < kBits; ++k) {
      if (k < s) {
        v(k) = row.m[k] << (kBits - 1 - k);
        continue;
      }
      std::uint32_t x = v(k - s) ^ (v(k - s) >> s);
      for (int j = 1; j < s; ++j)
        if ((row.a >> (s - 1 - j)) & 1u) x ^= v(k - j);
      v(k) = x;
    }
  }
  std::vector<double> out(points * dimensions);
  std::vector<std::uint32_t> x(dimensions, 0);  // point 0 is the origin
  for (std::size_t i = 1; i < points; ++i) {
    // Gray-code order: point i flips direction number ctz(i) + 1.
    const std::uint32_t* v =
        &direction[std::countr_zero(static_cast<std::uint64_t>(i)) * dimensions];
    for (std::size_t k = 0; k < dimensions; ++k) {
      x[k] ^= v[k];
      out[i * dimensions + k] = static_cast<double>(x[k]) * 0x1.0p-32;
    }
  }
  return out;
}

SweepDesign make_design(DesignKind kind, const std::vector<SweepParameter>& parameters,
                        std::size_t samples, std::uint64_t seed) {
  const std::string name = design_name(kind);
  if (parameters.empty()) throw std::invalid_argument(name + " design: no parameters to sweep");
  for (const auto& p : parameters) validate(p, kind);
  if (kind == DesignKind::Grid) return grid_design(parameters);
  if (samples < 1) throw std::invalid_argument(name + " design: needs at least 1 sample");
  switch (kind) {
    case DesignKind::Random:
    case DesignKind::LatinHypercube:
      if (samples > kMaxRandomSamples)
        throw std::invalid_argument(name + " design: " + std::to_string(samples) +
                                    " samples, at most 2^24 supported");
      return kind == DesignKind::Random ? random_design(parameters, samples, seed)
                                        : latin_hypercube_design(parameters, samples, seed);
    case DesignKind::Sobol:
      return sobol_design(parameters, samples);
    case DesignKind::Grid:
      break;
  }
  throw std::invalid_argument("unknown design kind");
}

}  // namespace talentsim
