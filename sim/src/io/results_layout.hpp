// The layout of a talentsim results file, shared by the writer and the
// reader so that the two cannot drift apart. Bump kFileFormatVersion
// (sim/src/version.hpp.in) whenever anything here changes incompatibly.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "talentsim/result.hpp"

namespace talentsim::layout {

inline constexpr const char* kFileType = "talentsim-run";
inline constexpr const char* kTitle = "talentsim results";
inline constexpr const char* kConventions = "CF-1.8";

// Dimensions, in the order their coordinate variables are created (which,
// with creation order tracked, is also the order netCDF readers list them).
enum class Dim { replicate, time, lab, tier, named, from_lab, to_lab };
inline constexpr std::array kDims = {Dim::replicate, Dim::time,     Dim::lab,   Dim::tier,
                                     Dim::named,     Dim::from_lab, Dim::to_lab};

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
  const char* units;  // nullptr: no units attribute
};

inline constexpr std::array<Variable, 6> kVariables = {{
    {"headcount",
     4,
     {Dim::replicate, Dim::time, Dim::lab, Dim::tier},
     &ReplicateResult::headcount,
     nullptr,
     "headcount",
     "researchers at the lab, by tier, at the end of the step",
     "researchers"},
    {"hires",
     4,
     {Dim::replicate, Dim::time, Dim::lab, Dim::tier},
     &ReplicateResult::hires,
     nullptr,
     "hires",
     "researchers of the tier who moved into the lab during the step",
     "researchers"},
    {"departures",
     4,
     {Dim::replicate, Dim::time, Dim::lab, Dim::tier},
     &ReplicateResult::departures,
     nullptr,
     "departures",
     "researchers of the tier who moved out of the lab during the step",
     "researchers"},
    {"star_power",
     3,
     {Dim::replicate, Dim::time, Dim::lab},
     nullptr,
     &ReplicateResult::star_power,
     "star power",
     "star power S of the lab at the end of the step",
     "reputation"},
    {"named_lab",
     3,
     {Dim::replicate, Dim::time, Dim::named},
     &ReplicateResult::named_lab,
     nullptr,
     "employer of the named researcher",
     "index into the lab coordinate of the lab employing the named researcher at the end of the "
     "step; -1 when at no lab",
     nullptr},
    {"flows",
     4,
     {Dim::replicate, Dim::from_lab, Dim::to_lab, Dim::tier},
     &ReplicateResult::flows,
     nullptr,
     "flows",
     "researchers of the tier who moved from from_lab to to_lab, summed over the whole run",
     "researchers"},
}};

}  // namespace talentsim::layout
