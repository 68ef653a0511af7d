#include "run.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <variant>

#include "capacity.hpp"
#include "cli.hpp"
#include "cluster.hpp"
#include "journal.hpp"
#include "talentsim/ensemble.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/model.hpp"
#include "talentsim/report.hpp"
#include "talentsim/resources.hpp"
#include "talentsim/results_file.hpp"
#include "talentsim/rng.hpp"
#include "talentsim/scenario_loader.hpp"
#include "talentsim/version.hpp"

namespace talentsim::cli {
namespace fs = std::filesystem;

namespace {

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

fs::path destination_for(const RunArgs& a, const std::string& stem) {
  return a.output.empty() ? fs::path("results") / (stem + ".h5") : fs::path(a.output);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---- journal records: one per stored row of replicates ------------------------

constexpr std::string_view kRowMagic = "TSROW001";

std::string row_record_name(int run, std::int64_t row) {
  return fmt::format("run{}-row{:09d}.bin", run, row);
}

std::string encode_row(const StoredRow& row) {
  std::string out(kRowMagic);
  put(out, static_cast<std::int32_t>(row.run));
  put(out, row.row);
  put(out, static_cast<std::int64_t>(row.replicates.size()));
  put(out, row.replicates.data(), row.replicates.size());
  put(out, static_cast<std::int64_t>(row.chunks.size()));
  for (const StoredChunk& c : row.chunks) {
    put(out, c.variable);
    put(out, static_cast<std::uint32_t>(c.offset.size()));
    put(out, c.offset.data(), c.offset.size());
    put(out, static_cast<std::uint64_t>(c.bytes.size()));
    put(out, c.bytes.data(), c.bytes.size());
  }
  return seal_record(std::move(out));
}

// The row of a record, or nullopt if it is damaged. Whether the row fits
// the file is ResultsWriter::restore's to check.
std::optional<StoredRow> decode_row(const std::string& bytes) {
  const auto body = open_record(bytes, kRowMagic);
  if (!body) return std::nullopt;
  RecordReader in(*body);
  StoredRow row;
  std::int32_t run = 0;
  std::int64_t replicates = 0, chunks = 0;
  if (!in.get(run) || !in.get(row.row) || !in.get(replicates) || replicates < 0 ||
      static_cast<std::uint64_t>(replicates) > body->size())
    return std::nullopt;
  row.run = run;
  row.replicates.resize(static_cast<std::size_t>(replicates));
  if (!in.get(row.replicates.data(), row.replicates.size()) || !in.get(chunks) || chunks < 0 ||
      static_cast<std::uint64_t>(chunks) > body->size())
    return std::nullopt;
  row.chunks.resize(static_cast<std::size_t>(chunks));
  for (StoredChunk& c : row.chunks) {
    std::uint32_t rank = 0;
    std::uint64_t size = 0;
    if (!in.get(c.variable) || !in.get(rank) || rank > 8) return std::nullopt;
    c.offset.resize(rank);
    if (!in.get(c.offset.data(), rank) || !in.get(size) || size > body->size()) return std::nullopt;
    c.bytes.resize(static_cast<std::size_t>(size));
    if (!in.get(c.bytes.data(), c.bytes.size())) return std::nullopt;
  }
  if (!in.at_end()) return std::nullopt;
  return row;
}

// ---- a journaled run of one or two parts (a run, or a comparison's two) --------

struct Part {
  const Model* model = nullptr;
  RunMetadata meta;
  std::string label;  // for progress: "", "baseline ", "what-if "
};

// What must not change for --resume to give the uninterrupted file.
std::string fingerprint(const std::vector<Part>& parts) {
  std::string text = fmt::format("{}\n{}\n", kGitCommit, kFileFormatVersion);
  for (const Part& p : parts)
    text += fmt::format("{}\n{}\n{}\n", p.meta.seed, p.meta.replicates, p.meta.scenario_text);
  return fmt::format("{:016x}", identity_hash(text));
}

// Refuses, before any model is built, a run the machine cannot hold.
void check_run_capacity(const std::vector<const Scenario*>& scenarios, const fs::path& destination,
                        const RunArgs& a) {
  if (a.no_resource_check) return;
  const int threads = a.threads > 0 ? a.threads : hardware_threads();
  check_capacity(CapacityRequest{.estimate = estimate_run(scenarios, threads),
                                 .destination = destination,
                                 .input = a.common.scenario,
                                 .replicates_option = "-r {}",
                                 .replicates = scenarios[0]->replicates,
                                 .threads = threads});
}

// Replicates kept in the journal, by row.
using Kept = std::map<std::pair<int, std::int64_t>, std::int64_t>;

std::int64_t count(const Kept& kept) {
  std::int64_t n = 0;
  for (const auto& [row, replicates] : kept) n += replicates;
  return n;
}

// Rows of earlier attempts, back into the writer; a damaged record, or
// one that does not fit, is dropped and its replicates computed again.
void restore_rows(const Journal& journal, ResultsWriter& writer, Kept& kept) {
  std::vector<fs::path> records;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(journal.path())) {
    const std::string name = e.path().filename().string();
    if (name.size() > 4 && name.ends_with(".tmp")) {
      fs::remove(e.path(), ec);  // a write cut short
    } else if (name.rfind("run", 0) == 0 && name.ends_with(".bin")) {
      records.push_back(e.path());
    }
  }
  std::sort(records.begin(), records.end());
  for (const fs::path& path : records) {
    const auto row = decode_row(read_file(path));
    try {
      if (!row) throw RunError("its checksum or layout is wrong");
      writer.restore(*row);
      kept[{row->run, row->row}] = static_cast<std::int64_t>(row->replicates.size());
    } catch (const RunError& e) {
      std::cerr << "note: " << path.string() << " is damaged (" << e.what()
                << "); its replicates will be computed again\n";
      fs::remove(path, ec);
    }
  }
}

// Runs the parts into `destination`. Returns their accumulators, or the
// exit code of a stop by signal.
std::variant<std::vector<RunAccumulator>, int> simulate(std::vector<Part>& parts,
                                                        const fs::path& destination,
                                                        const RunArgs& a,
                                                        const std::string& command_line,
                                                        const std::atomic<int>& stop) {
  const bool compare = parts.size() == 2;
  const std::string noun = compare ? "comparison" : "run";
  if (stop.load() != 0) {
    std::cerr << fmt::format("talentsim: stopped by {} before the first replicate\n",
                             signal_name(stop.load()));
    return signal_exit_code(stop.load());
  }
  Journal journal(
      JournalRequest{.destination = destination,
                     .fingerprint = fingerprint(parts),
                     .command_line = command_line,
                     .noun = noun,
                     .inputs = compare ? "scenario, what-if, --set value, seed, replicate count"
                                       : "scenario, --set value, seed, replicate count",
                     .resume = a.resume,
                     .force = a.force});
  // A resumed file keeps the first attempt's time and command line.
  for (Part& p : parts) {
    p.meta.created = journal.manifest().created;
    p.meta.command_line = journal.manifest().command_line;
  }
  std::int64_t total = 0;
  for (const Part& p : parts) total += p.meta.replicates;

  std::optional<ResultsWriter> writer;
  Kept kept;
  std::int64_t restored = 0;
  std::vector<RunAccumulator> accs;
  bool interrupted = false;
  try {
    if (compare)
      writer.emplace(destination, parts[0].meta, parts[0].model->shape(), parts[1].meta,
                     parts[1].model->shape(), parts[0].meta.command_line, a.force);
    else
      writer.emplace(destination, parts[0].meta, parts[0].model->shape(), a.force);
    restore_rows(journal, *writer, kept);
    restored = count(kept);
    writer->on_row_stored([&](const StoredRow& row) {
      write_atomically(journal.record(row_record_name(row.run, row.row)), encode_row(row));
      kept[{row.run, row.row}] = static_cast<std::int64_t>(row.replicates.size());
    });
    if (journal.resumed())
      std::cerr << fmt::format("note: resuming: {} of {} replicates already done\n", restored,
                               total);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const Part& p = parts[i];
      accs.emplace_back(p.meta, p.model->shape());
      EnsembleOptions options{.seed = p.meta.seed, .threads = a.threads, .stop = &stop};
      for (std::int64_t r = 0; r < p.meta.replicates; ++r)
        if (!writer->written(static_cast<int>(i), r)) options.only.push_back(r);
      if (options.only.empty()) continue;
      Progress progress(!a.quiet, p.label);
      run_ensemble_on_cluster(
          *p.model, options,
          [&](ReplicateResult&& r) {
            writer->write(r, static_cast<int>(i));
            accs.back().add(r);
          },
          [&](std::int64_t done, std::int64_t all) { progress(done, all); });
    }
    writer->commit();
  } catch (const EnsembleStopped&) {
    // The ensemble saw the stop flag (set by SIGINT/SIGTERM) and handed
    // over nothing more.
    interrupted = true;
  } catch (const std::exception& e) {
    // What is finished stays for --resume, unless there is nothing.
    try {
      if (writer) writer->store_pending();
    } catch (const std::exception&) {
      // The first failure is the one to report.
    }
    const std::int64_t n = count(kept);
    if (n == 0 && !journal.resumed()) journal.remove();
    if (n == 0 || dynamic_cast<const InputError*>(&e) != nullptr) throw;
    throw RunError(fmt::format(
        "{}\n  {} of {} replicates are kept in {}; once the problem is fixed, run the same "
        "command with --resume to finish",
        e.what(), n, total, journal.path().string()));
  }
  if (interrupted) {
    if (isatty(STDERR_FILENO) && !a.quiet) std::fprintf(stderr, "\n");
    writer->store_pending();
    std::cerr << fmt::format(
        "talentsim: stopped by {}: {} of {} replicates are kept in {}\n"
        "  to finish, run the same command with --resume\n",
        signal_name(stop.load()), count(kept), total, journal.path().string());
    return signal_exit_code(stop.load());
  }
  journal.remove();
  if (restored == 0) return accs;
  // Some replicates came from the journal: the report reads them all back.
  accs.clear();
  if (compare) {
    accs.push_back(read_run_file(destination, kBaselineGroup));
    accs.push_back(read_run_file(destination, kWhatifGroup));
  } else {
    accs.push_back(read_run_file(destination, ""));
  }
  return accs;
}

}  // namespace

RunAccumulator read_run_file(const fs::path& path, const std::string& group) {
  const RunReader reader(path, group);
  RunAccumulator acc(reader.meta(), reader.shape());
  for (std::int64_t r = 0; r < reader.meta().replicates; ++r) acc.add(reader.read(r));
  return acc;
}

void print_warnings(const std::vector<Diagnostic>& warnings) {
  // compare loads two scenarios with the same --set overrides: a warning
  // about one of them would otherwise be said twice, word for word.
  static std::set<std::string> said;
  for (const auto& d : warnings)
    if (std::string text = d.format(); said.insert(text).second) std::cerr << text << "\n";
}

Scenario load_scenario(const Common& c) {
  std::vector<Override> overrides;
  for (const auto& s : c.sets) overrides.push_back(parse_override(s));
  std::vector<Diagnostic> warnings;
  Scenario s = load_scenario_file(c.scenario, overrides, &warnings);
  print_warnings(warnings);
  return s;
}

int run_command(const RunArgs& a, const std::string& command_line, const std::atomic<int>& stop) {
  Scenario s = load_scenario(a.common);
  apply_size(s, a);
  const auto destination = destination_for(a, file_stem(s.name));
  const auto t0 = std::chrono::steady_clock::now();
  check_run_capacity({&s}, destination, a);
  const Model model(s);
  std::vector<Part> parts{Part{&model, run_metadata(s, command_line), ""}};
  auto result = simulate(parts, destination, a, command_line, stop);
  if (const int* code = std::get_if<int>(&result)) return *code;
  const auto& accs = std::get<std::vector<RunAccumulator>>(result);
  fmt::print("{}", format_text(accs[0].report()));
  fmt::print("\nresults: {} ({:.1f} s)\n", destination.string(), seconds_since(t0));
  return 0;
}

int compare_command(const RunArgs& a, const std::string& whatif_path,
                    const std::string& command_line, const std::atomic<int>& stop) {
  Scenario base = load_scenario(a.common);
  Common w = a.common;
  w.scenario = whatif_path;
  Scenario whatif = load_scenario(w);
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
  check_run_capacity({&base, &whatif}, destination, a);
  const Model base_model(base), whatif_model(whatif);
  std::vector<Part> parts{Part{&base_model, run_metadata(base, command_line), "baseline "},
                          Part{&whatif_model, run_metadata(whatif, command_line), "what-if "}};
  auto result = simulate(parts, destination, a, command_line, stop);
  if (const int* code = std::get_if<int>(&result)) return *code;
  const auto& accs = std::get<std::vector<RunAccumulator>>(result);
  fmt::print("{}{}", note, format_text(compare_runs(accs[0], accs[1])));
  fmt::print("\nresults: {} ({:.1f} s)\n", destination.string(), seconds_since(t0));
  return 0;
}

}  // namespace talentsim::cli
