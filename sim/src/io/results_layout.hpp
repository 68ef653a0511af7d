// The layout of a talentsim results file, shared by the writer and the
// reader so that the two cannot drift apart. Bump kFileFormatVersion
// (sim/src/version.hpp.in) whenever anything here changes incompatibly.
//
// A run (a run file's root, or one group of a comparison file) holds:
// - coordinates, each a dimension scale: replicate, time, lab, tier, named,
//   from_lab, to_lab, question, quantile;
// - auxiliary coordinates of the questions (kQuestionVariables);
// - per-replicate data (kVariables), chunked by kReplicateChunk replicates
//   and, for those on time, by kTimeChunkSteps steps (see below);
// - distribution summaries across replicates (kSummaryVariables).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "talentsim/result.hpp"
#include "talentsim/results_file.hpp"

namespace talentsim::layout {

inline constexpr const char* kFileType = "talentsim-run";
inline constexpr const char* kCompareFileType = "talentsim-compare";
inline constexpr const char* kTitle = "talentsim results";
inline constexpr const char* kCompareTitle = "talentsim comparison";
// A parameter sweep's file (sweep_file.cpp): its own layout, with the run
// file's conventions, coordinates and file_format_version.
inline constexpr const char* kSweepFileType = "talentsim-sweep";
inline constexpr const char* kSweepTitle = "talentsim sweep";
inline constexpr const char* kConventions = "CF-1.8";

// Dimensions, in the order their coordinate variables are created (which,
// with creation order tracked, is also the order netCDF readers list them).
enum class Dim { replicate, time, lab, tier, named, from_lab, to_lab, question, quantile };
inline constexpr std::array kDims = {Dim::replicate, Dim::time,     Dim::lab,
                                     Dim::tier,      Dim::named,    Dim::from_lab,
                                     Dim::to_lab,    Dim::question, Dim::quantile};

constexpr const char* dim_name(Dim d) {
  switch (d) {
    case Dim::replicate:
      return "replicate";
    case Dim::time:
      return "time";
    case Dim::lab:
      return "lab";
    case Dim::tier:
      return "tier";
    case Dim::named:
      return "named";
    case Dim::from_lab:
      return "from_lab";
    case Dim::to_lab:
      return "to_lab";
    case Dim::question:
      return "question";
    case Dim::quantile:
      return "quantile";
  }
  return "";
}

constexpr std::int64_t dim_length(Dim d, std::int64_t replicates, const ResultShape& s) {
  switch (d) {
    case Dim::replicate:
      return replicates;
    case Dim::time:
      return s.steps;
    case Dim::lab:
    case Dim::from_lab:
    case Dim::to_lab:
      return s.labs;
    case Dim::tier:
      return s.tiers;
    case Dim::named:
      return s.named;
    case Dim::question:
      return s.questions;
    case Dim::quantile:
      return kSummaryQuantileCount;
  }
  return 0;
}

// One data variable: its dimensions (the first is always `replicate`), its
// element type and where its values live in a ReplicateResult. Exactly one
// of `ints` and `reals` is set.
struct Variable {
  const char* name;
  int rank;
  std::array<Dim, 4> dims;
  std::vector<std::int32_t> ReplicateResult::*ints;
  std::vector<double> ReplicateResult::*reals;
  const char* long_name;
  const char* description;
  const char* units;        // nullptr: no units attribute
  const char* coordinates;  // nullptr: no CF coordinates attribute
  // Added after files of this format version were written: a file without
  // it is read as if it had the values every question of such a file had
  // (question_numerator = question_value, question_denominator = 1).
  bool added_later;
};

// Per-replicate variables are chunked (Rc, Tc, ...) when their second
// dimension is time, (Rc, ...) otherwise: Rc = replicate_chunk replicates
// (or R, if fewer) by Tc = time_chunk_steps steps (or T, if fewer; fewer
// still for runs of more than ~3,000 replicates, below) by all of the other
// dimensions. Chunks are compressed by shuffle + deflate.
//
// Why chunks of several replicates: the writer is the one thread that must
// keep up with all the simulating ones (issue 4), and a chunk costs a
// compressed stream (with its Huffman tables), an index entry and an HDF5
// call. The writer holds a few rows of Rc replicates in memory
// (results_file.cpp) and writes each chunk once, whole, compressed by its
// own encoder (deflate.hpp) and stored with H5Dwrite_chunk. Measured with
// sim/bench/bench_results_write (T = 157, L = 13, K = 3, 1,000 replicates in
// the completion order of 2 threads; median of 3-5 runs on a shared 2-core
// machine): CPU ms of the writer thread per replicate (write + its share of
// commit) and file bytes per replicate.
//   (1, 16), zlib level 4 by HDF5 (the layout before)    2.37 ms   31.3 kB
//   (1, 16), own encoder                                 1.72 ms   32.5 kB
//   (8, 16)                                              0.44 ms   26.1 kB
//   (16, 16)                                             0.37 ms   25.7 kB
//   (32, 16)  chosen                                     0.34 ms   25.4 kB
//   (64, 16)                                             0.36 ms   25.3 kB
//   (32, 8)                                              0.38 ms   25.9 kB
//   (32, 32)                                             0.31 ms   25.6 kB
// A row of 32 replicates is 3.1 MB at that shape, and about 3 rows are in
// progress at a time with 2 threads. Tc = 32 would save another 0.03 ms,
// but the summaries read whole chunks in blocks of at most 16 MiB: with
// Tc = 16, blocks take about as much memory at 1,000 replicates as at
// 10,000 (12.5 and 10.4 MB), with 32 much less at 1,000 (8.3 MB), and
// peak memory would grow with the replicates.
//
// Blocks of the summaries are aligned to Tc steps and read Rc replicates at
// a time, so each chunk is decompressed once (summaries.hpp); so that Tc
// steps of all the replicates fit a block, the writer takes a smaller Tc
// for runs of more than ~3,000 replicates (summaries::time_chunk_steps).
// Tests change these; readers, the summaries included, take the chunking
// from the file, so changing it needs no new file format version.
inline constexpr std::int64_t kTimeChunkSteps = 16;
inline std::int64_t time_chunk_steps = kTimeChunkSteps;
inline constexpr std::int64_t kReplicateChunk = 32;
inline std::int64_t replicate_chunk = kReplicateChunk;

// What the writer may hold of rows of replicates waiting for the rest of
// their row (at least two rows); past it, the row least recently written to
// is written as it is and completed later (see results_file.cpp). With 2
// threads about 3 rows are in progress; the cap matters only with many
// threads or an odd order. Tests lower it.
inline constexpr std::size_t kWriterBufferBytes = std::size_t{64} << 20;
inline std::size_t writer_buffer_bytes = kWriterBufferBytes;

inline constexpr const char* kQuestionCoordinates =
    "question_text question_metric question_lab question_at_least question_at_most";

inline constexpr std::array<Variable, 9> kVariables = {{
    {"headcount",
     4,
     {Dim::replicate, Dim::time, Dim::lab, Dim::tier},
     &ReplicateResult::headcount,
     nullptr,
     "headcount",
     "researchers at the lab, by tier, at the end of the step",
     "researchers",
     nullptr,
     false},
    {"hires",
     4,
     {Dim::replicate, Dim::time, Dim::lab, Dim::tier},
     &ReplicateResult::hires,
     nullptr,
     "hires",
     "researchers of the tier who moved into the lab during the step",
     "researchers",
     nullptr,
     false},
    {"departures",
     4,
     {Dim::replicate, Dim::time, Dim::lab, Dim::tier},
     &ReplicateResult::departures,
     nullptr,
     "departures",
     "researchers of the tier who moved out of the lab during the step",
     "researchers",
     nullptr,
     false},
    {"star_power",
     3,
     {Dim::replicate, Dim::time, Dim::lab},
     nullptr,
     &ReplicateResult::star_power,
     "star power",
     "star power S of the lab at the end of the step",
     "reputation",
     nullptr,
     false},
    {"named_lab",
     3,
     {Dim::replicate, Dim::time, Dim::named},
     &ReplicateResult::named_lab,
     nullptr,
     "employer of the named researcher",
     "index into the lab coordinate of the lab employing the named researcher at the end of the "
     "step; -1 when at no lab",
     nullptr,
     nullptr,
     false},
    {"flows",
     4,
     {Dim::replicate, Dim::from_lab, Dim::to_lab, Dim::tier},
     &ReplicateResult::flows,
     nullptr,
     "flows",
     "researchers of the tier who moved from from_lab to to_lab, summed over the whole run",
     "researchers",
     nullptr,
     false},
    {"question_value",
     2,
     {Dim::replicate, Dim::question},
     nullptr,
     &ReplicateResult::question_value,
     "value of the forecast question",
     "value of each forecast question in each replicate; the outcome is at_least <= value <= "
     "at_most",
     nullptr,
     kQuestionCoordinates,
     false},
    {"question_numerator",
     2,
     {Dim::replicate, Dim::question},
     nullptr,
     &ReplicateResult::question_numerator,
     "numerator of the forecast question's value",
     "question_value = question_numerator / question_denominator in each replicate. retention: "
     "the joins still at the lab `after` years later; flow_ratio: moves from the `from` labs "
     "into the lab; tenure: the researchers' tenure at the lab, summed, in years; any other "
     "metric: the value itself",
     nullptr,
     kQuestionCoordinates,
     true},
    {"question_denominator",
     2,
     {Dim::replicate, Dim::question},
     nullptr,
     &ReplicateResult::question_denominator,
     "denominator of the forecast question's value",
     "retention: the joins (the cohort); flow_ratio: moves from the lab to the `from` labs; "
     "tenure: the researchers counted; any other metric: 1. The value is NaN when this is 0 "
     "(+infinity for a flow ratio whose numerator is not 0); over replicates, a ratio pools as "
     "the sum of numerators over the sum of denominators",
     nullptr,
     kQuestionCoordinates,
     true},
}};

// Auxiliary coordinates on (question), from RunMetadata::questions. Exactly
// one of `text` and `real` is set.
struct QuestionVariable {
  const char* name;
  std::string QuestionInfo::*text;
  double QuestionInfo::*real;
  const char* long_name;
  const char* description;
};

inline constexpr std::array<QuestionVariable, 5> kQuestionVariables = {{
    {"question_text", &QuestionInfo::text, nullptr, "question", "the forecast question as asked"},
    {"question_metric", &QuestionInfo::metric, nullptr, "question metric",
     "what the question measures: hires, departures, net_flow, headcount, share, named_at, "
     "retention, flow_ratio or tenure"},
    {"question_lab", &QuestionInfo::lab, nullptr, "question lab", "the lab the question is about"},
    {"question_at_least", nullptr, &QuestionInfo::at_least, "lower bound",
     "the outcome requires value >= at_least; NaN when there is no lower bound"},
    {"question_at_most", nullptr, &QuestionInfo::at_most, "upper bound",
     "the outcome requires value <= at_most; NaN when there is no upper bound"},
}};

// Distribution summaries: float64 on (quantile, time, lab[, tier]).
inline constexpr const char* kQuantileMethod =
    "exact percentiles across all replicates by numpy's default method (type 7, linear "
    "interpolation): with the R values sorted ascending as x[0..R-1], h = (R - 1) * quantile, "
    "lo = floor(h), value = x[lo] + (h - lo) * (x[lo + 1] - x[lo]) (x[lo] when lo = R - 1); NaN "
    "when any replicate's value is NaN or there are no replicates";

struct SummaryVariable {
  const char* name;
  int rank;
  std::array<Dim, 4> dims;
  const char* long_name;
  const char* description;
  const char* units;
};

enum class Summary { headcount, total_headcount, share };

inline constexpr std::array<SummaryVariable, 3> kSummaryVariables = {{
    {"headcount_quantiles",
     4,
     {Dim::quantile, Dim::time, Dim::lab, Dim::tier},
     "headcount percentiles",
     "headcount: researchers at the lab, by tier, at the end of the step",
     "researchers"},
    {"total_headcount_quantiles",
     3,
     {Dim::quantile, Dim::time, Dim::lab},
     "total headcount percentiles",
     "total headcount: researchers at the lab, all tiers, at the end of the step",
     "researchers"},
    {"share_quantiles",
     3,
     {Dim::quantile, Dim::time, Dim::lab},
     "star-power share percentiles",
     "share of star power: star_power of the lab / star_power summed over labs (in lab order) at "
     "the end of the step, 0 when that sum is 0",
     "1"},
}};

}  // namespace talentsim::layout
