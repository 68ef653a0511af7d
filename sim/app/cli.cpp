// The `talentsim` command line: parses argv, calls the library, prints.
// Exit codes: 0 success, 2 usage or input error, 1 failure while running.
#include "cli.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>

#include "bench.hpp"
#include "sweep.hpp"
#include "talentsim/ensemble.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/model.hpp"
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

// The signal that asked a sweep to stop (0: none). A second one ends the
// process at once (the handler restores the default action).
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "used from a signal handler");
extern "C" void on_stop_signal(int signal) {
  g_stop_signal.store(signal);
  std::signal(signal, SIG_DFL);
}

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

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
  bool force = false;
  bool quiet = false;
};

Scenario load(const Common& c) {
  std::vector<Override> overrides;
  for (const auto& s : c.sets) overrides.push_back(parse_override(s));
  return load_scenario_file(c.scenario, overrides);
}

// Progress on stderr, only on a terminal: replicates done, rate, ETA.
class Progress {
 public:
  Progress(bool enabled, std::string label)
      : enabled_(enabled && isatty(STDERR_FILENO)), label_(std::move(label)) {}
  void operator()(std::int64_t done, std::int64_t total) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
    std::fprintf(stderr, "\r  %s%lld/%lld replicates  %.1f/s  ETA %.0fs   ", label_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total), rate, eta);
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  std::string label_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

int do_validate(const Common& c) {
  const Scenario s = load(c);
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

// -r and --seed override the scenario; both are validated like its keys.
void apply_size(Scenario& s, const RunArgs& a) {
  if (a.replicates) {
    if (*a.replicates < 1 || *a.replicates > std::numeric_limits<std::int32_t>::max())
      throw InputError(std::vector<Diagnostic>{Diagnostic{
          .file = "-r/--replicates",
          .message = fmt::format("expected a whole number from 1 to {}, found {}",
                                 std::numeric_limits<std::int32_t>::max(), *a.replicates)}});
    s.replicates = *a.replicates;
  }
  if (a.seed) s.seed = *a.seed;
}

std::filesystem::path destination_for(const RunArgs& a, const std::string& stem) {
  const std::filesystem::path destination = a.output.empty()
                                                ? std::filesystem::path("results") / (stem + ".h5")
                                                : std::filesystem::path(a.output);
  // Refuse before computing anything.
  if (std::filesystem::exists(destination) && !a.force)
    throw InputError(std::vector<Diagnostic>{
        Diagnostic{.file = destination.string(),
                   .message = "the results file already exists",
                   .hint = "pass --force to replace it, or -o to write elsewhere"}});
  return destination;
}

// Runs every replicate of the model into part `run` of the writer, and
// returns what the report needs.
RunAccumulator simulate(const Model& model, const RunMetadata& meta, ResultsWriter& writer, int run,
                        const RunArgs& a, const std::string& label) {
  const Scenario& s = model.scenario();
  RunAccumulator acc(meta, model.shape());
  Progress progress(!a.quiet, label);
  run_ensemble(
      model,
      EnsembleOptions{.first = 0, .count = s.replicates, .seed = s.seed, .threads = a.threads},
      [&](ReplicateResult&& r) {
        writer.write(r, run);
        acc.add(r);
      },
      [&](std::int64_t done, std::int64_t total) { progress(done, total); });
  return acc;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int do_run(const RunArgs& a, const std::string& command_line) {
  Scenario s = load(a.common);
  apply_size(s, a);
  const auto destination = destination_for(a, file_stem(s.name));
  const auto t0 = std::chrono::steady_clock::now();
  const RunMetadata meta = run_metadata(s, command_line);
  const Model model(s);
  ResultsWriter writer(destination, meta, model.shape(), a.force);
  const RunAccumulator acc = simulate(model, meta, writer, 0, a, "");
  writer.commit();
  fmt::print("{}", format_text(acc.report()));
  fmt::print("\nresults: {} ({:.1f} s)\n", destination.string(), seconds_since(t0));
  return kExitOk;
}

int do_compare(const RunArgs& a, const std::string& whatif_path, const std::string& command_line) {
  Scenario base = load(a.common);
  Common w = a.common;
  w.scenario = whatif_path;
  Scenario whatif = load(w);
  apply_size(base, a);
  // One seed and one replicate count for both: the baseline's unless given.
  std::string note;
  if (!a.seed && whatif.seed != base.seed)
    note += fmt::format("note: the what-if's own seed {} is not used; both run on seed {}\n",
                        whatif.seed, base.seed);
  if (!a.replicates && whatif.replicates != base.replicates)
    note += fmt::format("note: the what-if's own replicates {} are not used; both run {}\n",
                        whatif.replicates, base.replicates);
  whatif.seed = base.seed;
  whatif.replicates = base.replicates;
  const auto destination =
      destination_for(a, file_stem(base.name) + "_vs_" + file_stem(whatif.name));
  const auto t0 = std::chrono::steady_clock::now();
  const RunMetadata base_meta = run_metadata(base, command_line);
  const RunMetadata whatif_meta = run_metadata(whatif, command_line);
  const Model base_model(base), whatif_model(whatif);
  ResultsWriter writer(destination, base_meta, base_model.shape(), whatif_meta,
                       whatif_model.shape(), command_line, a.force);
  const RunAccumulator b = simulate(base_model, base_meta, writer, 0, a, "baseline ");
  const RunAccumulator v = simulate(whatif_model, whatif_meta, writer, 1, a, "what-if ");
  writer.commit();
  fmt::print("{}{}", note, format_text(compare_runs(b, v)));
  fmt::print("\nresults: {} ({:.1f} s)\n", destination.string(), seconds_since(t0));
  return kExitOk;
}

RunAccumulator read_run(const std::filesystem::path& path, const std::string& group) {
  const RunReader reader(path, group);
  RunAccumulator acc(reader.meta(), reader.shape());
  for (std::int64_t r = 0; r < reader.meta().replicates; ++r) acc.add(reader.read(r));
  return acc;
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
          compare_runs(read_run(file, kBaselineGroup), read_run(file, kWhatifGroup));
      text = json ? format_json(report) : format_text(report);
    } else {
      const auto report = read_run(file, "").report();
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
  cmd->add_flag("--force", a.force, "replace an existing results file");
  cmd->add_flag("--quiet", a.quiet, "no progress output");
}

}  // namespace

int main(int argc, char** argv) {
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

  BenchArgs bench;
  auto* bench_cmd = add_bench_command(app, bench);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  try {
    if (*run_cmd) return do_run(run, command_line);
    if (*compare_cmd) return do_compare(cmp, whatif, command_line);
    if (*summarize_cmd) return do_summarize(summary_file, json);
    if (*validate_cmd) return do_validate(validate);
    if (*bench_cmd) return run_bench(bench, command_line);
    if (*sweep_cmd) {
      // A stop request ends the sweep between replicates, keeping every
      // finished point for --resume.
      std::signal(SIGINT, on_stop_signal);
      std::signal(SIGTERM, on_stop_signal);
      return run_sweep(sweep, command_line, g_stop_signal);
    }
  } catch (const InputError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.format() << "\n";
    if (e.diagnostics().size() > 1)
      std::cerr << e.diagnostics().size() << " problems found; nothing was run.\n";
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

}  // namespace talentsim::cli
