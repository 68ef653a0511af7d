// `talentsim sweep`. Work is done point by point; each finished point is a
// record in the sweep's journal (journal.hpp). A sweep stopped at any
// moment, even by kill -9, loses at most the points in progress; --resume
// skips the points in the journal. When every point is in, the results
// file is assembled from the journal in point order, so it is the same
// whether the sweep ran in one go or in several.
#include "sweep.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "capacity.hpp"
#include "cli.hpp"
#include "cluster.hpp"
#include "journal.hpp"
#include "run.hpp"
#include "talentsim/ensemble.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/model.hpp"
#include "talentsim/report.hpp"
#include "talentsim/resources.hpp"
#include "talentsim/rng.hpp"
#include "talentsim/sweep.hpp"
#include "talentsim/sweep_file.hpp"
#include "talentsim/sweep_loader.hpp"
#include "talentsim/version.hpp"

namespace talentsim::cli {
namespace fs = std::filesystem;

namespace {

constexpr int kExitOk = 0;
constexpr std::string_view kRecordMagic = "TSPOINT2";

struct Interrupted {};

// ---- journal records ---------------------------------------------------------
// One file per finished point: magic, point, replicates, shape, then per
// replicate its question values, numerators and denominators, its
// end-of-run headcount and, for full output, every per-step array; last a
// 64-bit checksum of all before it.

std::string encode_point(std::int64_t point, const std::vector<ReplicateResult>& reps,
                         ResultShape shape, bool full) {
  std::string out(kRecordMagic);
  put(out, point);
  put(out, static_cast<std::int64_t>(reps.size()));
  for (int v : {shape.steps, shape.labs, shape.tiers, shape.questions, int(full)}) put(out, v);
  const std::size_t lk = static_cast<std::size_t>(shape.labs) * shape.tiers;
  for (const auto& r : reps) {
    put(out, r.question_value.data(), r.question_value.size());
    put(out, r.question_numerator.data(), r.question_numerator.size());
    put(out, r.question_denominator.data(), r.question_denominator.size());
    put(out, r.headcount.data() + (full ? r.tlk(shape.steps - 1, 0, 0) : 0), lk);
    if (full) {
      put(out, r.headcount.data(), r.headcount.size());
      put(out, r.hires.data(), r.hires.size());
      put(out, r.departures.data(), r.departures.size());
      put(out, r.star_power.data(), r.star_power.size());
      put(out, r.flows.data(), r.flows.size());
    }
  }
  return seal_record(std::move(out));
}

// The replicates of a record, in replicate order; nullopt if the record is
// damaged or of another sweep's shape.
std::optional<std::vector<ReplicateResult>> decode_point(const std::string& bytes,
                                                         std::int64_t point,
                                                         std::int64_t replicates, ResultShape shape,
                                                         bool full) {
  const auto body = open_record(bytes, kRecordMagic);
  if (!body) return std::nullopt;
  RecordReader in(*body);
  std::int64_t p = 0, n = 0;
  int dims[5] = {};
  if (!in.get(p) || !in.get(n) || !in.get(dims, 5)) return std::nullopt;
  if (p != point || n != replicates || dims[0] != shape.steps || dims[1] != shape.labs ||
      dims[2] != shape.tiers || dims[3] != shape.questions || dims[4] != int(full))
    return std::nullopt;
  const std::size_t lk = static_cast<std::size_t>(shape.labs) * shape.tiers;
  std::vector<ReplicateResult> reps;
  reps.reserve(static_cast<std::size_t>(n));
  for (std::int64_t r = 0; r < n; ++r) {
    ReplicateResult x(shape);
    x.replicate = r;
    bool ok = in.get(x.question_value.data(), x.question_value.size()) &&
              in.get(x.question_numerator.data(), x.question_numerator.size()) &&
              in.get(x.question_denominator.data(), x.question_denominator.size()) &&
              in.get(x.headcount.data() + x.tlk(shape.steps - 1, 0, 0), lk);
    if (full)
      ok = ok && in.get(x.headcount.data(), x.headcount.size()) &&
           in.get(x.hires.data(), x.hires.size()) &&
           in.get(x.departures.data(), x.departures.size()) &&
           in.get(x.star_power.data(), x.star_power.size()) &&
           in.get(x.flows.data(), x.flows.size());
    if (!ok) return std::nullopt;
    reps.push_back(std::move(x));
  }
  if (!in.at_end()) return std::nullopt;
  return reps;
}

fs::path record_path(const fs::path& journal, std::size_t point) {
  return journal / fmt::format("point-{:07d}.bin", point);
}

// ---- the journal's identity ----------------------------------------------------

// What must not change for --resume to give the uninterrupted result.
std::string fingerprint(const LoadedSweep& s) {
  std::string text =
      fmt::format("{}\n{}\n{}\n{}\n{}\n{}\n", kGitCommit, kFileFormatVersion, s.spec.replicates,
                  s.spec.seed, int(s.spec.full), s.spec.bootstrap);
  text += s.spec.text + '\n' + s.base.source_text + '\n';
  put(text, s.design.values.data(), s.design.values.size());
  return fmt::format("{:016x}", identity_hash(text));
}

// ---- progress --------------------------------------------------------------------

class SweepProgress {
 public:
  SweepProgress(bool enabled, std::size_t points, std::int64_t replicates)
      : enabled_(enabled && isatty(STDERR_FILENO)), points_(points), replicates_(replicates) {}
  // `points` finished before this session; `replicates` finished of the
  // points in progress.
  void operator()(std::size_t points, std::int64_t replicates, bool force = false) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (first_) {
      first_ = false;
      first_done_ = static_cast<double>(points) * double(replicates_);
    }
    if (!force && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double total = double(points_) * double(replicates_);
    const double finished = double(points) * double(replicates_) + double(replicates);
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? (finished - first_done_) / elapsed : 0;
    const double eta = rate > 0 ? (total - finished) / rate : 0;
    std::fprintf(stderr, "\r  %zu/%zu points  %.0f/%.0f replicates  %.1f/s  ETA %s   ", points,
                 points_, finished, total, rate, format_duration(eta).c_str());
    std::fflush(stderr);
  }
  void finish() {
    if (enabled_) std::fprintf(stderr, "\n");
  }

 private:
  static std::string format_duration(double s) {
    if (s < 90) return fmt::format("{:.0f}s", s);
    if (s < 5400) return fmt::format("{:.0f}m", s / 60);
    return fmt::format("{:.1f}h", s / 3600);
  }
  bool enabled_, first_ = true;
  std::size_t points_;
  std::int64_t replicates_;
  double first_done_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

// ---- per point ---------------------------------------------------------------------

// What a point's replicates say: probabilities and intervals of the
// questions, end-of-run headcount per lab (mean and percentiles).
// `split` gets, per output (the questions' probabilities, then the labs'
// mean headcounts), the estimate from the first h = R/2 replicates minus
// that from the next h: the replicates' noise alone.
PointSummary summarize_point(const RunMetadata& meta, ResultShape shape,
                             const std::vector<ReplicateResult>& reps, std::vector<double>& split) {
  RunAccumulator acc(meta, shape);
  for (const auto& r : reps) acc.add(r);
  const std::size_t Q = meta.questions.size(), L = static_cast<std::size_t>(shape.labs);
  const std::int64_t h = static_cast<std::int64_t>(reps.size()) / 2;
  split.assign(Q + L, 0.0);
  for (std::int64_t r = 0; r < 2 * h; ++r) {
    const double sign = r < h ? 1.0 : -1.0;
    for (std::size_t q = 0; q < Q; ++q) split[q] += sign * acc.outcome(r, static_cast<int>(q));
    for (std::size_t l = 0; l < L; ++l)
      split[Q + l] += sign * acc.end_headcount(r, static_cast<int>(l));
  }
  for (auto& d : split) d /= h > 0 ? static_cast<double>(h) : NAN;
  const RunReport rep = acc.report();
  PointSummary s;
  for (const auto& q : rep.questions) {
    s.question_probability.push_back(q.probability);
    s.question_low.push_back(q.interval.low);
    s.question_high.push_back(q.interval.high);
    // A ratio's estimate at the point pools its replicates (sum of
    // numerators / sum of denominators); the other metrics' is their mean.
    s.question_mean.push_back(is_ratio_metric(q.info.metric) ? q.pooled : q.mean);
  }
  s.headcount_quantile.assign(kSummaryQuantileCount * L, 0);
  std::vector<double> ends(reps.size());
  for (std::size_t l = 0; l < L; ++l) {
    s.headcount_mean.push_back(rep.labs[l].end_mean);
    for (std::size_t r = 0; r < reps.size(); ++r)
      ends[r] = acc.end_headcount(static_cast<std::int64_t>(r), static_cast<int>(l));
    for (int q = 0; q < kSummaryQuantileCount; ++q)
      s.headcount_quantile[q * L + l] = quantile(ends, kSummaryQuantiles[q]);
  }
  return s;
}

// Keeps of a replicate what the file stores: without `output: full`, the
// question values and the end-of-run headcount.
void keep_for_file(ReplicateResult& r, bool full) {
  if (full) return;
  const auto lk = static_cast<std::ptrdiff_t>(r.shape.labs) * r.shape.tiers;
  r.headcount.erase(r.headcount.begin(), r.headcount.end() - lk);
  r.hires = {};
  r.departures = {};
  r.star_power = {};
  r.named_lab = {};
  r.flows = {};
}

}  // namespace

CLI::App* add_sweep_command(CLI::App& app, SweepArgs& a) {
  auto* cmd = app.add_subcommand(
      "sweep", "run every point of a sweep file's design (grid, random, lhs, sobol)");
  cmd->add_option("sweep", a.sweep, "sweep YAML file")->required();
  cmd->add_option("-o,--output", a.output, "results file (default: results/<sweep name>.h5)");
  cmd->add_option("--threads", a.threads, "worker threads (default: every core)")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("--resume", a.resume,
                "continue an interrupted sweep, skipping the points it finished");
  cmd->add_flag("--force", a.force,
                "replace an existing results file and discard an interrupted sweep's work");
  cmd->add_flag("--quiet", a.quiet, "no progress output");
  cmd->add_flag("--no-resource-check", a.no_resource_check,
                "run even if the memory or disk it needs looks larger than what there is");
  return cmd;
}

int run_sweep(const SweepArgs& a, const std::string& command_line, const std::atomic<int>& stop) {
  const auto t0 = std::chrono::steady_clock::now();
  const LoadedSweep s = load_sweep_file(a.sweep);
  print_warnings(s.warnings);
  const fs::path destination = a.output.empty()
                                   ? fs::path("results") / (file_stem(s.spec.name) + ".h5")
                                   : fs::path(a.output);
  if (stop.load() != 0) {
    std::cerr << fmt::format("talentsim: stopped by {} before the first point; nothing was kept\n",
                             signal_name(stop.load()));
    return signal_exit_code(stop.load());
  }
  if (!a.no_resource_check) {
    const int threads = a.threads > 0 ? a.threads : hardware_threads();
    check_capacity(CapacityRequest{
        .estimate = estimate_sweep(s.base, static_cast<std::int64_t>(s.design.points),
                                   s.spec.replicates, s.spec.full, threads),
        .destination = destination,
        .input = a.sweep,
        .replicates_option = "replicates: {} in the sweep file",
        .smaller_output = s.spec.full ? "`output: summary` keeps only the summaries; " : "",
        .replicates = s.spec.replicates,
        .threads = threads});
  }
  Journal log(JournalRequest{.destination = destination,
                             .fingerprint = fingerprint(s),
                             .command_line = command_line,
                             .noun = "sweep",
                             .inputs = "sweep file, base scenario",
                             .resume = a.resume,
                             .force = a.force});
  const fs::path& journal = log.path();
  const Manifest& manifest = log.manifest();
  std::error_code ec;

  const Model base_model(s.base);
  const ResultShape shape = base_model.shape();
  RunMetadata meta = run_metadata(s.base, manifest.command_line);
  meta.replicates = s.spec.replicates;
  meta.seed = s.spec.seed;
  const std::size_t P = s.design.points;
  const std::int64_t R = s.spec.replicates;

  // Points already in the journal (a damaged record is recomputed).
  std::vector<char> done(P, 0);
  std::size_t already = 0;
  for (std::size_t p = 0; p < P; ++p) {
    const fs::path rec = record_path(journal, p);
    fs::remove(rec.string() + ".tmp", ec);  // a write cut short
    if (!fs::exists(rec, ec)) continue;
    if (decode_point(read_file(rec), static_cast<std::int64_t>(p), R, shape, s.spec.full)) {
      done[p] = 1;
      ++already;
    } else {
      std::cerr << "note: " << rec.string() << " is damaged; point " << p
                << " will be computed again\n";
      fs::remove(rec, ec);
    }
  }
  if (!a.quiet)
    std::cerr << fmt::format("sweep {}: {} design, {} points x {} replicates{}\n", s.spec.name,
                             design_name(s.spec.design), P, R,
                             already ? fmt::format(", {} points already done", already) : "");

  SweepProgress progress(!a.quiet, P, R);
  // Points run in batches whose replicates form one pool of work, so that
  // threads do not wait at the end of each point; a point is written to the
  // journal as soon as its last replicate is in.
  // Under mpirun every rank waits at the end of a batch for the slowest
  // block, so batches there are made 4 times longer per thread.
  const int threads = a.threads > 0 ? a.threads : hardware_threads();
  const std::int64_t per_batch = cluster_size() > 1 ? 64 * threads * cluster_size() : 16 * threads;
  const std::size_t batch_size =
      std::clamp<std::size_t>(static_cast<std::size_t>((per_batch + R - 1) / R), 1, 64);
  std::vector<std::size_t> todo;
  for (std::size_t p = 0; p < P; ++p)
    if (!done[p]) todo.push_back(p);
  // Work that failed (a full disk, say) leaves the finished points for --resume.
  const auto kept_note = [&](const RunError& e) {
    std::size_t kept = 0;
    for (char d : done) kept += d;
    return RunError(fmt::format(
        "{}\n  {} of {} points are kept in {}; once the problem is fixed, run the same command "
        "with --resume to finish",
        e.what(), kept, P, journal.string()));
  };
  std::size_t finished = already;
  bool interrupted = false;
  try {
    for (std::size_t b = 0; b < todo.size(); b += batch_size) {
      // Between batches; within one the ensemble watches the same flag.
      if (stop.load() != 0) throw Interrupted{};
      const std::vector<std::size_t> batch(
          todo.begin() + static_cast<std::ptrdiff_t>(b),
          todo.begin() + static_cast<std::ptrdiff_t>(std::min(todo.size(), b + batch_size)));
      const auto models = build_models(batch.size(), local_threads(a.threads), [&](std::size_t m) {
        return load_point(s.spec, s.design, batch[m]);
      });
      std::vector<const Model*> pointers;
      for (const auto& m : models) pointers.push_back(m.get());
      std::vector<std::vector<ReplicateResult>> reps(batch.size());
      for (auto& r : reps) r.resize(static_cast<std::size_t>(R));
      std::vector<std::int64_t> arrived(batch.size(), 0);
      std::int64_t in_progress = 0;
      run_ensembles_on_cluster(
          pointers,
          EnsembleOptions{
              .first = 0, .count = R, .seed = s.spec.seed, .threads = a.threads, .stop = &stop},
          [&](std::size_t m, ReplicateResult&& r) {
            keep_for_file(r, s.spec.full);
            reps[m][static_cast<std::size_t>(r.replicate)] = std::move(r);
            ++in_progress;
            if (++arrived[m] < R) return;
            const std::size_t p = batch[m];
            write_atomically(record_path(journal, p), encode_point(static_cast<std::int64_t>(p),
                                                                   reps[m], shape, s.spec.full));
            reps[m] = {};
            done[p] = 1;
            ++finished;
            in_progress -= R;
            progress(finished, in_progress, true);
          },
          [&](std::int64_t, std::int64_t) { progress(finished, in_progress); });
    }
  } catch (const EnsembleStopped&) {
    interrupted = true;
  } catch (const Interrupted&) {
    interrupted = true;
  } catch (const RunError& e) {
    progress.finish();
    throw kept_note(e);
  }
  if (interrupted) {
    progress.finish();
    std::size_t kept = 0;
    for (char d : done) kept += d;
    std::cerr << fmt::format(
        "talentsim: stopped by {}: {} of {} points are kept in {}\n"
        "  to finish, run the same command with --resume\n",
        signal_name(stop.load()), kept, P, journal.string());
    return signal_exit_code(stop.load());
  }
  progress.finish();

  // Assemble the results file from the journal, in point order.
  SweepFileMetadata fm;
  fm.name = s.spec.name;
  fm.sweep_text = s.spec.text;
  fm.command_line = manifest.command_line;
  fm.created = manifest.created;
  fm.design = design_name(s.spec.design);
  fm.base_samples = static_cast<std::int64_t>(s.design.base_samples);
  fm.points = static_cast<std::int64_t>(P);
  for (const auto& p : s.spec.parameters) {
    fm.parameter_paths.push_back(p.path);
    fm.parameter_scales.push_back(!p.values.empty() ? "listed" : p.log_scale ? "log" : "linear");
  }
  fm.parameter_values = s.design.values;
  fm.full = s.spec.full;
  fm.base = meta;

  const std::size_t Q = meta.questions.size(), L = meta.lab_names.size();
  const bool sweeps_questions =
      std::any_of(s.spec.parameters.begin(), s.spec.parameters.end(),
                  [](const SweepParameter& x) { return x.path.rfind("questions", 0) == 0; });
  std::vector<double> outputs(P * (Q + L));  // [point][question probabilities, lab headcounts]
  // Mean and sum of squared deviations (Welford) of the split-half
  // differences across points, per output.
  std::vector<double> split, split_mean(Q + L, 0.0), split_m2(Q + L, 0.0);
  try {
    SweepWriter writer(destination, fm, shape, a.force);
    for (std::size_t p = 0; p < P; ++p) {
      const fs::path rec = record_path(journal, p);
      auto reps = decode_point(read_file(rec), static_cast<std::int64_t>(p), R, shape, s.spec.full);
      if (!reps)
        throw RunError(fmt::format(
            "{} changed while the sweep was being written; rerun with --resume", rec.string()));
      for (const auto& r : *reps) writer.write(static_cast<std::int64_t>(p), r);
      // The point's own questions when their bounds are swept.
      RunMetadata point_meta;
      if (sweeps_questions) {
        point_meta = run_metadata(load_point(s.spec, s.design, p), meta.command_line);
        point_meta.replicates = R;
      }
      const PointSummary sum =
          summarize_point(sweeps_questions ? point_meta : meta, shape, *reps, split);
      writer.write_summary(static_cast<std::int64_t>(p), sum);
      for (std::size_t q = 0; q < Q; ++q) outputs[p * (Q + L) + q] = sum.question_probability[q];
      for (std::size_t l = 0; l < L; ++l) outputs[p * (Q + L) + Q + l] = sum.headcount_mean[l];
      for (std::size_t o = 0; o < Q + L; ++o) {
        const double delta = split[o] - split_mean[o];
        split_mean[o] += delta / static_cast<double>(p + 1);
        split_m2[o] += delta * (split[o] - split_mean[o]);
      }
    }
    // The noise part of an output's variance across points. With common
    // random numbers a point's error e(x) is correlated across points, so
    // p (1 - p) / R would overstate it; the two halves' errors are
    // independent, so Var_x(e) = Var_x(first half - second half) h / (2 R).
    const auto noise_variance = [&](std::size_t o) {
      if (P < 2 || R < 2) return static_cast<double>(NAN);
      const double var = split_m2[o] / static_cast<double>(P - 1);
      return std::max(0.0, var) * static_cast<double>(R / 2) / (2 * static_cast<double>(R));
    };
    if (s.spec.design == DesignKind::Sobol) {
      SensitivityTable t;
      for (const auto& q : meta.questions) t.outputs.push_back(q.id);
      for (const auto& l : meta.lab_names) t.outputs.push_back("headcount[" + l + "]");
      const std::size_t O = t.outputs.size(), D = s.spec.parameters.size();
      for (auto* v : {&t.first, &t.first_low, &t.first_high, &t.total, &t.total_low, &t.total_high})
        v->assign(D * O, 0);
      t.resamples = s.spec.bootstrap;
      const auto indices =
          sobol_indices_each(outputs, O, s.design.base_samples, D, s.spec.bootstrap, s.spec.seed);
      for (std::size_t o = 0; o < O; ++o) {
        const SobolIndices& ix = indices[o];
        t.output_variance.push_back(ix.variance);
        t.output_noise_variance.push_back(noise_variance(o));
        for (std::size_t d = 0; d < D; ++d) {
          t.first[d * O + o] = ix.first[d].value;
          t.first_low[d * O + o] = ix.first[d].low;
          t.first_high[d * O + o] = ix.first[d].high;
          t.total[d * O + o] = ix.total[d].value;
          t.total_low[d * O + o] = ix.total[d].low;
          t.total_high[d * O + o] = ix.total[d].high;
        }
      }
      writer.write_sensitivity(t);
    }
    writer.commit();
  } catch (const RunError& e) {
    throw kept_note(e);
  }
  log.remove();

  fmt::print("{}", format_sweep_text(read_sweep(destination, false)));
  fmt::print("\nresults: {} ({:.1f} s)\n", destination.string(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return kExitOk;
}

}  // namespace talentsim::cli
