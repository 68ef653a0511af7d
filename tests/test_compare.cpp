// Paired comparison on common random numbers: a small what-if measured
// against the same what-if run on independent streams.
#include <gtest/gtest.h>

#include "talentsim/report.hpp"
#include "test_util.hpp"

namespace talentsim::test {
namespace {

RunAccumulator accumulate(const Scenario& s, std::uint64_t seed, std::int64_t replicates) {
  Scenario copy = s;
  copy.seed = seed;
  copy.replicates = replicates;
  const Model model(copy);
  RunAccumulator acc(run_metadata(copy, ""), model.shape());
  run_ensemble(model, {.first = 0, .count = replicates, .seed = seed, .threads = 2},
               [&](ReplicateResult&& r) { acc.add(r); });
  return acc;
}

// Variance of the per-replicate difference in one lab's end headcount.
double difference_variance(const RunAccumulator& a, const RunAccumulator& b, int lab) {
  MeanSe d;
  for (std::int64_t r = 0; r < a.replicates(); ++r)
    d.add(b.end_headcount(r, lab) - a.end_headcount(r, lab));
  return d.sd() * d.sd();
}

TEST(Compare, CommonRandomNumbersShrinkTheVarianceOfASmallWhatIf) {
  // The what-if: LabA's star pay +5% (a comp event on the first day).
  const Scenario base = load_scenario_file(data_path("every_key.yaml"));
  std::string text = base.source_text;
  text.replace(
      text.find("events:\n"), 8,
      "events:\n  - {date: 2026-01-01, type: comp, lab: LabA, factor: 1.05, tiers: [star]}\n");
  const Scenario whatif = load_scenario_text(text, "whatif.yaml");
  ASSERT_EQ(whatif.events.size(), base.events.size() + 1);
  const std::int64_t R = 400;
  const auto a = accumulate(base, 42, R);
  const auto paired = accumulate(whatif, 42, R);
  const auto independent = accumulate(whatif, 4242, R);
  const int lab_a = 0;
  const double v_paired = difference_variance(a, paired, lab_a);
  const double v_independent = difference_variance(a, independent, lab_a);
  std::printf(
      "LabA end headcount: variance of the difference paired %.3f, independent %.3f "
      "(%.1fx)\n",
      v_paired, v_independent, v_independent / v_paired);
  EXPECT_GE(v_independent / v_paired, 5.0);

  // The report's own estimate, Var(A) + Var(B) against Var(B - A), agrees.
  const ComparisonReport report = compare_runs(a, paired);
  ASSERT_EQ(report.labs.size(), 4u);
  EXPECT_GE(report.variance_reduction, 5.0);
  EXPECT_NEAR(report.labs[lab_a].end_headcount.difference,
              paired.report().labs[lab_a].end_mean - a.report().labs[lab_a].end_mean, 1e-9);
}

TEST(Compare, QuestionsAndLabsArePairedByIdAndName) {
  // The what-if adds a lab before the others and drops a question: the
  // comparison still pairs what both have, by name.
  const std::string text = tiny_scenario(
      "questions:\n"
      "  - {id: a_big, metric: headcount, lab: A, window: [2026-12-31, 2026-12-31], at_least: 20}\n"
      "  - {id: b_big, metric: headcount, lab: B, window: [2026-12-31, 2026-12-31], at_least: "
      "9}\n");
  Scenario base = load_scenario_text(text, "base.yaml");
  Scenario whatif = base;
  whatif.questions.erase(whatif.questions.begin());
  whatif.labs.insert(whatif.labs.begin(), whatif.labs[1]);
  whatif.labs[0].name = "New";
  for (auto& q : whatif.questions) q.lab += 1;
  const auto a = accumulate(base, 1, 50), b = accumulate(whatif, 1, 50);
  const auto report = compare_runs(a, b);
  ASSERT_EQ(report.questions.size(), 1u);
  EXPECT_EQ(report.questions[0].id, "b_big");
  ASSERT_EQ(report.labs.size(), 2u);
  EXPECT_EQ(report.labs[0].lab, "A");
  EXPECT_EQ(report.labs[1].lab, "B");
  const auto& p = report.questions[0].probability;
  EXPECT_NEAR(p.difference, p.whatif - p.baseline, 1e-12);
  EXPECT_LE(p.interval.low, p.difference);
  EXPECT_GE(p.interval.high, p.difference);
}

}  // namespace
}  // namespace talentsim::test
