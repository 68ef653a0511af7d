#include "talentsim/summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "talentsim/errors.hpp"

namespace talentsim {

double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const double h = (static_cast<double>(values.size()) - 1) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const auto hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

SummaryBuilder::SummaryBuilder(const Scenario& scenario, std::int64_t first, std::int64_t count)
    : start_(scenario.initial_headcount()), first_(first), count_(count) {
  for (const auto& l : scenario.labs) labs_.push_back(l.name);
  const std::size_t cells = static_cast<std::size_t>(count) * labs_.size();
  end_.assign(cells, 0);
  hires_.assign(cells, 0);
  departures_.assign(cells, 0);
}

void SummaryBuilder::add(const ReplicateResult& r) {
  const auto slot = r.replicate - first_;
  if (slot < 0 || slot >= count_) throw InternalError("SummaryBuilder: replicate out of range");
  const auto& s = r.shape;
  for (int l = 0; l < s.labs; ++l) {
    const std::size_t cell = static_cast<std::size_t>(slot) * labs_.size() + l;
    double h = 0, in = 0, out = 0;
    for (int k = 0; k < s.tiers; ++k) {
      h += r.headcount[r.tlk(s.steps - 1, l, k)];
      for (int t = 0; t < s.steps; ++t) {
        in += r.hires[r.tlk(t, l, k)];
        out += r.departures[r.tlk(t, l, k)];
      }
    }
    end_[cell] = h;
    hires_[cell] = in;
    departures_[cell] = out;
  }
}

std::vector<LabSummary> SummaryBuilder::finish() const {
  std::vector<LabSummary> rows;
  const std::size_t L = labs_.size();
  for (std::size_t l = 0; l < L; ++l) {
    LabSummary row;
    row.lab = labs_[l];
    row.start_headcount = start_[l];
    std::vector<double> end;
    double hires = 0, departures = 0;
    for (std::int64_t r = 0; r < count_; ++r) {
      const std::size_t cell = static_cast<std::size_t>(r) * L + l;
      end.push_back(end_[cell]);
      hires += hires_[cell];
      departures += departures_[cell];
    }
    double sum = 0;
    for (double v : end) sum += v;
    row.end_mean = sum / static_cast<double>(count_);
    row.hires_mean = hires / static_cast<double>(count_);
    row.departures_mean = departures / static_cast<double>(count_);
    row.end_p5 = quantile(end, 0.05);
    row.end_p95 = quantile(end, 0.95);
    rows.push_back(row);
  }
  return rows;
}

std::string format_summary(const std::vector<LabSummary>& rows, std::int64_t replicates) {
  std::size_t width = 3;
  for (const auto& r : rows) width = std::max(width, r.lab.size());
  std::string out = fmt::format("{:<{}}  {:>8}  {:>10}  {:>17}  {:>10}  {:>10}\n", "lab", width,
                                "start", "end mean", "end 5%-95%", "hires", "departures");
  for (const auto& r : rows)
    out += fmt::format("{:<{}}  {:>8}  {:>10.1f}  {:>17}  {:>10.1f}  {:>10.1f}\n", r.lab, width,
                       r.start_headcount, r.end_mean,
                       fmt::format("{:.0f} - {:.0f}", r.end_p5, r.end_p95), r.hires_mean,
                       r.departures_mean);
  out += fmt::format(
      "(headcount at the end of the run: mean and 5th-95th percentile over {} "
      "replicates; hires and departures: mean per replicate over the whole run)\n",
      replicates);
  return out;
}

}  // namespace talentsim
