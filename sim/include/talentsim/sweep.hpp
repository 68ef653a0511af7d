// Parameter sweeps, the pure part: experiment designs over a set of
// scenario parameters, and Sobol' sensitivity indices with bootstrap
// intervals. No files, threads or YAML here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace talentsim {

enum class DesignKind { Grid, Random, LatinHypercube, Sobol };

// "grid", "random", "lhs", "sobol".
const char* design_name(DesignKind kind);

// One swept scalar of the scenario.
struct SweepParameter {
  std::string path;            // a scenario scalar, named as in --set
  double min = 0, max = 0;     // a continuous range, when `values` is empty
  bool log_scale = false;      // spread evenly in log(value); needs 0 < min
  std::vector<double> values;  // listed levels; if not empty, min/max unused
  int levels = 0;              // grid only: evenly spaced levels of min..max (>= 2)
  bool integer = false;        // whole numbers only; min and max whole
  int line = 0, column = 0;    // where the sweep file declares it (1-based)

  // The value at unit coordinate u in [0, 1]: min + u (max - min), on the
  // log scale if asked; for listed values, values[min(n - 1, floor(u n))].
  // Whole numbers (`integer`): min + floor(u (max - min + 1)), at most max,
  // so each is equally likely; on the log scale the log-spread value
  // rounded. Grid levels of a whole-number range are rounded.
  double at(double u) const;
  // Grid levels: values.size() if listed, else `levels`.
  std::size_t level_count() const;
  // Grid level j of level_count(): values[j], or min..max evenly spaced
  // (on the log scale if asked), both ends included.
  double level(std::size_t j) const;
};

// The points of a design, row-major: value of parameter p at point i is
// values[i * parameters + p].
struct SweepDesign {
  DesignKind kind = DesignKind::Grid;
  std::size_t parameters = 0;
  std::size_t points = 0;
  // Sobol: the N of Saltelli's scheme (points = N (parameters + 2));
  // otherwise equal to points.
  std::size_t base_samples = 0;
  std::vector<double> values;
  double value(std::size_t point, std::size_t parameter) const {
    return values[point * parameters + parameter];
  }
};

// Grid: the full factorial over every parameter's levels, the last
// parameter varying fastest; `samples` is ignored.
// Random: `samples` independent uniform points of the unit cube.
// LatinHypercube: `samples` points, each parameter's range cut into
// `samples` equal strata, one point per stratum, at a uniform place in it,
// strata paired across parameters by independent random permutations.
// Sobol: Saltelli's scheme on the Sobol' sequence (Joe-Kuo direction
// numbers) of dimension 2 d: base row j (point S + j of the unscrambled
// sequence, S = sobol_skip(N), the least power of two >= N) gives A_j = its first d coordinates and
// B_j its last d; the design lists, for each j, the block A_j, B_j, AB_j^1 .. AB_j^d, where AB_j^i
// is A_j with coordinate i taken from B_j. N = `samples`. Random and LatinHypercube draw from
// Philox keyed by `seed`; Grid and Sobol use no randomness. Throws std::invalid_argument on
// impossible requests (no parameters, samples < 1 where needed, too many dimensions for the Sobol'
// table, a grid of more than 2^31 points).
SweepDesign make_design(DesignKind kind, const std::vector<SweepParameter>& parameters,
                        std::size_t samples, std::uint64_t seed);

// The largest number of parameters a Sobol design supports (2 d sequence
// dimensions must fit the direction-number table).
std::size_t max_sobol_parameters();

// Details of make_design beyond the above:
// - Random: coordinate p of point i is unit_interval of 64-bit word p of the
//   WordStream (Streams(seed, 0), who = i, Purpose::Design).
// - LatinHypercube: parameter p's stratum permutation is a Fisher-Yates
//   shuffle drawing uniform_below from the WordStream (who = 2^33 + p,
//   Design); the place in the stratum of point i is word p of the WordStream
//   (who = 2^32 + i, Design). Coordinate = (stratum + place) / samples.
// - Random and LatinHypercube take at most 2^24 samples; every design at
//   most 2^31 points. Parameters are validated: a range needs finite
//   min < max (0 < min on the log scale), listed values must be finite, and
//   a grid needs listed values or levels >= 2.
// - Sobol: coordinates come from sobol_sequence(S + N, 2 d), rows S..S+N-1.

// Where a Sobol design's base rows start in the sequence: the least power of
// two >= samples. Points 0 and 1 of the sequence have A = B and would add
// nothing but bias; any 2^m consecutive points from a multiple of 2^m are a
// net like the first 2^m.
std::size_t sobol_skip(std::size_t samples);

// The first `points` points of the unscrambled Sobol' sequence in
// `dimensions` dimensions (Joe-Kuo new-joe-kuo-6.21201 direction numbers,
// 32 bits, Gray-code order as in Joe and Kuo's sobol.cc, point 0 the
// origin), row-major: coordinate k of point i is [i * dimensions + k].
// Throws std::invalid_argument if dimensions is 0 or above
// sobol_dimensions(), or points above 2^32.
std::vector<double> sobol_sequence(std::size_t points, std::size_t dimensions);

// The number of dimensions in the embedded direction-number table.
std::size_t sobol_dimensions();

struct IndexEstimate {
  double value = 0;          // point estimate from all N base rows
  double low = 0, high = 0;  // bootstrap 95% percentile interval
};

// First-order and total Sobol' indices of one output, per parameter.
struct SobolIndices {
  std::vector<IndexEstimate> first, total;  // [parameter]
  double variance = 0;                      // Var(Y) over the A and B rows
};

// `outputs` are the model's outputs at the points of a Sobol design, in
// design order (N (d + 2) values). First order by Saltelli et al. (2010):
// S_i = mean(f(B) (f(AB^i) - f(A))) / V; total by Jansen (1999):
// T_i = mean((f(A) - f(AB^i))^2) / (2 V); V the variance of the 2N values
// f(A), f(B). Intervals: `resamples` bootstrap resamples of the N base rows
// (Philox keyed by `seed`), 2.5% and 97.5% percentiles. A constant output
// (V = 0) gives indices 0 with intervals [0, 0].
// Details: V divides by 2N (the population variance). The outputs are first
// shifted by the mean of f(A), f(B) (each resample by its own mean), which
// leaves the estimators' expectations unchanged and avoids cancellation.
// Resample r draws its N rows with uniform_below from the WordStream
// (Streams(seed, 0), who = r + 2^32 * (draw / 2^22), Purpose::Bootstrap);
// each resample recomputes V, S_i and T_i; a resample with V = 0 gives 0.
// Percentiles interpolate linearly between order statistics (position
// p (R - 1)). `resamples` = 0 gives intervals [value, value]. Throws
// std::invalid_argument if outputs.size() != N (d + 2), N or d is 0,
// N is above 2^31, resamples < 0, or an output is not finite.
SobolIndices sobol_indices(std::span<const double> outputs, std::size_t base_samples,
                           std::size_t parameters, int resamples, std::uint64_t seed);

// The same for `count` outputs at once, stored point by point:
// outputs[point * count + o]. What `talentsim sweep` computes.
std::vector<SobolIndices> sobol_indices_each(std::span<const double> outputs, std::size_t count,
                                             std::size_t base_samples, std::size_t parameters,
                                             int resamples, std::uint64_t seed);

}  // namespace talentsim
