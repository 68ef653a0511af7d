#include "summaries.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "hdf5_support.hpp"

namespace talentsim::summaries {

std::size_t block_bytes = kDefaultBlockBytes;
std::size_t chunks_per_read = kDefaultChunksPerRead;

void percentiles(std::span<double> values, std::span<double, kSummaryQuantileCount> out) {
  const bool any_nan =
      std::any_of(values.begin(), values.end(), [](double v) { return std::isnan(v); });
  if (values.empty() || any_nan) {
    std::fill(out.begin(), out.end(), std::numeric_limits<double>::quiet_NaN());
    return;
  }
  // The order statistics needed, x[lo] and x[lo + 1] of each percentile,
  // found in ascending order by selection (the same values a full sort would
  // put there, in linear rather than n log n time).
  const std::size_t n = values.size();
  std::array<double, kSummaryQuantileCount> h{};
  std::array<std::size_t, 2 * kSummaryQuantileCount> ranks{};
  for (int i = 0; i < kSummaryQuantileCount; ++i) {
    h[std::size_t(i)] = double(n - 1) * kSummaryQuantiles[i];
    const std::size_t lo = std::size_t(std::floor(h[std::size_t(i)]));
    ranks[2 * std::size_t(i)] = lo;
    ranks[2 * std::size_t(i) + 1] = std::min(lo + 1, n - 1);
  }
  std::sort(ranks.begin(), ranks.end());
  auto first = values.begin();
  for (const std::size_t rank : ranks) {
    const auto nth = values.begin() + std::ptrdiff_t(rank);
    if (nth < first) continue;  // already in place
    std::nth_element(first, nth, values.end());
    first = nth + 1;
  }
  for (int i = 0; i < kSummaryQuantileCount; ++i) {
    const double lo = std::floor(h[std::size_t(i)]);
    const std::size_t j = std::size_t(lo);
    out[std::size_t(i)] =
        j + 1 < n ? values[j] + (h[std::size_t(i)] - lo) * (values[j + 1] - values[j]) : values[j];
  }
}

namespace {

// Bytes a block needs per time step: the values read back for every
// replicate and the percentiles computed from them.
std::size_t bytes_per_step(std::int64_t replicates, const ResultShape& s) {
  const std::size_t lk = std::size_t(s.labs) * std::size_t(s.tiers);
  const std::size_t l = std::size_t(s.labs);
  const std::size_t read =
      std::size_t(replicates) * (lk * sizeof(std::int32_t) + l * sizeof(double));
  const std::size_t written = std::size_t(kSummaryQuantileCount) * (lk + 2 * l) * sizeof(double);
  return read + written;
}

// The extent along time (the second dimension) of the chunks of `dataset`;
// 0 when it is not chunked.
std::int64_t time_chunk(hid_t dataset, const std::string& context) {
  h5::Handle dcpl = h5::check_plist(H5Dget_create_plist(dataset), context);
  if (H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return 0;
  std::array<hsize_t, 4> chunk{};
  const int rank = H5Pget_chunk(dcpl.get(), int(chunk.size()), chunk.data());
  if (rank < 0) h5::fail(context);
  return rank >= 2 ? std::int64_t(chunk[1]) : 0;
}

}  // namespace

std::int64_t steps_per_block(std::int64_t replicates, const ResultShape& shape,
                             std::int64_t chunk_steps) {
  const std::size_t per_step = bytes_per_step(replicates, shape);
  const std::int64_t steps = std::max(shape.steps, 1);
  const std::int64_t fit = std::clamp<std::int64_t>(
      per_step == 0 ? steps : std::int64_t(block_bytes / per_step), 1, steps);
  if (fit == steps) return steps;
  const std::int64_t chunk = std::clamp<std::int64_t>(chunk_steps, 1, steps);
  if (fit < chunk) {
    // Part of a chunk: the most steps that divide it, so that no block
    // straddles two chunks.
    std::int64_t b = fit;
    while (chunk % b != 0) --b;
    return b;
  }
  // Whole chunks, as many blocks as needed, each of as equal a number of
  // chunks as may be (the last may be smaller, and end in a partial chunk).
  const std::int64_t chunks = (steps + chunk - 1) / chunk;
  const std::int64_t blocks = (chunks + fit / chunk - 1) / (fit / chunk);
  return std::min(steps, (chunks + blocks - 1) / blocks * chunk);
}

void compute(hid_t headcount, hid_t star_power, hid_t headcount_q, hid_t total_q, hid_t share_q,
             std::int64_t replicates, const ResultShape& s, const std::string& where) {
  constexpr std::size_t Q = kSummaryQuantileCount;
  const std::size_t R = std::size_t(replicates);
  const std::size_t L = std::size_t(s.labs);
  const std::size_t K = std::size_t(s.tiers);
  const std::string read_context =
      fmt::format("cannot read back the results in {} to summarize them", where);
  const std::string write_context =
      fmt::format("cannot write the distribution summaries to {}", where);
  const std::int64_t chunk = time_chunk(headcount, read_context);
  const std::int64_t block = steps_per_block(replicates, s, chunk);
  // Chunks of each replicate a block touches (blocks are aligned to chunks)
  // and so replicates per read.
  const std::int64_t chunks_per_block = chunk > 0 ? (block + chunk - 1) / chunk : 1;
  const std::size_t replicates_per_read =
      std::max<std::size_t>(1, chunks_per_read / std::size_t(chunks_per_block));

  std::vector<std::int32_t> counts(R * std::size_t(block) * L * K);
  std::vector<double> powers(R * std::size_t(block) * L);
  std::vector<double> out_headcount(Q * std::size_t(block) * L * K);
  std::vector<double> out_total(Q * std::size_t(block) * L);
  std::vector<double> out_share(Q * std::size_t(block) * L);
  std::vector<double> column(R), totals(R);
  std::array<double, Q> p{};

  for (std::int64_t first = 0; first < s.steps; first += block) {
    const std::size_t B = std::size_t(std::min<std::int64_t>(block, s.steps - first));
    for (std::size_t r0 = 0; r0 < R; r0 += replicates_per_read) {
      const std::size_t n = std::min(replicates_per_read, R - r0);
      const std::array<hsize_t, 4> start = {r0, hsize_t(first), 0, 0};
      const std::array<hsize_t, 4> count = {n, B, L, K};
      h5::read_block(headcount, H5T_NATIVE_INT32, start, count, counts.data() + r0 * B * L * K,
                     read_context);
      h5::read_block(star_power, H5T_NATIVE_DOUBLE, std::span(start).first(3),
                     std::span(count).first(3), powers.data() + r0 * B * L, read_context);
    }

    // counts[r][b][l][k], powers[r][b][l]; out_*[q][b][l][k].
    for (std::size_t b = 0; b < B; ++b) {
      for (std::size_t r = 0; r < R; ++r) {
        double sum = 0;
        for (std::size_t l = 0; l < L; ++l) sum += powers[(r * B + b) * L + l];
        totals[r] = sum;
      }
      for (std::size_t l = 0; l < L; ++l) {
        for (std::size_t k = 0; k < K; ++k) {
          for (std::size_t r = 0; r < R; ++r) column[r] = counts[((r * B + b) * L + l) * K + k];
          percentiles(column, p);
          for (std::size_t q = 0; q < Q; ++q) out_headcount[((q * B + b) * L + l) * K + k] = p[q];
        }
        for (std::size_t r = 0; r < R; ++r) {
          std::int64_t sum = 0;
          for (std::size_t k = 0; k < K; ++k) sum += counts[((r * B + b) * L + l) * K + k];
          column[r] = double(sum);
        }
        percentiles(column, p);
        for (std::size_t q = 0; q < Q; ++q) out_total[(q * B + b) * L + l] = p[q];
        for (std::size_t r = 0; r < R; ++r) {
          column[r] = totals[r] == 0 ? 0.0 : powers[(r * B + b) * L + l] / totals[r];
        }
        percentiles(column, p);
        for (std::size_t q = 0; q < Q; ++q) out_share[(q * B + b) * L + l] = p[q];
      }
    }

    const std::array<hsize_t, 4> out_start = {0, hsize_t(first), 0, 0};
    const std::array<hsize_t, 4> out_count = {Q, B, L, K};
    h5::write_block(headcount_q, H5T_NATIVE_DOUBLE, out_start, out_count, out_headcount.data(),
                    write_context);
    h5::write_block(total_q, H5T_NATIVE_DOUBLE, std::span(out_start).first(3),
                    std::span(out_count).first(3), out_total.data(), write_context);
    h5::write_block(share_q, H5T_NATIVE_DOUBLE, std::span(out_start).first(3),
                    std::span(out_count).first(3), out_share.data(), write_context);
  }
}

}  // namespace talentsim::summaries
