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
#include <vector>

#include "talentsim/result.hpp"
#include "talentsim/results_file.hpp"

namespace talentsim::summaries {

// What the block buffers (values read back, percentiles to write) may hold.
// One time step of all replicates is read even when it needs more. Tests
// lower it to exercise several blocks.
//
// Chunks hold Tc time steps of Rc replicates, blocks are whole multiples of
// Tc steps and reads whole rows of Rc replicates, so each chunk of headcount
// and star_power is decompressed once over all the blocks. The writer makes
// Tc small enough for Tc steps of all replicates to fit 3/4 of the default
// cap (time_chunk_steps below): at T = 157, L = 13, K = 3, 16 steps up to
// ~3,000 replicates, then fewer (4 at 10,000). (3/4: whole chunks fill
// 12.5 MB of the cap at 1,000 replicates, so blocks of up to 12 MB keep the
// memory of the summaries from growing with the replicates.) Only when the
// cap is lowered or a file was written otherwise are blocks a divisor of
// Tc, each chunk then decompressed Tc / steps_per_block times: slower, but
// memory stays bounded. (With Tc = 16 at 10,000 replicates, blocks of 4
// steps made the commit 2.7 times as slow.)
inline constexpr std::size_t kDefaultBlockBytes = std::size_t{16} << 20;
extern std::size_t block_bytes;

// Chunks one HDF5 read of a block may touch (at least one row of chunks).
// HDF5 keeps some 6 kB of bookkeeping for every chunk a read touches (30 MB
// for one read of 5,000 chunks), so a block is read a few rows at a time.
// Tests lower it to exercise several reads.
inline constexpr std::size_t kDefaultChunksPerRead = 64;
extern std::size_t chunks_per_read;

// The kSummaryQuantiles percentiles of `values` (reordered), by numpy's
// default method (type 7); NaN when `values` is empty or holds a NaN.
void percentiles(std::span<double> values, std::span<double, kSummaryQuantileCount> out);

// The same for integers, by counting when their range is small (as that of
// a headcount across replicates is), else as doubles: the same results as
// percentiles() of the values converted to double, several times faster.
// `histogram` and `scratch` are working memory, kept between calls.
template <typename Int>
void integer_percentiles(std::span<const Int> values, std::vector<std::uint32_t>& histogram,
                         std::vector<double>& scratch,
                         std::span<double, kSummaryQuantileCount> out);

// The steps per chunk along time for a run of `replicates` replicates of
// `shape`: `preferred`, or fewer if that many steps of all the replicates
// would not fit 3/4 of kDefaultBlockBytes, so that the summaries decompress
// each chunk once.
std::int64_t time_chunk_steps(std::int64_t replicates, const ResultShape& shape,
                              std::int64_t preferred);

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
