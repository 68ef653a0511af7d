// libFuzzer target: --set. The input is split at newlines into --set
// arguments; each goes through parse_override and the valid ones are applied
// together, in order, to a fixed valid scenario (a copy of
// tests/data/every_key.yaml, which uses every key) by load_scenario_text.
// That exercises key-path resolution (keys, names, [i]), creation of missing
// keys and value parsing. Bad overrides must end in an InputError; an
// accepted result must be usable and load again from the text as run.
// Build and run: tests/fuzz/run.sh.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "fuzz_checks.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/scenario_loader.hpp"

using namespace talentsim;

namespace {

// A copy of tests/data/every_key.yaml.
const char* const kScenario =
    R"yaml(# A small scenario that uses every key of MODEL.md once. Numbers are
# illustrative only; the real scenarios live in the project's scenarios/.
name: every-key
description: Two labs, a pool and a spin-out; one of every event type.
start: 2026-01-01
end: 2027-01-01          # exclusive
step_days: 7
replicates: 200
seed: 42

tiers:                   # lowest first; the last one is the star tier
  - name: junior
    search_rate: 0.30    # market entries per year
    reputation: {median: 1.0, sigma: 0.5}
  - name: senior
    search_rate: 0.25
    reputation: {median: 5.0, sigma: 0.5}
  - name: star
    search_rate: 0.20
    reputation: {median: 40.0, sigma: 0.7}

tastes:                  # per-researcher weights ~ Normal(mean, sd)
  comp:     {mean: 1.0, sd: 0.3}
  prestige: {mean: 1.0, sd: 0.3}
  magnet:   {mean: 1.0, sd: 0.3}
  mission:  {mean: 0.5, sd: 0.5}
  openness: {mean: 0.3, sd: 0.3}

market:
  switching_cost: 2.0
  cliff_years: 1.0
  cliff_factor: 0.5
  comp_funding_elasticity: 0.1
  prestige_feedback: 2.0
  star_magnet: 0.5
  star_magnet_scale: 50.0
  peer_magnet: 2.0
  follow_prob: 0.15

network:
  degree: 6
  within_lab: 0.7

labs:
  - name: LabA
    headcount: {junior: 120, senior: 60, star: 5}
    comp: {junior: 500K, senior: "$1.5M", star: 10M}
    funding: 60B
    prestige: 1.0
    mission: 0.4
    openness: 0.2
    attrition: 1.3
    cliff_factor: 1.0    # no cliff at this lab
  - name: LabB
    headcount: {junior: 80, senior: 40, star: 3}
    comp: {junior: 450K, senior: 1.3M, star: 8M}
    funding: 30B
    prestige: 0.9
    mission: 0.9
    openness: 0.4
    capacity: 140
  - name: Outside
    headcount: {junior: 200, senior: 40, star: 2}
    comp: {junior: 200K, senior: 400K, star: 1M}
    prestige: 0.2
    mission: 0.6
    openness: 0.9
  - name: SpinOut
    open: false          # opens with a `found` event
    comp: {junior: 400K, senior: 1.2M, star: 5M}
    prestige: 0.6

researchers:
  - {name: Star One, tier: star, reputation: 200, lab: Outside}
  - {name: Star Two, tier: star, lab: LabA}
  - {name: Star Three, tier: star, reputation: 90}    # starts nowhere

events:
  - {date: 2026-02-01, type: move, researcher: Star One, lab: LabB}
  - {date: 2026-02-15, type: move, researcher: Star Three, lab: Outside}
  - {date: 2026-03-01, type: raise, lab: LabB, amount: 950B}
  - {date: 2026-04-01, type: comp, lab: LabA, factor: 1.3, tiers: [star]}
  - {date: 2026-05-01, type: prestige, lab: LabA, delta: 0.3}
  - {date: 2026-06-01, type: policy, lab: LabB, openness: 0.2, attrition: 1.2}
  - {date: 2026-07-01, type: poach, lab: LabA, count: 5, tiers: [star, senior], from: [LabB], offer_factor: 3.0}
  - {date: 2026-08-01, type: found, lab: SpinOut, founders: [Star Two]}
  - {date: 2026-11-01, type: close, lab: Outside}

questions:
  - id: labb_star_hires
    text: LabB makes 2 or more star hires between March and September
    metric: hires
    lab: LabB
    tiers: [star]
    window: [2026-03-01, 2026-09-30]
    at_least: 2
  - id: laba_from_labb
    metric: hires
    lab: LabA
    from: [LabB]
    window: [2026-01-01, 2026-12-31]
    at_least: 10
  - {id: labb_departures, metric: departures, lab: LabB, window: [2026-01-01, 2026-06-30], at_most: 20}
  - {id: labb_net, metric: net_flow, lab: LabB, window: [2026-01-01, 2026-12-31], at_least: 0}
  - {id: spinout_size, metric: headcount, lab: SpinOut, window: [2026-12-01, 2026-12-31], at_least: 5}
  - {id: labb_share, metric: share, lab: LabB, window: [2026-12-31, 2026-12-31], at_least: 0.3}
  - {id: two_at_spinout, metric: named_at, lab: SpinOut, researcher: Star Two, window: [2026-12-31, 2026-12-31], at_least: 1}
)yaml";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<Override> overrides;
  for (std::size_t begin = 0; begin <= input.size();) {
    std::size_t end = input.find('\n', begin);
    if (end == std::string::npos) end = input.size();
    const std::string argument = input.substr(begin, end - begin);
    begin = end + 1;
    try {
      overrides.push_back(parse_override(argument));
    } catch (const InputError& e) {
      fuzz::check_input_error(e);
    } catch (const std::exception& e) {
      fuzz::other_exception(e);
    }
  }
  if (overrides.empty()) return 0;
  const auto s = fuzz::load_or_refuse(
      [&] { return load_scenario_text(kScenario, "every_key.yaml", overrides); });
  if (!s) return 0;
  fuzz::check_valid(*s);
  fuzz::check_round_trip(*s);
  return 0;
}
