// Sweep files: YAML describing a base scenario, an experiment design and
// the parameters it varies. Validated like scenarios: every problem is
// reported with file:line:column, key path, what was expected and a hint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "talentsim/scenario.hpp"
#include "talentsim/scenario_loader.hpp"
#include "talentsim/sweep.hpp"

namespace talentsim {

struct SweepSpec {
  std::string text;            // the sweep file's contents
  std::string name;            // `name:`, else the file's stem
  std::filesystem::path base;  // the base scenario, resolved against the sweep file
  std::string base_text;       // its contents, read once: every point starts from them
  DesignKind design = DesignKind::Grid;
  std::size_t samples = 0;      // random, lhs, sobol
  std::int64_t replicates = 0;  // per point
  std::uint64_t seed = 0;
  std::vector<SweepParameter> parameters;
  bool full = false;     // `output: full`: per-step arrays too
  int bootstrap = 1000;  // Sobol: bootstrap resamples for the intervals
};

// Reads and checks a sweep file, its base scenario and every point of its
// design (each point's scenario must load and have the base's labs, tiers,
// questions and steps). Returns the spec, the base scenario as loaded and
// the design. Throws InputError listing every problem found.
struct LoadedSweep {
  SweepSpec spec;
  Scenario base;
  SweepDesign design;
  std::vector<Diagnostic> warnings;  // keys accepted but ignored, in the file or its base
};
LoadedSweep load_sweep_file(const std::filesystem::path& path);

// The --set overrides that make point `point` of the design.
std::vector<Override> point_overrides(const SweepSpec& spec, const SweepDesign& design,
                                      std::size_t point);

// A point's scenario: the base text with the point's overrides.
Scenario load_point(const SweepSpec& spec, const SweepDesign& design, std::size_t point);

}  // namespace talentsim
