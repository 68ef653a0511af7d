// The engine against an independent, plain implementation of MODEL.md
// (oracle_model.hpp), in distribution: small scenarios that together use
// every mechanism, run by both for many replicates, and every summary
// statistic's mean compared with a two-sample z test. The engine samples the
// model through shortcuts (waiting-time market entry, geometric follower
// walks, vectorised logit); the oracle draws it step by step as written, so
// a shortcut that changes the law shows up here as a shifted mean.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

#include "oracle_model.hpp"
#include "test_util.hpp"

namespace talentsim::test {
namespace {

struct Case {
  const char* name;
  const char* yaml;
  std::int64_t replicates;  // per implementation
};
// Failure messages name the scenario rather than dumping its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// Vesting cliff, per-lab cliff factors overriding the market's, lab
// attrition, and a mid-run policy that changes attrition and the cliff factor.
// step_days 10: the cliff is 18.26 steps (tenure 0..18 before it), tenure
// is uniform on 0..145.
constexpr const char* kCliffPolicy = R"(
name: cliff-policy
start: 2026-01-01
end: 2027-06-05
step_days: 10
tiers:
  - {name: junior, search_rate: 1.5, reputation: {median: 1, sigma: 0.5}}
  - {name: star, search_rate: 1.0, reputation: {median: 10, sigma: 0.6}}
tastes:
  comp: {mean: 1.0, sd: 0.5}
  prestige: {mean: 1.0, sd: 0.5}
  mission: {mean: 0.5, sd: 1.0}
market: {switching_cost: 1.0, cliff_years: 0.5, cliff_factor: 0.2}
labs:
  - {name: A, headcount: {junior: 120, star: 10}, comp: {junior: 400K, star: 3M}, prestige: 0.5,
     attrition: 1.5}
  - {name: B, headcount: {junior: 100, star: 8}, comp: {junior: 350K, star: 2.5M}, prestige: 0.8,
     mission: 0.9, cliff_factor: 1.0}
  - {name: C, headcount: {junior: 80, star: 4}, comp: {junior: 300K, star: 2M}, attrition: 0.7,
     cliff_factor: 3.0}
events:
  - {date: 2026-09-01, type: policy, lab: A, attrition: 0.5, cliff_factor: 2.5, mission: 0.9}
)";

// Capacity: Big and Mid are attractive and nearly full, so many choosers are
// turned away. Doomed closes: its staff are on the market, and those turned
// away go to Pool, the first open lab without a capacity (Other is later in
// file order). Then Pool closes (its rejected go to Other), then Other
// closes, leaving only capped labs: its rejected staff leave every lab.
// Two named researchers, one from nowhere, are moved into the full labs:
// forced moves ignore capacity, and count in the step's headcount H_l. Five
// more are moved into Big in the step Doomed closes, when its staff crowd
// the capped labs, so that an engine leaving forced hires out of H_l (and
// so admitting five more) fails: an oracle broken that way gives z = 20.
// Stranded is moved into Other just before it closes: per the README's
// reading, a forced mover stays off the market for that step, so they stay
// in the closed lab until their own search takes them out. Prestige
// feedback: Stranded's star power in the closed Other stays in the share's
// denominator (README). Also a move to where one already is (not a move)
// and a policy that sets openness.
constexpr const char* kCapacityClose = R"(
name: capacity-close
start: 2026-01-01
end: 2026-07-02
tiers:
  - {name: junior, search_rate: 1.0, reputation: {median: 1, sigma: 0.4}}
  - {name: senior, search_rate: 0.8, reputation: {median: 4, sigma: 0.4}}
  - {name: star, search_rate: 0.6, reputation: {median: 20, sigma: 0.5}}
tastes:
  comp: {mean: 1.5, sd: 0.5}
  prestige: {mean: 1.0, sd: 0.5}
  openness: {mean: 0.5, sd: 1.0}
market: {switching_cost: 0.5, prestige_feedback: 2.0}
labs:
  - {name: Pool, headcount: {junior: 60, senior: 20, star: 1},
     comp: {junior: 150K, senior: 300K, star: 1M}, prestige: -0.5}
  - {name: Big, headcount: {junior: 80, senior: 30, star: 4},
     comp: {junior: 500K, senior: 1.5M, star: 8M}, prestige: 1.0, capacity: 125}
  - {name: Mid, headcount: {junior: 50, senior: 20, star: 2},
     comp: {junior: 400K, senior: 1.2M, star: 5M}, prestige: 0.6, capacity: 80}
  - {name: Other, headcount: {junior: 40, senior: 10, star: 1},
     comp: {junior: 350K, senior: 1M, star: 4M}, prestige: 0.4, openness: 0.9}
  - {name: Doomed, headcount: {junior: 60, senior: 20, star: 2},
     comp: {junior: 300K, senior: 900K, star: 3M}, prestige: 0.3}
researchers:
  - {name: Hire1, tier: star, lab: Other}
  - {name: Hire2, tier: senior}
  - {name: Stranded, tier: star, reputation: 100}
  - {name: Recruit1, tier: junior}
  - {name: Recruit2, tier: junior}
  - {name: Recruit3, tier: junior}
  - {name: Recruit4, tier: junior}
  - {name: Recruit5, tier: junior}
events:
  - {date: 2026-02-01, type: move, researcher: Hire1, lab: Other}
  - {date: 2026-02-01, type: policy, lab: Mid, openness: 0.1}
  - {date: 2026-03-15, type: close, lab: Doomed}
  - {date: 2026-03-15, type: move, researcher: Recruit1, lab: Big}
  - {date: 2026-03-15, type: move, researcher: Recruit2, lab: Big}
  - {date: 2026-03-15, type: move, researcher: Recruit3, lab: Big}
  - {date: 2026-03-15, type: move, researcher: Recruit4, lab: Big}
  - {date: 2026-03-15, type: move, researcher: Recruit5, lab: Big}
  - {date: 2026-04-20, type: move, researcher: Hire1, lab: Big}
  - {date: 2026-04-20, type: move, researcher: Hire2, lab: Mid}
  - {date: 2026-05-06, type: close, lab: Pool}
  - {date: 2026-06-10, type: move, researcher: Stranded, lab: Other}
  - {date: 2026-06-10, type: close, lab: Other}
)";

// Named researchers: a star moved in from nowhere, a lab founded by one
// named star from A and one from nowhere; star magnet (the founders'
// reputation pulls to New), peer ties mostly within the lab, and follow
// cascades (follow_prob 0.3) after the founders leave. step_days 3.
constexpr const char* kFoundMoveFollow = R"(
name: found-move-follow
start: 2026-01-01
end: 2026-11-09
step_days: 3
tiers:
  - {name: junior, search_rate: 1.2, reputation: {median: 1, sigma: 0.5}}
  - {name: star, search_rate: 0.8, reputation: {median: 15, sigma: 0.5}}
tastes:
  comp: {mean: 1.0, sd: 0.4}
  prestige: {mean: 0.8, sd: 0.6}
  magnet: {mean: 1.0, sd: 0.5}
  mission: {mean: 0.3, sd: 0.8}
market: {switching_cost: 1.0, star_magnet: 1.0, star_magnet_scale: 20, peer_magnet: 1.5,
         follow_prob: 0.3}
network: {degree: 4, within_lab: 0.6}
labs:
  - {name: A, headcount: {junior: 120, star: 6}, comp: {junior: 400K, star: 4M}, prestige: 0.8}
  - {name: B, headcount: {junior: 100, star: 4}, comp: {junior: 380K, star: 3.5M}, prestige: 0.6,
     mission: 0.8}
  - {name: New, open: false, comp: {junior: 420K, star: 5M}, prestige: 0.7, mission: 0.9}
researchers:
  - {name: Founder, tier: star, lab: A, reputation: 80}
  - {name: Returner, tier: star, reputation: 60}
  - {name: Cofounder, tier: star, reputation: 40}
  - {name: Drifter, tier: junior, lab: B}
events:
  - {date: 2026-02-01, type: move, researcher: Returner, lab: B}
  - {date: 2026-04-01, type: found, lab: New, founders: [Founder, Cofounder]}
)";

// Pay and prestige: a comp event for some tiers, a raise with a funding
// elasticity, a prestige event with star-power feedback in prestige, and
// poaching: restricted by tiers and source lab, unrestricted, and two labs
// poaching in the same step: B's top 20 of A and C include C's top stars,
// whom A poaches too, so they see both offers at once. Ace, by
// far the highest reputation, is moved just before those two poaches, so
// (README) neither may pick Ace. A poaches C's top two stars a second time
// in that step, at a lower offer, which stands (README). Also a comp event
// for every tier, and a raise for C, which declared no funding: its pay
// does not follow funding (f = 1 when F(0) = 0).
constexpr const char* kPoachPay = R"(
name: poach-pay
start: 2026-01-01
end: 2026-12-31
tiers:
  - {name: junior, search_rate: 0.8, reputation: {median: 1, sigma: 0.5}}
  - {name: senior, search_rate: 0.6, reputation: {median: 5, sigma: 0.5}}
  - {name: star, search_rate: 0.5, reputation: {median: 30, sigma: 0.6}}
tastes:
  comp: {mean: 1.2, sd: 0.5}
  prestige: {mean: 1.0, sd: 0.5}
  openness: {mean: 0.3, sd: 0.6}
market: {switching_cost: 1.5, comp_funding_elasticity: 0.2, prestige_feedback: 3.0}
labs:
  - {name: A, headcount: {junior: 100, senior: 40, star: 5},
     comp: {junior: 400K, senior: 1.2M, star: 6M}, funding: 10B, prestige: 0.8}
  - {name: B, headcount: {junior: 90, senior: 30, star: 4},
     comp: {junior: 420K, senior: 1.1M, star: 5M}, funding: 5B, prestige: 0.7}
  - {name: C, headcount: {junior: 80, senior: 20, star: 5},
     comp: {junior: 300K, senior: 900K, star: 3M}, prestige: 0.4, openness: 0.9}
researchers:
  - {name: Ace, tier: star, lab: A, reputation: 500}
events:
  - {date: 2026-02-10, type: comp, lab: B, factor: 1.6, tiers: [senior, star]}
  - {date: 2026-03-01, type: comp, lab: C, factor: 1.3}
  - {date: 2026-04-01, type: raise, lab: A, amount: 90B}
  - {date: 2026-04-01, type: raise, lab: C, amount: 50B}
  - {date: 2026-05-01, type: poach, lab: C, count: 8, tiers: [senior, star], from: [A],
     offer_factor: 4.0}
  - {date: 2026-07-01, type: prestige, lab: C, delta: 0.8}
  - {date: 2026-08-01, type: move, researcher: Ace, lab: C}
  - {date: 2026-08-01, type: poach, lab: B, count: 20, offer_factor: 2.5}
  - {date: 2026-08-01, type: poach, lab: A, count: 3, tiers: [star], from: [C], offer_factor: 3.0}
  - {date: 2026-08-01, type: poach, lab: A, count: 2, tiers: [star], from: [C], offer_factor: 1.5}
)";

// Star magnet where it matters most: labs with one to three stars, so a
// star's own reputation is most of their lab's star mass and excluding it
// (Q'_il) changes whether stars stay; stars search often. Peer magnet with
// ties mostly within the lab, and following.
constexpr const char* kMagnets = R"(
name: magnets
start: 2026-01-01
end: 2026-07-02
tiers:
  - {name: junior, search_rate: 1.0, reputation: {median: 1, sigma: 0.5}}
  - {name: star, search_rate: 3.0, reputation: {median: 30, sigma: 0.8}}
tastes:
  comp: {mean: 0.5, sd: 0.3}
  prestige: {mean: 0.0, sd: 1.0}
  magnet: {mean: 1.5, sd: 0.5}
market: {switching_cost: 0.5, star_magnet: 1.5, star_magnet_scale: 5, peer_magnet: 2.0,
         follow_prob: 0.2}
network: {degree: 5, within_lab: 0.8}
labs:
  - {name: A, headcount: {junior: 80, star: 1}, comp: {junior: 300K, star: 2M}}
  - {name: B, headcount: {junior: 80, star: 2}, comp: {junior: 300K, star: 2M}}
  - {name: C, headcount: {junior: 80, star: 1}, comp: {junior: 300K, star: 2M}}
  - {name: D, headcount: {junior: 60, star: 3}, comp: {junior: 300K, star: 2M}}
)";

// Small labs with many ties mostly within them, so that a researcher often
// follows the same colleague twice (ties are drawn with replacement) and
// follows several movers at once: following counts ties, each pulling
// independently. A lone star's within-lab ties go to anyone. step_days 5.
constexpr const char* kTightTies = R"(
name: tight-ties
start: 2026-01-01
end: 2026-10-28
step_days: 5
tiers:
  - {name: junior, search_rate: 2.0, reputation: {median: 1, sigma: 0.5}}
  - {name: star, search_rate: 1.0, reputation: {median: 10, sigma: 0.5}}
tastes:
  comp: {mean: 1.0, sd: 0.5}
  prestige: {mean: 0.5, sd: 1.0}
  magnet: {mean: 1.0, sd: 0.5}
market: {switching_cost: 1.5, peer_magnet: 2.0, follow_prob: 0.3}
network: {degree: 8, within_lab: 0.9}
labs:
  - {name: A, headcount: {junior: 20, star: 2}, comp: {junior: 300K, star: 2M}}
  - {name: B, headcount: {junior: 15, star: 1}, comp: {junior: 320K, star: 2.2M}, prestige: 0.3}
  - {name: C, headcount: {junior: 25, star: 1}, comp: {junior: 280K, star: 1.8M}}
  - {name: Solo, headcount: {star: 1}, comp: {junior: 300K, star: 3M}}
)";

// Quarterly steps and a cliff of 1.5 steps: tenure runs 0..15, and tenure
// 1 is before the cliff only because the cliff is not rounded (README);
// with entry this frequent, a sixteenth of everyone starts at tenure 1.
constexpr const char* kCoarseSteps = R"(
name: coarse-steps
start: 2026-01-01
end: 2028-01-01
step_days: 91
tiers:
  - {name: junior, search_rate: 2.0, reputation: {median: 1, sigma: 0.5}}
  - {name: star, search_rate: 1.5, reputation: {median: 10, sigma: 0.5}}
tastes:
  comp: {mean: 1.0, sd: 0.5}
  prestige: {mean: 0.5, sd: 1.0}
market: {switching_cost: 1.0, cliff_years: 0.375, cliff_factor: 0.1}
labs:
  - {name: A, headcount: {junior: 150, star: 8}, comp: {junior: 300K, star: 2M}}
  - {name: B, headcount: {junior: 120, star: 6}, comp: {junior: 330K, star: 2.2M}, prestige: 0.3}
  - {name: C, headcount: {junior: 100, star: 4}, comp: {junior: 280K, star: 1.8M}, attrition: 1.5}
)";

const Case kCases[] = {
    {"cliff_policy", kCliffPolicy, 2000},
    {"capacity_close", kCapacityClose, 2000},
    {"found_move_follow", kFoundMoveFollow, 2000},
    {"poach_pay", kPoachPay, 2000},
    {"magnets", kMagnets, 2000},
    {"tight_ties", kTightTies, 4000},
    {"coarse_steps", kCoarseSteps, 2000},
};
constexpr int kCaseCount = sizeof(kCases) / sizeof(kCases[0]);

// The family-wise false-alarm rate of this whole executable: with a correct
// engine and oracle, the chance that any comparison fails for a random pair
// of seeds is at most kAlpha (Bonferroni: kAlpha is split equally between
// the scenarios, then between the statistics of each). With 35 to 92
// statistics with variance per scenario this asks |z| <= 4.61..4.80. The z
// test takes the difference of means as normal, which 2,000 or more
// replicates a side make good even for the rarer counts; the replicates (2,000, and 4,000 for the
// smallest scenario) keep the whole executable near 12 s in Release and
// under 40 s with ASan and UBSan, while a shift of a few per cent in a
// count's mean still fails.
constexpr double kAlpha = 1e-3;

// The upper-tail normal quantile: z with P(Z > z) = tail, by bisection on
// erfc (monotone; 200 halvings are far below double precision).
double normal_upper_quantile(double tail) {
  double lo = 0, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(mid / std::sqrt(2.0)) > tail ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

struct Statistic {
  std::string name;
  double value;
};

// The summary statistics of one replicate, named, the same for both sides.
std::vector<Statistic> statistics(const Scenario& s, const ReplicateResult& r) {
  const int L = s.lab_count(), K = s.tier_count(), N = s.named_count(), T = s.steps;
  std::vector<Statistic> out;
  const auto& lab = [&](int l) { return s.labs[l].name; };
  const auto& tier = [&](int k) { return s.tiers[k].name; };
  const auto lab_headcount = [&](int t, int l) {
    double h = 0;
    for (int k = 0; k < K; ++k) h += r.headcount[r.tlk(t, l, k)];
    return h;
  };
  for (int l = 0; l < L; ++l)
    for (int k = 0; k < K; ++k)
      out.push_back(
          {"end headcount " + lab(l) + "/" + tier(k), double(r.headcount[r.tlk(T - 1, l, k)])});
  for (int l = 0; l < L; ++l)
    out.push_back({"mid-run headcount " + lab(l), lab_headcount(T / 2, l)});
  for (int l = 0; l < L; ++l)
    for (int k = 0; k < K; ++k) {
      double hires = 0, departures = 0;
      for (int t = 0; t < T; ++t) {
        hires += r.hires[r.tlk(t, l, k)];
        departures += r.departures[r.tlk(t, l, k)];
      }
      out.push_back({"hires " + lab(l) + "/" + tier(k), hires});
      out.push_back({"departures " + lab(l) + "/" + tier(k), departures});
    }
  for (int a = 0; a < L; ++a)
    for (int b = 0; b < L; ++b) {
      if (a == b) continue;
      double f = 0;
      for (int k = 0; k < K; ++k) f += r.flows[r.flk(a, b, k)];
      out.push_back({"flow " + lab(a) + "->" + lab(b), f});
    }
  double total = 0;
  for (int l = 0; l < L; ++l) total += r.star_power[r.tl(T - 1, l)];
  for (int l = 0; l < L; ++l)
    out.push_back({"end share " + lab(l), total > 0 ? r.star_power[r.tl(T - 1, l)] / total : 0});
  for (int n = 0; n < N; ++n)
    for (int l = -1; l < L; ++l)
      out.push_back({"named " + s.researchers[n].name + " ends at " + (l < 0 ? "nowhere" : lab(l)),
                     double(r.named_lab[r.tn(T - 1, n)] == l)});
  out.push_back({"market decisions", double(r.market_decisions)});
  // Second moments of a few counts, so that a change in spread with the
  // same mean (draws shared between researchers, cascades that clump
  // differently) shows too.
  out.push_back(
      {"market decisions squared", double(r.market_decisions) * double(r.market_decisions)});
  for (int l = 0; l < L; ++l) {
    const double h = lab_headcount(T - 1, l);
    out.push_back({"end headcount " + lab(l) + " squared", h * h});
  }
  return out;
}

class OracleVsEngine : public ::testing::TestWithParam<Case> {};

TEST_P(OracleVsEngine, SameMeans) {
  const Case& c = GetParam();
  const Scenario s = load_scenario_text(c.yaml, std::string(c.name) + ".yaml");
  const Model model(s);
  // Fixed seeds: the outcome is deterministic; the false-alarm rate above is
  // over the choice of seeds.
  const std::uint64_t engine_seed = 20261127, oracle_seed = 77;

  std::vector<MeanSe> engine, oracle;
  std::vector<std::string> names;
  auto add = [&](std::vector<MeanSe>& into, const ReplicateResult& r) {
    const auto stats = statistics(s, r);
    if (into.empty()) {
      into.resize(stats.size());
      if (names.empty())
        for (const auto& st : stats) names.push_back(st.name);
    }
    for (std::size_t i = 0; i < stats.size(); ++i) into[i].add(stats[i].value);
  };
  for (const auto& r : run_all(model, c.replicates, engine_seed)) add(engine, r);
  for (std::int64_t rep = 0; rep < c.replicates; ++rep)
    add(oracle, oracle::run_oracle(s, oracle_seed, rep));
  ASSERT_EQ(engine.size(), oracle.size());

  // Statistics constant on both sides are compared exactly and are not part
  // of the multiple-testing family; the others share this scenario's alpha.
  int tested = 0;
  for (std::size_t i = 0; i < engine.size(); ++i)
    if (engine[i].sd() > 0 || oracle[i].sd() > 0) ++tested;
  const double z_max = normal_upper_quantile(kAlpha / kCaseCount / (2.0 * tested));
  std::printf("[%s] %d replicates each, %zu statistics, %d with variance, |z| threshold %.3f\n",
              c.name, static_cast<int>(c.replicates), engine.size(), tested, z_max);

  const bool show = std::getenv("TALENTSIM_SHOW_Z") != nullptr;
  double worst = 0;
  std::string worst_name;
  for (std::size_t i = 0; i < engine.size(); ++i) {
    const MeanSe &e = engine[i], &o = oracle[i];
    if (e.sd() == 0 && o.sd() == 0) {
      EXPECT_EQ(e.mean(), o.mean()) << c.name << ": " << names[i] << " is constant on both sides";
      continue;
    }
    const double se = std::sqrt(e.se() * e.se() + o.se() * o.se());
    const double z = (e.mean() - o.mean()) / se;
    if (std::abs(z) > std::abs(worst)) worst = z, worst_name = names[i];
    if (show)
      std::printf("  %-44s engine %10.4f +- %7.4f  oracle %10.4f +- %7.4f  z = %+6.2f\n",
                  names[i].c_str(), e.mean(), e.se(), o.mean(), o.se(), z);
    EXPECT_LE(std::abs(z), z_max) << c.name << ": " << names[i] << ": engine " << e.mean() << " +- "
                                  << e.se() << ", oracle " << o.mean() << " +- " << o.se()
                                  << ", z = " << z;
  }
  std::printf("[%s] largest |z| %.2f (%s)\n", c.name, std::abs(worst), worst_name.c_str());
}

INSTANTIATE_TEST_SUITE_P(Scenarios, OracleVsEngine, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace talentsim::test
