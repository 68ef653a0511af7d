// `talentsim calibrate`: fits a scenario's parameters to published figures
// by ABC-SMC on common random numbers. Each finished generation is kept in
// a journal beside the destination, so an interrupted calibration resumes
// where it stopped; at the end it writes the calibration results file, the
// calibrated scenario (the base file with the fitted values in place) and
// prints the fit table.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <string>

namespace talentsim::cli {

struct CalibrateArgs {
  std::string calibration;
  std::string output;
  int threads = 0;
  bool resume = false;
  bool force = false;
  bool quiet = false;
};

CLI::App* add_calibrate_command(CLI::App& app, CalibrateArgs& args);

// `stop` becomes the number of a signal (SIGINT, SIGTERM) that asks the
// calibration to stop; it keeps the finished generations and says how to
// resume.
int run_calibrate(const CalibrateArgs& args, const std::string& command_line,
                  const std::atomic<int>& stop);

}  // namespace talentsim::cli
