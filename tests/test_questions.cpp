// Forecast questions (MODEL.md section 8) on a scenario whose answers can be
// worked out by hand, and the statistics the reports rest on.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "talentsim/report.hpp"
#include "talentsim/rng.hpp"
#include "test_util.hpp"

namespace talentsim::test {
namespace {

// Search rates are 0, so only events move anyone; every answer is exact.
// Steps are 7 days from 2026-01-01: 01-10 is in step 1, 01-20 in step 2,
// 01-25 and 01-28 in step 3, 02-01 and 02-02 in step 4, 02-05 in step 5,
// 02-15 in step 6 and 02-28 in step 8 (the last).
const char* kScenario = R"(
name: questions
start: 2026-01-01
end: 2026-03-01
tiers:
  - {name: junior, search_rate: 0, reputation: {median: 1, sigma: 0}}
  - {name: star, search_rate: 0, reputation: {median: 10, sigma: 0}}
tastes: {comp: {mean: 1, sd: 0}}
labs:
  - {name: A, headcount: {junior: 10}, comp: {junior: 100K, star: 1M}}
  - {name: B, headcount: {junior: 5}, comp: {junior: 100K, star: 1M}}
  - {name: C, comp: {junior: 100K, star: 1M}}
researchers:
  - {name: S1, tier: star, lab: A, reputation: 100}
  - {name: S2, tier: star, lab: B, reputation: 50}
  - {name: S3, tier: star, reputation: 10}
events:
  - {date: 2026-01-10, type: move, researcher: S1, lab: B}
  - {date: 2026-01-20, type: move, researcher: S3, lab: B}
  - {date: 2026-02-01, type: poach, lab: C, count: 3, offer_factor: 1e9, tiers: [junior], from: [A]}
  - {date: 2026-02-15, type: move, researcher: S2, lab: C}
questions:
  - {id: hires_b, metric: hires, lab: B, window: [2026-01-01, 2026-02-28], at_least: 2}
  - {id: hires_b_from_a, metric: hires, lab: B, from: [A], window: [2026-01-01, 2026-02-28], at_least: 2}
  - {id: hires_b_junior, metric: hires, lab: B, tiers: [junior], window: [2026-01-01, 2026-02-28], at_most: 0}
  - {id: departures_a_early, metric: departures, lab: A, window: [2026-01-01, 2026-01-28], at_least: 1}
  - {id: departures_a_with_poach, metric: departures, lab: A, window: [2026-01-01, 2026-02-01], at_least: 5}
  - {id: net_b, metric: net_flow, lab: B, window: [2026-01-01, 2026-02-28], at_least: 1, at_most: 1}
  - {id: headcount_a, metric: headcount, lab: A, window: [2026-02-05, 2026-02-05], at_most: 7}
  - {id: headcount_a_star, metric: headcount, lab: A, tiers: [star], window: [2026-02-05, 2026-02-05], at_least: 1}
  - {id: headcount_c_junior, metric: headcount, lab: C, tiers: [junior], window: [2026-02-28, 2026-02-28], at_least: 3}
  - {id: share_b, metric: share, lab: B, window: [2026-01-25, 2026-01-25], at_least: 0.9}
  - {id: s2_at_c, metric: named_at, lab: C, researcher: S2, window: [2026-02-28, 2026-02-28], at_least: 1}
  - {id: s2_at_b, metric: named_at, lab: B, researcher: S2, window: [2026-02-28, 2026-02-28], at_least: 1}
  - {id: hires_c_late, metric: hires, lab: C, window: [2026-02-05, 2026-02-28], at_least: 1}
)";

TEST(Questions, EveryMetricMatchesTheHandComputedAnswer) {
  const Scenario s = load_scenario_text(kScenario, "questions.yaml");
  const Model model(s);
  const std::map<std::string, double> expected = {
      {"hires_b", 2},                  // S1 from A, S3 from nowhere
      {"hires_b_from_a", 1},           // arrivals from nowhere count only without `from`
      {"hires_b_junior", 0},           //
      {"departures_a_early", 1},       // S1; the poach (step 4) is outside the window
      {"departures_a_with_poach", 4},  // S1 and three poached juniors
      {"net_b", 1},                    // 2 hires - S2's departure
      {"headcount_a", 7},              // 10 + S1 - S1 - 3
      {"headcount_a_star", 0},         //
      {"headcount_c_junior", 3},       //
      {"share_b", 165.0 / 175.0},      // B: 5 + 100 + 50 + 10 of 10 + 165
      {"s2_at_c", 1},                  //
      {"s2_at_b", 0},                  //
      {"hires_c_late", 1},             // S2 only: the poach's step is before the window
  };
  const std::map<std::string, bool> outcome = {{"hires_b", true},
                                               {"hires_b_from_a", false},
                                               {"hires_b_junior", true},
                                               {"departures_a_early", true},
                                               {"departures_a_with_poach", false},
                                               {"net_b", true},
                                               {"headcount_a", true},
                                               {"headcount_a_star", false},
                                               {"headcount_c_junior", true},
                                               {"share_b", true},
                                               {"s2_at_c", true},
                                               {"s2_at_b", false},
                                               {"hires_c_late", true}};
  ASSERT_EQ(s.questions.size(), expected.size());
  for (const auto& r : run_all(model, 3, 11)) {
    ASSERT_EQ(r.question_value.size(), s.questions.size());
    for (std::size_t q = 0; q < s.questions.size(); ++q) {
      const std::string& id = s.questions[q].id;
      EXPECT_DOUBLE_EQ(r.question_value[q], expected.at(id)) << id;
      EXPECT_EQ(question_outcome(s.questions[q], r.question_value[q]), outcome.at(id)) << id;
    }
  }
}

TEST(Questions, AnswersDoNotDependOnObservingTheRun) {
  // The question tracker passes moves on to a caller's observer unchanged.
  struct Count : MoveObserver {
    int moves = 0;
    void on_move(int, int, int, int, int) override { ++moves; }
  } count;
  const Model model(load_scenario_text(kScenario, "questions.yaml"));
  const auto watched = model.run(1, 0, &count);
  EXPECT_EQ(count.moves, 6);  // S1, S3, three juniors, S2
  EXPECT_EQ(watched.question_value, model.run(1, 0).question_value);
}

// ---- statistics ---------------------------------------------------------------

TEST(Statistics, WilsonIntervalMatchesPublishedValues) {
  // Newcombe (1998), Statistics in Medicine 17:857, table I, method 3.
  struct Case {
    std::int64_t x, n;
    double low, high;
  };
  for (const auto& c : {Case{81, 263, 0.2553, 0.3662}, Case{15, 148, 0.0624, 0.1605},
                        Case{0, 20, 0.0, 0.1611}, Case{1, 29, 0.0061, 0.1718}}) {
    const Interval w = wilson_interval(c.x, c.n);
    EXPECT_NEAR(w.low, c.low, 5e-5) << c.x << "/" << c.n;
    EXPECT_NEAR(w.high, c.high, 5e-5) << c.x << "/" << c.n;
  }
  const Interval all = wilson_interval(20, 20);
  EXPECT_DOUBLE_EQ(all.high, 1.0);
  EXPECT_NEAR(all.low, 1 - 0.1611, 5e-5);
}

TEST(Statistics, PairedDifferenceIntervalIsSymmetricAndCovers) {
  // Swapping the two samples negates the interval.
  const Interval i = paired_difference_interval(30, 12, 5, 53);
  const Interval j = paired_difference_interval(30, 5, 12, 53);
  EXPECT_NEAR(i.low, -j.high, 1e-12);
  EXPECT_NEAR(i.high, -j.low, 1e-12);
  EXPECT_LT(i.low, 0.07);
  EXPECT_GT(i.high, 0.07);
  // Identical outcomes: a difference of exactly 0 lies inside.
  const Interval same = paired_difference_interval(40, 0, 0, 60);
  EXPECT_LE(same.low, 0.0);
  EXPECT_GE(same.high, 0.0);

  // Coverage: 4,000 simulated studies of 150 correlated pairs, true
  // difference 0.1. Newcombe's method 10 keeps close to nominal 95%; the
  // tolerance is 4 binomial standard errors of the coverage estimate.
  Streams streams(2024, 0);
  const int studies = 4000, n = 150;
  int covered = 0;
  for (int s = 0; s < studies; ++s) {
    std::int64_t cell[4] = {0, 0, 0, 0};
    for (int i = 0; i < n; ++i) {
      const auto w = streams.bits(static_cast<std::uint64_t>(s), Purpose::Choice,
                                  static_cast<std::uint32_t>(i));
      const double u = uniform01(w[0], w[1]);
      // P(both) 0.3, P(first only) 0.2, P(second only) 0.1, P(neither) 0.4.
      cell[u < 0.3 ? 0 : u < 0.5 ? 1 : u < 0.6 ? 2 : 3]++;
    }
    const Interval ci = paired_difference_interval(cell[0], cell[1], cell[2], cell[3]);
    covered += ci.low <= 0.1 && 0.1 <= ci.high;
  }
  const double coverage = static_cast<double>(covered) / studies;
  EXPECT_NEAR(coverage, 0.95, 4 * std::sqrt(0.95 * 0.05 / studies)) << coverage;
}

TEST(Statistics, QuantilesInterpolateLikeNumpy) {
  std::vector<double> v = {5, 1, 4, 2, 3};
  EXPECT_DOUBLE_EQ(quantile(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(quantile(v, 0.5), 3);
  EXPECT_DOUBLE_EQ(quantile(v, 0.05), 1.2);  // numpy.quantile([1..5], 0.05)
  EXPECT_DOUBLE_EQ(quantile(v, 0.95), 4.8);
  EXPECT_DOUBLE_EQ(quantile(v, 1.0), 5);
}

}  // namespace
}  // namespace talentsim::test
