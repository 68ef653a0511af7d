// The `talentsim` command line: parses argv, calls the library, prints.
// Exit codes: 0 success, 2 usage or input error, 1 failure while running.
#include "cli.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "bench.hpp"
#include "calibrate.hpp"
#include "cluster.hpp"
#include "journal.hpp"
#include "run.hpp"
#include "sweep.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/report.hpp"
#include "talentsim/results_file.hpp"
#include "talentsim/scenario_loader.hpp"
#include "talentsim/sweep_file.hpp"
#include "talentsim/version.hpp"

namespace talentsim::cli {

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./=:,+@%") == std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A file name from a scenario name: letters, digits, '-', '_' and '.'.
std::string file_stem(const std::string& name) {
  std::string out;
  for (char c : name)
    out +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return out.empty() ? "run" : out;
}

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int do_validate(const Common& c) {
  const Scenario s = load_scenario(c);
  std::size_t synthetic = 0;
  for (const auto& l : s.labs)
    for (auto h : l.headcount) synthetic += static_cast<std::size_t>(h);
  fmt::print(
      "{}: valid: {} labs, {} tiers, {} synthetic and {} named researchers, {} steps of {} "
      "days from {} to {}, {} events, {} questions\n",
      c.scenario, s.labs.size(), s.tiers.size(), synthetic, s.researchers.size(), s.steps,
      s.step_days, to_iso(s.start), to_iso(s.end), s.events.size(), s.questions.size());
  return kExitOk;
}

int do_summarize(const std::string& file, bool json) {
  std::string text;
  try {
    const std::string type = results_file_type(file);
    if (type == "talentsim-sweep") {
      const SweepFile sweep = read_sweep(file, false);
      text = json ? format_sweep_json(sweep) : format_sweep_text(sweep);
    } else if (type == "talentsim-compare") {
      const auto report =
          compare_runs(read_run_file(file, kBaselineGroup), read_run_file(file, kWhatifGroup));
      text = json ? format_json(report) : format_text(report);
    } else {
      const auto report = read_run_file(file, "").report();
      text = json ? format_json(report) : format_text(report);
    }
  } catch (const RunError& e) {
    // A file that is missing, damaged or not ours is an input error.
    throw InputError(std::vector<Diagnostic>{Diagnostic{
        .file = file,
        .message = e.what(),
        .hint = "summarize reads results files written by `talentsim run`, `compare` or `sweep`"}});
  }
  fmt::print("{}", text);
  return kExitOk;
}

// Options that run and compare share word for word.
void add_execution_options(CLI::App* cmd, RunArgs& a) {
  cmd->add_option("--threads", a.threads, "worker threads (default: every core)")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("--resume", a.resume, "finish an interrupted run, reusing the replicates it kept");
  cmd->add_flag("--force", a.force,
                "replace an existing results file and discard an interrupted run's work");
  cmd->add_flag("--quiet", a.quiet, "no progress output");
  cmd->add_flag("--no-resource-check", a.no_resource_check,
                "run even if the memory or disk it needs looks larger than what there is");
}

}  // namespace

namespace {

int command_line_main(int argc, char** argv) {
  // Past a file size limit (ulimit -f), writes fail with EFBIG and are
  // reported like a full disk, instead of SIGXFSZ killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + shell_quote(argv[i]);

  CLI::App app{"talentsim: agent-based Monte Carlo simulator of the AI-lab talent market"};
  app.set_version_flag("--version", fmt::format("talentsim {} ({}), results format {}",
                                                kSoftwareVersion, kGitCommit, kFileFormatVersion));
  app.require_subcommand(1);

  RunArgs run;
  auto* run_cmd = app.add_subcommand("run", "run a scenario's replicates into a results file");
  run_cmd->add_option("scenario", run.common.scenario, "scenario YAML file")->required();
  run_cmd->add_option("-o,--output", run.output,
                      "results file (default: results/<scenario name>.h5)");
  run_cmd->add_option("-r,--replicates", run.replicates,
                      "number of replicates (overrides the file)");
  run_cmd->add_option("--seed", run.seed, "random seed (overrides the file)");
  run_cmd->add_option("--set", run.common.sets,
                      "override a scenario value, e.g. market.star_magnet=1.5 (repeatable)");
  add_execution_options(run_cmd, run);

  RunArgs cmp;
  std::string whatif;
  auto* compare_cmd = app.add_subcommand(
      "compare", "run a baseline and a what-if on common random numbers and compare them");
  compare_cmd->add_option("baseline", cmp.common.scenario, "baseline scenario YAML file")
      ->required();
  compare_cmd->add_option("whatif", whatif, "what-if scenario YAML file")->required();
  compare_cmd->add_option("-o,--output", cmp.output,
                          "results file (default: results/<baseline>_vs_<what-if>.h5)");
  compare_cmd->add_option("-r,--replicates", cmp.replicates,
                          "replicates of each (default: the baseline's)");
  compare_cmd->add_option("--seed", cmp.seed, "random seed of both (default: the baseline's)");
  compare_cmd->add_option("--set", cmp.common.sets,
                          "override a value in both scenarios, e.g. market.star_magnet=1.5");
  add_execution_options(compare_cmd, cmp);

  std::string summary_file;
  bool json = false;
  auto* summarize_cmd =
      app.add_subcommand("summarize", "print the report of a run or comparison from its file");
  summarize_cmd->add_option("file", summary_file, "results file (.h5)")->required();
  summarize_cmd->add_flag("--json", json, "the same report as JSON");

  Common validate;
  auto* validate_cmd = app.add_subcommand("validate", "check a scenario without running it");
  validate_cmd->add_option("scenario", validate.scenario, "scenario YAML file")->required();
  validate_cmd->add_option("--set", validate.sets, "override a scenario value (repeatable)");

  SweepArgs sweep;
  auto* sweep_cmd = add_sweep_command(app, sweep);

  CalibrateArgs calibrate;
  auto* calibrate_cmd = add_calibrate_command(app, calibrate);

  BenchArgs bench;
  auto* bench_cmd = add_bench_command(app, bench);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  try {
    // A stop request (SIGINT, SIGTERM) ends a run, comparison or sweep
    // between replicates, keeping what is finished for --resume.
    if (*run_cmd) return run_command(run, command_line, install_stop_handlers());
    if (*compare_cmd) return compare_command(cmp, whatif, command_line, install_stop_handlers());
    if (*summarize_cmd) return do_summarize(summary_file, json);
    if (*validate_cmd) return do_validate(validate);
    if (*bench_cmd) return run_bench(bench, command_line);
    if (*sweep_cmd) return run_sweep(sweep, command_line, install_stop_handlers());
    if (*calibrate_cmd) return run_calibrate(calibrate, command_line, install_stop_handlers());
  } catch (const InputError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.format() << "\n";
    const auto errors = std::count_if(e.diagnostics().begin(), e.diagnostics().end(),
                                      [](const Diagnostic& d) { return !d.warning; });
    if (errors > 1) std::cerr << errors << " problems found; nothing was run.\n";
    return kExitUsage;
  } catch (const RunError& e) {
    std::cerr << "talentsim: error: " << e.what() << "\n";
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "talentsim: internal error (please report it): " << e.what() << "\n";
    return kExitFailure;
  }
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  // Under mpirun every rank starts here; rank 0 runs the command and the
  // others compute what it hands out (cluster.hpp).
  Cluster cluster(argc, argv);
  if (!cluster.manager()) return cluster.serve();
  return cluster.finish(command_line_main(argc, argv));
}

}  // namespace talentsim::cli
