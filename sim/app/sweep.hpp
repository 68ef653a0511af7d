// `talentsim sweep`: runs every point of a sweep file's design on common
// random numbers, keeping each finished point in a journal beside the
// destination so that an interrupted sweep can be resumed, then writes the
// sweep results file and prints the report.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <string>

namespace talentsim::cli {

struct SweepArgs {
  std::string sweep;
  std::string output;
  int threads = 0;
  bool resume = false;
  bool force = false;
  bool quiet = false;
  bool no_resource_check = false;
};

CLI::App* add_sweep_command(CLI::App& app, SweepArgs& args);

// `stop` becomes the number of a signal (SIGINT, SIGTERM) that asks the
// sweep to stop; it then keeps what is finished and says how to resume.
// Set from a signal handler, hence a lock-free atomic.
int run_sweep(const SweepArgs& args, const std::string& command_line, const std::atomic<int>& stop);

}  // namespace talentsim::cli
