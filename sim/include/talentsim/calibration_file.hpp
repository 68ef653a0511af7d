// The results file of `talentsim calibrate`: HDF5 laid out by netCDF-4
// conventions (file_type "talentsim-calibration"), so that xarray opens it
// as labelled arrays: every generation's particles (values, weights,
// distances, simulated targets), the posterior summary, and the fit of the
// calibrated scenario to each target.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "talentsim/calibrate.hpp"

namespace talentsim {

struct TargetCheck {
  double value = 0;          // pooled over the check replicates: sum numerators / sum denominators
  double se = 0;             // its Monte Carlo standard error (delta method over replicates)
  double low = 0, high = 0;  // 2.5% and 97.5% quantiles of the replicates' own values
  std::int64_t defined = 0;  // replicates whose own value is defined (a denominator > 0)
};

struct CalibrationRecord {
  std::string name, calibration_text, base_name, base_text, calibrated_text;
  std::string command_line, created, stop_reason;
  bool converged = false;
  std::uint64_t seed = 0;
  std::int64_t replicates = 0, check_replicates = 0;
  std::vector<CalibrationParameter> parameters;
  std::vector<std::string> target_ids, target_sources;
  std::vector<double> target_values, target_tolerances;
  std::vector<AbcGeneration> generations;
  std::vector<PosteriorSummary> posterior;  // of the last generation
  std::vector<double> estimate;             // as written into the calibrated scenario
  std::vector<TargetCheck> check;           // at the estimate, on fresh replicates
  // Questions answered at the estimate but not fitted (out of sample), with
  // a published value to compare (NaN when there is none).
  std::vector<std::string> prediction_ids, prediction_sources;
  std::vector<double> prediction_values;
  std::vector<TargetCheck> prediction_check;
  std::string report;  // the text report
};

// Writes the file atomically (temporary file, then rename); refuses an
// existing destination unless `overwrite`. Throws RunError or InputError.
void write_calibration_file(const std::filesystem::path& destination, const CalibrationRecord& rec,
                            bool overwrite);

}  // namespace talentsim
