// The results file of a parameter sweep: netCDF-4 conventions like run
// files (see results_file.hpp), so xarray.open_dataset(path) gives labelled
// arrays with a `point` dimension. Root attribute file_type
// "talentsim-sweep".
//
// Variables:
//   parameter_value    (point, parameter)              the design
//   question_value     (point, replicate, question)    each question's value
//   headcount          (point, replicate, lab, tier)   at the end of the run
//   question_probability, _low, _high, question_mean   (point, question)
//                      (question_mean: the mean of the finite values; for a
//                      ratio metric the pooled sum of numerators / sum of
//                      denominators)
//   headcount_mean     (point, lab)                    end of run, all tiers
//   headcount_quantile (point, quantile, lab)          end of run, all tiers
//   with `output: full`, also per step:
//   step_headcount, step_hires, step_departures (point, replicate, time, lab, tier)
//   step_star_power    (point, replicate, time, lab)
//   flows              (point, replicate, from_lab, to_lab, tier)
//   with design sobol:
//   sobol_first, sobol_first_low, sobol_first_high,
//   sobol_total, sobol_total_low, sobol_total_high   (parameter, output)
//   output_variance, output_noise_variance (output)
// Coordinates: point (0..P-1), parameter (paths), replicate, question (ids),
// lab, tier, quantile, time (dates, CF units), from_lab, to_lab, output; and
// the auxiliary coordinates parameter_scale (parameter) and, as in run
// files, question_text, ... (question). Root attributes as in run files,
// plus name, design, base_samples, points, steps, full, sweep (the sweep
// file's text) and, with Sobol' indices, bootstrap_resamples.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "talentsim/result.hpp"
#include "talentsim/results_file.hpp"

namespace talentsim {

struct SweepFileMetadata {
  std::string name;               // the sweep's name (its file stem)
  std::string sweep_text;         // the sweep file as given
  std::string command_line;       // of the invocation that started it
  std::string created;            // ISO UTC time it was started
  std::string design;             // grid | random | lhs | sobol
  std::int64_t base_samples = 0;  // Sobol N; else = points
  std::int64_t points = 0;
  std::vector<std::string> parameter_paths;
  std::vector<std::string> parameter_scales;  // "linear", "log" or "listed"
  std::vector<double> parameter_values;       // [point][parameter]
  bool full = false;                          // per-step arrays stored
  // Labels, dates, questions, seed, replicates, base scenario text: the
  // base scenario's run metadata (the same for every point).
  RunMetadata base;
};

// Per-point summaries, computed by the caller from the point's replicates.
struct PointSummary {
  std::vector<double> question_probability, question_low, question_high,
      question_mean;                       // [question]
  std::vector<double> headcount_mean;      // [lab]
  std::vector<double> headcount_quantile;  // [kSummaryQuantileCount][lab]
};

// Sobol' indices of every output, for the file.
struct SensitivityTable {
  std::vector<std::string> outputs;  // labels, e.g. "q1" or "headcount[Anthropic]"
  std::vector<double> first, first_low, first_high, total, total_low,
      total_high;                             // [parameter][output]
  std::vector<double> output_variance;        // [output]
  std::vector<double> output_noise_variance;  // [output], see sweep_file.cpp
  int resamples = 0;
};

// Writes into a temporary file beside the destination; commit() renames it
// into place, and the destructor removes it if commit() did not succeed.
class SweepWriter {
 public:
  // Throws InputError if `destination` exists and !overwrite, RunError if
  // the temporary file cannot be created.
  SweepWriter(std::filesystem::path destination, const SweepFileMetadata& meta, ResultShape shape,
              bool overwrite);
  ~SweepWriter();
  SweepWriter(const SweepWriter&) = delete;
  SweepWriter& operator=(const SweepWriter&) = delete;

  // Replicate r.replicate of `point`: question values, the headcount of its
  // last step and, when meta.full, every per-step array. Any order.
  void write(std::int64_t point, const ReplicateResult& r);
  void write_summary(std::int64_t point, const PointSummary& summary);
  void write_sensitivity(const SensitivityTable& table);
  void commit();  // throws RunError

  const std::filesystem::path& temporary_path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A sweep file read back whole (summarize, tests). Named researchers are
// not stored: meta.base.named_names is empty and shape.named 0; and
// meta.base.command_line is meta.command_line.
struct SweepFile {
  SweepFileMetadata meta;
  ResultShape shape;
  std::map<std::string, std::string> attributes;  // root attributes, as text
  std::vector<double> question_value;             // [point][replicate][question]
  std::vector<std::int32_t> headcount;            // [point][replicate][lab][tier]
  std::vector<PointSummary> summaries;            // [point]
  bool has_sensitivity = false;
  SensitivityTable sensitivity;
};

// Throws RunError naming the file and what is wrong with it. Without
// `with_replicates`, question_value and headcount are checked but left
// empty: what a report needs, in memory that does not grow with replicates.
SweepFile read_sweep(const std::filesystem::path& path, bool with_replicates = true);

}  // namespace talentsim
