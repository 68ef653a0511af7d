// libFuzzer target: load_scenario_text on arbitrary text. Bad input must end
// in an InputError whose diagnostics format; an accepted scenario must be
// usable by the engine, and, run with a --set, must load again from the text
// as run (what a results file keeps). Build and run: tests/fuzz/run.sh.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "fuzz_checks.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/scenario_loader.hpp"

using namespace talentsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto loaded = fuzz::load_or_refuse([&] { return load_scenario_text(text, "fuzz.yaml"); });
  if (!loaded) return 0;
  const Scenario& s = *loaded;
  fuzz::check_valid(s);
  FUZZ_CHECK(s.source_text == text, "source_text differs from the file without --set");
  // With a --set the loader re-emits the tree: that must load again.
  const Scenario set = fuzz::must_load(
      [&] { return load_scenario_text(text, "fuzz.yaml", {parse_override("seed=7")}); },
      "an accepted scenario is rejected with --set seed=7:");
  FUZZ_CHECK(set.seed == 7, "--set seed=7 was not applied");
  fuzz::check_same(s, set);
  fuzz::check_round_trip(set);
  return 0;
}
