// Calibration files: YAML naming a base scenario, the free parameters (as
// in --set, with bounds and priors) and the targets (a question's metric
// with a published value, its tolerance and its source). Validated like
// scenarios: every problem is reported with file:line:column, key path,
// what was expected and a hint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "talentsim/calibrate.hpp"
#include "talentsim/scenario.hpp"
#include "talentsim/scenario_loader.hpp"

namespace talentsim {

struct CalibrationTarget {
  std::string id, source;
  double value = 0, tolerance = 0;  // a prediction: value NaN when none is published
  Question question;                // what is measured; its outcome bounds are unused
};

struct CalibrationSpec {
  std::string text;                     // the calibration file's contents
  std::string name;                     // `name:`, else the file's stem
  std::filesystem::path base;           // the base scenario, resolved against the calibration file
  std::string base_text;                // its contents, read once
  std::int64_t replicates = 20;         // per proposal, on common random numbers
  std::int64_t check_replicates = 200;  // the fit table at the estimate, on fresh replicates
  AbcSettings abc;
  std::vector<CalibrationParameter> parameters;
  std::vector<CalibrationTarget> targets;
  // Figures the fit does not use: reported at the estimate, out of sample.
  std::vector<CalibrationTarget> predictions;
};

struct LoadedCalibration {
  CalibrationSpec spec;
  Scenario base;                     // as loaded, without the targets
  std::vector<Diagnostic> warnings;  // keys accepted but ignored, in the file or its base
};

// Reads and checks a calibration file and its base scenario; the base must
// load with every parameter at either bound. Throws InputError listing
// every problem found.
LoadedCalibration load_calibration_file(const std::filesystem::path& path);

// The --set overrides that give the parameters these values.
std::vector<Override> calibration_overrides(const CalibrationSpec& spec,
                                            const std::vector<double>& values);

// A proposal's scenario: the base text with the overrides, its own
// questions, then one question per target (index: base questions + target).
// Throws InputError when the scenario does not accept the values.
Scenario load_proposal(const CalibrationSpec& spec, const Scenario& base,
                       const std::vector<Override>& overrides);

// `text` (a scenario's YAML) with the scalars the overrides name replaced
// in place, so that its comments and layout survive. Throws InputError if
// a path does not name a plain scalar of the text.
std::string rewrite_scalars(const std::string& text, const std::string& source_name,
                            const std::vector<Override>& overrides);

}  // namespace talentsim
