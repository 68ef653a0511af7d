// Forecast questions (MODEL.md section 8) on a scenario whose answers can be
// worked out by hand, and the statistics the reports rest on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
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

// Every move of a replicate, as the engine reports them.
struct MoveLog : MoveObserver {
  struct Move {
    int step, researcher, from, to, tier;
  };
  std::vector<Move> moves;
  void on_move(int step, int researcher, int from, int to, int tier) override {
    moves.push_back({step, researcher, from, to, tier});
  }
};

// every_key.yaml (a market moved by searches, cascades, capacity and one
// event of each type) with its questions replaced by `questions`, and two
// changes so that every kind of move happens: LabA and SpinOut get
// capacities, so that when Outside closes no open lab is uncapped and the
// displaced who are turned away leave every lab; and Star One is moved into
// Outside as it closes, so that a closed lab holds star power (which stays
// in the share's total).
std::string every_key_asking(const std::string& questions) {
  std::string text = read_text(data_path("every_key.yaml"));
  const auto insert_after = [&](const std::string& line, const std::string& added) {
    const auto at = text.find(line);
    EXPECT_NE(at, std::string::npos) << line;
    if (at != std::string::npos) text.insert(at + line.size(), added);
  };
  insert_after("  - name: LabA\n", "    capacity: 200\n");
  insert_after("  - name: SpinOut\n", "    capacity: 8\n");
  insert_after("  - {date: 2026-11-01, type: close, lab: Outside}\n",
               "  - {date: 2026-11-01, type: move, researcher: Star One, lab: Outside}\n");
  const auto at = text.find("\nquestions:");
  EXPECT_NE(at, std::string::npos);
  return text.substr(0, at + 1) + "questions:\n" + questions;
}

// The answers the engine gives on a random market, against the same
// questions answered here from nothing but the replicate's moves, its
// population and the definitions (MODEL.md section 8; the README for
// retention, flow_ratio, tenure and ratios without a denominator): some 730
// questions, every lab and metric, tier filters, source lists and windows
// from one step to the whole year, over replicates with a few hundred moves
// each, into and out of nowhere too. The replay also checks what the
// results record at every step (headcounts, hires, departures, flows, star
// power, named labs).
TEST(Questions, AnswersAgreeWithAReplayOfTheMoves) {
  const std::vector<std::string> labs = {"LabA", "LabB", "Outside", "SpinOut"};
  const std::vector<std::string> tier_lists = {"", "[star]", "[junior, senior]"};
  const std::vector<std::pair<std::string, std::string>> windows = {
      {"2026-01-01", "2026-01-07"},                                // the first step
      {"2026-03-01", "2026-09-30"}, {"2026-07-01", "2026-07-01"},  // the poach's step
      {"2026-01-01", "2026-12-31"},                                // the whole run
      {"2026-10-15", "2026-11-20"},                                // around the close
  };
  // Retention needs the run to reach H = 13 steps past its window: the
  // first three windows only.
  constexpr std::size_t kRetentionWindows = 3;
  const std::vector<std::string> named = {"Star One", "Star Two", "Star Three"};
  std::string yaml;
  int count = 0;
  const auto ask = [&](const std::string& metric, const std::string& rest,
                       const std::pair<std::string, std::string>& w) {
    yaml += "  - {id: q" + std::to_string(count++) + ", metric: " + metric + rest + ", window: [" +
            w.first + ", " + w.second + "], at_least: 1}\n";
  };
  for (std::size_t l = 0; l < labs.size(); ++l) {
    const std::string lab = ", lab: " + labs[l];
    // Source lists without the lab itself: the next lab, and the other two.
    const std::string next = labs[(l + 1) % 4];
    const std::vector<std::string> sources = {"[" + next + "]",
                                              "[" + next + ", " + labs[(l + 2) % 4] + "]"};
    for (std::size_t w = 0; w < windows.size(); ++w) {
      ask("share", lab, windows[w]);
      for (const auto& n : named) ask("named_at", lab + ", researcher: " + n, windows[w]);
      for (const auto& tiers : tier_lists) {
        const std::string t = tiers.empty() ? "" : ", tiers: " + tiers;
        for (const char* metric : {"hires", "departures", "net_flow", "headcount", "tenure"})
          ask(metric, lab + t, windows[w]);
        if (w < kRetentionWindows) ask("retention", lab + t + ", after: 0.25", windows[w]);
        for (const auto& from : sources) {
          ask("hires", lab + t + ", from: " + from, windows[w]);
          ask("flow_ratio", lab + t + ", from: " + from, windows[w]);
          if (w < kRetentionWindows)
            ask("retention", lab + t + ", from: " + from + ", after: 0.25", windows[w]);
        }
      }
    }
  }
  const Scenario s = load_scenario_text(every_key_asking(yaml), "every_key_asking.yaml");
  ASSERT_EQ(static_cast<int>(s.questions.size()), count);
  const Model model(s);
  const int L = s.lab_count(), K = s.tier_count(), T = s.steps;
  const auto step_of = [&](Date date) { return (date.days - s.start.days) / s.step_days; };
  const int after_steps =
      static_cast<int>(std::max(1.0, std::round(0.25 * 365.25 / s.step_days)));  // README

  const std::uint64_t seed = 7;
  std::size_t moves_seen = 0, into_nowhere = 0, from_nowhere = 0;
  for (std::int64_t rep = 0; rep < 12; ++rep) {
    MoveLog log;
    const ReplicateResult r = model.run(seed, rep, &log);
    const Population pop = model.draw_population(seed, rep);
    moves_seen += log.moves.size();

    // The state at the end of every step, from the starting labs and the
    // moves: where everyone is, and since when (the step after their last
    // move, or minus their initial tenure).
    const std::size_t n = model.identities().size();
    std::vector<int> at(n), since(n);
    for (std::size_t i = 0; i < n; ++i) {
      at[i] = model.identities()[i].lab;
      since[i] = -pop.tenure[i];
    }
    std::vector<std::vector<std::int64_t>> headcount(T, std::vector<std::int64_t>(L * K, 0));
    std::vector<std::vector<double>> power(T, std::vector<double>(L, 0.0));
    std::vector<std::vector<int>> named_at(T, std::vector<int>(named.size()));
    // Per step, lab and tier: the whole steps there of those there.
    std::vector<std::vector<std::int64_t>> steps_there(T, std::vector<std::int64_t>(L * K, 0));
    std::size_t next_move = 0;
    for (int t = 0; t < T; ++t) {
      for (; next_move < log.moves.size() && log.moves[next_move].step == t; ++next_move) {
        const auto& m = log.moves[next_move];
        ASSERT_EQ(at[m.researcher], m.from) << "step " << t;
        ASSERT_NE(m.from, m.to);
        at[m.researcher] = m.to;
        since[m.researcher] = t + 1;
        into_nowhere += m.to < 0;
        from_nowhere += m.from < 0;
      }
      for (std::size_t i = 0; i < n; ++i)
        if (at[i] >= 0) {
          const int lk = at[i] * K + model.identities()[i].tier;
          ++headcount[t][lk];
          steps_there[t][lk] += t + 1 - since[i];
          power[t][at[i]] += pop.reputation[i];
        }
      for (std::size_t k = 0; k < named.size(); ++k)
        named_at[t][k] = at[model.named_index(static_cast<int>(k))];
    }
    ASSERT_EQ(next_move, log.moves.size()) << "moves out of step order";

    // What the results record, step by step.
    std::vector<std::int64_t> hires(T * L * K, 0), departures(T * L * K, 0), flows(L * L * K, 0);
    for (const auto& m : log.moves) {
      if (m.to >= 0) ++hires[r.tlk(m.step, m.to, m.tier)];
      if (m.from >= 0) ++departures[r.tlk(m.step, m.from, m.tier)];
      if (m.from >= 0 && m.to >= 0) ++flows[r.flk(m.from, m.to, m.tier)];
    }
    for (int t = 0; t < T; ++t)
      for (int l = 0; l < L; ++l) {
        EXPECT_NEAR(r.star_power[r.tl(t, l)], power[t][l], 1e-9 * (1 + power[t][l]));
        for (int k = 0; k < K; ++k) {
          EXPECT_EQ(r.headcount[r.tlk(t, l, k)], headcount[t][l * K + k]);
          EXPECT_EQ(r.hires[r.tlk(t, l, k)], hires[r.tlk(t, l, k)]);
          EXPECT_EQ(r.departures[r.tlk(t, l, k)], departures[r.tlk(t, l, k)]);
        }
      }
    for (std::size_t f = 0; f < flows.size(); ++f) EXPECT_EQ(r.flows[f], flows[f]);
    for (int t = 0; t < T; ++t)
      for (std::size_t k = 0; k < named.size(); ++k)
        EXPECT_EQ(r.named_lab[r.tn(t, static_cast<int>(k))], named_at[t][k]);

    // Each question, from its YAML words.
    for (std::size_t q = 0; q < s.questions.size(); ++q) {
      const Question& qu = s.questions[q];
      const int from_step = step_of(qu.window_from), to_step = step_of(qu.window_to);
      const int l = qu.lab;  // the question's lab, in file order as the results index it
      const auto tier_counts = [&](int k) {
        return qu.tiers.empty() || std::count(qu.tiers.begin(), qu.tiers.end(), k) > 0;
      };
      const auto listed = [&](int lab) {  // nowhere (-1) is listed only by no list
        return qu.from.empty() || std::count(qu.from.begin(), qu.from.end(), lab) > 0;
      };
      double into = 0, out_of = 0, out_to_listed = 0, lasting = 0;
      for (std::size_t j = 0; j < log.moves.size(); ++j) {
        const auto& m = log.moves[j];
        if (m.step < from_step || m.step > to_step || !tier_counts(m.tier)) continue;
        if (m.to == l && listed(m.from)) {
          ++into;
          // A join lasts if its researcher does not move out within H steps.
          bool left = false;
          for (std::size_t later = j + 1; later < log.moves.size() && !left; ++later)
            left = log.moves[later].researcher == m.researcher &&
                   log.moves[later].step <= m.step + after_steps;
          lasting += left ? 0 : 1;
        }
        if (m.from == l) ++out_of;
        if (m.from == l && !qu.from.empty() && m.to >= 0 && listed(m.to)) ++out_to_listed;
      }
      double value = 0, numerator = 0, denominator = 0;
      const bool ratio = qu.metric == Metric::Retention || qu.metric == Metric::FlowRatio ||
                         qu.metric == Metric::Tenure;
      switch (qu.metric) {
        case Metric::Hires:
          value = into;
          break;
        case Metric::Departures:
          value = out_of;
          break;
        case Metric::NetFlow:
          value = into - out_of;
          break;
        case Metric::Headcount:
          for (int k = 0; k < K; ++k)
            if (tier_counts(k)) value += static_cast<double>(headcount[to_step][l * K + k]);
          break;
        case Metric::Share: {
          double total = 0;
          for (int j = 0; j < L; ++j) total += power[to_step][j];
          value = total > 0 ? power[to_step][l] / total : 0;
          break;
        }
        case Metric::NamedAt:
          value = named_at[to_step][qu.researcher] == l ? 1 : 0;
          break;
        case Metric::Retention:
          numerator = lasting, denominator = into;
          break;
        case Metric::FlowRatio:
          numerator = into, denominator = out_to_listed;
          break;
        case Metric::Tenure: {
          std::int64_t steps = 0;
          for (int k = 0; k < K; ++k)
            if (tier_counts(k)) {
              steps += steps_there[to_step][l * K + k];
              denominator += static_cast<double>(headcount[to_step][l * K + k]);
            }
          numerator = static_cast<double>(steps) * s.step_days / 365.25;
          break;
        }
      }
      const std::string what = "replicate " + std::to_string(rep) + ", " + qu.id;
      if (ratio) {
        EXPECT_DOUBLE_EQ(r.question_numerator[q], numerator) << what;
        EXPECT_EQ(r.question_denominator[q], denominator) << what;
        // No denominator: NaN, or +infinity for moves in and none back.
        if (denominator > 0)
          EXPECT_DOUBLE_EQ(r.question_value[q], numerator / denominator) << what;
        else if (numerator > 0)
          EXPECT_EQ(r.question_value[q], std::numeric_limits<double>::infinity()) << what;
        else
          EXPECT_TRUE(std::isnan(r.question_value[q])) << what << ": " << r.question_value[q];
      } else if (qu.metric == Metric::Share) {
        EXPECT_NEAR(r.question_value[q], value, 1e-12) << what;
      } else {
        EXPECT_EQ(r.question_value[q], value) << what;
      }
    }
  }
  // Enough happened for the comparison to mean something.
  EXPECT_GT(moves_seen, 12u * 100u);
  EXPECT_GT(into_nowhere, 12u);
  EXPECT_GE(from_nowhere, 12u);
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
