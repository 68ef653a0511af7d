// `talentsim bench`: end-to-end performance of a scenario on this machine
// (issue 4). All timing, process and machine code lives here, in the app;
// the model and the library stay pure.
#pragma once

#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace talentsim::cli {

// The options as typed; numbers are parsed and checked by run_bench so that
// bad values are reported like every other input error (exit 2).
struct BenchArgs {
  std::string scenario = "scenarios/bench/frontier_25k.yaml";
  std::string replicates;      // empty: the default (50, or 4 with --quick)
  std::string repeat;          // empty: the default (3, or 2 with --quick)
  std::string threads_list;    // empty: "1,2"
  std::string rss_replicates;  // empty: "100,1000" (or "20,40" with --quick)
  std::string json;            // empty: no JSON file
  bool quick = false;
};

// Registers the `bench` subcommand on `app`, storing its options in `args`.
CLI::App* add_bench_command(CLI::App& app, BenchArgs& args);

// Runs the benchmark and prints its report. Throws InputError for bad
// options or a bad scenario (nothing run), RunError when a measurement fails.
int run_bench(const BenchArgs& args, const std::string& command_line);

}  // namespace talentsim::cli
