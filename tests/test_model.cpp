// The model against MODEL.md: closed forms within 4 standard errors, each
// event type, conservation, capacity, and determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "talentsim/rng.hpp"
#include "test_util.hpp"

namespace talentsim::test {
namespace {

Scenario scenario(const std::string& text) { return load_scenario_text(text, "test.yaml"); }

std::int64_t total(const std::vector<std::int32_t>& v, const ReplicateResult& r, int t, int lab) {
  std::int64_t s = 0;
  for (int k = 0; k < r.shape.tiers; ++k) s += v[r.tlk(t, lab, k)];
  return s;
}

// ---------------------------------------------------------------------------
// Market entry: P(enter in a step) = 1 - exp(-rate * D / 365.25), with the
// lab's attrition multiplier and the cliff factor for tenure < cliff.

TEST(ClosedForm, MarketEntryProbabilityWithAttritionAndCliff) {
  // Anyone at A who enters the market leaves for B (B's prestige is 60
  // higher and switching is free), so departures from A count entries.
  const Scenario s = scenario(R"(
name: entry
start: 2026-01-01
end: 2026-01-08
tiers: [{name: r, search_rate: 2.0, reputation: {median: 1, sigma: 0}}]
tastes: {prestige: {mean: 1, sd: 0}}
market: {cliff_years: 1.0, cliff_factor: 0.25}
labs:
  - {name: A, headcount: {r: 20000}, comp: {r: 1}, attrition: 1.5}
  - {name: B, comp: {r: 1}, prestige: 60}
)");
  const Model model(s);
  const int R = 20;
  const double rate = 2.0 * 1.5, D = 7;
  const double p_after = 1 - std::exp(-rate * D / 365.25);
  const double p_before = 1 - std::exp(-0.25 * rate * D / 365.25);
  // Tenure is uniform on 0..207 steps; the cliff is 52.18 steps, so tenures
  // 0..52 (53 of 208) are before it.
  const double n_span = std::floor(4 * 365.25 / D);
  const double before = 53 / n_span;
  const double p = before * p_before + (1 - before) * p_after;
  MeanSe share;
  for (const auto& r : run_all(model, R, 5)) share.add(total(r.departures, r, 0, 0) / 20000.0);
  const double se = std::sqrt(p * (1 - p) / (20000.0 * R));
  EXPECT_NEAR(share.mean(), p, 4 * se) << "expected " << p;
  // And the cliff matters: the rate without it is clearly different.
  EXPECT_GT(std::abs(p_after - p), 10 * se);
}

// Entry over many steps: tenures cross the cliff while the run goes and a
// policy changes the lab's attrition and cliff factor at step 10, so every
// researcher's per-step entry probability changes at known times. Everyone
// who enters leaves A for good, so the departures of step t are
//   E[dep_t] / N = mean over tau0 of  prod_{s<t} (1 - p(tau0 + s, s)) * p(tau0 + t, t),
// with tau0 uniform on 0..207 and p(tau, t) from the rates in force at t.
TEST(ClosedForm, MarketEntryOverManyStepsFollowsTheCliffAndPolicyChanges) {
  const Scenario s = scenario(R"(
name: entry_clock
start: 2026-01-01
end: 2026-07-30
tiers: [{name: r, search_rate: 2.0, reputation: {median: 1, sigma: 0}}]
tastes: {prestige: {mean: 1, sd: 0}}
market: {cliff_years: 1.0, cliff_factor: 0.25}
labs:
  - {name: A, headcount: {r: 20000}, comp: {r: 1}, attrition: 1.5}
  - {name: B, comp: {r: 1}, prestige: 60, attrition: 0.01}
events:
  - {date: 2026-03-12, type: policy, lab: A, attrition: 4.0, cliff_factor: 0.05}
)");
  const Model model(s);
  const int T = s.steps, R = 10, N = 20000;
  ASSERT_EQ(T, 30);
  const double D = 7, cliff = 365.25 / D;
  auto p = [&](int tau, int t) {
    const double attrition = t < 10 ? 1.5 : 4.0, cliff_factor = t < 10 ? 0.25 : 0.05;
    const double rate = 2.0 * attrition * (tau < cliff ? cliff_factor : 1.0);
    return 1 - std::exp(-rate * D / 365.25);
  };
  const int span = static_cast<int>(std::floor(4 * 365.25 / D));
  std::vector<double> expected(T, 0.0);
  for (int tau0 = 0; tau0 < span; ++tau0) {
    double survive = 1;
    for (int t = 0; t < T; ++t) {
      expected[t] += survive * p(tau0 + t, t) / span;
      survive *= 1 - p(tau0 + t, t);
    }
  }
  std::vector<MeanSe> observed(T);
  for (const auto& r : run_all(model, R, 11))
    for (int t = 0; t < T; ++t) observed[t].add(total(r.departures, r, t, 0) / double(N));
  for (int t = 0; t < T; ++t) {
    const double e = expected[t], se = std::sqrt(e * (1 - e) / (double(N) * R));
    EXPECT_NEAR(observed[t].mean(), e, 4 * se) << "step " << t;
  }
  // The policy matters: the rate at step 10 jumps well beyond the noise.
  EXPECT_GT(expected[10] - expected[9], 20 * std::sqrt(expected[9] / (double(N) * R)));
}

// ---------------------------------------------------------------------------
// Logit choice with known utilities. Everyone at X is displaced by its
// closure at the first step; search rates are 0, so nobody else moves.

TEST(ClosedForm, LogitSharesMatchKnownUtilities) {
  const Scenario s = scenario(R"(
name: logit
start: 2026-01-01
end: 2026-01-08
tiers:
  - {name: junior, search_rate: 0, reputation: {median: 1, sigma: 0}}
  - {name: star, search_rate: 0, reputation: {median: 10, sigma: 0}}
tastes:
  comp: {mean: 1.0, sd: 0}
  prestige: {mean: 0.8, sd: 0}
  magnet: {mean: 1.0, sd: 0}
  mission: {mean: 0.5, sd: 0}
  openness: {mean: -1.0, sd: 0}
market:
  switching_cost: 3.0          # paid for every option: cancels out
  prestige_feedback: 2.0
  star_magnet: 0.7
  star_magnet_scale: 25
  comp_funding_elasticity: 0.5
labs:
  - {name: A, headcount: {star: 5}, comp: {junior: 100K, star: 1M}, prestige: 0.2,
     mission: 0.9, openness: 0.1, funding: 10B}
  - {name: B, comp: {junior: 150K, star: 1M}, prestige: 0.0, mission: 0.2, openness: 0.8}
  - {name: C, comp: {junior: 80K, star: 1M}, prestige: -0.3}
  - {name: X, headcount: {junior: 3000}, comp: {junior: 1, star: 1}}
events:
  - {date: 2026-01-01, type: raise, lab: A, amount: 30B}           # f = 4^0.5 = 2
  - {date: 2026-01-02, type: comp, lab: B, factor: 1.2, tiers: [junior]}
  - {date: 2026-01-03, type: prestige, lab: C, delta: 0.5}
  - {date: 2026-01-04, type: policy, lab: C, mission: 1.0, openness: 0.0}
  - {date: 2026-01-05, type: close, lab: X}
)");
  const Model model(s);
  // Star power: A = 5 * 10, X = 3000 * 1; shares of the total 3050.
  const double sA = 50.0 / 3050.0;
  const double vA = 1.0 * std::log(100e3 * 2.0) + 0.8 * (0.2 + 2.0 * sA) +
                    1.0 * 0.7 * std::log1p(50.0 / 25) + 0.5 * 0.9 - 1.0 * 0.1;
  const double vB = 1.0 * std::log(150e3 * 1.2) + 0.8 * 0.0 + 0.5 * 0.2 - 1.0 * 0.8;
  const double vC = 1.0 * std::log(80e3) + 0.8 * (-0.3 + 0.5) + 0.5 * 1.0 - 1.0 * 0.0;
  const double z = std::exp(vA) + std::exp(vB) + std::exp(vC);
  const double expected[3] = {std::exp(vA) / z, std::exp(vB) / z, std::exp(vC) / z};
  const int R = 20;
  MeanSe share[3];
  for (const auto& r : run_all(model, R, 9)) {
    EXPECT_EQ(total(r.departures, r, 0, 3), 3000);
    for (int l = 0; l < 3; ++l) share[l].add(total(r.hires, r, 0, l) / 3000.0);
  }
  for (int l = 0; l < 3; ++l) {
    const double se = std::sqrt(expected[l] * (1 - expected[l]) / (3000.0 * R));
    EXPECT_NEAR(share[l].mean(), expected[l], 4 * se) << "lab " << l;
  }
}

TEST(ClosedForm, OwnStarIsNotPartOfTheirOwnMagnet) {
  // One star alone at A, poached by B: Q'_A = Q_A - r = 0 for that star, so
  // V_A = 0 (own lab, no switching cost) against V_B = w_star ln(1 + 0) -
  // kappa + ln(offer). With kappa = ln(offer), P(move) = 1/2 exactly; were
  // the star's own reputation counted, A would win far more often.
  const Scenario s = scenario(R"(
name: ownstar
start: 2026-01-01
end: 2026-01-08
tiers: [{name: star, search_rate: 0, reputation: {median: 100, sigma: 0}}]
tastes: {comp: {mean: 1, sd: 0}, magnet: {mean: 1, sd: 0}}
market: {star_magnet: 2.0, star_magnet_scale: 10, switching_cost: 0.6931471805599453}
labs:
  - {name: A, headcount: {star: 1}, comp: {star: 1M}}
  - {name: B, comp: {star: 1M}}
events:
  - {date: 2026-01-01, type: poach, lab: B, count: 1, offer_factor: 2.0}
)");
  const Model model(s);
  const int R = 4000;
  MeanSe moved;
  for (const auto& r : run_all(model, R, 3)) moved.add(total(r.hires, r, 0, 1));
  EXPECT_NEAR(moved.mean(), 0.5, 4 * std::sqrt(0.25 / R));
}

// ---------------------------------------------------------------------------
// Events.

const char* kTwoLabs = R"(
name: events
start: 2026-01-01
end: 2026-03-01
tiers:
  - {name: junior, search_rate: 0, reputation: {median: 1, sigma: 0.3}}
  - {name: star, search_rate: 0, reputation: {median: 10, sigma: 0.3}}
tastes: {comp: {mean: 1, sd: 0}, prestige: {mean: 1, sd: 0}}
)";

TEST(Events, MoveRelocatesANamedResearcherAndCountsIt) {
  const Scenario s = scenario(std::string(kTwoLabs) + R"(
labs:
  - {name: A, headcount: {junior: 3}, comp: {junior: 1, star: 1}}
  - {name: B, comp: {junior: 1, star: 1}}
researchers:
  - {name: Ada, tier: star, lab: A, reputation: 50}
  - {name: Bo, tier: star}
events:
  - {date: 2026-01-20, type: move, researcher: Ada, lab: B}
  - {date: 2026-02-01, type: move, researcher: Bo, lab: A}
)");
  const Model model(s);
  const auto r = model.run(s.seed, 0);
  const int ada_step = s.step_of(*parse_iso_date("2026-01-20"));
  const int bo_step = s.step_of(*parse_iso_date("2026-02-01"));
  for (int t = 0; t < s.steps; ++t) {
    EXPECT_EQ(r.named_lab[r.tn(t, 0)], t < ada_step ? 0 : 1) << t;
    EXPECT_EQ(r.named_lab[r.tn(t, 1)], t < bo_step ? -1 : 0) << t;
    EXPECT_DOUBLE_EQ(r.star_power[r.tl(t, 1)], t < ada_step ? 0.0 : 50.0);
  }
  EXPECT_EQ(r.departures[r.tlk(ada_step, 0, 1)], 1);
  EXPECT_EQ(r.hires[r.tlk(ada_step, 1, 1)], 1);
  EXPECT_EQ(r.flows[r.flk(0, 1, 1)], 1);
  // Arriving from nowhere is a hire, but no flow between labs.
  EXPECT_EQ(r.hires[r.tlk(bo_step, 0, 1)], 1);
  EXPECT_EQ(total(r.headcount, r, s.steps - 1, 0), 4);
  EXPECT_EQ(std::accumulate(r.flows.begin(), r.flows.end(), 0), 1);
}

TEST(Events, PoachTakesTheHighestReputationsFromTheSourceLabs) {
  const Scenario s = scenario(std::string(kTwoLabs) + R"(
labs:
  - {name: A, headcount: {junior: 50}, comp: {junior: 100K, star: 1M}}
  - {name: B, comp: {junior: 100K, star: 1M}}
  - {name: C, headcount: {junior: 50}, comp: {junior: 100K, star: 1M}}
researchers:
  - {name: S1, tier: star, lab: A, reputation: 90}
  - {name: S2, tier: star, lab: A, reputation: 80}
  - {name: S3, tier: star, lab: A, reputation: 70}
  - {name: S4, tier: star, lab: C, reputation: 95}
events:
  - {date: 2026-02-01, type: poach, lab: B, count: 2, offer_factor: 1e9, tiers: [star], from: [A]}
)");
  const Model model(s);
  const int t = s.step_of(*parse_iso_date("2026-02-01"));
  for (const auto& r : run_all(model, 5, 2)) {
    // The offer (ln 1e9 ~ 20.7 utility) makes the two targets move for sure.
    EXPECT_EQ(r.named_lab[r.tn(t, 0)], 1);
    EXPECT_EQ(r.named_lab[r.tn(t, 1)], 1);
    EXPECT_EQ(r.named_lab[r.tn(t, 2)], 0);  // third-highest: not targeted
    EXPECT_EQ(r.named_lab[r.tn(t, 3)], 2);  // not in a source lab
    EXPECT_EQ(total(r.hires, r, t, 1), 2);
    EXPECT_EQ(std::accumulate(r.hires.begin(), r.hires.end(), 0), 2);
  }
}

TEST(Events, FoundOpensTheLabAndMovesFounders) {
  // N is the most attractive lab by far, but closed until founded.
  const Scenario s = scenario(std::string(kTwoLabs) + R"(
labs:
  - {name: A, headcount: {junior: 200}, comp: {junior: 100K, star: 1M}}
  - {name: N, comp: {junior: 100K, star: 1M}, prestige: 50, open: false}
researchers:
  - {name: Founder, tier: star, lab: A}
events:
  - {date: 2026-02-01, type: found, lab: N, founders: [Founder]}
  - {date: 2026-02-01, type: poach, lab: N, count: 1000, offer_factor: 1}
)");
  const Model model(s);
  const int t = s.step_of(*parse_iso_date("2026-02-01"));
  for (const auto& r : run_all(model, 5, 4)) {
    for (int u = 0; u < t; ++u) EXPECT_EQ(total(r.hires, r, u, 1), 0) << "hired before founding";
    EXPECT_EQ(r.named_lab[r.tn(t, 0)], 1);
    // Everyone at A was poached onto the market that step and chose N; the
    // founder, moved by the event, was not on the market.
    EXPECT_EQ(total(r.hires, r, t, 1), 201);
    EXPECT_EQ(total(r.headcount, r, t, 0), 0);
  }
}

TEST(Events, CloseDisplacesEveryoneAndRemovesTheLab) {
  const Scenario s = scenario(std::string(kTwoLabs) + R"(
labs:
  - {name: A, headcount: {junior: 100}, comp: {junior: 100K, star: 1M}, prestige: 50}
  - {name: B, headcount: {junior: 100}, comp: {junior: 100K, star: 1M}}
  - {name: C, comp: {junior: 100K, star: 1M}}
events:
  - {date: 2026-01-15, type: close, lab: A}
  - {date: 2026-02-01, type: poach, lab: C, count: 100, offer_factor: 1}
)");
  const Model model(s);
  const int t = s.step_of(*parse_iso_date("2026-01-15"));
  for (const auto& r : run_all(model, 5, 6)) {
    EXPECT_EQ(total(r.departures, r, t, 0), 100);
    for (int u = t; u < s.steps; ++u) {
      EXPECT_EQ(total(r.headcount, r, u, 0), 0);
      EXPECT_EQ(total(r.hires, r, u, 0), 0) << "a closed lab hired";
    }
  }
}

TEST(Events, FollowersOfAMoverEnterTheMarketNextStep) {
  // A holds the named researcher and one synthetic researcher whose only
  // tie must be to them. Search rates are 0: following is the only way in.
  auto make = [](double follow) {
    return scenario(std::string(kTwoLabs) + "market: {follow_prob: " + std::to_string(follow) +
                    "}\nnetwork: {degree: 1, within_lab: 1}\n" + R"(
labs:
  - {name: A, headcount: {junior: 1}, comp: {junior: 100K, star: 1M}}
  - {name: B, comp: {junior: 100K, star: 1M}, prestige: 50}
researchers:
  - {name: Leader, tier: star, lab: A}
events:
  - {date: 2026-01-10, type: move, researcher: Leader, lab: B}
)");
  };
  const Scenario s = make(1.0);
  const int t = s.step_of(*parse_iso_date("2026-01-10"));
  for (const auto& r : run_all(Model(s), 5, 8)) {
    EXPECT_EQ(r.hires[r.tlk(t, 1, 0)], 0) << "followers move the step after";
    EXPECT_EQ(r.hires[r.tlk(t + 1, 1, 0)], 1);
  }
  for (const auto& r : run_all(Model(make(0.0)), 5, 8))
    EXPECT_EQ(total(r.headcount, r, r.shape.steps - 1, 0), 1);
}

TEST(ClosedForm, FollowingWithSeveralMovedTies) {
  // Three leaders leave A at step t. Each of the 7 followers has 4 ties
  // drawn uniformly among the 9 others in A, so m, its ties to leaders
  // (duplicates count), is Binomial(4, 1/3); with every moved tie pulling
  // independently with probability f, it is on the market at t + 1 with
  // probability E[1 - (1 - f)^m] = 1 - (1 - f / 3)^4, and then leaves for B.
  const double f = 0.5;
  const Scenario s = scenario(std::string(kTwoLabs) + "market: {follow_prob: " + std::to_string(f) +
                              "}\nnetwork: {degree: 4, within_lab: 1}\n" + R"(
labs:
  - {name: A, headcount: {junior: 7}, comp: {junior: 100K, star: 1M}}
  - {name: B, comp: {junior: 100K, star: 1M}, prestige: 50}
researchers:
  - {name: L1, tier: star, lab: A}
  - {name: L2, tier: star, lab: A}
  - {name: L3, tier: star, lab: A}
events:
  - {date: 2026-01-10, type: move, researcher: L1, lab: B}
  - {date: 2026-01-10, type: move, researcher: L2, lab: B}
  - {date: 2026-01-10, type: move, researcher: L3, lab: B}
)");
  const int t = s.step_of(*parse_iso_date("2026-01-10"));
  const int R = 4000;
  MeanSe pulled;
  for (const auto& r : run_all(Model(s), R, 12)) pulled.add(r.hires[r.tlk(t + 1, 1, 0)] / 7.0);
  const double p = 1 - std::pow(1 - f / 3, 4);
  const double se = std::sqrt(p * (1 - p) / (7.0 * R));  // followers are independent given ties
  EXPECT_NEAR(pulled.mean(), p, 4 * se) << "expected " << p;
  // One pull per follower however many leaders it follows, f P(m >= 1),
  // would be far off.
  EXPECT_GT(std::abs(p - f * (1 - std::pow(2.0 / 3, 4))), 10 * se);
}

TEST(Events, PolicyChangesAttrition) {
  // After the policy event A's researchers search at 4x the rate.
  const Scenario s = scenario(R"(
name: policy
start: 2026-01-01
end: 2026-01-15
tiers: [{name: r, search_rate: 1.0, reputation: {median: 1, sigma: 0}}]
tastes: {prestige: {mean: 1, sd: 0}}
labs:
  - {name: A, headcount: {r: 20000}, comp: {r: 1}}
  - {name: B, comp: {r: 1}, prestige: 60}
events:
  - {date: 2026-01-08, type: policy, lab: A, attrition: 4.0}
)");
  const int R = 20;
  MeanSe first, second;
  for (const auto& r : run_all(Model(s), R, 12)) {
    first.add(total(r.departures, r, 0, 0) / 20000.0);
    second.add(total(r.departures, r, 1, 0) / static_cast<double>(total(r.headcount, r, 0, 0)));
  }
  const double p1 = 1 - std::exp(-1.0 * 7 / 365.25), p2 = 1 - std::exp(-4.0 * 7 / 365.25);
  EXPECT_NEAR(first.mean(), p1, 4 * std::sqrt(p1 * (1 - p1) / (20000.0 * R)));
  EXPECT_NEAR(second.mean(), p2, 4 * std::sqrt(p2 * (1 - p2) / (19000.0 * R)));
}

// ---------------------------------------------------------------------------
// Capacity.

TEST(Capacity, AdmitsAtMostTheFreePlacesAndSendsTheClosedLabsRejectsOn) {
  const Scenario s = scenario(R"(
name: capacity
start: 2026-01-01
end: 2026-01-08
tiers: [{name: r, search_rate: 0, reputation: {median: 1, sigma: 0}}]
tastes: {prestige: {mean: 1, sd: 0}}
labs:
  - {name: Full, headcount: {r: 10}, comp: {r: 1}, prestige: 50, capacity: 40}
  - {name: Fallback, comp: {r: 1}, prestige: -50}
  - {name: X, headcount: {r: 500}, comp: {r: 1}}
events:
  - {date: 2026-01-01, type: close, lab: X}
)");
  for (const auto& r : run_all(Model(s), 5, 1)) {
    EXPECT_EQ(total(r.hires, r, 0, 0), 30);   // 40 - 10 free places
    EXPECT_EQ(total(r.hires, r, 0, 1), 470);  // the rest: first open lab without a capacity
    EXPECT_EQ(total(r.headcount, r, 0, 2), 0);
  }
}

TEST(Capacity, NeverExceededWithoutForcedMoves) {
  std::string text = load_scenario_file(data_path("every_key.yaml")).source_text;
  // Drop the forced moves (they ignore capacity by design) but keep the rest.
  Scenario s = load_scenario_text(text, "every_key.yaml");
  std::erase_if(s.events, [](const Event& e) {
    return e.type == EventType::Move || e.type == EventType::Found;
  });
  s.labs[3].open = true;
  const Model model(s);
  const int capped = 1;  // LabB, capacity 140
  for (const auto& r : run_all(model, 50, 3))
    for (int t = 0; t < r.shape.steps; ++t)
      ASSERT_LE(total(r.headcount, r, t, capped), 140) << "step " << t;
}

// ---------------------------------------------------------------------------
// Conservation and determinism.

TEST(Invariants, ResearchersAreNeverCreatedOrLost) {
  const Scenario s = load_scenario_file(data_path("every_key.yaml"));
  const Model model(s);
  const auto population = static_cast<std::int64_t>(model.identities().size());
  for (const auto& r : run_all(model, 20, 77)) {
    std::vector<std::int64_t> previous(static_cast<std::size_t>(r.shape.labs) * r.shape.tiers);
    for (int l = 0; l < r.shape.labs; ++l)
      for (int k = 0; k < r.shape.tiers; ++k)
        previous[static_cast<std::size_t>(l) * r.shape.tiers + k] = s.labs[l].headcount[k];
    for (const auto& n : s.researchers)
      if (n.lab >= 0) ++previous[static_cast<std::size_t>(n.lab) * r.shape.tiers + n.tier];
    for (int t = 0; t < r.shape.steps; ++t) {
      std::int64_t in_labs = 0;
      for (int l = 0; l < r.shape.labs; ++l)
        for (int k = 0; k < r.shape.tiers; ++k) {
          const auto cell = static_cast<std::size_t>(l) * r.shape.tiers + k;
          const auto h = r.headcount[r.tlk(t, l, k)];
          ASSERT_EQ(h, previous[cell] + r.hires[r.tlk(t, l, k)] - r.departures[r.tlk(t, l, k)]);
          ASSERT_GE(h, 0);
          previous[cell] = h;
          in_labs += h;
        }
      std::int64_t nowhere = 0;
      for (int n = 0; n < r.shape.named; ++n) nowhere += r.named_lab[r.tn(t, n)] < 0;
      ASSERT_EQ(in_labs + nowhere, population) << "step " << t;
    }
  }
}

TEST(Invariants, BitIdenticalWithOneOrTwoThreads) {
  const Model model(load_scenario_file(data_path("every_key.yaml")));
  const auto one = run_all(model, 24, 42, 1);
  const auto two = run_all(model, 24, 42, 2);
  for (std::size_t r = 0; r < one.size(); ++r) expect_identical(one[r], two[r]);
}

TEST(Invariants, ReplicateDoesNotDependOnHowManyRun) {
  const Model model(load_scenario_file(data_path("every_key.yaml")));
  const auto few = run_all(model, 3, 42, 2);
  const auto many = run_all(model, 300, 42, 2);
  for (std::size_t r = 0; r < few.size(); ++r) expect_identical(few[r], many[r]);
  const auto alone = run_all(model, 1, 42, 1, 250);
  expect_identical(alone[0], many[250]);
  // Different replicates and seeds do differ.
  EXPECT_NE(many[0].flows, many[1].flows);
  EXPECT_NE(run_all(model, 1, 43, 1)[0].flows, many[0].flows);
}

TEST(Invariants, SameResearcherSeesTheSameDrawsInAWhatIf) {
  // Adding a lab and a researcher must not change anyone else's population
  // draws: streams are keyed by identity, not by position.
  const std::string base = tiny_scenario();
  const Scenario a = load_scenario_text(base, "a.yaml");
  const Scenario b = load_scenario_text(
      base + "  - {name: C, headcount: {junior: 5}, comp: {junior: 1, star: 1}}\n", "b.yaml");
  const Model ma(a), mb(b);
  const auto pa = ma.draw_population(7, 3), pb = mb.draw_population(7, 3);
  // Researchers of A and B come first in both, in the same order.
  for (std::size_t i = 0; i < pa.size(); ++i) {
    ASSERT_EQ(ma.identities()[i].who, mb.identities()[i].who);
    EXPECT_EQ(pa.reputation[i], pb.reputation[i]);
    EXPECT_EQ(pa.tastes[i].b[kComp], pb.tastes[i].b[kComp]);
    EXPECT_EQ(pa.tenure[i], pb.tenure[i]);
  }
}

TEST(Population, DrawsFollowTheTierDistributions) {
  const Scenario s = scenario(R"(
name: pop
start: 2026-01-01
end: 2026-01-08
tiers: [{name: r, search_rate: 0, reputation: {median: 5, sigma: 0.5}}]
tastes: {comp: {mean: 1.5, sd: 0.3}}
network: {degree: 4, within_lab: 0.75}
labs:
  - {name: A, headcount: {r: 20000}, comp: {r: 1}}
  - {name: B, headcount: {r: 20000}, comp: {r: 1}}
)");
  const Model model(s);
  const auto pop = model.draw_population(s.seed, 0);
  MeanSe log_rep, taste, tenure, within;
  for (std::size_t i = 0; i < pop.size(); ++i) {
    log_rep.add(std::log(pop.reputation[i]));
    taste.add(pop.tastes[i].b[kComp]);
    tenure.add(pop.tenure[i]);
    ASSERT_EQ(pop.degree(i), 4);
    for (auto t = pop.tie_begin[i]; t < pop.tie_begin[i + 1]; ++t) {
      ASSERT_NE(static_cast<std::size_t>(pop.ties[t]), i) << "no self-ties";
      within.add(model.identities()[pop.ties[t]].lab == model.identities()[i].lab);
    }
  }
  EXPECT_NEAR(log_rep.mean(), std::log(5.0), 4 * 0.5 / std::sqrt(40000.0));
  EXPECT_NEAR(log_rep.sd(), 0.5, 0.01);
  EXPECT_NEAR(taste.mean(), 1.5, 4 * 0.3 / std::sqrt(40000.0));
  EXPECT_NEAR(taste.sd(), 0.3, 0.006);
  // Uniform on 0..207: mean 103.5, sd sqrt((208^2 - 1) / 12).
  EXPECT_NEAR(tenure.mean(), 103.5, 4 * std::sqrt((208.0 * 208 - 1) / 12 / 40000));
  // Within-lab share: 0.75 directly, plus half of the other 0.25 by chance.
  const double p = 0.75 + 0.25 * 19999.0 / 39999.0;
  EXPECT_NEAR(within.mean(), p, 4 * std::sqrt(p * (1 - p) / 160000));
}

// The population draw takes its words in blocks and has branch-free fast
// paths for the common cases; here it must equal, bit for bit, the
// definition read straight off the streams: one WordStream per researcher
// for the six normals, one per researcher for the ties (word d for tie d,
// Lemire's rejection taking further words). The labs are large enough that
// ties whose index may be redrawn (probability about n / 2^32 each) and
// normals that need a second word both occur, a lab of one has no one to
// tie to within it, and a degree above 32 exceeds the precomputed words.
TEST(Population, DrawIsBitIdenticalToTheStreamsDefinition) {
  for (const int degree : {12, 40}) {
    const Scenario s = scenario(R"(
name: exact
start: 2026-01-01
end: 2026-01-08
seed: 99
tiers:
  - {name: r, search_rate: 0, reputation: {median: 5, sigma: 0.5}}
  - {name: s, search_rate: 0, reputation: {median: 20, sigma: 0.7}}
tastes: {comp: {mean: 1.5, sd: 0.3}, prestige: {mean: 0.2, sd: 0.1},
         magnet: {mean: 0.4, sd: 0.2}, mission: {mean: 0.1, sd: 0.05},
         openness: {mean: 0.3, sd: 0.15}}
network: {degree: )" + std::to_string(degree) +
                                R"(, within_lab: 0.6}
labs:
  - {name: A, headcount: {r: )" +
                                std::string(degree == 12 ? "30000" : "3000") +
                                R"(, s: 300}, comp: {r: 1, s: 2}}
  - {name: Solo, headcount: {r: 1}, comp: {r: 1, s: 2}}
  - {name: B, headcount: {r: 9000, s: 90}, comp: {r: 1, s: 2}}
)");
    const Model model(s);
    const auto& ids = model.identities();
    const std::int64_t replicate = 3;
    const Population pop = model.draw_population(s.seed, replicate);
    const Streams streams(s.seed, static_cast<std::uint64_t>(replicate));

    std::vector<std::vector<std::int32_t>> members(s.lab_count());
    std::vector<std::int32_t> everyone, in_lab(ids.size(), -1), in_all(ids.size(), -1);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i].lab < 0) continue;
      in_lab[i] = static_cast<std::int32_t>(members[ids[i].lab].size());
      members[ids[i].lab].push_back(static_cast<std::int32_t>(i));
      in_all[i] = static_cast<std::int32_t>(everyone.size());
      everyone.push_back(static_cast<std::int32_t>(i));
    }
    const auto threshold = static_cast<std::uint64_t>(std::llround(0.6 * 0x1.0p32));
    int long_normals = 0, redrawn = 0;
    ASSERT_EQ(pop.ties.size(), everyone.size() * static_cast<std::size_t>(degree));
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const Tier& tier = s.tiers[ids[i].tier];
      WordStream traits(streams, ids[i].who, Purpose::Traits);
      double z[6];
      for (double& x : z) x = standard_normal(traits);
      WordStream probe(streams, ids[i].who, Purpose::Traits);
      for (int w = 0; w < 6; ++w) probe.next();
      long_normals += probe.next() != traits.next();
      ASSERT_EQ(pop.reputation[i], tier.reputation_median * std::exp(tier.reputation_sigma * z[0]))
          << "researcher " << i;
      for (int k = 0; k < kMotiveCount; ++k)
        ASSERT_EQ(pop.tastes[i].b[k], s.tastes[k].mean + s.tastes[k].sd * z[1 + k])
            << "researcher " << i << " taste " << k;

      if (ids[i].lab < 0) continue;
      const auto& lab = members[ids[i].lab];
      WordStream words(streams, ids[i].who, Purpose::Ties);
      ASSERT_EQ(pop.degree(i), degree);
      for (int d = 0; d < degree; ++d) {
        const std::uint64_t w = words.next();
        const bool within = (w & 0xffffffffu) < threshold && lab.size() >= 2;
        const auto& set = within ? lab : everyone;
        const auto others = static_cast<std::uint32_t>(set.size() - 1);
        WordStream before = words;
        auto k = static_cast<std::int32_t>(
            uniform_below(others, static_cast<std::uint32_t>(w >> 32), words));
        WordStream after = words;
        redrawn += before.next() != after.next();
        k += k >= (within ? in_lab[i] : in_all[i]) ? 1 : 0;
        ASSERT_EQ(pop.ties[static_cast<std::size_t>(pop.tie_begin[i] + d)], set[k])
            << "researcher " << i << " tie " << d;
      }
    }
    // The slow paths were taken too (fixed seed: 3 redraws at each degree).
    EXPECT_GT(long_normals, 100) << "degree " << degree;
    EXPECT_GT(redrawn, 0) << "degree " << degree;
  }
}

}  // namespace
}  // namespace talentsim::test
