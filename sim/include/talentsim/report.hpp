// What a user reads after a run or a comparison: per-lab headcounts, each
// forecast question's probability with an honest interval, and paired
// differences between a baseline and a what-if. Built from replicates as
// they arrive (during a run) or as they are read back (`summarize`), by the
// same code, so the two always agree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "talentsim/result.hpp"
#include "talentsim/results_file.hpp"
#include "talentsim/scenario.hpp"
#include "talentsim/sweep_file.hpp"

namespace talentsim {

// ---- statistics -----------------------------------------------------------

inline constexpr double kZ95 = 1.959963984540054;  // standard normal 97.5th percentile

struct Interval {
  double low = 0, high = 0;
};

// Sample quantile with linear interpolation between order statistics
// (Hyndman & Fan type 7, numpy's default). `values` is sorted in place.
double quantile(std::vector<double>& values, double q);

// Wilson score interval for a binomial proportion (successes of n).
Interval wilson_interval(std::int64_t successes, std::int64_t n, double z = kZ95);

// Interval for p1 - p2 from paired binary outcomes (Newcombe 1998, method
// 10: Wilson intervals combined with the phi correlation). Counts: both,
// only the first, only the second, neither.
Interval paired_difference_interval(std::int64_t both, std::int64_t first_only,
                                    std::int64_t second_only, std::int64_t neither,
                                    double z = kZ95);

// ---- one run ----------------------------------------------------------------

struct LabSummary {
  std::string lab;
  std::int64_t start_headcount = 0;
  double end_mean = 0, end_p5 = 0, end_p95 = 0;
  double hires_mean = 0, departures_mean = 0;
};

struct QuestionSummary {
  QuestionInfo info;
  // Replicates with the outcome, of n. A replicate whose value is NaN (a
  // ratio with nothing to divide by) does not have it.
  std::int64_t yes = 0, n = 0;
  double probability = 0;
  Interval interval;  // Wilson 95%
  // Mean and percentiles of the value over the `defined` replicates whose
  // value is finite (all of them for the count metrics); NaN if none is.
  std::int64_t defined = 0;
  double mean = 0, p5 = 0, p50 = 0, p95 = 0;
  // Ratio metrics (retention, flow_ratio, tenure): sum of the numerators
  // over sum of the denominators over all replicates; NaN for the others.
  double pooled = 0;
};

struct RunReport {
  std::string name;
  std::int64_t replicates = 0;
  std::uint64_t seed = 0;
  int steps = 0, step_days = 0;
  std::string start_date;
  std::vector<LabSummary> labs;
  std::vector<QuestionSummary> questions;
};

// What a results file and the reports record about a run of `s`.
RunMetadata run_metadata(const Scenario& s, const std::string& command_line);

// Collects what the reports need from each replicate: end-of-run headcount
// per lab and question values (a few numbers per replicate), and exact
// integer totals of hires and departures.
class RunAccumulator {
 public:
  RunAccumulator(const RunMetadata& meta, ResultShape shape);
  void add(const ReplicateResult& r);  // any order, each replicate once
  RunReport report() const;

  const RunMetadata& meta() const { return meta_; }
  std::int64_t replicates() const { return meta_.replicates; }
  int lab_count() const { return shape_.labs; }
  double end_headcount(std::int64_t replicate, int lab) const {
    return end_[static_cast<std::size_t>(replicate) * shape_.labs + lab];
  }
  double question_value(std::int64_t replicate, int q) const {
    return values_[static_cast<std::size_t>(replicate) * shape_.questions + q];
  }
  // value = numerator / denominator (the denominator is 1 but for ratios).
  double question_numerator(std::int64_t replicate, int q) const {
    const int slot = ratio_slot_[q];
    return slot < 0 ? question_value(replicate, q) : numerators_[ratio_at(replicate, slot)];
  }
  double question_denominator(std::int64_t replicate, int q) const {
    const int slot = ratio_slot_[q];
    return slot < 0 ? 1.0 : denominators_[ratio_at(replicate, slot)];
  }
  bool outcome(std::int64_t replicate, int q) const;

 private:
  RunMetadata meta_;
  ResultShape shape_;
  std::vector<std::int64_t> start_;  // [lab], before the first step
  std::vector<std::int32_t> end_;    // [replicate][lab]
  std::vector<double> values_;       // [replicate][question]
  // Numerators and denominators of the ratio metrics only (for the others
  // they are the value and 1): [replicate][ratio question].
  std::vector<int> ratio_slot_;  // [question]: its place among them, or -1
  int ratios_ = 0;
  std::size_t ratio_at(std::int64_t replicate, int slot) const {
    return static_cast<std::size_t>(replicate) * static_cast<std::size_t>(ratios_) +
           static_cast<std::size_t>(slot);
  }
  std::vector<double> numerators_, denominators_;
  std::vector<std::int64_t> hires_, departures_;  // [lab], summed over replicates
  std::int64_t added_ = 0;
};

// ---- a comparison -----------------------------------------------------------

struct PairedDifference {
  double baseline = 0, whatif = 0, difference = 0;  // means; difference = whatif - baseline
  Interval interval;                                // paired 95%
};

struct QuestionComparison {
  std::string id, text;
  PairedDifference probability;  // P(outcome); Newcombe paired interval
};

struct LabComparison {
  std::string lab;
  PairedDifference end_headcount;  // mean +- 1.96 SE of the paired differences
};

struct ComparisonReport {
  RunReport baseline, whatif;
  std::vector<QuestionComparison> questions;  // ids present in both
  std::vector<LabComparison> labs;            // labs present in both
  // Headline: the end headcount of the lab whose mean changes most. The
  // variance of the paired difference against that of independent runs,
  // Var(A) + Var(B): how much common random numbers sharpen the estimate.
  std::string headline_lab;
  double paired_variance = 0, independent_variance = 0, variance_reduction = 0;
};

// Both accumulators must hold the same replicates of runs with one seed.
ComparisonReport compare_runs(const RunAccumulator& baseline, const RunAccumulator& whatif);

// ---- presentation -----------------------------------------------------------

std::string format_text(const RunReport& report);
std::string format_text(const ComparisonReport& report);
std::string format_json(const RunReport& report);
std::string format_json(const ComparisonReport& report);

// A sweep, from its file: the parameters, what each point says about the
// questions (for a two-parameter grid, one matrix per question) and, for a
// Sobol design, the sensitivity indices with their intervals.
std::string format_sweep_text(const SweepFile& sweep);
std::string format_sweep_json(const SweepFile& sweep);

}  // namespace talentsim
