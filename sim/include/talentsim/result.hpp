// What one replicate produces (MODEL.md section 7), as dense row-major arrays.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace talentsim {

struct ResultShape {
  int steps = 0;      // T
  int labs = 0;       // L
  int tiers = 0;      // K
  int named = 0;      // N
  int questions = 0;  // Q
  friend bool operator==(const ResultShape&, const ResultShape&) = default;
};

// A ratio question's value: numerator / denominator; with nothing to divide
// by, NaN, or +infinity when the numerator is positive (a flow ratio with
// moves in and none back). The same rule for one replicate and for sums
// over replicates (pooled).
inline double ratio_value(double numerator, double denominator) {
  return denominator > 0 ? numerator / denominator
         : numerator > 0 ? std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::quiet_NaN();
}

struct ReplicateResult {
  std::int64_t replicate = 0;
  ResultShape shape;
  std::vector<std::int32_t> headcount;   // [T][L][K]: at the end of step t
  std::vector<std::int32_t> hires;       // [T][L][K]: moves into l during t
  std::vector<std::int32_t> departures;  // [T][L][K]: moves out of l during t
  std::vector<double> star_power;        // [T][L]: S_l at the end of t
  std::vector<std::int32_t> named_lab;   // [T][N]: lab index, -1 when nowhere
  std::vector<std::int32_t> flows;       // [L][L][K]: from_lab, to_lab, tier; whole run
  std::vector<double> question_value;    // [Q]: each forecast question's value
  // [Q]: value = numerator / denominator. The denominator is 1 except for
  // the ratio metrics (retention, flow_ratio, tenure), whose estimate over
  // many replicates pools them: sum of numerators / sum of denominators.
  std::vector<double> question_numerator, question_denominator;
  // Work done, for benchmarks (not written to results files): researchers
  // who made a market choice (step 4), summed over the run.
  std::int64_t market_decisions = 0;

  ReplicateResult() = default;
  explicit ReplicateResult(ResultShape s)
      : shape(s),
        headcount(size_t(s.steps) * s.labs * s.tiers),
        hires(headcount.size()),
        departures(headcount.size()),
        star_power(size_t(s.steps) * s.labs),
        named_lab(size_t(s.steps) * s.named),
        flows(size_t(s.labs) * s.labs * s.tiers),
        question_value(size_t(s.questions)),
        question_numerator(size_t(s.questions)),
        question_denominator(size_t(s.questions), 1.0) {}

  size_t tlk(int t, int l, int k) const { return (size_t(t) * shape.labs + l) * shape.tiers + k; }
  size_t tl(int t, int l) const { return size_t(t) * shape.labs + l; }
  size_t tn(int t, int n) const { return size_t(t) * shape.named + n; }
  size_t flk(int from, int to, int k) const {
    return (size_t(from) * shape.labs + to) * shape.tiers + k;
  }
};

}  // namespace talentsim
