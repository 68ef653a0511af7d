// Refusing, before it starts, a run whose estimated memory or disk
// (talentsim/resources.hpp) the machine does not have.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "talentsim/resources.hpp"

namespace talentsim::cli {

struct CapacityRequest {
  ResourceEstimate estimate;
  std::filesystem::path destination;  // its folder holds the journal and temporary file
  std::string input;                  // the scenario or sweep file, for the message
  std::string replicates_option;      // how to ask for fewer: "-r N" or "`replicates:`"
  std::string smaller_output;         // "" or how to shrink the output (sweeps)
  std::int64_t replicates = 0;        // of each part (point)
  int threads = 1;
};

// Throws InputError saying what would not fit, the estimate against what
// there is, and what to change. Memory is compared with MemAvailable and
// the address-space and data limits; disk with the free space of the
// destination's folder and the file size limit (ulimit -f).
void check_capacity(const CapacityRequest& request);

}  // namespace talentsim::cli
