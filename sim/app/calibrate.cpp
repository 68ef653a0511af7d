#include "calibrate.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli.hpp"
#include "cluster.hpp"
#include "journal.hpp"
#include "run.hpp"
#include "talentsim/calibrate.hpp"
#include "talentsim/calibrate_loader.hpp"
#include "talentsim/calibration_file.hpp"
#include "talentsim/ensemble.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/model.hpp"
#include "talentsim/report.hpp"
#include "talentsim/rng.hpp"
#include "talentsim/version.hpp"

namespace talentsim::cli {
namespace fs = std::filesystem;

namespace {

constexpr int kExitOk = 0;
struct Interrupted {};

std::string fingerprint(const LoadedCalibration& c) {
  return fmt::format("{:016x}",
                     identity_hash(fmt::format("{}\n{}\n{}\n{}\n", kGitCommit, kFileFormatVersion,
                                               c.spec.text, c.spec.base_text)));
}

// ---- journal records: one per finished generation ------------------------------

constexpr std::string_view kGenerationMagic = "TSGEN001";

std::string generation_record_name(std::size_t g) {
  return fmt::format("generation-{:04d}.bin", g);
}

std::string encode_generation(const AbcGeneration& g, std::size_t parameters, std::size_t targets) {
  std::string out(kGenerationMagic);
  const auto n = static_cast<std::int64_t>(g.weight.size());
  put(out, n);
  put(out, static_cast<std::int64_t>(parameters));
  put(out, static_cast<std::int64_t>(targets));
  put(out, g.epsilon);
  put(out, g.proposals);
  put(out, g.simulations);
  put(out, g.theta.data(), g.theta.size());
  put(out, g.weight.data(), g.weight.size());
  put(out, g.distance.data(), g.distance.size());
  put(out, g.simulated.data(), g.simulated.size());
  return seal_record(std::move(out));
}

std::optional<AbcGeneration> decode_generation(const std::string& bytes, std::size_t particles,
                                               std::size_t parameters, std::size_t targets) {
  const auto body = open_record(bytes, kGenerationMagic);
  if (!body) return std::nullopt;
  RecordReader in(*body);
  std::int64_t n = 0, d = 0, t = 0;
  AbcGeneration g;
  if (!in.get(n) || !in.get(d) || !in.get(t) || n != static_cast<std::int64_t>(particles) ||
      d != static_cast<std::int64_t>(parameters) || t != static_cast<std::int64_t>(targets))
    return std::nullopt;
  g.theta.resize(particles * parameters);
  g.weight.resize(particles);
  g.distance.resize(particles);
  g.simulated.resize(particles * targets);
  if (!in.get(g.epsilon) || !in.get(g.proposals) || !in.get(g.simulations) ||
      !in.get(g.theta.data(), g.theta.size()) || !in.get(g.weight.data(), g.weight.size()) ||
      !in.get(g.distance.data(), g.distance.size()) ||
      !in.get(g.simulated.data(), g.simulated.size()) || !in.at_end())
    return std::nullopt;
  return g;
}

// ---- simulation ------------------------------------------------------------------

// Each proposal's targets, pooled over replicates 0 .. R-1 of the seed:
// every proposal sees the same random streams (common random numbers).
std::vector<double> simulate_batch(const LoadedCalibration& c, const std::vector<double>& thetas,
                                   std::size_t count, int threads, const std::atomic<int>& stop,
                                   const std::function<void(std::int64_t)>& tick) {
  const CalibrationSpec& spec = c.spec;
  const std::size_t P = spec.parameters.size(), T = spec.targets.size();
  const std::size_t first_target = c.base.questions.size();
  const auto models = build_models(count, local_threads(threads), [&](std::size_t i) {
    const std::vector<double> values(thetas.begin() + static_cast<std::ptrdiff_t>(i * P),
                                     thetas.begin() + static_cast<std::ptrdiff_t>((i + 1) * P));
    return load_proposal(spec, c.base, calibration_overrides(spec, values));
  });
  std::vector<const Model*> pointers;
  for (const auto& m : models) pointers.push_back(m.get());
  // Kept per replicate and summed in replicate order, so that the pooled
  // values do not depend on the order results arrive in (threads, ranks).
  const auto R = static_cast<std::size_t>(spec.replicates);
  std::vector<double> each_num(count * R * T), each_den(count * R * T);
  run_ensembles_on_cluster(
      pointers,
      EnsembleOptions{.first = 0,
                      .count = spec.replicates,
                      .seed = spec.abc.seed,
                      .threads = threads,
                      .stop = &stop},
      [&](std::size_t m, ReplicateResult&& r) {
        const std::size_t row = (m * R + static_cast<std::size_t>(r.replicate)) * T;
        for (std::size_t t = 0; t < T; ++t) {
          each_num[row + t] = r.question_numerator[first_target + t];
          each_den[row + t] = r.question_denominator[first_target + t];
        }
      },
      [&](std::int64_t done, std::int64_t) { tick(done); });
  std::vector<double> num(count * T, 0.0), den(count * T, 0.0);
  for (std::size_t m = 0; m < count; ++m)
    for (std::size_t r = 0; r < R; ++r)
      for (std::size_t t = 0; t < T; ++t) {
        num[m * T + t] += each_num[(m * R + r) * T + t];
        den[m * T + t] += each_den[(m * R + r) * T + t];
      }
  std::vector<double> out(count * T);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = ratio_value(num[i], den[i]);
  return out;
}

// The calibrated scenario at the estimate, on replicates R .. R + check - 1
// (streams the calibration did not use).
// The targets' checks, then the predictions'.
std::vector<TargetCheck> check_fit(const LoadedCalibration& c, const Scenario& calibrated,
                                   int threads, const std::atomic<int>& stop) {
  const std::size_t T = c.spec.targets.size() + c.spec.predictions.size(),
                    first_target = c.base.questions.size();
  const auto m = static_cast<std::size_t>(c.spec.check_replicates);
  std::vector<double> num(m * T), den(m * T);
  const Model model(calibrated);
  run_ensemble_on_cluster(model,
                          EnsembleOptions{.first = c.spec.replicates,
                                          .count = c.spec.check_replicates,
                                          .seed = c.spec.abc.seed,
                                          .threads = threads,
                                          .stop = &stop},
                          [&](ReplicateResult&& r) {
                            const auto row =
                                static_cast<std::size_t>(r.replicate - c.spec.replicates);
                            for (std::size_t t = 0; t < T; ++t) {
                              num[row * T + t] = r.question_numerator[first_target + t];
                              den[row * T + t] = r.question_denominator[first_target + t];
                            }
                          });
  std::vector<TargetCheck> out(T);
  for (std::size_t t = 0; t < T; ++t) {
    double sn = 0, sd = 0;
    std::vector<double> own;
    for (std::size_t r = 0; r < m; ++r) {
      sn += num[r * T + t];
      sd += den[r * T + t];
      if (den[r * T + t] > 0) own.push_back(num[r * T + t] / den[r * T + t]);
    }
    TargetCheck& ck = out[t];
    ck.value = ratio_value(sn, sd);
    ck.defined = static_cast<std::int64_t>(own.size());
    // Delta method for a ratio of sums: residuals n_r - rho d_r.
    if (sd > 0 && m > 1) {
      double ss = 0;
      for (std::size_t r = 0; r < m; ++r) {
        const double e = num[r * T + t] - ck.value * den[r * T + t];
        ss += e * e;
      }
      const double mean_den = sd / static_cast<double>(m);
      ck.se = std::sqrt(ss / (static_cast<double>(m) * static_cast<double>(m - 1))) / mean_den;
    } else {
      ck.se = std::numeric_limits<double>::quiet_NaN();
    }
    if (own.empty()) {
      ck.low = ck.high = std::numeric_limits<double>::quiet_NaN();
    } else {
      ck.low = quantile(own, 0.025);
      ck.high = quantile(own, 0.975);
    }
  }
  return out;
}

// ---- output ----------------------------------------------------------------------

double four_digits(double v) {
  if (v == 0 || !std::isfinite(v)) return v;
  return std::stod(fmt::format("{:.4g}", v));
}

fs::path scenario_destination(const fs::path& output) {
  const std::string name = output.filename().string();
  const std::string suffix = ".calibration.h5";
  std::string stem = name.size() > suffix.size() &&
                             name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0
                         ? name.substr(0, name.size() - suffix.size())
                         : output.stem().string();
  return output.parent_path() / (stem + ".calibrated.yaml");
}

std::string format_report(const CalibrationRecord& rec, const fs::path& destination,
                          const fs::path& scenario_out) {
  std::string out = fmt::format(
      "calibration {} of {}: ABC-SMC, {} particles x {} replicates per proposal, seed {}\n",
      rec.name, rec.base_name, rec.generations.empty() ? 0 : rec.generations.back().weight.size(),
      rec.replicates, rec.seed);
  std::int64_t sims = 0;
  for (const auto& g : rec.generations) sims += g.simulations;
  out += fmt::format("{} generations, {} simulations ({} replicates); {}\n\n",
                     rec.generations.size(), sims, sims * rec.replicates, rec.stop_reason);
  out += fmt::format("{:<36} {:>10} {:>10} {:>9} {:>23}  {}\n", "parameter", "estimate",
                     "post. mean", "post. sd", "95% posterior interval", "prior");
  for (std::size_t p = 0; p < rec.parameters.size(); ++p) {
    const auto& par = rec.parameters[p];
    const auto& s = rec.posterior[p];
    const std::string prior =
        par.prior == PriorKind::Normal
            ? fmt::format("normal({:.4g}, {:.4g}) on [{:.4g}, {:.4g}]", par.mean, par.sd, par.low,
                          par.high)
            : fmt::format("{} on [{:.4g}, {:.4g}]", prior_name(par.prior), par.low, par.high);
    out +=
        fmt::format("{:<36} {:>10.4g} {:>10.4g} {:>9.3g} {:>23}  {}\n", par.path, rec.estimate[p],
                    s.mean, s.sd, fmt::format("[{:.4g}, {:.4g}]", s.low, s.high), prior);
  }
  out +=
      fmt::format("\nfit of the calibrated scenario, {} fresh replicates (replicates {} .. {}):\n",
                  rec.check_replicates, rec.replicates, rec.replicates + rec.check_replicates - 1);
  out += fmt::format("{:<28} {:>8} {:>9} {:>10} {:>8} {:>21} {:>7}  {}\n", "target", "value",
                     "tolerance", "simulated", "+- s.e.", "95% of replicates", "within", "source");
  for (std::size_t t = 0; t < rec.target_ids.size(); ++t) {
    const TargetCheck& c = rec.check[t];
    const bool within = std::abs(c.value - rec.target_values[t]) <= rec.target_tolerances[t];
    out += fmt::format("{:<28} {:>8.4g} {:>9.3g} {:>10.4g} {:>8.2g} {:>21} {:>7}  {}\n",
                       rec.target_ids[t], rec.target_values[t], rec.target_tolerances[t], c.value,
                       c.se, fmt::format("[{:.4g}, {:.4g}]", c.low, c.high), within ? "yes" : "NO",
                       rec.target_sources[t]);
  }
  if (!rec.prediction_ids.empty()) {
    out += "\npredictions of the calibrated scenario (not fitted), same replicates:\n";
    out += fmt::format("{:<28} {:>10} {:>8} {:>21} {:>10}  {}\n", "question", "simulated",
                       "+- s.e.", "95% of replicates", "published", "source");
    for (std::size_t t = 0; t < rec.prediction_ids.size(); ++t) {
      const TargetCheck& c = rec.prediction_check[t];
      out += fmt::format("{:<28} {:>10.4g} {:>8.2g} {:>21} {:>10}  {}\n", rec.prediction_ids[t],
                         c.value, c.se, fmt::format("[{:.4g}, {:.4g}]", c.low, c.high),
                         std::isnan(rec.prediction_values[t])
                             ? std::string("-")
                             : fmt::format("{:.4g}", rec.prediction_values[t]),
                         rec.prediction_sources[t]);
    }
  }
  out += fmt::format("\nresults:             {}\ncalibrated scenario: {}\n", destination.string(),
                     scenario_out.string());
  return out;
}

class GenerationProgress {
 public:
  explicit GenerationProgress(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO)) {}
  void operator()(int generation, double epsilon, std::size_t accepted, std::size_t particles,
                  std::int64_t simulated, std::int64_t replicates) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    std::fprintf(stderr,
                 "\r  generation %d (tolerance %.3g): %zu/%zu accepted, %lld simulated, "
                 "%lld replicates   ",
                 generation, epsilon, accepted, particles, static_cast<long long>(simulated),
                 static_cast<long long>(replicates));
    std::fflush(stderr);
  }
  void clear() {
    if (enabled_) std::fprintf(stderr, "\r%*s\r", 100, "");
  }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

CLI::App* add_calibrate_command(CLI::App& app, CalibrateArgs& a) {
  auto* cmd =
      app.add_subcommand("calibrate", "fit a scenario's parameters to published figures (ABC-SMC)");
  cmd->add_option("calibration", a.calibration, "calibration YAML file")->required();
  cmd->add_option("-o,--output", a.output,
                  "results file (default: results/<name>.calibration.h5); the calibrated "
                  "scenario goes beside it as <name>.calibrated.yaml");
  cmd->add_option("--threads", a.threads, "worker threads (default: every core)")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("--resume", a.resume,
                "continue an interrupted calibration from its last finished generation");
  cmd->add_flag("--force", a.force,
                "replace existing results and discard an interrupted calibration's work");
  cmd->add_flag("--quiet", a.quiet, "no progress output");
  return cmd;
}

int run_calibrate(const CalibrateArgs& a, const std::string& command_line,
                  const std::atomic<int>& stop) {
  const auto t0 = std::chrono::steady_clock::now();
  const LoadedCalibration c = load_calibration_file(a.calibration);
  print_warnings(c.warnings);
  const CalibrationSpec& spec = c.spec;
  const fs::path destination =
      a.output.empty() ? fs::path("results") / (file_stem(spec.name) + ".calibration.h5")
                       : fs::path(a.output);
  const fs::path scenario_out = scenario_destination(destination);
  std::error_code ec;
  if (!a.force && fs::exists(scenario_out, ec))
    throw InputError(std::vector<Diagnostic>{
        Diagnostic{.file = scenario_out.string(),
                   .message = "the calibrated scenario file exists already",
                   .hint = "add --force to replace it, or choose another destination with -o"}});
  if (stop.load() != 0) {
    std::cerr << fmt::format("talentsim: stopped by {} before the first generation\n",
                             signal_name(stop.load()));
    return signal_exit_code(stop.load());
  }
  Journal log(JournalRequest{.destination = destination,
                             .fingerprint = fingerprint(c),
                             .command_line = command_line,
                             .noun = "calibration",
                             .inputs = "calibration file, base scenario",
                             .resume = a.resume,
                             .force = a.force});
  const std::size_t P = spec.parameters.size(), T = spec.targets.size(), N = spec.abc.particles;
  std::vector<double> values, tolerances;
  for (const auto& t : spec.targets) {
    values.push_back(t.value);
    tolerances.push_back(t.tolerance);
  }
  AbcSmc abc(spec.parameters, values, tolerances, spec.abc);

  // Generations already in the journal, in order, up to the first missing
  // or damaged one.
  std::vector<AbcGeneration> kept;
  for (std::size_t g = 0;; ++g) {
    const fs::path rec = log.record(generation_record_name(g));
    fs::remove(rec.string() + ".tmp", ec);
    if (!fs::exists(rec, ec)) break;
    auto gen = decode_generation(read_file(rec), N, P, T);
    if (!gen) {
      std::cerr << "note: " << rec.string() << " is damaged; generation " << g
                << " will be computed again\n";
      fs::remove(rec, ec);
      break;
    }
    kept.push_back(std::move(*gen));
  }
  if (!kept.empty()) abc.restore(std::move(kept));
  // 0: every core of each rank's machine.
  const int threads = a.threads;
  if (!a.quiet)
    std::cerr << fmt::format(
        "calibration {}: {} parameters, {} targets, {} particles x {} replicates{}\n", spec.name, P,
        T, N, spec.replicates,
        abc.generations().empty()
            ? ""
            : fmt::format(", {} generations already done", abc.generations().size()));

  GenerationProgress progress(!a.quiet);
  // A signal ends the calibration between or within generations; the
  // finished ones stay in the journal.
  const auto stopped = [&] {
    progress.clear();
    std::cerr << fmt::format(
        "talentsim: stopped by {}: {} finished generations are kept in {}\n"
        "  to continue, run the same command with --resume\n",
        signal_name(stop.load()), abc.generations().size(), log.path().string());
    return signal_exit_code(stop.load());
  };
  try {
    while (!abc.finished()) {
      if (stop.load() != 0) throw Interrupted{};
      const int g = static_cast<int>(abc.generations().size());
      const double eps = abc.next_epsilon();
      std::int64_t replicates_before = 0, simulated = 0;
      std::size_t accepted = 0;
      const BatchSimulator sim = [&](const std::vector<double>& thetas, std::size_t count) {
        auto out = simulate_batch(c, thetas, count, threads, stop, [&](std::int64_t done) {
          progress(g, eps, accepted, N, simulated, replicates_before + done);
        });
        replicates_before += static_cast<std::int64_t>(count) * spec.replicates;
        return out;
      };
      const AbcGeneration& gen = abc.run_generation(sim, [&](std::size_t acc, std::int64_t sims) {
        accepted = acc;
        simulated = sims;
      });
      progress.clear();
      if (static_cast<int>(abc.generations().size()) == g + 1) {
        write_atomically(log.record(generation_record_name(static_cast<std::size_t>(g))),
                         encode_generation(gen, P, T));
        if (!a.quiet)
          std::cerr << fmt::format(
              "  generation {}: tolerance {:.4g}, {} particles from {} simulations (acceptance "
              "{:.1f}%), effective sample size {:.0f}, {:.0f} s\n",
              g, gen.epsilon, gen.weight.size(), gen.simulations, 100 * gen.acceptance(),
              effective_sample_size(gen),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    }
  } catch (const EnsembleStopped&) {
    return stopped();
  } catch (const Interrupted&) {
    return stopped();
  }
  if (!a.quiet) std::cerr << "  " << abc.stop_reason() << "\n";

  // The estimate, rounded for the scenario file, and the fit it gives.
  CalibrationRecord rec;
  rec.name = spec.name;
  rec.calibration_text = spec.text;
  rec.base_name = spec.base.string();
  rec.base_text = spec.base_text;
  rec.command_line = log.manifest().command_line;
  rec.created = log.manifest().created;
  rec.stop_reason = abc.stop_reason();
  rec.converged = abc.converged();
  rec.seed = spec.abc.seed;
  rec.replicates = spec.replicates;
  rec.check_replicates = spec.check_replicates;
  rec.parameters = spec.parameters;
  for (const auto& t : spec.targets) {
    rec.target_ids.push_back(t.id);
    rec.target_sources.push_back(t.source);
  }
  rec.target_values = values;
  rec.target_tolerances = tolerances;
  rec.generations = abc.generations();
  rec.posterior = summarize_posterior(rec.generations.back(), spec.parameters);
  // The point estimate: the last generation's best-fitting particle, a draw
  // of the posterior (its mean need not fit when the posterior is curved).
  const AbcGeneration& last = rec.generations.back();
  const std::size_t best = best_particle(last);
  for (std::size_t p = 0; p < P; ++p)
    rec.estimate.push_back(std::clamp(four_digits(last.theta[best * P + p]), spec.parameters[p].low,
                                      spec.parameters[p].high));
  const auto overrides = calibration_overrides(spec, rec.estimate);
  std::string header = fmt::format(
      "# Calibrated by `talentsim calibrate {}` (ABC-SMC, {} generations; {}).\n"
      "# Fitted values (the best-fitting particle of the last generation; 95% posterior\n"
      "# interval):\n",
      a.calibration, rec.generations.size(), rec.stop_reason);
  for (std::size_t p = 0; p < P; ++p)
    header += fmt::format("#   {} = {:.4g}  [{:.4g}, {:.4g}]\n", spec.parameters[p].path,
                          rec.estimate[p], rec.posterior[p].low, rec.posterior[p].high);
  rec.calibrated_text = header + rewrite_scalars(spec.base_text, spec.base.string(), overrides);
  Scenario calibrated = load_scenario_text(rec.calibrated_text, scenario_out.string());
  for (const auto& t : spec.targets) calibrated.questions.push_back(t.question);
  for (const auto& t : spec.predictions) {
    calibrated.questions.push_back(t.question);
    rec.prediction_ids.push_back(t.id);
    rec.prediction_sources.push_back(t.source);
    rec.prediction_values.push_back(t.value);
  }
  if (!a.quiet)
    std::cerr << fmt::format("  checking the fit: {} replicates of the calibrated scenario\n",
                             spec.check_replicates);
  try {
    rec.check = check_fit(c, calibrated, threads, stop);
    rec.prediction_check.assign(rec.check.begin() + static_cast<std::ptrdiff_t>(T),
                                rec.check.end());
    rec.check.resize(T);
  } catch (const EnsembleStopped&) {
    std::cerr << fmt::format(
        "talentsim: stopped by {} while checking the fit; the {} generations are kept in {}\n"
        "  to finish, run the same command with --resume\n",
        signal_name(stop.load()), abc.generations().size(), log.path().string());
    return signal_exit_code(stop.load());
  }
  rec.report = format_report(rec, destination, scenario_out);
  write_calibration_file(destination, rec, a.force);
  write_atomically(scenario_out, rec.calibrated_text);
  log.remove();
  std::cout << rec.report;
  std::cout.flush();
  return kExitOk;
}

}  // namespace talentsim::cli
