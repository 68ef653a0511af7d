// The constants below were measured (peak RSS by /usr/bin/time -f %M, file
// sizes by ls) on scenarios/bench/frontier_25k.yaml scaled to 25k, 100k and
// 400k researchers, with 1 and 2 threads, release build, 2026-11-26:
//   - each simulating thread holds its replicate's population and state:
//     197 bytes per researcher at peer-tie degree 9 (8 bytes a tie, both
//     ends, plus about 125);
//   - the model itself holds about 40 bytes per researcher;
//   - the program, its libraries and HDF5 about 21 MB.
// Results files compress the per-replicate arrays to 0.26 of their raw size
// there (shuffle + deflate); 0.5 is assumed, for scenarios that compress
// less well.
#include "talentsim/resources.hpp"

#include <algorithm>

namespace talentsim {

namespace {

constexpr double kFixedBytes = 24e6;
constexpr double kModelBytesPerResearcher = 48;
constexpr double kThreadBytesPerResearcher = 128;
constexpr double kThreadBytesPerTie = 8;
constexpr double kCompressedShare = 0.5;
constexpr double kWriterBuffers = 64.0 * (1 << 20);  // results_layout.hpp
constexpr double kSummaryBlocks = 16.0 * (1 << 20);  // summaries.hpp

double researchers(const Scenario& s) {
  double n = static_cast<double>(s.researchers.size());
  for (const Lab& l : s.labs)
    for (const std::int64_t h : l.headcount) n += static_cast<double>(h);
  return n;
}

// The per-replicate arrays of one replicate, uncompressed (result.hpp).
double raw_replicate_bytes(const Scenario& s) {
  const double T = s.steps, L = s.lab_count(), K = s.tier_count(), N = s.named_count(),
               Q = static_cast<double>(s.questions.size());
  return 3 * T * L * K * 4 + T * L * 8 + T * N * 4 + L * L * K * 4 + Q * 8;
}

double simulating_bytes(const Scenario& s, int threads) {
  const double n = researchers(s);
  const double per_thread =
      n * (kThreadBytesPerResearcher + kThreadBytesPerTie * static_cast<double>(s.network.degree));
  // Finished replicates wait for the writer in a queue of 2 threads + 2.
  const double in_flight = (3.0 * threads + 2) * raw_replicate_bytes(s);
  return n * kModelBytesPerResearcher + threads * per_thread + in_flight;
}

}  // namespace

ResourceEstimate estimate_run(const std::vector<const Scenario*>& parts, int threads) {
  ResourceEstimate e;
  threads = std::max(threads, 1);
  double models = 0, biggest = 0;
  for (const Scenario* s : parts) {
    const double R = static_cast<double>(s->replicates);
    const double file = kCompressedShare * raw_replicate_bytes(*s);
    // The report keeps each replicate's end headcount and question values.
    const double kept = s->lab_count() * 4.0 + static_cast<double>(s->questions.size()) * 8;
    e.file_bytes += R * file;
    e.disk_per_replicate += file;
    e.memory_per_replicate += kept;
    models += R * kept + researchers(*s) * kModelBytesPerResearcher;
    biggest = std::max(biggest,
                       simulating_bytes(*s, threads) - researchers(*s) * kModelBytesPerResearcher);
  }
  // Both models live at once; parts run one after the other.
  e.memory_bytes = kFixedBytes + models + biggest + kWriterBuffers + kSummaryBlocks;
  e.journal_bytes = e.file_bytes;
  e.file_per_replicate = e.disk_per_replicate;
  e.disk_per_replicate *= 2;
  return e;
}

ResourceEstimate estimate_sweep(const Scenario& base, std::int64_t points, std::int64_t replicates,
                                bool full, int threads) {
  ResourceEstimate e;
  threads = std::max(threads, 1);
  const double P = static_cast<double>(points), R = static_cast<double>(replicates);
  const double summary =
      static_cast<double>(base.questions.size()) * 8 + base.lab_count() * base.tier_count() * 4.0;
  const double kept = full ? raw_replicate_bytes(base) : summary;
  const double stored = full ? kCompressedShare * raw_replicate_bytes(base) + summary : summary;
  // Points run in batches of at most 64, whose replicates are held until
  // their point is journalled; the journal keeps them uncompressed.
  const double batch = std::min<double>(P, 64);
  e.memory_bytes = kFixedBytes + batch * (R * kept + researchers(base) * kModelBytesPerResearcher) +
                   simulating_bytes(base, threads) + kSummaryBlocks;
  e.file_bytes = P * R * stored;
  e.journal_bytes = P * R * kept;
  e.memory_per_replicate = batch * kept;
  e.disk_per_replicate = P * (stored + kept);
  e.file_per_replicate = P * stored;
  return e;
}

}  // namespace talentsim
