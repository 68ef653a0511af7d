// The ratio metrics of forecast questions (retention, flow_ratio, tenure):
// exact answers on a scenario moved only by scripted events, how the
// reports summarise values that may be NaN or infinite, and one
// statistical check of retention and flow_ratio against the model's law.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "talentsim/report.hpp"
#include "test_util.hpp"

namespace talentsim::test {
namespace {

// Search rates are 0, so only the move events below move anyone. Steps are
// 7 days from 2026-01-01: 01-10 is in step 1, 01-29 in step 4, 02-05 in
// step 5, 02-12 in step 6, 02-19 in step 7, 03-31 in step 12 (the last).
// after: 0.1 years is H = llround(0.1 * 365.25 / 7) = 5 steps; 0.115 is 6.
//
//   R4 (star)   nowhere -> B at step 0, stays
//   R1 (star)   A -> B at 1, B -> A at 4, A -> B at 5, stays
//   R2 (junior) A -> B at 1, B -> C at 7
//   R3 (star)   A -> B at 1, B -> A at 6
//
// A join at step j lasts if its researcher does not leave in steps j .. j + H.
const char* kScenario = R"(
name: ratios
start: 2026-01-01
end: 2026-04-01
tiers:
  - {name: junior, search_rate: 0, reputation: {median: 1, sigma: 0}}
  - {name: star, search_rate: 0, reputation: {median: 10, sigma: 0}}
labs:
  - {name: A, headcount: {junior: 10}, comp: {junior: 100K, star: 1M}}
  - {name: B, headcount: {junior: 5}, comp: {junior: 100K, star: 1M}}
  - {name: C, comp: {junior: 100K, star: 1M}}
researchers:
  - {name: R1, tier: star, lab: A}
  - {name: R2, tier: junior, lab: A}
  - {name: R3, tier: star, lab: A}
  - {name: R4, tier: star}
events:
  - {date: 2026-01-01, type: move, researcher: R4, lab: B}
  - {date: 2026-01-10, type: move, researcher: R1, lab: B}
  - {date: 2026-01-10, type: move, researcher: R2, lab: B}
  - {date: 2026-01-10, type: move, researcher: R3, lab: B}
  - {date: 2026-01-29, type: move, researcher: R1, lab: A}
  - {date: 2026-02-05, type: move, researcher: R1, lab: B}
  - {date: 2026-02-12, type: move, researcher: R3, lab: A}
  - {date: 2026-02-19, type: move, researcher: R2, lab: C}
questions:
  - {id: ret_early, metric: retention, lab: B, window: [2026-01-01, 2026-01-10], after: 0.1, at_least: 0}
  - {id: ret_early_from_a, metric: retention, lab: B, from: [A], window: [2026-01-01, 2026-01-10], after: 0.1, at_least: 0}
  - {id: ret_early_star, metric: retention, lab: B, tiers: [star], window: [2026-01-01, 2026-01-10], after: 0.1, at_least: 0}
  - {id: ret_wide, metric: retention, lab: B, window: [2026-01-01, 2026-02-05], after: 0.1, at_least: 0}
  - {id: ret_wide_star_from_a, metric: retention, lab: B, tiers: [star], from: [A], window: [2026-01-01, 2026-02-05], after: 0.1, at_least: 0}
  - {id: ret_h5, metric: retention, lab: B, from: [A], window: [2026-01-10, 2026-01-10], after: 0.1, at_least: 0}
  - {id: ret_h6, metric: retention, lab: B, from: [A], window: [2026-01-10, 2026-01-10], after: 0.115, at_least: 0}
  - {id: ret_a, metric: retention, lab: A, window: [2026-01-29, 2026-02-12], after: 0.1, at_least: 0}
  - {id: ret_none, metric: retention, lab: C, window: [2026-01-01, 2026-01-10], after: 0.1, at_least: 0}
  - {id: flow_b_from_a, metric: flow_ratio, lab: B, from: [A], window: [2026-01-01, 2026-03-31], at_least: 0}
  - {id: flow_a_from_b, metric: flow_ratio, lab: A, from: [B], window: [2026-01-01, 2026-03-31], at_least: 0}
  - {id: flow_b_from_ac, metric: flow_ratio, lab: B, from: [A, C], window: [2026-01-01, 2026-03-31], at_least: 0}
  - {id: flow_b_from_a_star, metric: flow_ratio, lab: B, from: [A], tiers: [star], window: [2026-01-01, 2026-03-31], at_least: 0}
  - {id: flow_b_from_a_early, metric: flow_ratio, lab: B, from: [A], window: [2026-01-01, 2026-01-29], at_least: 0}
  - {id: flow_c_from_b, metric: flow_ratio, lab: C, from: [B], window: [2026-01-01, 2026-03-31], at_least: 1}
  - {id: flow_c_from_a, metric: flow_ratio, lab: C, from: [A], window: [2026-01-01, 2026-03-31], at_least: 0}
  - {id: ten_a_start, metric: tenure, lab: A, window: [2026-01-01, 2026-01-01], at_least: 0}
  - {id: ten_b_end, metric: tenure, lab: B, window: [2026-03-31, 2026-03-31], at_least: 0}
  - {id: ten_b_end_star, metric: tenure, lab: B, tiers: [star], window: [2026-03-31, 2026-03-31], at_least: 0}
  - {id: ten_c_start, metric: tenure, lab: C, window: [2026-01-01, 2026-01-01], at_least: 0}
  - {id: ten_c_end, metric: tenure, lab: C, window: [2026-03-31, 2026-03-31], at_least: 0}
  - {id: hires_b, metric: hires, lab: B, window: [2026-01-01, 2026-03-31], at_least: 5}
)";

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kYears = 7 / 365.25;  // one step

struct Ratio {
  double numerator, denominator;
};

int question_index(const Scenario& s, const std::string& id) {
  for (std::size_t q = 0; q < s.questions.size(); ++q)
    if (s.questions[q].id == id) return static_cast<int>(q);
  ADD_FAILURE() << "no question " << id;
  return 0;
}

void expect_value(double actual, double expected, const std::string& id) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << id << ": " << actual;
  } else {
    EXPECT_DOUBLE_EQ(actual, expected) << id;
  }
}

TEST(QuestionRatios, LoaderKeepsAfterInYearsAndSteps) {
  const Scenario s = load_scenario_text(kScenario, "ratios.yaml");
  const Question& q5 = s.questions[question_index(s, "ret_h5")];
  const Question& q6 = s.questions[question_index(s, "ret_h6")];
  EXPECT_EQ(q5.metric, Metric::Retention);
  EXPECT_DOUBLE_EQ(q5.after, 0.1);
  EXPECT_EQ(q5.after_steps, 5);
  EXPECT_EQ(q6.after_steps, 6);
  EXPECT_EQ(s.questions[question_index(s, "flow_b_from_ac")].from, (std::vector<int>{0, 2}));
  EXPECT_TRUE(is_ratio(Metric::Tenure) && is_ratio(Metric::FlowRatio) &&
              is_ratio(Metric::Retention));
  EXPECT_FALSE(is_ratio(Metric::Hires) || is_ratio(Metric::Share));
  EXPECT_EQ(std::string(to_string(Metric::FlowRatio)), "flow_ratio");
}

TEST(QuestionRatios, RetentionAndFlowRatioMatchTheHandComputedAnswers) {
  const Scenario s = load_scenario_text(kScenario, "ratios.yaml");
  const Model model(s);
  const std::map<std::string, Ratio> expected = {
      // Joins in steps 0..1: R4 (0), R1, R2, R3 (1); R1 leaves at 4 <= 1 + 5
      // and R3 at 6 <= 6; R2 leaves at 7 > 6 and R4 stays: 2 of 4.
      {"ret_early", {2, 4}},
      {"ret_early_from_a", {1, 3}},  // R4 came from nowhere
      {"ret_early_star", {1, 3}},    // R1, R3, R4: R4 lasts
      {"ret_wide", {3, 5}},          // and R1's second join (5), who stays: two spells of R1
      {"ret_wide_star_from_a", {1, 3}},
      {"ret_h5", {1, 3}},  // R2 leaves at 7 = 1 + 6: after the 5 steps
      {"ret_h6", {0, 3}},  // ... but within 6
      {"ret_a", {1, 2}},   // R1 joins A at 4 and leaves at 5; R3 joins at 6 and stays
      {"ret_none", {0, 0}},
      // A -> B: R1, R2, R3 (1), R1 (5); B -> A: R1 (4), R3 (6); B -> C: R2 (7).
      {"flow_b_from_a", {4, 2}},
      {"flow_a_from_b", {2, 4}},
      {"flow_b_from_ac", {4, 3}},
      {"flow_b_from_a_star", {3, 2}},
      {"flow_b_from_a_early", {3, 1}},  // steps 0..4
      {"flow_c_from_b", {1, 0}},
      {"flow_c_from_a", {0, 0}},
      {"hires_b", {5, 1}},  // a count: the value over 1
  };
  const std::map<std::string, double> value = {
      {"ret_none", kNaN}, {"flow_c_from_b", kInf}, {"flow_c_from_a", kNaN}};
  for (const auto& r : run_all(model, 3, 5)) {
    for (const auto& [id, e] : expected) {
      const int q = question_index(s, id);
      EXPECT_DOUBLE_EQ(r.question_numerator[q], e.numerator) << id;
      EXPECT_DOUBLE_EQ(r.question_denominator[q], e.denominator) << id;
      const auto special = value.find(id);
      expect_value(r.question_value[q],
                   special != value.end() ? special->second : e.numerator / e.denominator, id);
    }
    // NaN is no outcome; +infinity is at least 1.
    EXPECT_FALSE(question_outcome(s.questions[question_index(s, "ret_none")],
                                  r.question_value[question_index(s, "ret_none")]));
    EXPECT_TRUE(question_outcome(s.questions[question_index(s, "flow_c_from_b")],
                                 r.question_value[question_index(s, "flow_c_from_b")]));
  }
}

TEST(QuestionRatios, TenureIsTheMeanTimeAtTheLabInYears) {
  const Scenario s = load_scenario_text(kScenario, "ratios.yaml");
  const Model model(s);
  const int a = 0, b = 1;
  for (std::int64_t rep = 0; rep < 3; ++rep) {
    const ReplicateResult r = model.run(17, rep);
    const Population pop = model.draw_population(17, rep);
    // Initial tenure tau in whole steps: synthetic researchers drawn, named 0.
    // At the end of step t a stayer has t + 1 + tau steps.
    std::int64_t a_steps = 0, a_count = 0, b_steps = 0, b_count = 0;
    for (std::size_t i = 0; i < pop.size(); ++i) {
      const Identity& id = model.identities()[i];
      if (static_cast<int>(i) >= model.named_index(0)) break;
      if (id.lab == a) {
        a_steps += 1 + pop.tenure[i];
        ++a_count;
      } else if (id.lab == b) {
        b_steps += 13 + pop.tenure[i];
        ++b_count;
      }
    }
    ASSERT_EQ(a_count, 10);
    ASSERT_EQ(b_count, 5);
    a_steps += 3;       // R1, R2, R3 at A since the start: 1 step each at the end of step 0
    b_steps += 7 + 12;  // R1 in B since step 5 (7 steps at the end of 12), R4 since 0
    const std::map<std::string, Ratio> expected = {
        {"ten_a_start", {static_cast<double>(a_steps) * kYears, 13}},
        {"ten_b_end", {static_cast<double>(b_steps) * kYears, 7}},
        {"ten_b_end_star", {19 * kYears, 2}},
        {"ten_c_start", {0, 0}},
        {"ten_c_end", {5 * kYears, 1}},  // R2, in C since step 7
    };
    for (const auto& [id, e] : expected) {
      const int q = question_index(s, id);
      EXPECT_NEAR(r.question_numerator[q], e.numerator, 1e-12 * (1 + e.numerator)) << id;
      EXPECT_DOUBLE_EQ(r.question_denominator[q], e.denominator) << id;
      expect_value(r.question_value[q], e.denominator > 0 ? e.numerator / e.denominator : kNaN, id);
      if (e.denominator > 0) {
        EXPECT_NEAR(r.question_value[q], e.numerator / e.denominator, 1e-12) << id;
      }
    }
  }
}

TEST(QuestionRatios, ReportsSummariseFiniteValuesAndPoolRatios) {
  const Scenario s = load_scenario_text(kScenario, "ratios.yaml");
  const Model model(s);
  const std::int64_t R = 4;
  RunMetadata meta = run_metadata(s, "test");
  meta.replicates = R;
  RunAccumulator acc(meta, model.shape());
  for (auto& r : run_all(model, R, 3)) acc.add(r);
  const RunReport rep = acc.report();
  std::map<std::string, QuestionSummary> by_id;
  for (const auto& q : rep.questions) by_id[q.info.id] = q;

  const auto& none = by_id.at("ret_none");  // NaN in every replicate
  EXPECT_EQ(none.n, R);
  EXPECT_EQ(none.defined, 0);
  EXPECT_EQ(none.yes, 0);
  EXPECT_TRUE(std::isnan(none.mean) && std::isnan(none.p50) && std::isnan(none.pooled));
  const auto& inf = by_id.at("flow_c_from_b");  // +infinity: no finite value, but the outcome
  EXPECT_EQ(inf.defined, 0);
  EXPECT_EQ(inf.yes, R);
  EXPECT_EQ(inf.pooled, kInf);
  const auto& early = by_id.at("ret_early");
  EXPECT_EQ(early.defined, R);
  EXPECT_DOUBLE_EQ(early.mean, 0.5);
  EXPECT_DOUBLE_EQ(early.pooled, 0.5);
  EXPECT_DOUBLE_EQ(by_id.at("ret_wide").pooled, 0.6);
  EXPECT_DOUBLE_EQ(by_id.at("flow_b_from_ac").pooled, 4.0 / 3.0);
  const auto& hires = by_id.at("hires_b");  // a count: no pooled estimate
  EXPECT_EQ(hires.defined, R);
  EXPECT_TRUE(std::isnan(hires.pooled));
  EXPECT_DOUBLE_EQ(hires.mean, 5);

  const std::string text = format_text(rep);
  EXPECT_NE(text.find("pooled"), std::string::npos) << text;
  EXPECT_NE(text.find("ret_none: no finite value in 4 of 4 replicates"), std::string::npos) << text;
  EXPECT_EQ(text.find("nan"), std::string::npos) << text;
  const std::string json = format_json(rep);
  EXPECT_NE(json.find("\"defined\":0"), std::string::npos) << json;
  EXPECT_NE(json.find("\"pooled\":0.6"), std::string::npos) << json;
  EXPECT_EQ(json.find("nan"), std::string::npos) << json;
  EXPECT_EQ(json.find("inf"), std::string::npos) << json;
}

// ---- statistics -------------------------------------------------------------

// Two identical labs; nobody has any motive, so a researcher on the market
// picks either lab with probability 1/2 exactly (MODEL.md section 4). The
// market entry probability per step is p = 1 - exp(-lambda D / 365.25), so
// a join lasts H steps with probability (1 - p / 2)^H, independently of
// every other join (no ties, no capacity, no feedback).
const char* kTwoLabs = R"(
name: two-labs
start: 2026-01-01
end: 2027-07-01
seed: 2026
tiers:
  - {name: junior, search_rate: 2, reputation: {median: 1, sigma: 0.5}}
labs:
  - {name: A, headcount: {junior: 500}, comp: {junior: 100K}}
  - {name: B, headcount: {junior: 500}, comp: {junior: 100K}}
questions:
  - {id: retention_a, metric: retention, lab: A, window: [2026-01-01, 2026-06-30], after: 1, at_least: 0.5}
  - {id: flow_a_b, metric: flow_ratio, lab: A, from: [B], window: [2026-01-01, 2027-06-30], at_least: 1}
)";

TEST(QuestionRatios, PooledRetentionAndFlowRatioFollowTheModel) {
  const Scenario s = load_scenario_text(kTwoLabs, "two_labs.yaml");
  ASSERT_EQ(s.steps, 78);
  ASSERT_EQ(s.questions[0].after_steps, 52);
  ASSERT_EQ(s.questions[0].step_to, 25);  // observable to step 77, the last
  const Model model(s);
  const std::int64_t R = 30;
  RunMetadata meta = run_metadata(s, "test");
  meta.replicates = R;
  RunAccumulator acc(meta, model.shape());
  double joins = 0, moves_in = 0, moves_out = 0;
  for (auto& r : run_all(model, R, s.seed)) {
    joins += r.question_denominator[0];
    moves_in += r.question_numerator[1];
    moves_out += r.question_denominator[1];
    acc.add(r);
  }
  const RunReport rep = acc.report();

  const double p = 1 - std::exp(-2 * 7 / 365.25);
  const double survival = std::pow(1 - p / 2, 52);
  ASSERT_GT(joins, 5000);
  const double se = std::sqrt(survival * (1 - survival) / joins);
  EXPECT_NEAR(rep.questions[0].pooled, survival, 4 * se)
      << "joins " << joins << ", expected " << survival << " +- " << se;

  // By symmetry the flows each way have one mean; the ratio of two counts
  // of about Poisson spread has relative standard error sqrt(1/a + 1/b).
  ASSERT_GT(moves_out, 5000);
  const double ratio_se = std::sqrt(1 / moves_in + 1 / moves_out);
  EXPECT_NEAR(rep.questions[1].pooled, 1.0, 4 * ratio_se)
      << moves_in << " in, " << moves_out << " out";
}

}  // namespace
}  // namespace talentsim::test
