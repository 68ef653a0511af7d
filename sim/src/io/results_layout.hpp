// The layout of a talentsim results file, shared by the writer and the
// reader so that the two cannot drift apart. Bump kFileFormatVersion
// (sim/src/version.hpp.in) whenever anything here changes incompatibly.
//
// A run (a run file's root, or one group of a comparison file) holds:
// - coordinates, each a dimension scale: replicate, time, lab, tier, named,
//   from_lab, to_lab, question, quantile;
// - auxiliary coordinates of the questions (kQuestionVariables);
// - per-replicate data (kVariables), chunked by replicate and, for those
//   on time, by kTimeChunkSteps steps (see below);
// - distribution summaries across replicates (kSummaryVariables).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "talentsim/result.hpp"
#include "talentsim/results_file.hpp"

namespace talentsim::layout {

inline constexpr const char* kFileType = "talentsim-run";
inline constexpr const char* kCompareFileType = "talentsim-compare";
inline constexpr const char* kTitle = "talentsim results";
inline constexpr const char* kCompareTitle = "talentsim comparison";
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
};

// Per-replicate variables whose second dimension is time are chunked
// (1, Tc, ...) with Tc = time_chunk_steps (or T, if smaller); the others one
// replicate per chunk. The summaries read blocks of time steps across all
// replicates; blocks aligned to Tc read only the chunks they need, each
// once, and need room for R * Tc steps (summaries.hpp). Each chunk costs a
// deflate stream (10-40 us, mostly building its Huffman codes) and an index
// entry, so a smaller Tc writes more slowly and makes bigger files: at
// T = 157, L = 10, K = 3 a replicate takes 0.6 ms to write with whole-
// replicate chunks, 1.0 ms with Tc = 32, 1.4 ms with 16 and 2.0 ms with 8,
// and files grow by about 11%, 23% and 44%. 16 keeps the summaries to one
// pass over the data up to ~5,200 replicates, twice as many as 32. Tests
// change time_chunk_steps; readers, the summaries included, take the
// chunking from the file, so changing it needs no new file format version.
inline constexpr std::int64_t kTimeChunkSteps = 16;
inline std::int64_t time_chunk_steps = kTimeChunkSteps;

inline constexpr const char* kQuestionCoordinates =
    "question_text question_metric question_lab question_at_least question_at_most";

inline constexpr std::array<Variable, 7> kVariables = {{
    {"headcount",
     4,
     {Dim::replicate, Dim::time, Dim::lab, Dim::tier},
     &ReplicateResult::headcount,
     nullptr,
     "headcount",
     "researchers at the lab, by tier, at the end of the step",
     "researchers",
     nullptr},
    {"hires",
     4,
     {Dim::replicate, Dim::time, Dim::lab, Dim::tier},
     &ReplicateResult::hires,
     nullptr,
     "hires",
     "researchers of the tier who moved into the lab during the step",
     "researchers",
     nullptr},
    {"departures",
     4,
     {Dim::replicate, Dim::time, Dim::lab, Dim::tier},
     &ReplicateResult::departures,
     nullptr,
     "departures",
     "researchers of the tier who moved out of the lab during the step",
     "researchers",
     nullptr},
    {"star_power",
     3,
     {Dim::replicate, Dim::time, Dim::lab},
     nullptr,
     &ReplicateResult::star_power,
     "star power",
     "star power S of the lab at the end of the step",
     "reputation",
     nullptr},
    {"named_lab",
     3,
     {Dim::replicate, Dim::time, Dim::named},
     &ReplicateResult::named_lab,
     nullptr,
     "employer of the named researcher",
     "index into the lab coordinate of the lab employing the named researcher at the end of the "
     "step; -1 when at no lab",
     nullptr,
     nullptr},
    {"flows",
     4,
     {Dim::replicate, Dim::from_lab, Dim::to_lab, Dim::tier},
     &ReplicateResult::flows,
     nullptr,
     "flows",
     "researchers of the tier who moved from from_lab to to_lab, summed over the whole run",
     "researchers",
     nullptr},
    {"question_value",
     2,
     {Dim::replicate, Dim::question},
     nullptr,
     &ReplicateResult::question_value,
     "value of the forecast question",
     "value of each forecast question in each replicate; the outcome is at_least <= value <= "
     "at_most",
     nullptr,
     kQuestionCoordinates},
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
     "what the question measures: hires, departures, net_flow, headcount, share or named_at"},
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
