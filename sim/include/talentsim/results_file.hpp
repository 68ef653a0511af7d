// The results file: HDF5 laid out by netCDF-4 conventions (dimension scales,
// variable-length UTF-8 labels, CF time units) so that
// xarray.open_dataset(path) gives labelled arrays. See docs in README.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "talentsim/result.hpp"

namespace talentsim {

// Everything about a run that is not per-replicate data.
struct RunMetadata {
  std::string scenario_name;
  std::string start_date;  // ISO date of step 0; time = start + t * step_days
  int step_days = 7;
  std::vector<std::string> lab_names;
  std::vector<std::string> tier_names;
  std::vector<std::string> named_names;
  std::int64_t replicates = 0;
  std::uint64_t seed = 0;
  std::string scenario_text;  // YAML as run, after --set
  std::string command_line;
};

// Streams replicates into a temporary file beside the destination and
// renames it into place on commit(). Not thread-safe: one writer.
class ResultsWriter {
 public:
  // Throws InputError if `destination` exists and !overwrite, RunError if the
  // temporary file cannot be created.
  ResultsWriter(std::filesystem::path destination, const RunMetadata& meta, ResultShape shape,
                bool overwrite);
  ~ResultsWriter();  // removes the temporary file unless commit() succeeded
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  // Writes replicate r.replicate (0 <= r < meta.replicates), in any order.
  void write(const ReplicateResult& r);
  // Closes the file and renames it to the destination. Throws RunError.
  void commit();

  const std::filesystem::path& temporary_path() const;
  const std::filesystem::path& destination() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A results file read back whole (tests, `summarize`).
struct ResultsFile {
  RunMetadata meta;
  ResultShape shape;
  std::map<std::string, std::string> attributes;  // root attributes, as text
  std::vector<ReplicateResult> replicates;        // index = replicate
};

// Throws RunError naming the file and what is wrong with it.
ResultsFile read_results(const std::filesystem::path& path);

}  // namespace talentsim
