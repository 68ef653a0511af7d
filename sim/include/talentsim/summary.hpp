// The end-of-run summary printed after `talentsim run`: per lab, headcount at
// start, at end (mean and 5th-95th percentile across replicates), and mean
// hires and departures over the run. Memory: a few numbers per replicate
// and lab, independent of the number of steps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "talentsim/result.hpp"
#include "talentsim/scenario.hpp"

namespace talentsim {

struct LabSummary {
  std::string lab;
  std::int64_t start_headcount = 0;
  double end_mean = 0, end_p5 = 0, end_p95 = 0;
  double hires_mean = 0, departures_mean = 0;
};

// Sample quantile with linear interpolation between order statistics
// (Hyndman & Fan type 7, numpy's default). `values` is sorted in place.
double quantile(std::vector<double>& values, double q);

class SummaryBuilder {
 public:
  SummaryBuilder(const Scenario& scenario, std::int64_t first, std::int64_t count);
  void add(const ReplicateResult& r);  // any order
  std::vector<LabSummary> finish() const;

 private:
  std::vector<std::string> labs_;
  std::vector<std::int64_t> start_;
  std::int64_t first_, count_;
  std::vector<double> end_, hires_, departures_;  // [replicate][lab]
};

// A fixed-width text table of the summary.
std::string format_summary(const std::vector<LabSummary>& rows, std::int64_t replicates);

}  // namespace talentsim
