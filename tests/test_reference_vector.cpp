// The public test vector of MODEL.md: every_key.yaml run for as many
// replicates as the reference, each statistic compared with the independent
// implementation within 4 combined standard errors. Run by the engine, and
// by the plain oracle of test_oracle (oracle_model.hpp): the oracle is the
// yardstick there, so it is checked here against a third implementation.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <ostream>

#include "oracle_model.hpp"
#include "test_util.hpp"

namespace talentsim::test {
namespace {

enum class Implementation { kEngine, kOracle };
const char* name_of(Implementation i) { return i == Implementation::kEngine ? "engine" : "oracle"; }
// Names the parameter in ctest's list, instead of its bytes.
void PrintTo(Implementation i, std::ostream* os) { *os << name_of(i); }

class ReferenceVector : public ::testing::TestWithParam<Implementation> {
 protected:
  static void SetUpTestSuite() {
    scenario_ = new Scenario(load_scenario_file(data_path("every_key.yaml")));
    expected_ = new YAML::Node(YAML::LoadFile(data_path("every_key.expected.yaml").string()));
  }
  static void TearDownTestSuite() {
    for (auto& r : results_) r.reset();
    delete expected_;
    delete scenario_;
  }

  // This implementation's replicates, run by the first test that asks.
  const std::vector<ReplicateResult>& results() const {
    auto& cached = results_[static_cast<int>(GetParam())];
    if (cached) return *cached;
    auto replicates = (*expected_)["replicates"].as<std::int64_t>();
    std::uint64_t seed = scenario_->seed;
    // For investigating: TALENTSIM_REFERENCE_SEED / _REPLICATES change the run.
    if (const char* e = std::getenv("TALENTSIM_REFERENCE_SEED")) seed = std::stoull(e);
    if (const char* e = std::getenv("TALENTSIM_REFERENCE_REPLICATES")) replicates = std::stoll(e);
    cached = std::make_unique<std::vector<ReplicateResult>>();
    if (GetParam() == Implementation::kEngine) {
      *cached = run_all(Model(*scenario_), replicates, seed);
    } else {
      for (std::int64_t r = 0; r < replicates; ++r)
        cached->push_back(oracle::run_oracle(*scenario_, seed, r));
    }
    return *cached;
  }

  int lab(const std::string& name) const {
    for (int l = 0; l < scenario_->lab_count(); ++l)
      if (scenario_->labs[l].name == name) return l;
    ADD_FAILURE() << "no lab " << name;
    return 0;
  }
  int tier(const std::string& name) const {
    for (int k = 0; k < scenario_->tier_count(); ++k)
      if (scenario_->tiers[k].name == name) return k;
    ADD_FAILURE() << "no tier " << name;
    return 0;
  }

  // Compares the mean of f over replicates with the reference [mean, se].
  template <class F>
  void check(const std::string& what, const YAML::Node& ref, F f) const {
    MeanSe m;
    for (const auto& r : results()) m.add(f(r));
    const double ref_mean = ref[0].as<double>(), ref_se = ref[1].as<double>();
    const double se = std::sqrt(m.se() * m.se() + ref_se * ref_se);
    if (se == 0) {
      EXPECT_NEAR(m.mean(), ref_mean, 1e-12) << what;
    } else {
      if (std::getenv("TALENTSIM_SHOW_Z"))
        std::printf("%-40s %s %10.4f +- %7.4f  reference %10.4f +- %7.4f  z = %+.2f\n",
                    what.c_str(), name(), m.mean(), m.se(), ref_mean, ref_se,
                    (m.mean() - ref_mean) / se);
      EXPECT_LT(std::abs(m.mean() - ref_mean), 4 * se)
          << what << ": " << name() << " " << m.mean() << " +- " << m.se() << ", reference "
          << ref_mean << " +- " << ref_se << " (z = " << (m.mean() - ref_mean) / se << ")";
    }
  }

  const char* name() const { return name_of(GetParam()); }

  static Scenario* scenario_;
  static YAML::Node* expected_;
  static std::unique_ptr<std::vector<ReplicateResult>> results_[2];
};

Scenario* ReferenceVector::scenario_ = nullptr;
YAML::Node* ReferenceVector::expected_ = nullptr;
std::unique_ptr<std::vector<ReplicateResult>> ReferenceVector::results_[2];

std::string implementation_name(const ::testing::TestParamInfo<Implementation>& info) {
  return name_of(info.param);
}

// The oracle answers no forecast questions (test_questions checks them).
class ReferenceVectorQuestions : public ReferenceVector {};

TEST_P(ReferenceVector, EndHeadcountByLabAndTier) {
  for (const auto& l : (*expected_)["end_headcount"])
    for (const auto& k : l.second) {
      const int li = lab(l.first.Scalar()), ki = tier(k.first.Scalar());
      check(
          "end_headcount " + l.first.Scalar() + "/" + k.first.Scalar(), k.second,
          [&](const ReplicateResult& r) { return r.headcount[r.tlk(r.shape.steps - 1, li, ki)]; });
    }
}

TEST_P(ReferenceVector, HiresAndDeparturesOverTheRun) {
  for (const char* key : {"hires_total", "departures_total"}) {
    const bool hires = std::string(key) == "hires_total";
    for (const auto& l : (*expected_)[key]) {
      const int li = lab(l.first.Scalar());
      check(std::string(key) + " " + l.first.Scalar(), l.second, [&](const ReplicateResult& r) {
        double sum = 0;
        for (int t = 0; t < r.shape.steps; ++t)
          for (int k = 0; k < r.shape.tiers; ++k)
            sum += hires ? r.hires[r.tlk(t, li, k)] : r.departures[r.tlk(t, li, k)];
        return sum;
      });
    }
  }
}

TEST_P(ReferenceVector, EndStarPowerShare) {
  for (const auto& l : (*expected_)["end_star_power_share"]) {
    const int li = lab(l.first.Scalar());
    check("end_star_power_share " + l.first.Scalar(), l.second, [&](const ReplicateResult& r) {
      double total = 0;
      for (int j = 0; j < r.shape.labs; ++j) total += r.star_power[r.tl(r.shape.steps - 1, j)];
      return r.star_power[r.tl(r.shape.steps - 1, li)] / total;
    });
  }
}

TEST_P(ReferenceVector, FlowsBetweenLabs) {
  for (const auto& f : (*expected_)["flows_total"]) {
    const std::string key = f.first.Scalar();
    const auto arrow = key.find("->");
    const int from = lab(key.substr(0, arrow)), to = lab(key.substr(arrow + 2));
    check("flows " + key, f.second, [&](const ReplicateResult& r) {
      double sum = 0;
      for (int k = 0; k < r.shape.tiers; ++k) sum += r.flows[r.flk(from, to, k)];
      return sum;
    });
  }
}

TEST_P(ReferenceVectorQuestions, QuestionValuesAndProbabilities) {
  for (std::size_t q = 0; q < scenario_->questions.size(); ++q) {
    const Question& question = scenario_->questions[q];
    check("question_value " + question.id, (*expected_)["question_value"][question.id],
          [&](const ReplicateResult& r) { return r.question_value[q]; });
    check("question_probability " + question.id, (*expected_)["question_probability"][question.id],
          [&](const ReplicateResult& r) {
            return question_outcome(question, r.question_value[q]) ? 1.0 : 0.0;
          });
  }
}

INSTANTIATE_TEST_SUITE_P(Implementations, ReferenceVector,
                         ::testing::Values(Implementation::kEngine, Implementation::kOracle),
                         implementation_name);
INSTANTIATE_TEST_SUITE_P(Engine, ReferenceVectorQuestions,
                         ::testing::Values(Implementation::kEngine), implementation_name);

}  // namespace
}  // namespace talentsim::test
