// Distribution summaries of a run: exact percentiles across replicates of
// headcount, total headcount and star-power share, computed from what the
// writer put in the file and read back a block of time steps at a time, so
// that memory stays bounded however many replicates there are.
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "talentsim/result.hpp"
#include "talentsim/results_file.hpp"

namespace talentsim::summaries {

// What the block buffers (values read back, percentiles to write) may hold.
// One time step of all replicates is read even when it needs more. Tests
// lower it to exercise several blocks.
//
// Chunks hold a replicate's whole time axis, so each block decompresses
// every chunk of headcount and star_power again: the blocks are passes over
// the data, ceil(T / steps_per_block) of them, about R * T * (4 L K + 8 L)
// bytes / block_bytes. One pass up to ~1,750 replicates at T = 157, L = 12,
// K = 3; 13 passes at 20,000.
inline constexpr std::size_t kDefaultBlockBytes = std::size_t{64} << 20;
extern std::size_t block_bytes;

// The kSummaryQuantiles percentiles of `values` (reordered), by numpy's
// default method (type 7); NaN when `values` is empty or holds a NaN.
void percentiles(std::span<double> values, std::span<double, kSummaryQuantileCount> out);

// Time steps per block for `replicates` replicates of `shape`.
std::int64_t steps_per_block(std::int64_t replicates, const ResultShape& shape);

// Reads `headcount` and `star_power` (replicate, time, lab[, tier]) and
// writes the percentiles into `headcount_q`, `total_q` and `share_q`
// (quantile, time, lab[, tier]). `where` names the file (and group) in
// error messages.
void compute(hid_t headcount, hid_t star_power, hid_t headcount_q, hid_t total_q, hid_t share_q,
             std::int64_t replicates, const ResultShape& shape, const std::string& where);

}  // namespace talentsim::summaries
