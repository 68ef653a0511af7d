#include "summaries.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "hdf5_support.hpp"

namespace talentsim::summaries {

std::size_t block_bytes = kDefaultBlockBytes;
std::size_t chunks_per_read = kDefaultChunksPerRead;

namespace {

// Which order statistics the percentiles of n values need: x[lo] and
// x[lo + 1] of each, at h = (n - 1) * quantile, lo = floor(h).
struct Needed {
  std::array<double, kSummaryQuantileCount> h{};
  std::array<std::size_t, 2 * kSummaryQuantileCount> ranks{};   // lo, lo + 1 (capped) of each
  std::array<std::size_t, 2 * kSummaryQuantileCount> sorted{};  // the distinct ranks, ascending
  std::size_t distinct = 0;

  explicit Needed(std::size_t n) {
    for (int i = 0; i < kSummaryQuantileCount; ++i) {
      h[std::size_t(i)] = double(n - 1) * kSummaryQuantiles[i];
      const std::size_t lo = std::size_t(std::floor(h[std::size_t(i)]));
      ranks[2 * std::size_t(i)] = lo;
      ranks[2 * std::size_t(i) + 1] = std::min(lo + 1, n - 1);
    }
    sorted = ranks;
    std::sort(sorted.begin(), sorted.end());
    distinct = std::size_t(std::unique(sorted.begin(), sorted.end()) - sorted.begin());
  }

  // Where `rank` (one of `ranks`) is in `sorted`.
  std::size_t index(std::size_t rank) const {
    return std::size_t(
        std::lower_bound(sorted.begin(), sorted.begin() + std::ptrdiff_t(distinct), rank) -
        sorted.begin());
  }

  // The percentiles, from `at(rank)`: the value of the given rank.
  template <typename At>
  void interpolate(std::size_t n, At at, std::span<double, kSummaryQuantileCount> out) const {
    for (int i = 0; i < kSummaryQuantileCount; ++i) {
      const double lo = std::floor(h[std::size_t(i)]);
      const std::size_t j = std::size_t(lo);
      const double x = at(j);
      out[std::size_t(i)] = j + 1 < n ? x + (h[std::size_t(i)] - lo) * (at(j + 1) - x) : x;
    }
  }
};

// Puts the order statistics of ranks [rank, rank_end) of the values
// [first, last) (which hold ranks base.. of the whole) in their places:
// the middle one by selection, then those on either side of it within the
// values on that side, so each value takes part in about log2(ranks)
// selections rather than one per rank.
void select(double* first, double* last, const std::size_t* rank, const std::size_t* rank_end,
            std::size_t base) {
  if (rank == rank_end || first == last) return;
  const std::size_t* middle = rank + (rank_end - rank) / 2;
  double* nth = first + std::ptrdiff_t(*middle - base);
  std::nth_element(first, nth, last);
  select(first, nth, rank, middle, base);
  select(nth + 1, last, middle + 1, rank_end, *middle + 1);
}

void all_nan(std::span<double, kSummaryQuantileCount> out) {
  std::fill(out.begin(), out.end(), std::numeric_limits<double>::quiet_NaN());
}

}  // namespace

void percentiles(std::span<double> values, std::span<double, kSummaryQuantileCount> out) {
  if (values.empty()) return all_nan(out);
  const std::size_t n = values.size();
  double low = values[0], high = values[0];
  bool any_nan = false;
  for (const double v : values) {
    any_nan = any_nan || std::isnan(v);
    low = std::min(low, v);
    high = std::max(high, v);
  }
  if (any_nan) return all_nan(out);
  const Needed need(n);
  const double scale = double(n) / (high - low);
  if (n < 64 || !std::isfinite(scale) || scale <= 0) {
    // Few values, all equal, or infinities: the order statistics needed,
    // found by selection (the same values a full sort would put there, in
    // linear rather than n log n time).
    select(values.data(), values.data() + n, need.sorted.data(), need.sorted.data() + need.distinct,
           0);
    need.interpolate(
        n, [&](std::size_t rank) { return values[rank]; }, out);
    return;
  }
  // Many values: spread into n buckets by value (a monotone map, so bucket
  // b holds ranks first[b] .. first[b + 1] - 1), then select each rank
  // needed among the few values of its bucket: a few passes over the values
  // rather than a selection per rank, with its mispredicted branches.
  auto bucket_of = [&](double v) { return std::min(n - 1, std::size_t((v - low) * scale)); };
  thread_local std::vector<std::uint32_t> first;
  first.assign(n + 1, 0);
  for (const double v : values) ++first[bucket_of(v) + 1];
  for (std::size_t b = 0; b < n; ++b) first[b + 1] += first[b];
  // The buckets holding needed ranks, in order, each gathered once.
  std::array<std::size_t, 2 * kSummaryQuantileCount> bucket{};
  std::size_t buckets = 0;
  for (std::size_t i = 0; i < need.distinct; ++i) {
    const std::size_t b =
        std::size_t(std::upper_bound(first.begin(), first.end(), std::uint32_t(need.sorted[i])) -
                    first.begin()) -
        1;
    if (buckets == 0 || bucket[buckets - 1] != b) bucket[buckets++] = b;
  }
  // Each value of a bucket needed goes to its place in `gathered`, through
  // `next`, the next free place of its bucket (0 for the others; the places
  // count from 1).
  thread_local std::vector<double> gathered;
  thread_local std::vector<std::uint32_t> next;
  next.assign(n, 0);
  std::array<std::size_t, 2 * kSummaryQuantileCount + 1> start{};
  for (std::size_t i = 0; i < buckets; ++i) {
    start[i + 1] = start[i] + (first[bucket[i] + 1] - first[bucket[i]]);
    next[bucket[i]] = std::uint32_t(start[i] + 1);
  }
  gathered.resize(start[buckets] + 1);
  for (const double v : values) {
    std::uint32_t& place = next[bucket_of(v)];
    gathered[place] = v;  // gathered[0] takes the values of other buckets
    place += place != 0 ? 1 : 0;
  }
  gathered.erase(gathered.begin());
  std::array<double, 2 * kSummaryQuantileCount> at{};  // value of need.sorted[j]
  for (std::size_t i = 0, j = 0; i < buckets; ++i) {
    double* begin = gathered.data() + start[i];
    double* end = gathered.data() + start[i + 1];
    for (; j < need.distinct && need.sorted[j] < first[bucket[i] + 1]; ++j) {
      double* nth = begin + std::ptrdiff_t(need.sorted[j] - first[bucket[i]]);
      std::nth_element(begin, nth, end);
      at[j] = *nth;
    }
  }
  need.interpolate(
      n, [&](std::size_t rank) { return at[need.index(rank)]; }, out);
}

template <typename Int>
void integer_percentiles(std::span<const Int> values, std::vector<std::uint32_t>& histogram,
                         std::vector<double>& scratch,
                         std::span<double, kSummaryQuantileCount> out) {
  const std::size_t n = values.size();
  if (n == 0) return all_nan(out);
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  const std::int64_t min = *low;
  const std::uint64_t range = std::uint64_t(std::int64_t(*high) - min);
  if (range > 4 * std::uint64_t(n) + 4096) {
    scratch.assign(values.begin(), values.end());
    return percentiles(scratch, out);
  }
  // Counting: the ranks needed fall out of the running count.
  histogram.assign(std::size_t(range) + 1, 0);
  for (const Int v : values) ++histogram[std::size_t(std::int64_t(v) - min)];
  const Needed need(n);
  std::array<double, 2 * kSummaryQuantileCount> at{};  // value of need.sorted[i]
  std::size_t seen = 0, next = 0;
  for (std::size_t bin = 0; next < need.distinct; ++bin) {
    seen += histogram[bin];
    while (next < need.distinct && need.sorted[next] < seen)
      at[next++] = double(min + std::int64_t(bin));
  }
  need.interpolate(
      n, [&](std::size_t rank) { return at[need.index(rank)]; }, out);
}

template void integer_percentiles<std::int32_t>(std::span<const std::int32_t>,
                                                std::vector<std::uint32_t>&, std::vector<double>&,
                                                std::span<double, kSummaryQuantileCount>);
template void integer_percentiles<std::int64_t>(std::span<const std::int64_t>,
                                                std::vector<std::uint32_t>&, std::vector<double>&,
                                                std::span<double, kSummaryQuantileCount>);

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

// The extent of the chunks of `dataset` along replicates and time (the
// first two dimensions); {1, 0} when it is not chunked.
std::array<std::int64_t, 2> chunk_extent(hid_t dataset, const std::string& context) {
  h5::Handle dcpl = h5::check_plist(H5Dget_create_plist(dataset), context);
  if (H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return {1, 0};
  std::array<hsize_t, 4> chunk{};
  const int rank = H5Pget_chunk(dcpl.get(), int(chunk.size()), chunk.data());
  if (rank < 0) h5::fail(context);
  return {std::int64_t(chunk[0]), rank >= 2 ? std::int64_t(chunk[1]) : 0};
}

}  // namespace

namespace {

std::int64_t steps_that_fit(std::int64_t replicates, const ResultShape& shape, std::size_t bytes) {
  const std::size_t per_step = bytes_per_step(replicates, shape);
  const std::int64_t steps = std::max(shape.steps, 1);
  return std::clamp<std::int64_t>(per_step == 0 ? steps : std::int64_t(bytes / per_step), 1, steps);
}

}  // namespace

std::int64_t time_chunk_steps(std::int64_t replicates, const ResultShape& shape,
                              std::int64_t preferred) {
  const std::int64_t fit = steps_that_fit(replicates, shape, kDefaultBlockBytes / 4 * 3);
  const std::int64_t steps = std::max(shape.steps, 1);
  if (fit >= std::min(preferred, steps)) return std::clamp<std::int64_t>(preferred, 1, steps);
  // As many blocks of as equal a size as may be.
  const std::int64_t blocks = (steps + fit - 1) / fit;
  return (steps + blocks - 1) / blocks;
}

std::int64_t steps_per_block(std::int64_t replicates, const ResultShape& shape,
                             std::int64_t chunk_steps) {
  const std::int64_t steps = std::max(shape.steps, 1);
  const std::int64_t fit = steps_that_fit(replicates, shape, block_bytes);
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
  const auto [row, chunk] = chunk_extent(headcount, read_context);
  const std::int64_t block = steps_per_block(replicates, s, chunk);
  // Chunks of each row of replicates a block touches (blocks are aligned to
  // chunks), and so rows of replicates per read.
  const std::int64_t chunks_per_block = chunk > 0 ? (block + chunk - 1) / chunk : 1;
  const std::size_t replicates_per_read =
      std::max<std::size_t>(1, chunks_per_read / std::size_t(chunks_per_block)) *
      std::size_t(std::max<std::int64_t>(row, 1));

  std::vector<std::int32_t> counts(R * std::size_t(block) * L * K);
  std::vector<double> powers(R * std::size_t(block) * L);
  std::vector<double> out_headcount(Q * std::size_t(block) * L * K);
  std::vector<double> out_total(Q * std::size_t(block) * L);
  std::vector<double> out_share(Q * std::size_t(block) * L);
  // One step of one lab of every replicate: a column of replicates per
  // tier, their sum, and the lab's share. Gathered a lab at a time (the
  // values of one replicate and step are near each other, so the next lab
  // finds them in cache), these take memory for K + 2 values per replicate
  // whatever the number of labs.
  std::vector<std::int32_t> tier_counts(K * R);
  std::vector<std::int64_t> lab_totals(R);
  std::vector<double> shares(R), power_sums(R), scratch;
  std::vector<std::uint32_t> histogram;
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
        const double* w = powers.data() + (r * B + b) * L;
        double sum = 0;
        for (std::size_t l = 0; l < L; ++l) sum += w[l];
        power_sums[r] = sum;
      }
      for (std::size_t l = 0; l < L; ++l) {
        for (std::size_t r = 0; r < R; ++r) {
          const std::int32_t* c = counts.data() + ((r * B + b) * L + l) * K;
          std::int64_t total = 0;
          for (std::size_t k = 0; k < K; ++k) {
            tier_counts[k * R + r] = c[k];
            total += c[k];
          }
          lab_totals[r] = total;
          const double sum = power_sums[r];
          shares[r] = sum == 0 ? 0.0 : powers[(r * B + b) * L + l] / sum;
        }
        for (std::size_t k = 0; k < K; ++k) {
          integer_percentiles<std::int32_t>(std::span(tier_counts).subspan(k * R, R), histogram,
                                            scratch, p);
          for (std::size_t q = 0; q < Q; ++q) out_headcount[((q * B + b) * L + l) * K + k] = p[q];
        }
        integer_percentiles<std::int64_t>(lab_totals, histogram, scratch, p);
        for (std::size_t q = 0; q < Q; ++q) out_total[(q * B + b) * L + l] = p[q];
        percentiles(shares, p);
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
