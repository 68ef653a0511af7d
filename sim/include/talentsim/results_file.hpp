// The results file: HDF5 laid out by netCDF-4 conventions (dimension scales,
// variable-length UTF-8 labels, CF time units) so that
// xarray.open_dataset(path) gives labelled arrays. See docs in README.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "talentsim/result.hpp"

namespace talentsim {

// A forecast question as stored in the file (MODEL.md section 8).
struct QuestionInfo {
  std::string id;
  std::string text;
  std::string metric;  // hires, departures, net_flow, headcount, share, named_at
  std::string lab;
  double at_least = std::numeric_limits<double>::quiet_NaN();  // NaN: no bound
  double at_most = std::numeric_limits<double>::quiet_NaN();
};

// Everything about a run that is not per-replicate data.
struct RunMetadata {
  std::string scenario_name;
  std::string start_date;  // ISO date of step 0; time = start + t * step_days
  int step_days = 7;
  std::vector<std::string> lab_names;
  std::vector<std::string> tier_names;
  std::vector<std::string> named_names;
  std::vector<QuestionInfo> questions;
  std::int64_t replicates = 0;
  std::uint64_t seed = 0;
  std::string scenario_text;  // YAML as run, after --set
  std::string command_line;
  std::string created;  // "created" attribute (ISO UTC); "" for now
};

// Percentiles stored in every run for fan charts (the `quantile` coordinate).
inline constexpr double kSummaryQuantiles[] = {0.05, 0.25, 0.50, 0.75, 0.95};
inline constexpr int kSummaryQuantileCount = 5;

// Groups of a comparison file: the two runs, each laid out as a run file.
inline constexpr const char* kBaselineGroup = "baseline";
inline constexpr const char* kWhatifGroup = "whatif";

// A row of replicates as the writer stored it: the chunks of every
// per-replicate variable, compressed as they are in the file. Kept in a
// journal, rows let an interrupted run be finished without computing them
// again (ResultsWriter::restore).
struct StoredChunk {
  std::uint32_t variable = 0;         // the file's per-replicate variables, in order
  std::vector<std::uint64_t> offset;  // the chunk's first index along each dimension
  std::vector<std::uint8_t> bytes;    // shuffled and deflated
};
struct StoredRow {
  int run = 0;                           // 0, or 1 for a comparison's what-if
  std::int64_t row = 0;                  // replicates row * Rc .. (row + 1) * Rc - 1
  std::vector<std::int64_t> replicates;  // those the chunks hold (the rest are zeros)
  std::vector<StoredChunk> chunks;
};

// Streams replicates into a temporary file beside the destination and
// renames it into place on commit(). Not thread-safe: one writer.
//
// A run file holds one run at its root. A comparison file holds two runs,
// in groups "baseline" and "whatif", and root attributes describing the
// comparison (file_type "talentsim-compare").
class ResultsWriter {
 public:
  // A run file. Throws InputError if `destination` exists and !overwrite,
  // RunError if the temporary file cannot be created.
  ResultsWriter(std::filesystem::path destination, const RunMetadata& meta, ResultShape shape,
                bool overwrite);
  // A comparison file of two runs made with the same seed and replicates.
  ResultsWriter(std::filesystem::path destination, const RunMetadata& baseline,
                ResultShape baseline_shape, const RunMetadata& whatif, ResultShape whatif_shape,
                const std::string& command_line, bool overwrite);
  ~ResultsWriter();  // removes the temporary file unless commit() succeeded
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  // Writes replicate r.replicate (0 <= r < meta.replicates), in any order;
  // `run` is 0 for a run file, 0 (baseline) or 1 (what-if) for a comparison.
  void write(const ReplicateResult& r, int run = 0);
  // Calls `sink` with every row of replicates as it is stored, a row
  // again each time more of its replicates are stored. `sink` may throw,
  // which the call that stored the row passes on.
  void on_row_stored(std::function<void(const StoredRow&)> sink);
  // Stores a row that an earlier writer of the same runs passed to its
  // sink, as if its replicates had been written. Throws RunError, having
  // stored nothing, if the row does not fit this file or overlaps what is
  // already written.
  void restore(const StoredRow& row);
  // Stores every replicate written so far, rows not yet whole included
  // (before the process stops with the run unfinished).
  void store_pending();
  bool written(int run, std::int64_t replicate) const;

  // Computes the distribution summaries of each run from what was written
  // (exact percentiles across replicates, memory bounded), closes the file
  // and renames it to the destination. Throws RunError.
  void commit();

  const std::filesystem::path& temporary_path() const;
  const std::filesystem::path& destination() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percentiles across replicates, kSummaryQuantiles order first:
//   headcount       [q][T][L][K]
//   total_headcount [q][T][L]    (all tiers)
//   share           [q][T][L]    (star-power share)
struct DistributionSummaries {
  std::vector<double> headcount, total_headcount, share;
};

// Reads a run (a run file's root, or one group of a comparison file) one
// replicate at a time, so memory does not grow with the replicates.
class RunReader {
 public:
  // Throws RunError naming the file (and group) and what is wrong.
  explicit RunReader(const std::filesystem::path& path, const std::string& group = "");
  ~RunReader();
  RunReader(const RunReader&) = delete;
  RunReader& operator=(const RunReader&) = delete;

  const RunMetadata& meta() const;
  ResultShape shape() const;
  const std::map<std::string, std::string>& attributes() const;  // of the run, as text
  ReplicateResult read(std::int64_t replicate) const;
  DistributionSummaries summaries() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The current time as results files record it ("created"):
// YYYY-MM-DDTHH:MM:SSZ, UTC.
std::string utc_timestamp();

// The root file_type attribute: "talentsim-run", "talentsim-compare" or
// "talentsim-sweep" (read with read_sweep, sweep_file.hpp; RunReader refuses
// it). Throws RunError for anything that is not a talentsim file of a
// supported format version.
std::string results_file_type(const std::filesystem::path& path);

// A results file read back whole (tests).
struct ResultsFile {
  RunMetadata meta;
  ResultShape shape;
  std::map<std::string, std::string> attributes;  // root attributes, as text
  std::vector<ReplicateResult> replicates;        // index = replicate
};

// Throws RunError naming the file and what is wrong with it.
ResultsFile read_results(const std::filesystem::path& path, const std::string& group = "");

}  // namespace talentsim
