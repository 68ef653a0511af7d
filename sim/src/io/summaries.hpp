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
// Chunks hold Tc time steps of one replicate (layout::time_chunk_steps), and
// blocks are whole multiples of Tc steps, so each chunk of headcount and
// star_power is decompressed once over all the blocks. Only when Tc steps of
// all replicates exceed the cap (at T = 157, L = 10, K = 3 and Tc = 16,
// beyond ~5,200 replicates) are blocks a divisor of Tc, each chunk then
// decompressed Tc / steps_per_block times: slower, but memory stays bounded.
inline constexpr std::size_t kDefaultBlockBytes = std::size_t{16} << 20;
extern std::size_t block_bytes;

// Chunks one HDF5 read of a block may touch. HDF5 keeps some 6 kB of
// bookkeeping for every chunk a read touches (30 MB for one read of 5,000
// replicates), so a block is read a few replicates at a time. Tests lower it
// to exercise several reads.
inline constexpr std::size_t kDefaultChunksPerRead = 64;
extern std::size_t chunks_per_read;

// The kSummaryQuantiles percentiles of `values` (reordered), by numpy's
// default method (type 7); NaN when `values` is empty or holds a NaN.
void percentiles(std::span<double> values, std::span<double, kSummaryQuantileCount> out);

// Time steps per block for `replicates` replicates of `shape` whose time
// axis is chunked `chunk_steps` steps at a time: a multiple of chunk_steps
// (or all the steps), else a divisor of it, and at least 1.
std::int64_t steps_per_block(std::int64_t replicates, const ResultShape& shape,
                             std::int64_t chunk_steps = 1);

// Reads `headcount` and `star_power` (replicate, time, lab[, tier]) and
// writes the percentiles into `headcount_q`, `total_q` and `share_q`
// (quantile, time, lab[, tier]); blocks follow the chunking of `headcount`.
// `where` names the file (and group) in error messages.
void compute(hid_t headcount, hid_t star_power, hid_t headcount_q, hid_t total_q, hid_t share_q,
             std::int64_t replicates, const ResultShape& shape, const std::string& where);

}  // namespace talentsim::summaries
