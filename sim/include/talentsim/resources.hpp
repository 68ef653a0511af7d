// What a run, comparison or sweep will take of memory and disk, estimated
// from the scenario alone, so that one that cannot fit is refused before it
// starts (the command line compares these with what the machine has).
#pragma once

#include <cstdint>
#include <vector>

#include "talentsim/scenario.hpp"

namespace talentsim {

struct ResourceEstimate {
  double memory_bytes = 0;   // peak resident memory of the process
  double file_bytes = 0;     // the results file
  double journal_bytes = 0;  // the journal beside it, at its largest
  // The same, per replicate of every part (point), for "at most N fit".
  double memory_per_replicate = 0, disk_per_replicate = 0, file_per_replicate = 0;
};

// A run (one scenario) or a comparison (two), `threads` simulating.
ResourceEstimate estimate_run(const std::vector<const Scenario*>& parts, int threads);

// A sweep of `points` points of `replicates` each on `base`'s shape; with
// `full`, every per-step array is kept, else the summaries only.
ResourceEstimate estimate_sweep(const Scenario& base, std::int64_t points, std::int64_t replicates,
                                bool full, int threads);

}  // namespace talentsim
