// `talentsim run` and `talentsim compare`: replicates go into the results
// file's temporary twin and, row by row as stored, into a journal beside
// the destination (journal.hpp), so that a run stopped by a signal or
// killed can be finished with --resume, to the same file.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "talentsim/errors.hpp"
#include "talentsim/report.hpp"
#include "talentsim/scenario.hpp"

namespace talentsim::cli {

struct Common {
  std::string scenario;
  std::vector<std::string> sets;
};

struct RunArgs {
  Common common;
  std::string output;
  std::optional<std::int64_t> replicates;
  std::optional<std::uint64_t> seed;
  int threads = 0;
  bool resume = false;
  bool force = false;
  bool quiet = false;
  bool no_resource_check = false;
};

// The scenario file with its --set overrides applied; prints any warnings
// (keys accepted but ignored) to stderr. Throws InputError.
Scenario load_scenario(const Common& c);

// Each warning of a loader on its own lines of stderr, as errors are; a
// warning already printed by this process is not printed again.
void print_warnings(const std::vector<Diagnostic>& warnings);

// A run (a run file's root, or a comparison's group) read back from its
// file for the report. Throws RunError.
RunAccumulator read_run_file(const std::filesystem::path& path, const std::string& group);

// `stop` becomes the number of a signal (SIGINT, SIGTERM) asking to stop:
// finished replicates are kept for --resume and the exit code is 128 + it.
int run_command(const RunArgs& args, const std::string& command_line, const std::atomic<int>& stop);
int compare_command(const RunArgs& args, const std::string& whatif_path,
                    const std::string& command_line, const std::atomic<int>& stop);

}  // namespace talentsim::cli
